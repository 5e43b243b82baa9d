//go:build cgo

package fleettest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/store"
)

// keysPerBench is how many virtual keys each bench has plugged in.
const keysPerBench = 4

// fleet is one onboarding event: a user list, an emulated tenant served by
// `keyprep sim tenant`, a store and benches, each bench a keyprep process
// with a state directory of its own.
type fleet struct {
	t        *testing.T
	dir      string
	store    string // store URL
	users    []string
	csv      string // the user list
	graphURL string
	token    string // the tenant's token file
	tenant   *proc
	identity string // the helpdesk's age identity file
	recip    string // its recipient
	// The fleet's key: every PIN is escrowed to it too, and every bench
	// holds its identity, so that a bench can resume an enrollment another
	// bench (or itself, before a crash) began: resuming needs the PIN.
	fleetKey   string
	fleetRecip string

	mu      sync.Mutex
	benches map[string]string // bench name → state directory
	runs    []*benchRun
	// moved are jobs whose key the test moved to another bench: begun on
	// one bench (the job's), finished on another.
	moved map[string]bool
}

// benchRun is one run of a bench process.
type benchRun struct {
	bench string
	seq   int // the fleet's nth run
	*proc
}

// newFleet seeds a tenant with n eligible users (members of the FIDO2
// policy's group), writes the same UPNs as the user list and starts the
// tenant.
func newFleet(t *testing.T, storeURL string, n int) *fleet {
	t.Helper()
	return newFleetTenant(t, storeURL, n, nil)
}

// newFleetTenant is newFleet; with local set, the tenant is served from
// the test's own process (entrasim over HTTP on loopback, as for the
// benchmarks), so that the test can inject faults with local(tenant).
func newFleetTenant(t *testing.T, storeURL string, n int, local func(*entrasim.Tenant)) *fleet {
	t.Helper()
	f := &fleet{t: t, dir: t.TempDir(), store: storeURL, benches: map[string]string{}}
	var seed, list strings.Builder
	seed.WriteString("upn,displayName,userType,groups\n")
	list.WriteString("upn\n")
	for i := range n {
		upn := fmt.Sprintf("fleet.user%03d@contoso.test", i)
		f.users = append(f.users, upn)
		fmt.Fprintf(&seed, "%s,Fleet User %03d,Member,Passkey Users;TAP Onboarding\n", upn, i)
		list.WriteString(upn + "\n")
	}
	seedFile := filepath.Join(f.dir, "seed.csv")
	f.csv = filepath.Join(f.dir, "users.csv")
	must(t, os.WriteFile(seedFile, []byte(seed.String()), 0o600))
	must(t, os.WriteFile(f.csv, []byte(list.String()), 0o600))

	id, err := age.GenerateX25519Identity()
	must(t, err)
	f.identity = filepath.Join(f.dir, "helpdesk.key")
	f.recip = id.Recipient().String()
	must(t, os.WriteFile(f.identity, []byte(id.String()+"\n"), 0o600))
	fid, err := age.GenerateX25519Identity()
	must(t, err)
	f.fleetKey = filepath.Join(f.dir, "fleet.key")
	f.fleetRecip = fid.Recipient().String()
	must(t, os.WriteFile(f.fleetKey, []byte(fid.String()+"\n"), 0o600))

	if local != nil {
		tok := entrasim.NewToken()
		f.token = filepath.Join(f.dir, "tenant.token")
		must(t, os.WriteFile(f.token, []byte(tok+"\n"), 0o600))
		seed := make([]entrasim.SeedUser, n)
		for i, upn := range f.users {
			seed[i] = entrasim.SeedUser{UPN: upn, DisplayName: fmt.Sprintf("Fleet User %03d", i), UserType: "Member",
				Groups: []string{entrasim.PasskeyGroup}}
		}
		ten, err := entrasim.Open(entrasim.Options{Users: seed, Tokens: map[string]entrasim.Identity{tok: {Name: "fleettest"}}})
		must(t, err)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		must(t, err)
		srv := &http.Server{Handler: ten, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			_ = ten.Close()
		})
		f.graphURL = "http://" + ln.Addr().String()
		local(ten)
		return f
	}
	tdir := filepath.Join(f.dir, "tenant")
	f.token = filepath.Join(tdir, "tenant.token")
	f.tenant = start(t, "tenant", nil, "--state-dir", tdir, "--json", "sim", "tenant",
		"--listen", "127.0.0.1:0", "--users", seedFile, "--token-file", f.token)
	eventually(t, 60*time.Second, "the emulated tenant to listen", func() bool {
		for _, m := range jsonLines(f.tenant.stdout.String()) {
			if u, ok := m["url"].(string); ok {
				f.graphURL = u
			}
		}
		if !f.tenant.running() {
			t.Fatalf("keyprep sim tenant exited: %s", f.tenant.stderr.String())
		}
		_, err := os.Stat(f.token)
		return f.graphURL != "" && err == nil
	})
	return f
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func (f *fleet) env() []string {
	return append(append([]string{}, benchEnv...), "KEYPREP_ACCESS_TOKEN_FILE="+f.token)
}

// keyprep runs a keyprep command against the fleet's store and tenant.
func (f *fleet) keyprep(args ...string) (int, string, string) {
	f.t.Helper()
	base := []string{"--store", f.store, "--state-dir", filepath.Join(f.dir, "helpdesk"), "--graph-url", f.graphURL, "--auth", "token"}
	return run(f.t, f.env(), "", append(base, args...)...)
}

// startBench starts bench name (a new state directory the first time,
// the same one after), enrolling from the fleet's list.
func (f *fleet) startBench(name string, extraEnv ...string) *benchRun {
	f.t.Helper()
	f.mu.Lock()
	dir, ok := f.benches[name]
	if !ok {
		dir = filepath.Join(f.dir, "bench-"+name)
		f.benches[name] = dir
	}
	f.mu.Unlock()
	r := &benchRun{bench: name, proc: start(f.t, "bench "+name, append(f.env(), extraEnv...),
		"--store", f.store, "--state-dir", dir, "--sim-keys", fmt.Sprint(keysPerBench),
		"--graph-url", f.graphURL, "--auth", "token",
		"enroll", "--csv", f.csv, "--bench", name, "--json",
		"--age-recipient", f.recip, "--age-recipient", f.fleetRecip, "--identity", f.fleetKey)}
	f.mu.Lock()
	f.runs = append(f.runs, r)
	r.seq = len(f.runs)
	f.mu.Unlock()
	f.t.Cleanup(func() {
		if !f.t.Failed() {
			return
		}
		for _, m := range jsonLines(r.stdout.String()) {
			if it, _ := m["item"].(map[string]any); it != nil && it["state"] == "failed" {
				f.t.Logf("bench %s: %v failed on %v: %v (%v)", name, it["upn"], it["key"], it["error"], it["hint"])
			}
		}
		// Every event and log line, for go test -artifacts.
		d := f.t.ArtifactDir()
		n := fmt.Sprintf("bench-%s-%d", name, r.seq)
		_ = os.WriteFile(filepath.Join(d, n+".jsonl"), []byte(r.stdout.String()), 0o600)
		_ = os.WriteFile(filepath.Join(d, n+".log"), []byte(r.stderr.String()), 0o600)
	})
	return r
}

// results are the enrollments a run reported (result events, and the
// results of its final summary), by job id.
func (r *benchRun) results() map[string]benchResult {
	out := map[string]benchResult{}
	add := func(m any) {
		b, _ := json.Marshal(m)
		var res benchResult
		if json.Unmarshal(b, &res) == nil && res.JobID != "" {
			out[res.JobID] = res
		}
	}
	for _, m := range jsonLines(r.stdout.String()) {
		switch m["type"] {
		case "result":
			add(m["result"])
		case "summary":
			if rs, ok := m["results"].([]any); ok {
				for _, x := range rs {
					add(x)
				}
			}
		}
	}
	return out
}

type benchResult struct {
	UPN   string `json:"upn"`
	Key   string `json:"key"`
	JobID string `json:"jobId"`
}

// doneCount is how many enrollments the run has reported.
func (r *benchRun) doneCount() int { return len(r.results()) }

// held is when each user was on one of the run's slots: the first and
// last slot event naming them.
func (r *benchRun) held() map[string][2]time.Time {
	out := map[string][2]time.Time{}
	for _, m := range jsonLines(r.stdout.String()) {
		if m["type"] != "slot" {
			continue
		}
		s, _ := m["slot"].(map[string]any)
		upn, _ := s["upn"].(string)
		ts, _ := m["time"].(string)
		at, err := time.Parse(time.RFC3339Nano, ts)
		if upn == "" || err != nil {
			continue
		}
		upn = strings.ToLower(upn)
		iv, ok := out[upn]
		if !ok {
			iv = [2]time.Time{at, at}
		}
		if at.Before(iv[0]) {
			iv[0] = at
		}
		if at.After(iv[1]) {
			iv[1] = at
		}
		out[upn] = iv
	}
	return out
}

// passkeys asks the tenant how many passkeys upn has.
func (f *fleet) passkeys(upn string) (int, error) {
	tok, err := os.ReadFile(f.token)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest("GET", f.graphURL+"/v1.0/users/"+url.PathEscape(upn)+"/authentication/fido2Methods", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Value []json.RawMessage `json:"value"`
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("tenant: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	return len(body.Value), nil
}

// checkOutcome is what must hold once every bench has finished:
//
//   - the tenant holds exactly one passkey for every user;
//   - the store holds one verified result per user, one job that began
//     (journaled a step with a side effect) and it is done, and one
//     applied PIN escrow, the result's;
//   - no user was on two benches' slots at overlapping times (the
//     benches' event streams);
//   - every escrow opens to a PIN that opens the key the bench reported
//     enrolling the user on, and that key holds the user's credential;
//   - `keyprep journal verify` passes on the shared audit chain.
//
// helpdesk names users whose PIN is revealed through `keyprep pins show`
// as the helpdesk would, and compared with the escrow the test opened.
func (f *fleet) checkOutcome(helpdesk ...string) {
	t := f.t
	t.Helper()
	ctx := context.Background()

	// Entra's view.
	for _, upn := range f.users {
		n, err := f.passkeys(upn)
		if err != nil {
			t.Fatalf("asking the tenant about %s: %v", upn, err)
		}
		if n != 1 {
			t.Errorf("%s has %d passkeys in the tenant, want exactly 1", upn, n)
		}
	}

	// Which bench ran each job, and on which key, as the benches said.
	type where struct{ bench, key string }
	jobs := map[string]where{}
	f.mu.Lock()
	runs := append([]*benchRun(nil), f.runs...)
	f.mu.Unlock()
	for _, r := range runs {
		for id, res := range r.results() {
			if w, ok := jobs[id]; ok && w.bench != r.bench {
				t.Errorf("job %s (%s) reported done by bench %s and bench %s", id, res.UPN, w.bench, r.bench)
			}
			jobs[id] = where{r.bench, res.Key}
		}
	}

	// Never on two benches at once.
	type span struct {
		bench    string
		from, to time.Time
	}
	spans := map[string][]span{}
	for _, r := range runs {
		for upn, iv := range r.held() {
			spans[upn] = append(spans[upn], span{r.bench, iv[0], iv[1]})
		}
	}
	for upn, ss := range spans {
		sort.Slice(ss, func(i, j int) bool { return ss[i].from.Before(ss[j].from) })
		for i := 1; i < len(ss); i++ {
			if ss[i].bench != ss[i-1].bench && !ss[i].from.After(ss[i-1].to) {
				t.Errorf("%s was on bench %s (%s–%s) and bench %s (%s–%s) at once", upn,
					ss[i-1].bench, ss[i-1].from.Format(time.StampMilli), ss[i-1].to.Format(time.StampMilli),
					ss[i].bench, ss[i].from.Format(time.StampMilli), ss[i].to.Format(time.StampMilli))
			}
		}
	}

	st, err := store.Open(ctx, f.store, store.Options{Actor: "fleettest"})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	defer st.Close()
	ids, err := escrow.LoadIdentities(f.identity)
	if err != nil {
		t.Fatal(err)
	}
	pins := map[string]string{}
	for _, upn := range f.users {
		rs, err := st.Results(ctx, store.ResultFilter{UPN: upn})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 {
			t.Errorf("%s: %d results in the store, want 1", upn, len(rs))
			continue
		}
		res := rs[0]
		if !res.Verified {
			t.Errorf("%s: result not verified", upn)
		}
		js, err := st.Jobs(ctx, store.JobFilter{UPN: upn})
		if err != nil {
			t.Fatal(err)
		}
		began := 0
		for _, j := range js {
			steps, err := st.Steps(ctx, j.ID)
			if err != nil {
				t.Fatal(err)
			}
			if hasSideEffect(steps) {
				began++
				if j.State != store.JobDone || j.ID != res.JobID {
					t.Errorf("%s: job %s began and is %s (the result's job is %s)", upn, j.ID, j.State, res.JobID)
				}
			}
		}
		for _, j := range js {
			if j.ID == res.JobID {
				if w, ok := jobs[j.ID]; ok && j.Bench != w.bench && !f.moved[j.ID] {
					t.Errorf("%s: job %s is bench %s's in the store, bench %s reported it", upn, j.ID, j.Bench, w.bench)
				}
			}
		}
		qs, err := st.Queue(ctx, store.QueueFilter{UPN: upn})
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) != 1 || qs[0].State != store.QueueDone || qs[0].JobID != res.JobID {
			t.Errorf("%s: queue rows %+v, want one, done, with the result's job %s", upn, qs, res.JobID)
		}
		if began != 1 {
			t.Errorf("%s: %d jobs began (of %d), want exactly 1", upn, began, len(js))
		}
		es, err := st.Escrows(ctx, store.EscrowFilter{UPN: upn, States: []string{store.EscrowApplied}})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 1 || es[0].ID != res.EscrowID {
			what := "missing"
			if e, err := st.Escrow(ctx, res.EscrowID); err == nil {
				what = fmt.Sprintf("%s's on %s, %s", e.UPN, e.KeyPath, e.State)
			}
			t.Errorf("%s (job %s on %s of bench %s): %d applied escrows, want 1, the result's %s (%s)", upn, res.JobID, res.KeyPath, jobs[res.JobID].bench,
				len(es), res.EscrowID, what)
			continue
		}
		p, err := escrow.Open(es[0].Ciphertext, ids)
		if err != nil {
			t.Errorf("%s: the helpdesk identity does not open escrow %s: %v", upn, es[0].ID, err)
			continue
		}
		pins[strings.ToLower(upn)] = string(p)
		w, ok := jobs[res.JobID]
		if !ok {
			t.Errorf("%s: no bench reported job %s", upn, res.JobID)
			continue
		}
		if w.key != res.KeyPath {
			t.Errorf("%s: bench %s reported key %s, the store %s", upn, w.bench, w.key, res.KeyPath)
		}
		cred, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(res.CredentialID, "="))
		if err != nil {
			t.Errorf("%s: credential id %q: %v", upn, res.CredentialID, err)
			continue
		}
		keyFile := filepath.Join(f.benches[w.bench], "sim", "keys", strings.TrimPrefix(w.key, "vkey:")+".json")
		if err := keyOpens(keyFile, t.TempDir(), p, cred, upn); err != nil {
			t.Errorf("%s: the escrowed PIN and key %s of bench %s: %v", upn, w.key, w.bench, err)
		}
	}

	for _, upn := range helpdesk {
		code, out, errOut := f.keyprep("pins", "show", "--user", upn, "--identity", f.identity)
		if code != 0 {
			t.Errorf("pins show --user %s: exit %d\n%s", upn, code, errOut)
			continue
		}
		if got := strings.TrimSpace(out); got != pins[strings.ToLower(upn)] {
			t.Errorf("pins show --user %s shows another PIN than its escrow holds", upn)
		}
	}

	if code, out, errOut := f.keyprep("journal", "verify"); code != 0 {
		t.Errorf("journal verify: exit %d\n%s\n%s", code, out, errOut)
	}
}

// hasSideEffect reports whether a job journaled a step that changes the
// key or the tenant (escrow, PIN, settings, credential, registration…).
func hasSideEffect(steps []store.Step) bool {
	for _, s := range steps {
		for _, e := range enroll.SideEffectSteps {
			if s.Name == string(e) {
				return true
			}
		}
	}
	return false
}

// fleetStatus is `keyprep fleet status --json`.
type fleetStatus struct {
	Benches []json.RawMessage `json:"benches"`
	Queue   struct {
		Queued  int `json:"queued"`
		Claimed int `json:"claimed"`
		Begun   int `json:"begun"`
		Waiting int `json:"waiting"`
		Done    int `json:"done"`
		Failed  int `json:"failed"`
	} `json:"queue"`
	Waiting []struct {
		UPN      string `json:"upn"`
		Key      string `json:"key"`
		Bench    string `json:"bench"`
		LastSeen string `json:"lastSeen"`
	} `json:"waiting"`
}

func (f *fleet) status() fleetStatus {
	f.t.Helper()
	code, out, errOut := f.keyprep("fleet", "status", "--json")
	if code != 0 {
		f.t.Fatalf("fleet status: exit %d\n%s", code, errOut)
	}
	var s fleetStatus
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		f.t.Fatalf("fleet status --json: %v\n%s", err, out)
	}
	return s
}

// waitAll waits for the runs to end and checks that each exited 0.
func (f *fleet) waitAll(runs ...*benchRun) {
	f.t.Helper()
	for _, r := range runs {
		if code := r.wait(f.t, 3*time.Minute); code != 0 {
			f.t.Errorf("bench %s exited %d\nstderr:\n%s", r.bench, code, tail(r.stderr.String(), 4000))
		}
	}
}
