package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/simkeys"
	"github.com/keyprep/keyprep/internal/softkey"
	"github.com/keyprep/keyprep/internal/store"
)

// The in-process CLI harness: keyprep's own run() with the simulation, the
// test reaching into that one run through its wiring the way the world
// changes under a running command (faults, clocks, an unplugged key).

var (
	collectedMu sync.Mutex
	collected   []string // every output line, journal row and audit row
	secrets     []string // every PIN and token used
)

func recordOutput(s string) {
	collectedMu.Lock()
	collected = append(collected, s)
	collectedMu.Unlock()
}

func recordSecret(s string) {
	if s == "" {
		return
	}
	collectedMu.Lock()
	secrets = append(secrets, s)
	collectedMu.Unlock()
}

// scanSecrets fails when any collected output or journal row holds a
// secret. It runs after every test (TestMain).
func scanSecrets() []string {
	collectedMu.Lock()
	defer collectedMu.Unlock()
	var bad []string
	for _, s := range secrets {
		for _, c := range collected {
			if containsSecret(c, s) {
				bad = append(bad, "a secret of "+strconv.Itoa(len(s))+" characters appears in: "+firstLineWith(c, s))
				break
			}
		}
	}
	return bad
}

// containsSecret reports whether c holds the secret s. A numeric secret
// (a generated PIN) counts only where it is not part of a longer run of
// digits, nor of a hex run of hashLike digits or more: a 6- or 8-digit PIN
// turns up by chance inside a timestamp's nanoseconds, an ID or an audit
// hash now and then, and that is not a leak.
func containsSecret(c, s string) bool {
	numeric := strings.Trim(s, "0123456789") == ""
	for from := 0; ; {
		i := strings.Index(c[from:], s)
		if i < 0 {
			return false
		}
		i += from
		if !numeric {
			return true
		}
		end := i + len(s)
		inDigits := (i > 0 && isDigit(c[i-1])) || (end < len(c) && isDigit(c[end]))
		start, stop := i, end
		for start > 0 && isHex(c[start-1]) {
			start--
		}
		for stop < len(c) && isHex(c[stop]) {
			stop++
		}
		if !inDigits && stop-start < hashLike {
			return true
		}
		from = i + 1
	}
}

// hashLike is the length from which a run of hex digits is taken for a
// hash or an ID (job ids have 32, audit hashes 64).
const hashLike = 16

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func isHex(b byte) bool { return isDigit(b) || ('a' <= b && b <= 'f') || ('A' <= b && b <= 'F') }

func firstLineWith(c, s string) string {
	for _, l := range strings.Split(c, "\n") {
		if strings.Contains(l, s) {
			return strings.ReplaceAll(l, s, "<SECRET>")
		}
	}
	return "?"
}

// collectState registers a cleanup that feeds the state's journal and audit
// rows to the scan and records every escrowed PIN as a secret.
func collectState(t *testing.T, state string) {
	t.Cleanup(func() {
		if err := collectStateNow(state); err != nil {
			t.Error(err)
		}
	})
}

// escrowedPINs counts the PINs the scan learnt from escrow records.
var escrowedPINs int

// collectStateNow feeds the state directory's journal and audit rows to the
// scan and records every PIN escrowed to the bench identity as a secret. A
// PIN escrowed to the bench identity that cannot be opened (the identity is
// missing or wrong) is an error: the scan would not know what to look for.
func collectStateNow(state string) error {
	ctx := context.Background()
	path := filepath.Join(state, "keyprep.db")
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	st, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		return fmt.Errorf("collect %s: %w", state, err)
	}
	defer st.Close()
	jobs, _ := st.Jobs(ctx, store.JobFilter{})
	for _, j := range jobs {
		b, _ := json.Marshal(j)
		recordOutput(string(b))
		steps, _ := st.Steps(ctx, j.ID)
		for _, s := range steps {
			b, _ := json.Marshal(s)
			recordOutput(string(b))
		}
	}
	evs, _ := st.AuditEvents(ctx, 0, 1<<20)
	for _, e := range evs {
		b, _ := json.Marshal(e)
		recordOutput(string(b))
	}
	es, err := st.Escrows(ctx, store.EscrowFilter{})
	if err != nil {
		return fmt.Errorf("collect %s: escrows: %w", state, err)
	}
	var ids []age.Identity
	for _, e := range es {
		if e.Kind != store.EscrowAge || !slices.ContainsFunc(e.Recipients, func(r string) bool { return strings.HasPrefix(r, "bench:") }) {
			continue
		}
		if ids == nil {
			if ids, err = escrow.LoadIdentities(filepath.Join(state, "escrow", escrow.BenchIdentityFile)); err != nil {
				return fmt.Errorf("collect %s: a PIN is escrowed to the bench identity, which cannot be loaded, so the secret scan cannot look for it: %w", state, err)
			}
		}
		p, err := escrow.Open(e.Ciphertext, ids)
		if err != nil {
			return fmt.Errorf("collect %s: escrow %s does not open with the bench identity, so the secret scan cannot look for its PIN: %w", state, e.ID, err)
		}
		recordSecret(string(p))
		collectedMu.Lock()
		escrowedPINs++
		collectedMu.Unlock()
	}
	return nil
}

type world struct {
	t      *testing.T
	state  string
	tenant *entrasim.Tenant
	keys   *simkeys.Provider
	quiet  bool // the next outputs are secrets by design (pin generate)
}

type hooks struct {
	tenantOptions func(*entrasim.Options)
	tenantOpened  func(*entrasim.Tenant)
	// keyConfig adjusts the virtual keys (touch, latency) for this run
	// only, where KEYPREP_SIM_TOUCH would change the whole process.
	keyConfig func(*softkey.Config)
	keysReady func(*simkeys.Provider)
	event     func(*world, enroll.Event)
	// graphOptions replaces the tests' fast retry policy (benchmarks use
	// the production one).
	graphOptions func(*graph.Options)
}

type cliResult struct {
	out, errOut string
	code        int
	reqs        []entrasim.RequestRecord
}

// cli runs keyprep --sim in-process on w's state.
func (w *world) cli(stdin string, h hooks, args ...string) cliResult {
	w.t.Helper()
	wire := wiring{
		tenantOptions: func(o *entrasim.Options) {
			for tok := range o.Tokens {
				recordSecret(tok)
			}
			if h.tenantOptions != nil {
				h.tenantOptions(o)
			}
		},
		tenantOpened: func(t *entrasim.Tenant) {
			w.tenant = t
			if h.tenantOpened != nil {
				h.tenantOpened(t)
			}
		},
		// The emulated tenant's tokens are issued during the run: the
		// secret scan learns each one as it is made.
		tokenIssued: recordSecret,
		keyConfig:   h.keyConfig,
		keysReady: func(p *simkeys.Provider) {
			w.keys = p
			if h.keysReady != nil {
				h.keysReady(p)
			}
		},
		graphOptions: func(o *graph.Options) {
			if h.graphOptions != nil {
				h.graphOptions(o)
				return
			}
			o.Retry = graph.RetryPolicy{MaxRetries: 2, BaseDelay: time.Millisecond, MaxDelay: 50 * time.Millisecond}
			o.ReconcileDelay = time.Millisecond
		},
		event: func(ev enroll.Event) {
			if h.event != nil {
				h.event(w, ev)
			}
		},
	}
	w.tenant = nil
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"--state-dir", w.state, "--sim"}, args...),
		IO{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}, wire)
	r := cliResult{out: out.String(), errOut: errOut.String(), code: code}
	if w.tenant != nil {
		r.reqs = w.tenant.Requests()
	}
	if !w.quiet {
		recordOutput(r.out + r.errOut)
	}
	return r
}

func newWorld(t *testing.T) *world {
	state := t.TempDir()
	collectState(t, state)
	return &world{t: t, state: state}
}

// keyState reads `keys --json` for vkey:0.
func (w *world) keyState() (pinSet bool, retries int) {
	w.t.Helper()
	r := w.cli("", hooks{}, "keys", "--json")
	var kl struct {
		Keys []struct {
			PINSet     bool `json:"pinSet"`
			PINRetries *int `json:"pinRetries"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.out), &kl); err != nil || len(kl.Keys) == 0 {
		w.t.Fatalf("keys --json: %v %q", err, r.out)
	}
	if kl.Keys[0].PINRetries != nil {
		retries = *kl.Keys[0].PINRetries
	}
	return kl.Keys[0].PINSet, retries
}

func (w *world) generatePIN() string {
	w.t.Helper()
	w.quiet = true
	r := w.cli("", hooks{}, "pin", "generate")
	w.quiet = false
	p := strings.TrimSpace(r.out)
	if r.code != 0 || p == "" {
		w.t.Fatalf("pin generate: %d %s", r.code, r.errOut)
	}
	recordSecret(p)
	return p
}

func (w *world) setPIN() string {
	w.t.Helper()
	p := w.generatePIN()
	if r := w.cli(p+"\n", hooks{}, "pin", "set"); r.code != 0 {
		w.t.Fatalf("pin set: %d %s", r.code, r.errOut)
	}
	return p
}

// escrows returns the store's escrow records.
func (w *world) escrows() []store.Escrow {
	w.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(w.state, "keyprep.db"), store.Options{})
	if err != nil {
		w.t.Fatal(err)
	}
	defer st.Close()
	es, err := st.Escrows(context.Background(), store.EscrowFilter{})
	if err != nil {
		w.t.Fatal(err)
	}
	return es
}

func (w *world) jobs() []store.Job {
	w.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(w.state, "keyprep.db"), store.Options{})
	if err != nil {
		w.t.Fatal(err)
	}
	defer st.Close()
	js, err := st.Jobs(context.Background(), store.JobFilter{})
	if err != nil {
		w.t.Fatal(err)
	}
	return js
}

func countReqs(rs []entrasim.RequestRecord, ep string) int {
	n := 0
	for _, r := range rs {
		if r.Endpoint == ep {
			n++
		}
	}
	return n
}

const adele = "adele.vance@contoso.test"

func emptyMetadata(t *testing.T) metadata.Provider {
	p, err := memory.New(memory.WithMetadata(map[uuid.UUID]*metadata.Entry{}), memory.WithValidateEntry(true),
		memory.WithValidateTrustAnchor(true), memory.WithValidateStatus(false), memory.WithValidateAttestationTypes(true))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEnrollAcceptance is the first acceptance point.
func TestEnrollAcceptance(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.cli("", hooks{}, "enroll", "--user", adele, "--json")
	if r.code != 0 {
		t.Fatalf("enroll: %d\n%s", r.code, r.errOut)
	}
	var res enroll.Result
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.MethodID == "" || res.CredentialID == "" || res.PINEscrow == nil || res.PINEscrow.Kind != store.EscrowAge {
		t.Fatalf("result %+v", res)
	}
	// Graph requests: creationOptions and the POST, plus the lookups
	// (user, policy, membership) and the user's Temporary Access Passes
	// (a valid one is pointed out) — no blind extra calls.
	if n := countReqs(r.reqs, entrasim.EPCreationOptions); n != 1 {
		t.Errorf("creationOptions requests %d, want 1", n)
	}
	if n := countReqs(r.reqs, entrasim.EPRegisterFido2); n != 1 {
		t.Errorf("POST requests %d, want 1", n)
	}
	if len(r.reqs) > 6 {
		t.Errorf("%d Graph requests for one enrollment: %v", len(r.reqs), r.reqs)
	}
	ml := w.cli("", hooks{}, "methods", "list", "--user", adele, "--json")
	if !strings.Contains(ml.out, res.MethodID) {
		t.Fatalf("the tenant does not list method %s:\n%s", res.MethodID, ml.out)
	}
	// Same key, same user: excluded.
	r = w.cli("", hooks{}, "enroll", "--user", adele)
	if r.code != int(ExitKeyRefused) || !strings.Contains(r.errOut, "this key already holds a passkey for "+adele) {
		t.Fatalf("second enrollment: %d\n%s", r.code, r.errOut)
	}
	// Same key, another user: a second resident credential.
	r = w.cli("", hooks{}, "enroll", "--user", "alex.wilber@contoso.test", "--shared-key", "--json")
	if r.code != 0 {
		t.Fatalf("enroll alex on the same key: %d\n%s", r.code, r.errOut)
	}
	kr := w.cli("", hooks{}, "keys", "--json")
	if !strings.Contains(kr.out, `"remainingResidentSlots": 23`) {
		t.Errorf("want two resident credentials (23 of 25 slots left):\n%s", kr.out)
	}
	if es := w.escrows(); len(es) != 1 || es[0].State != store.EscrowApplied {
		t.Errorf("escrows %+v, want one applied (the key's one PIN)", es)
	}
}

// TestEnrollFailures: each failure has its message, hint and exit code,
// and nothing is lost (a PIN on the key is escrowed; the job is recorded).
func TestEnrollFailures(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, w *world, r cliResult)
	pinEscrowed := func(t *testing.T, w *world, _ cliResult) {
		set, _ := w.keyState()
		es := w.escrows()
		if set && (len(es) == 0 || es[0].State != store.EscrowApplied) {
			t.Errorf("the key has a PIN but escrows are %+v", es)
		}
	}
	keyUntouched := func(t *testing.T, w *world, _ cliResult) {
		if set, _ := w.keyState(); set {
			t.Error("the key got a PIN though the enrollment stopped before touching it")
		}
	}
	// A refusal before anything was done is not unfinished work: no job
	// (README "Journal").
	noJob := func(t *testing.T, w *world, _ cliResult) {
		if js := w.jobs(); len(js) != 0 {
			t.Errorf("jobs %+v: want none for a refusal", js)
		}
	}
	jobFailed := func(t *testing.T, w *world, _ cliResult) {
		js := w.jobs()
		if len(js) == 0 || js[0].State != store.JobFailed || js[0].Error == "" {
			t.Errorf("jobs %+v: want the newest failed with its error", js)
		}
	}
	onePOST := func(t *testing.T, _ *world, r cliResult) {
		if n := countReqs(r.reqs, entrasim.EPRegisterFido2); n != 1 {
			t.Errorf("%d POSTs, want exactly 1 (never a blind retry)", n)
		}
	}
	noPOST := func(t *testing.T, _ *world, r cliResult) {
		if n := countReqs(r.reqs, entrasim.EPRegisterFido2); n != 0 {
			t.Errorf("%d POSTs, want none", n)
		}
	}

	cases := []struct {
		name    string
		prepare func(t *testing.T, w *world) (stdin string, args []string)
		hooks   hooks
		code    ExitCode
		msg     string // in the message
		hint    string // in the hint
		checks  []check
	}{
		{name: "wrong operator PIN",
			prepare: func(t *testing.T, w *world) (string, []string) {
				w.setPIN()
				return w.generatePIN() + "\n", []string{"--pin", "stdin"}
			},
			code: ExitPIN, msg: "wrong PIN", hint: "retries",
			checks: []check{jobFailed, noPOST, func(t *testing.T, w *world, _ cliResult) {
				if _, n := w.keyState(); n != 7 {
					t.Errorf("retries %d, want 7 (one spent)", n)
				}
			}}},
		{name: "PIN blocked",
			prepare: func(t *testing.T, w *world) (string, []string) {
				w.setPIN()
				for i := 0; i < 8; i++ { // three per power cycle; each run replugs
					w.cli(w.generatePIN()+"\n"+w.generatePIN()+"\n", hooks{}, "pin", "change")
					w.cli("", hooks{}, "sim", "replug")
				}
				return "whatever1\n", []string{"--pin", "stdin"}
			},
			code: ExitPIN, msg: "blocked", hint: "reset", checks: []check{jobFailed, noPOST}},
		{name: "few PIN retries left",
			prepare: func(t *testing.T, w *world) (string, []string) {
				w.setPIN()
				for i := 0; i < 5; i++ {
					w.cli(w.generatePIN()+"\n"+w.generatePIN()+"\n", hooks{}, "pin", "change")
					w.cli("", hooks{}, "sim", "replug")
				}
				return "", []string{"--pin", "stdin"}
			},
			code: ExitKeyRefused, msg: "only 3 PIN retries left", hint: "reset", checks: []check{jobFailed, noPOST}},
		{name: "touch timeout",
			hooks: hooks{keyConfig: touch(t, "timeout=100ms")},
			code:  ExitKeyRefused, msg: "nobody touched the key in time", hint: "touch",
			checks: []check{jobFailed, noPOST, pinEscrowed, func(t *testing.T, w *world, _ cliResult) {
				// Nothing lost: the next run recognises the key's PIN.
				if r := w.cli("", hooks{}, "enroll", "--user", adele); r.code != 0 {
					t.Errorf("retry after the timeout: %d %s", r.code, r.errOut)
				}
			}}},
		{name: "key unplugged mid-operation",
			// The key waits for a touch that would come after a minute;
			// it is unplugged as soon as it has started to wait.
			hooks: func() hooks {
				waiting := make(chan struct{}, 1)
				return hooks{keyConfig: func(c *softkey.Config) {
					c.Presence = softkey.Presence{Mode: softkey.PresenceDelayed, Delay: time.Minute, Waiting: waiting}
				}, event: func(w *world, ev enroll.Event) {
					if ev.Phase == "touch" {
						go func() { <-waiting; _ = w.keys.Unplug("vkey:0") }()
					}
				}}
			}(),
			code: ExitNoKey, msg: "the key stopped answering (unplugged?)", hint: "was it unplugged? plug it back in",
			checks: []check{jobFailed, noPOST, pinEscrowed}},
		{name: "key store full",
			hooks: hooks{keysReady: func(p *simkeys.Provider) {
				a, _ := p.Authenticator("vkey:0")
				a.InjectFault(softkey.Fault{Command: 0x01, Status: 0x28, Count: 1})
			}},
			code: ExitKeyRefused, msg: "no free credential slot", hint: "slot",
			checks: []check{jobFailed, noPOST, pinEscrowed}},
		{name: "blocked AAGUID",
			prepare: func(t *testing.T, w *world) (string, []string) {
				if r := w.cli("", hooks{}, "policy", "set", "fido2", "--profile", "Default passkey profile", "--block-aaguid", softkey.AAGUIDString, "--yes"); r.code != 0 {
					t.Fatalf("policy set: %d %s", r.code, r.errOut)
				}
				return "", nil
			},
			code: ExitDirectory, msg: "block list", hint: "policy",
			checks: []check{jobFailed, noPOST, keyUntouched}},
		{name: "attestation enforced",
			hooks: hooks{tenantOptions: func(o *entrasim.Options) { o.Metadata = emptyMetadata(nil) }},
			code:  ExitDirectory, msg: "Entra refused", hint: "attest",
			checks: []check{jobFailed, onePOST, pinEscrowed, func(t *testing.T, w *world, _ cliResult) {
				if r := w.cli("", hooks{}, "keys", "--json"); !strings.Contains(r.out, `"remainingResidentSlots": 25`) {
					t.Errorf("the refused passkey was not removed from the key:\n%s", r.out)
				}
			}}},
		{name: "self-service setup off",
			prepare: func(t *testing.T, w *world) (string, []string) {
				if r := w.cli("", hooks{}, "policy", "set", "fido2", "--self-service", "off", "--yes"); r.code != 0 {
					t.Fatalf("policy set: %d %s", r.code, r.errOut)
				}
				return "", nil
			},
			code: ExitDirectory, msg: "self-service setup is off", hint: "--self-service on",
			checks: []check{noJob, noPOST, keyUntouched}},
		{name: "403 missing permission",
			hooks: hooks{tenantOpened: func(tn *entrasim.Tenant) {
				tn.SetFault(entrasim.EPCreationOptions, entrasim.Fault{Status: 403, Code: "accessDenied", Message: "Request Authorization failed"})
			}},
			code: ExitAuth, msg: "permission missing (HTTP 403", hint: "grant the application permission UserAuthMethod-Passkey.ReadWrite.All",
			checks: []check{jobFailed, noPOST, pinEscrowed}},
		{name: "404 unknown user",
			prepare: func(t *testing.T, w *world) (string, []string) {
				return "", []string{"--user", "nobody@contoso.test"}
			},
			code: ExitDirectory, msg: "cannot look up nobody@contoso.test: graph: get user: user not found (HTTP 404", hint: "check the UPN",
			checks: []check{noJob, noPOST, keyUntouched}},
		{name: "429 storm",
			hooks: hooks{tenantOpened: func(tn *entrasim.Tenant) {
				tn.SetFault(entrasim.EPCreationOptions, entrasim.Fault{Status: 429})
			}},
			code: ExitService, msg: "throttled (HTTP 429", hint: "Microsoft Graph is throttling this application",
			checks: []check{jobFailed, noPOST, pinEscrowed}},
		{name: "5xx on POST",
			hooks: hooks{tenantOpened: func(tn *entrasim.Tenant) {
				tn.SetFault(entrasim.EPRegisterFido2, entrasim.Fault{Status: 503, Count: 1})
			}},
			code: ExitService, msg: "service error (HTTP 503", hint: "Microsoft Graph had a transient problem: retry later",
			checks: []check{jobFailed, onePOST, pinEscrowed, func(t *testing.T, w *world, _ cliResult) {
				if r := w.cli("", hooks{}, "methods", "list", "--user", adele, "--json"); strings.Contains(r.out, `"id"`) {
					t.Errorf("a method appeared though the POST failed:\n%s", r.out)
				}
			}}},
		{name: "5xx after the POST applied: reconciled",
			hooks: hooks{tenantOpened: func(tn *entrasim.Tenant) {
				tn.SetFault(entrasim.EPRegisterFido2, entrasim.Fault{Status: 503, Count: 1, AfterApply: true})
			}},
			code: ExitOK, checks: []check{onePOST, pinEscrowed}},
		{name: "expired challenge: new options, success",
			hooks: expiringClock(1),
			code:  ExitOK, checks: []check{func(t *testing.T, w *world, r cliResult) {
				if n := countReqs(r.reqs, entrasim.EPCreationOptions); n != 2 {
					t.Errorf("creationOptions %d, want 2 (one retry)", n)
				}
				if n := countReqs(r.reqs, entrasim.EPRegisterFido2); n != 2 {
					t.Errorf("POSTs %d, want 2", n)
				}
			}}},
		{name: "expired challenge every time",
			hooks: expiringClock(100),
			code:  ExitDirectory, msg: "challenge expired", hint: "the creationOptions challenge expired before registration: fetch fresh options",
			checks: []check{jobFailed, pinEscrowed}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			stdin, extra := "", []string(nil)
			if tc.prepare != nil {
				stdin, extra = tc.prepare(t, w)
			}
			args := []string{"enroll", "--user", adele}
			args = append(args, extra...)
			r := w.cli(stdin, tc.hooks, args...)
			if r.code != int(tc.code) {
				t.Fatalf("exit %d, want %d\n%s", r.code, tc.code, r.errOut)
			}
			if tc.code != ExitOK {
				msg, hint := splitReport(r.errOut)
				if tc.msg == "" || tc.hint == "" {
					t.Errorf("the case names no message or no hint to expect; got message %q, hint %q", msg, hint)
				}
				if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.msg)) {
					t.Errorf("message %q does not say %q", msg, tc.msg)
				}
				if hint == "" || !strings.Contains(strings.ToLower(hint), strings.ToLower(tc.hint)) {
					t.Errorf("hint %q does not say %q (message %q)", hint, tc.hint, msg)
				}
			}
			for _, c := range tc.checks {
				c(t, w, r)
			}
		})
	}
}

// touch is a virtual key configuration for one run (the form of
// KEYPREP_SIM_TOUCH, which would change every run of the process).
func touch(t *testing.T, spec string) func(*softkey.Config) {
	p, err := simkeys.ParseTouch(spec)
	if err != nil {
		t.Fatal(err)
	}
	return func(c *softkey.Config) { c.Presence = p }
}

// splitReport finds the "keyprep: …" message and "hint: …" lines.
func splitReport(errOut string) (msg, hint string) {
	for _, l := range strings.Split(errOut, "\n") {
		if m, ok := strings.CutPrefix(l, "keyprep: "); ok {
			msg = m
		}
		if h, ok := strings.CutPrefix(l, "hint: "); ok {
			hint = h
		}
	}
	return msg, hint
}

// expiringClock moves the tenant's clock 6 minutes ahead (past the v1.0
// challenge lifetime of 5 minutes) while the key waits for the touch, for
// the first n makeCredential attempts.
func expiringClock(n int) hooks {
	var mu sync.Mutex
	now := time.Now()
	left := n
	return hooks{
		tenantOptions: func(o *entrasim.Options) {
			o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		},
		event: func(_ *world, ev enroll.Event) {
			if ev.Step == enroll.StepMakeCred && ev.Phase == "touch" {
				mu.Lock()
				if left > 0 {
					now = now.Add(6 * time.Minute)
					left--
				}
				mu.Unlock()
			}
		},
	}
}

func TestContainsSecret(t *testing.T) {
	for _, tc := range []struct {
		c, s string
		want bool
	}{
		{"PIN 84203917 set", "84203917", true},
		{`"pin":"84203917"`, "84203917", true},
		{"84203917", "84203917", true},
		{"2026-12-05T09:36:26.184203917Z", "84203917", false},
		{"2026-12-05T09:36:26.184203917Z and 84203917.", "84203917", true},
		{"token abcDEF123 in a line", "abcDEF123", true},
		{"xabcDEF123y", "abcDEF123", true},
		{"nothing here", "84203917", false},
		// In an audit hash (CI saw a 6-digit PIN in one), a job id or a
		// short hex run.
		{`"hash":"f2be6f8603feb04c4763bf2522c159ad1f3e063e21d27c61bca842039fd9501f"`, "842039", false},
		{`"jobId":"49dfeb49cdc43e904c5586fca842039b"`, "842039", false},
		{"PIN842039 set", "842039", true},
		{"pin=842039;", "842039", true},
		{"abc842039def", "842039", true},
	} {
		if got := containsSecret(tc.c, tc.s); got != tc.want {
			t.Errorf("containsSecret(%q, %q) = %v, want %v", tc.c, tc.s, got, tc.want)
		}
	}
}
