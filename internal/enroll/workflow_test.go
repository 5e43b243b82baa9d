package enroll_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
)

// The workflow on its own: a fake key and a fake directory
// (internal/enroll/enrolltest), a real store in a temporary directory.

const (
	adele = "adele.vance@contoso.test"
	alex  = "alex.wilber@contoso.test"
)

type env struct {
	t    *testing.T
	ctx  context.Context
	dir  *enrolltest.Directory
	key  *enrolltest.Key
	pins *enrolltest.PINs
	st   *store.Store
	e    *enroll.Enroller
	tmp  string
	// foreignPIN is a PIN the test put on the key (not keyprep's).
	foreignPIN string
}

func newEnv(t *testing.T, kc enrolltest.KeyConfig) *env {
	t.Helper()
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	tmp := t.TempDir()
	st := enrolltest.Store(ctx, t)
	if kc.Path == "" {
		kc.Path = "fake:0"
	}
	v := &env{t: t, ctx: ctx, dir: enrolltest.NewDirectory(), key: enrolltest.NewKey(kc), pins: &enrolltest.PINs{}, st: st, tmp: tmp}
	v.dir.AddUser(adele, "Adele Vance", false)
	v.dir.AddUser(alex, "Alex Wilber", false)
	v.e = v.enroller()
	return v
}

// enroller is a new Enroller on the same world (as a new process would
// build it).
func (v *env) enroller() *enroll.Enroller {
	return &enroll.Enroller{Directory: v.dir, Store: v.st, PINs: v.pins, EscrowDir: filepath.Join(v.tmp, "escrow"),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func (v *env) enroll(upn string, req enroll.Request) (*enroll.Result, error) {
	req.UPN = upn
	res, _, err := v.e.Enroll(v.ctx, v.key, req)
	if res != nil {
		pin.Wipe(res.PIN)
	}
	return res, err
}

// openEscrow returns the PIN an escrow record holds.
func (v *env) openEscrow(id string) string {
	v.t.Helper()
	es, err := v.st.Escrow(v.ctx, id)
	if err != nil {
		v.t.Fatalf("escrow %s: %v", id, err)
	}
	ids, err := escrow.LoadIdentities(filepath.Join(v.tmp, "escrow", escrow.BenchIdentityFile))
	if err != nil {
		v.t.Fatal(err)
	}
	p, err := escrow.Open(es.Ciphertext, ids)
	if err != nil {
		v.t.Fatalf("open escrow %s: %v", id, err)
	}
	return string(p)
}

func (v *env) escrows(states ...string) []store.Escrow {
	v.t.Helper()
	es, err := v.st.Escrows(v.ctx, store.EscrowFilter{States: states})
	if err != nil {
		v.t.Fatal(err)
	}
	return es
}

func (v *env) jobs(states ...store.JobState) []store.Job {
	v.t.Helper()
	js, err := v.st.Jobs(v.ctx, store.JobFilter{States: states})
	if err != nil {
		v.t.Fatal(err)
	}
	return js
}

// presetPIN gives the key a PIN keyprep did not set (and cannot escrow).
func (v *env) presetPIN(p string, edit ...func(*enrolltest.KeyState)) {
	v.foreignPIN = p
	v.key.Edit(func(s *enrolltest.KeyState) {
		s.PIN = p
		for _, f := range edit {
			f(s)
		}
	})
}

// invariants checks what holds after any run, finished or not
// (docs/architecture.md §4 item 4.2): a PIN keyprep put on the key is in
// an escrow that opens to it, and an applied escrow holds the key's PIN.
func (v *env) invariants() {
	v.t.Helper()
	ks := v.key.State()
	applied := v.escrows(store.EscrowApplied)
	if len(applied) > 1 {
		v.t.Errorf("%d applied escrows for one key", len(applied))
	}
	for _, e := range applied {
		if got := v.openEscrow(e.ID); got != ks.PIN {
			v.t.Errorf("applied escrow %s does not hold the key's PIN", e.ID)
		}
	}
	if ks.PIN == "" || ks.PIN == v.foreignPIN {
		return
	}
	live := v.escrows(store.EscrowPending, store.EscrowApplied)
	if !slices.ContainsFunc(live, func(e store.Escrow) bool { return v.openEscrow(e.ID) == ks.PIN }) {
		v.t.Errorf("the PIN keyprep set on the key is in none of %d live escrows", len(live))
	}
}

// finished checks what holds once upn's enrollment is finished: every
// passkey the directory holds for upn is recorded, and the key holds none
// for upn the directory does not know.
func (v *env) finished(upn string) {
	v.t.Helper()
	v.invariants()
	ms, ids := v.dir.MethodsOf(upn)
	results, err := v.st.Results(v.ctx, store.ResultFilter{UPN: upn})
	if err != nil {
		v.t.Fatal(err)
	}
	for _, m := range ms {
		if !slices.ContainsFunc(results, func(r store.Result) bool { return r.MethodID == m.ID }) {
			v.t.Errorf("method %s of %s is not recorded", m.ID, upn)
		}
	}
	for _, c := range v.key.State().Credentials {
		if c.UserName == upn && !slices.ContainsFunc(ids, func(id []byte) bool { return string(id) == string(c.ID) }) {
			v.t.Errorf("the key holds a passkey for %s the directory does not know", upn)
		}
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	var ee *enroll.Error
	if !errors.As(err, &ee) || ee.Msg == "" {
		t.Errorf("error %v is not an *enroll.Error with a message", err)
	}
}

// TestPINSetup: where the key's PIN comes from, and that it is escrowed
// before it goes on the key.
func TestPINSetup(t *testing.T) {
	cases := []struct {
		name    string
		key     enrolltest.KeyConfig
		prepare func(v *env)
		req     enroll.Request
		err     error
		check   func(t *testing.T, v *env, res *enroll.Result)
	}{
		{name: "fresh key: generated PIN escrowed before it is set",
			prepare: func(v *env) {
				v.key.OnCall = func(op string) {
					if op == enrolltest.OpSetPIN {
						if es := v.escrows(store.EscrowPending); len(es) != 1 {
							t.Errorf("at setPIN: %d pending escrows, want 1", len(es))
						}
					}
				}
			},
			check: func(t *testing.T, v *env, res *enroll.Result) {
				if res.PINEscrow == nil || res.PINEscrow.Source != "set" || res.PINEscrow.Kind != "age" {
					t.Fatalf("escrow ref %+v", res.PINEscrow)
				}
				if p := v.key.State().PIN; len(p) != pin.DefaultLength || v.openEscrow(res.PINEscrow.ID) != p {
					t.Errorf("the key's PIN (%d characters) is not the escrowed one", len(p))
				}
			}},
		{name: "key with a PIN keyprep does not know",
			prepare: func(v *env) { v.presetPIN("31415926") },
			err:     enroll.ErrKeyHasPIN,
			check: func(t *testing.T, v *env, _ *enroll.Result) {
				if n := v.key.Calls(enrolltest.OpMakeCredential); n != 0 {
					t.Errorf("%d makeCredential calls on a key refused", n)
				}
				if s := v.key.State(); s.Retries != 8 {
					t.Errorf("retries %d: a PIN was guessed", s.Retries)
				}
			}},
		{name: "operator gives the key's PIN",
			prepare: func(v *env) {
				v.presetPIN("31415926")
				v.pins.QueueCurrent("31415926")
			},
			req: enroll.Request{PINMode: enroll.PINOperator},
			check: func(t *testing.T, v *env, res *enroll.Result) {
				if res.PINEscrow == nil || res.PINEscrow.Source != "operator" || len(v.escrows()) != 0 {
					t.Errorf("escrow ref %+v, %d escrow records; want operator and none", res.PINEscrow, len(v.escrows()))
				}
				if res.PIN != nil {
					t.Error("the result carries a PIN this run did not set")
				}
			}},
		{name: "operator gives a wrong PIN",
			prepare: func(v *env) {
				v.presetPIN("31415926")
				v.pins.QueueCurrent("27182818")
			},
			req: enroll.Request{PINMode: enroll.PINOperator},
			err: hid.ErrPINInvalid,
			check: func(t *testing.T, v *env, _ *enroll.Result) {
				if s := v.key.State(); s.Retries != 7 {
					t.Errorf("retries %d, want 7", s.Retries)
				}
			}},
		{name: "operator sets the new PIN of a fresh key",
			prepare: func(v *env) { v.pins.QueueNew("24681357") },
			req:     enroll.Request{PINMode: enroll.PINOperator},
			check: func(t *testing.T, v *env, res *enroll.Result) {
				if v.key.State().PIN != "24681357" || v.openEscrow(res.PINEscrow.ID) != "24681357" {
					t.Error("the operator's PIN is not on the key and in the escrow")
				}
			}},
		{name: "operator's new PIN below the key's minimum",
			key:     enrolltest.KeyConfig{MinPINLength: 8},
			prepare: func(v *env) { v.pins.QueueNew("975318") },
			req:     enroll.Request{PINMode: enroll.PINOperator},
			err:     pin.RuleKeyMinimum,
			check: func(t *testing.T, v *env, _ *enroll.Result) {
				if v.key.State().PIN != "" || len(v.escrows()) != 0 {
					t.Error("a PIN the policy refuses was escrowed or set")
				}
			}},
		{name: "key keyprep set up before: the escrowed PIN is reused",
			prepare: func(v *env) {
				if _, err := v.enroll(alex, enroll.Request{}); err != nil {
					t.Fatal(err)
				}
			},
			req: enroll.Request{SharedKeyOK: true},
			check: func(t *testing.T, v *env, res *enroll.Result) {
				es := v.escrows()
				if len(es) != 1 || res.PINEscrow.Source != "earlier" || res.PINEscrow.ID != es[0].ID {
					t.Errorf("escrow ref %+v, escrows %d: want the earlier one reused", res.PINEscrow, len(es))
				}
				if v.key.Calls(enrolltest.OpSetPIN) != 1 {
					t.Error("the PIN was set again")
				}
			}},
		{name: "key set up before by a job that registered nothing",
			prepare: func(v *env) {
				v.dir.ScriptRegister(enrolltest.RegisterRefused)
				if _, err := v.enroll(alex, enroll.Request{}); !errors.Is(err, enroll.ErrRefused) {
					t.Fatalf("first enrollment: %v", err)
				}
			},
			check: func(t *testing.T, v *env, res *enroll.Result) {
				if res.PINEscrow.Source != "earlier" {
					t.Errorf("escrow ref %+v: want the earlier job's", res.PINEscrow)
				}
			}},
		{name: "minimum PIN length and RP list",
			req: enroll.Request{MinPINLength: 10, MinPINLengthRPID: true},
			check: func(t *testing.T, v *env, _ *enroll.Result) {
				s := v.key.State()
				if s.MinPINLength != 10 || len(s.PIN) < 10 || !slices.Equal(s.MinPINLengthRPIDs, []string{enrolltest.RPID}) || s.ForcePINChange {
					t.Errorf("key state min %d, PIN length %d, RPs %v, force change %v", s.MinPINLength, len(s.PIN), s.MinPINLengthRPIDs, s.ForcePINChange)
				}
			}},
		{name: "minimum PIN length above the operator's PIN",
			prepare: func(v *env) {
				v.presetPIN("314159")
				v.pins.QueueCurrent("314159")
			},
			req: enroll.Request{PINMode: enroll.PINOperator, MinPINLength: 8},
			err: hid.ErrPINPolicyViolation,
			check: func(t *testing.T, v *env, _ *enroll.Result) {
				if s := v.key.State(); s.MinPINLength != 4 || s.ForcePINChange {
					t.Errorf("the key's minimum changed to %d (force change %v)", s.MinPINLength, s.ForcePINChange)
				}
			}},
		{name: "force PIN change last",
			req: enroll.Request{ForcePINChange: true},
			check: func(t *testing.T, v *env, res *enroll.Result) {
				if !v.key.State().ForcePINChange || !res.ForcePINChange || !res.Verified {
					t.Errorf("force change %v, result %+v", v.key.State().ForcePINChange, res)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, tc.key)
			if tc.prepare != nil {
				tc.prepare(v)
			}
			res, err := v.enroll(adele, tc.req)
			wantErr(t, err, tc.err)
			if err == nil {
				if !res.Verified || res.MethodID == "" || res.UPN != adele {
					t.Errorf("result %+v", res)
				}
				if js := v.jobs(store.JobDone); len(js) == 0 || js[0].ID != res.JobID {
					t.Errorf("job %s not done", res.JobID)
				}
			} else if js := v.jobs(store.JobFailed); len(js) != 1 {
				t.Errorf("%d failed jobs, want 1", len(js))
			}
			if tc.check != nil {
				tc.check(t, v, res)
			}
			if err == nil {
				v.finished(adele)
			} else {
				v.invariants()
			}
		})
	}
}

// TestRegistration: each answer Graph can give to the POST, and how the
// workflow reconciles it (never a blind second POST).
func TestRegistration(t *testing.T) {
	cases := []struct {
		name     string
		outcomes []enrolltest.Outcome
		prepare  func(v *env)
		err      error
		resume   bool // run Resume after the failure
		options  int  // creationOptions calls
		posts    int  // Register calls
		methods  int
		check    func(t *testing.T, v *env, res *enroll.Result)
	}{
		{name: "ok", options: 1, posts: 1, methods: 1},
		{name: "refused: the passkey is removed from the key",
			outcomes: []enrolltest.Outcome{enrolltest.RegisterRefused}, err: enroll.ErrRefused, options: 1, posts: 1,
			check: func(t *testing.T, v *env, _ *enroll.Result) {
				if n := len(v.key.State().Credentials); n != 0 {
					t.Errorf("the key holds %d passkeys after the refusal", n)
				}
			}},
		{name: "throttled: reported, not retried",
			outcomes: []enrolltest.Outcome{enrolltest.RegisterThrottled}, err: enrolltest.ErrThrottled, options: 1, posts: 1},
		{name: "challenge expired once: new options",
			outcomes: []enrolltest.Outcome{enrolltest.RegisterChallengeExpired}, options: 2, posts: 2, methods: 1,
			check: func(t *testing.T, v *env, _ *enroll.Result) {
				if n := len(v.key.State().Credentials); n != 1 {
					t.Errorf("the key holds %d passkeys, want 1 (the retry replaces the first)", n)
				}
			}},
		{name: "challenge expired three times",
			outcomes: []enrolltest.Outcome{enrolltest.RegisterChallengeExpired, enrolltest.RegisterChallengeExpired, enrolltest.RegisterChallengeExpired},
			err:      enroll.ErrChallengeExpired, options: 3, posts: 3},
		{name: "challenge expired on the directory's clock while the key waited",
			prepare: func(v *env) {
				var skew time.Duration
				v.dir.Now = func() time.Time { return time.Now().Add(skew) }
				v.key.OnCall = func(op string) {
					if op == enrolltest.OpMakeCredential && v.key.Calls(op) == 0 {
						skew = 6 * time.Minute // single goroutine: the workflow waits for the key
					}
				}
			},
			options: 2, posts: 2, methods: 1},
		{name: "outcome unknown, landed: found by listing, not sent again",
			outcomes: []enrolltest.Outcome{enrolltest.RegisterUnknownLanded}, err: enroll.ErrOutcomeUnknown, resume: true,
			options: 1, posts: 1, methods: 1,
			check: func(t *testing.T, v *env, res *enroll.Result) {
				if !res.Reconciled || !res.Resumed || !res.Verified {
					t.Errorf("result %+v: want reconciled, resumed, verified", res)
				}
				if v.dir.Calls(enrolltest.CallMethods) == 0 {
					t.Error("the directory was not asked for the user's passkeys")
				}
			}},
		{name: "outcome unknown, not landed: sent again",
			outcomes: []enrolltest.Outcome{enrolltest.RegisterUnknownLost}, err: enroll.ErrOutcomeUnknown, resume: true,
			options: 2, posts: 2, methods: 1,
			check: func(t *testing.T, v *env, res *enroll.Result) {
				if res.Reconciled {
					t.Error("reconciled though nothing had landed")
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, enrolltest.KeyConfig{})
			v.dir.ScriptRegister(tc.outcomes...)
			if tc.prepare != nil {
				tc.prepare(v)
			}
			res, err := v.enroll(adele, enroll.Request{})
			wantErr(t, err, tc.err)
			if tc.err != nil {
				js := v.jobs()
				want := store.JobFailed
				if errors.Is(tc.err, enroll.ErrOutcomeUnknown) {
					want = store.JobRunning // left for journal resume
				}
				if len(js) != 1 || js[0].State != want {
					t.Fatalf("jobs %+v, want one %s", js, want)
				}
				if tc.resume {
					if res, err = v.enroller().Resume(v.ctx, v.key, &js[0]); err != nil {
						t.Fatalf("resume: %v", err)
					}
					if res.JobID != js[0].ID {
						t.Errorf("resume finished job %s, want %s", res.JobID, js[0].ID)
					}
				}
			}
			if n := v.dir.Calls(enrolltest.CallOptions); n != tc.options {
				t.Errorf("%d creationOptions calls, want %d", n, tc.options)
			}
			if n := v.dir.Calls(enrolltest.CallRegister); n != tc.posts {
				t.Errorf("%d registrations sent, want %d", n, tc.posts)
			}
			if ms, _ := v.dir.MethodsOf(adele); len(ms) != tc.methods {
				t.Errorf("%d passkeys in the directory, want %d", len(ms), tc.methods)
			}
			if tc.check != nil {
				tc.check(t, v, res)
			}
			if tc.err == nil || tc.resume {
				v.finished(adele)
			} else {
				v.invariants()
			}
		})
	}
}

// TestKeyChecks: keys and users the workflow refuses, before touching the
// key where it can tell.
func TestKeyChecks(t *testing.T) {
	other := "00000000-0000-0000-0000-0000000000aa"
	model := func(k *enrolltest.Key) string {
		a := k.AAGUID()
		return strings.ToLower(uuidString(a))
	}
	cases := []struct {
		name      string
		key       enrolltest.KeyConfig
		prepare   func(v *env)
		req       enroll.Request
		err       error
		untouched bool // the key got no PIN and no passkey
	}{
		{name: "allow list with the model",
			prepare: func(v *env) {
				v.dir.SetPolicy(enroll.Eligibility{Allowed: true, Restrictions: []enroll.KeyRestrictions{
					{Enforced: true, Allow: true, AAGUIDs: []string{other, strings.ToUpper(model(v.key))}}}})
			}},
		{name: "allow list without the model",
			prepare: func(v *env) {
				v.dir.SetPolicy(enroll.Eligibility{Allowed: true, Restrictions: []enroll.KeyRestrictions{
					{Enforced: true, Allow: true, AAGUIDs: []string{other}}}})
			},
			err: enroll.ErrKeyModel, untouched: true},
		{name: "block list with the model",
			prepare: func(v *env) {
				v.dir.SetPolicy(enroll.Eligibility{Allowed: true, Restrictions: []enroll.KeyRestrictions{
					{Enforced: false, Allow: false, AAGUIDs: []string{other}},
					{Enforced: true, Allow: false, AAGUIDs: []string{model(v.key)}}}})
			},
			err: enroll.ErrKeyModel, untouched: true},
		{name: "attestation enforced, key attests with a certificate",
			prepare: func(v *env) { v.dir.SetPolicy(enroll.Eligibility{Allowed: true, AttestationEnforced: true}) }},
		{name: "attestation enforced, self attestation",
			key:     enrolltest.KeyConfig{Attestation: enrolltest.AttestSelf},
			prepare: func(v *env) { v.dir.SetPolicy(enroll.Eligibility{Allowed: true, AttestationEnforced: true}) },
			err:     enroll.ErrAttestation},
		{name: "attestation not enforced, none attestation",
			key: enrolltest.KeyConfig{Attestation: enrolltest.AttestNone}},
		{name: "policy refuses the user",
			prepare: func(v *env) {
				v.dir.SetEligibility(adele, enroll.Eligibility{Reasons: []string{"not in the passkey policy's groups"}, Hint: "add the user"})
			},
			err: enroll.ErrIneligible, untouched: true},
		{name: "guest",
			prepare: func(v *env) { v.dir.AddUser("guest_fabrikam.test#EXT#@contoso.test", "Guest", true) },
			req:     enroll.Request{UPN: "guest_fabrikam.test#EXT#@contoso.test"},
			err:     enroll.ErrIneligible, untouched: true},
		{name: "unknown user",
			req: enroll.Request{UPN: "nobody@contoso.test"},
			err: enrolltest.ErrUserNotFound, untouched: true},
		{name: "PIN retries low",
			prepare: func(v *env) {
				v.presetPIN("31415926", func(s *enrolltest.KeyState) { s.Retries = 3 })
				v.pins.QueueCurrent("31415926")
			},
			req: enroll.Request{PINMode: enroll.PINOperator},
			err: enroll.ErrKeyState, untouched: true},
		{name: "PIN blocked",
			prepare: func(v *env) { v.presetPIN("31415926", func(s *enrolltest.KeyState) { s.Retries = 0 }) },
			err:     hid.ErrPINBlocked, untouched: true},
		{name: "forced PIN change pending",
			prepare: func(v *env) {
				v.presetPIN("31415926", func(s *enrolltest.KeyState) { s.ForcePINChange = true })
				v.pins.QueueCurrent("31415926")
			},
			req: enroll.Request{PINMode: enroll.PINOperator},
			err: enroll.ErrKeyState, untouched: true},
		{name: "no free slot",
			key: enrolltest.KeyConfig{Slots: 1},
			prepare: func(v *env) {
				if _, err := v.enroll(alex, enroll.Request{}); err != nil {
					t.Fatal(err)
				}
			},
			err: hid.ErrKeyStoreFull},
		{name: "store full at makeCredential",
			prepare: func(v *env) {
				v.key.FailCall(enrolltest.OpMakeCredential, 1, enrolltest.Err(enrolltest.OpMakeCredential, hid.CodeKeyStoreFull))
			},
			err: hid.ErrKeyStoreFull},
		{name: "touch refused",
			prepare: func(v *env) {
				v.key.FailCall(enrolltest.OpMakeCredential, 1, enrolltest.Err(enrolltest.OpMakeCredential, hid.CodeOperationDenied))
			},
			err: hid.ErrOperationDenied},
		{name: "key already holds a passkey for the user: excluded",
			prepare: func(v *env) {
				if _, err := v.enroll(adele, enroll.Request{}); err != nil {
					t.Fatal(err)
				}
			},
			err: enroll.ErrExcluded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, tc.key)
			if tc.prepare != nil {
				tc.prepare(v)
			}
			upn := adele
			if tc.req.UPN != "" {
				upn = tc.req.UPN
			}
			before := v.dir.Calls(enrolltest.CallRegister)
			_, err := v.enroll(upn, tc.req)
			wantErr(t, err, tc.err)
			if tc.untouched {
				s := v.key.State()
				if n := v.key.Calls(enrolltest.OpSetPIN) + v.key.Calls(enrolltest.OpMakeCredential); n != 0 || len(s.Credentials) != 0 {
					t.Errorf("a refused key was changed: %d setPIN/makeCredential calls, %d passkeys", n, len(s.Credentials))
				}
			}
			if tc.err != nil {
				if n := v.dir.Calls(enrolltest.CallRegister) - before; n != 0 {
					t.Errorf("%d registrations sent for a refused enrollment", n)
				}
			}
			if err == nil {
				v.finished(upn)
			} else {
				v.invariants()
			}
		})
	}
}

func uuidString(a [16]byte) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i, c := range a {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b.WriteByte('-')
		}
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// crash stops the workflow at a journal boundary the way SIGKILL does:
// nothing after it runs (the panic unwinds past every later step).
type crash struct{ at string }

// TestResumeAfterCrash stops an enrollment at every journal boundary
// (after "begin" of each side-effect step, and after its effect before
// "done"), then resumes the job with a new Enroller on the same store, key
// and directory: docs/architecture.md §4 item 4.2.
//
// The key comes with someone else's PIN (a key handed back, reset on
// request), so the reset is needed: resume must not skip a reset that began
// and may not have happened.
func TestResumeAfterCrash(t *testing.T) {
	req := enroll.Request{Reset: true, MinPINLength: 8, MinPINLengthRPID: true, ForcePINChange: true}
	for _, step := range enroll.SideEffectSteps {
		for _, phase := range []string{enroll.HookBegin, enroll.HookEffect} {
			at := string(step) + ":" + phase
			t.Run(at, func(t *testing.T) {
				v := newEnv(t, enrolltest.KeyConfig{})
				v.key.Edit(func(s *enrolltest.KeyState) { s.PIN, s.Retries = "someone-else's", 8 })

				v.e.CrashHook = func(s enroll.Step, p string) {
					if string(s)+":"+p == at {
						panic(crash{at})
					}
				}
				crashed := func() (c bool) {
					defer func() {
						if r := recover(); r != nil {
							if _, ok := r.(crash); !ok {
								panic(r)
							}
							c = true
						}
					}()
					_, _ = v.enroll(adele, req)
					return false
				}()
				if !crashed {
					t.Fatalf("the workflow never reached %s", at)
				}
				if js := v.jobs(store.JobRunning); len(js) == 1 {
					res, err := v.enroller().Resume(v.ctx, v.key, &js[0])
					if err != nil {
						t.Fatalf("resume after %s: %v", at, err)
					}
					if !res.Verified || !res.Resumed {
						t.Errorf("result %+v", res)
					}
				} else if step != enroll.StepRecord || phase != enroll.HookEffect || len(v.jobs(store.JobDone)) != 1 {
					// Only a crash after the result was recorded (one
					// transaction with the job's end) leaves nothing to resume.
					t.Fatalf("%d running jobs after the crash, want 1", len(js))
				}
				if ms, _ := v.dir.MethodsOf(adele); len(ms) != 1 {
					t.Errorf("%d passkeys in the directory, want 1", len(ms))
				}
				// Never reset twice once the job went past the reset; a
				// crash at the reset's boundaries (its done not yet on disk)
				// resets again on resume.
				wantResets := 1
				if step == enroll.StepReset && phase == enroll.HookEffect {
					wantResets = 2
				}
				if n := v.key.Calls(enrolltest.OpReset); n != wantResets {
					t.Errorf("the key was reset %d times, want %d", n, wantResets)
				}
				s := v.key.State()
				if !s.ForcePINChange || s.MinPINLength != 8 || len(s.Credentials) != 1 {
					t.Errorf("key state: force change %v, min %d, %d passkeys", s.ForcePINChange, s.MinPINLength, len(s.Credentials))
				}
				if left := v.jobs(store.JobRunning, store.JobFailed); len(left) != 0 {
					t.Errorf("unfinished jobs left: %+v", left)
				}
				v.finished(adele)
			})
		}
	}
}

// TestKeyPulledMidStep: the key leaves during a step (the Nth call fails as
// a vanished device); nothing is lost and the job can be finished.
func TestKeyPulledMidStep(t *testing.T) {
	cases := []struct {
		name  string
		op    string
		after bool // the key acted before it left
		// resume: finish the same job; else start a new enrollment.
		resume bool
	}{
		{name: "before setPIN", op: enrolltest.OpSetPIN},
		{name: "after setPIN, answer lost", op: enrolltest.OpSetPIN, after: true, resume: true},
		{name: "during makeCredential", op: enrolltest.OpMakeCredential},
		{name: "after makeCredential, answer lost", op: enrolltest.OpMakeCredential, after: true},
		{name: "during the self-test", op: enrolltest.OpGetAssertion, resume: true},
		{name: "during forcePINChange", op: enrolltest.OpForcePINChange, after: true, resume: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, enrolltest.KeyConfig{})
			v.key.UnplugAt(tc.op, 1, tc.after)
			req := enroll.Request{ForcePINChange: true}
			_, err := v.enroll(adele, req)
			if hid.CodeOf(err) != hid.CodeTX && hid.CodeOf(err) != hid.CodeRX {
				t.Fatalf("error %v, want the vanished key's", err)
			}
			v.invariants()
			v.key.Replug()
			var res *enroll.Result
			if tc.resume {
				js := v.jobs()
				if len(js) != 1 {
					t.Fatalf("%d jobs", len(js))
				}
				res, err = v.enroller().Resume(v.ctx, v.key, &js[0])
			} else {
				res, err = v.enroll(adele, req)
			}
			if err != nil {
				t.Fatalf("after the key came back: %v", err)
			}
			if !res.Verified || !v.key.State().ForcePINChange {
				t.Errorf("result %+v, force change %v", res, v.key.State().ForcePINChange)
			}
			if ms, _ := v.dir.MethodsOf(adele); len(ms) != 1 {
				t.Errorf("%d passkeys in the directory, want 1", len(ms))
			}
			v.finished(adele)
		})
	}
}

// TestResumeRefusals: jobs Resume will not run.
func TestResumeRefusals(t *testing.T) {
	t.Run("done", func(t *testing.T) {
		v := newEnv(t, enrolltest.KeyConfig{})
		res, err := v.enroll(adele, enroll.Request{})
		if err != nil {
			t.Fatal(err)
		}
		j, err := v.st.Job(v.ctx, res.JobID)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.enroller().Resume(v.ctx, v.key, j)
		wantErr(t, err, enroll.ErrJob)
	})
	t.Run("another key model", func(t *testing.T) {
		v := newEnv(t, enrolltest.KeyConfig{})
		v.dir.ScriptRegister(enrolltest.RegisterUnknownLost)
		if _, err := v.enroll(adele, enroll.Request{}); !errors.Is(err, enroll.ErrOutcomeUnknown) {
			t.Fatal(err)
		}
		js := v.jobs(store.JobRunning)
		if len(js) != 1 {
			t.Fatalf("%d running jobs", len(js))
		}
		otherKey := enrolltest.NewKey(enrolltest.KeyConfig{Path: "fake:0", AAGUID: [16]byte{1, 2, 3}})
		_, err := v.enroller().Resume(v.ctx, otherKey, &js[0])
		wantErr(t, err, enroll.ErrJob)
		if otherKey.Calls(enrolltest.OpSetPIN)+otherKey.Calls(enrolltest.OpMakeCredential) != 0 {
			t.Error("the wrong key was changed")
		}
	})
	// Keys of the same model: the job's passkey (keys without a serial
	// number) or the serial number tells them apart, before anything is
	// changed; the job keeps waiting for its key and finishes on it.
	for _, tc := range []struct {
		name          string
		serial, other string
		msg           string
	}{
		{"another key without a serial number", "", "", "does not hold this job's passkey"},
		{"another serial number", "SN-1", "SN-2", "serial SN-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, enrolltest.KeyConfig{Serial: tc.serial})
			v.dir.ScriptRegister(enrolltest.RegisterUnknownLost)
			if _, err := v.enroll(adele, enroll.Request{}); !errors.Is(err, enroll.ErrOutcomeUnknown) {
				t.Fatal(err)
			}
			js := v.jobs(store.JobRunning)
			if len(js) != 1 {
				t.Fatalf("%d running jobs", len(js))
			}
			otherKey := enrolltest.NewKey(enrolltest.KeyConfig{Path: "fake:1", Serial: tc.other})
			_, err := v.enroller().Resume(v.ctx, otherKey, &js[0])
			wantErr(t, err, enroll.ErrJob)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v, want it to say %q", err, tc.msg)
			}
			if n := otherKey.Calls(enrolltest.OpSetPIN) + otherKey.Calls(enrolltest.OpMakeCredential) + otherKey.Calls(enrolltest.OpReset); n != 0 {
				t.Errorf("the wrong key was changed (%d calls)", n)
			}
			if ms, _ := v.dir.MethodsOf(adele); len(ms) != 0 {
				t.Errorf("%d passkeys registered from the wrong key", len(ms))
			}
			js = v.jobs(store.JobRunning)
			if len(js) != 1 {
				t.Fatalf("after the wrong key: %d running jobs, want the job still waiting for its key", len(js))
			}
			res, err := v.enroller().Resume(v.ctx, v.key, &js[0])
			if err != nil {
				t.Fatalf("resume on the job's key: %v", err)
			}
			if !res.Verified {
				t.Errorf("result %+v", res)
			}
			v.finished(adele)
		})
	}
}

// TestDryRun: a plan, and nothing changed anywhere.
func TestDryRun(t *testing.T) {
	v := newEnv(t, enrolltest.KeyConfig{})
	res, plan, err := v.e.Enroll(v.ctx, v.key, enroll.Request{UPN: adele, DryRun: true, MinPINLength: 8, ForcePINChange: true})
	if err != nil || res != nil || plan == nil {
		t.Fatalf("dry run: %v %v %v", res, plan, err)
	}
	if plan.User.UPN != adele || plan.Key.PINSet || len(plan.Actions) < 4 {
		t.Errorf("plan %+v", plan)
	}
	if len(v.jobs()) != 0 || v.key.Calls(enrolltest.OpSetPIN) != 0 || v.dir.Calls(enrolltest.CallOptions) != 0 {
		t.Error("a dry run changed something")
	}
}

// TestEscrowNotGuessedByPath: a key that already has a PIN, at a device
// path where an earlier job set a PIN and recorded nothing, gets that PIN
// only if the earlier job is known to have run on this very key: a wrong
// PIN would spend one of the key's retries. Paths are reused by the next
// key plugged in, and every bench of a fleet has its own.
func TestEscrowNotGuessedByPath(t *testing.T) {
	for _, tc := range []struct {
		name           string
		firstBench     string
		secondBench    string
		firstSerial    string
		secondSerial   string
		sameKey, tried bool
	}{
		{name: "the same key again on the same bench", firstBench: "b1", secondBench: "b1", sameKey: true, tried: true},
		{name: "another bench's key at the same path", firstBench: "b1", secondBench: "b2"},
		{name: "another serial number at the same path", firstBench: "b1", secondBench: "b1", firstSerial: "SN-1", secondSerial: "SN-2"},
		{name: "the same serial number on another bench", firstBench: "b1", secondBench: "b2", firstSerial: "SN-1", secondSerial: "SN-1", sameKey: true, tried: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, enrolltest.KeyConfig{Serial: tc.firstSerial})
			onBench := func(b string) *enroll.Enroller {
				e := v.enroller()
				e.Bench = b
				e.JobCreated = func(tx *store.Tx, j *store.Job) error {
					j.Bench = b
					return tx.UpdateJob(j.ID, store.JobUpdate{Bench: &b})
				}
				return e
			}
			// The first job sets the key's PIN, then Entra refuses the
			// passkey: an applied escrow at fake:0 and no result.
			v.dir.ScriptRegister(enrolltest.RegisterRefused)
			if _, _, err := onBench(tc.firstBench).Enroll(v.ctx, v.key, enroll.Request{UPN: alex}); !errors.Is(err, enroll.ErrRefused) {
				t.Fatalf("first enrollment: %v", err)
			}
			key := v.key
			if !tc.sameKey {
				key = enrolltest.NewKey(enrolltest.KeyConfig{Path: "fake:0", Serial: tc.secondSerial})
				key.Edit(func(s *enrolltest.KeyState) { s.PIN, s.Retries = "someone-else's", 8 })
			} else if tc.secondSerial != tc.firstSerial {
				t.Fatal("bad case")
			}
			before := key.State().Retries
			res, _, err := onBench(tc.secondBench).Enroll(v.ctx, key, enroll.Request{UPN: adele})
			if tc.tried {
				if err != nil || res.PINEscrow.Source != "earlier" {
					t.Fatalf("second enrollment on the same key: %v (escrow %+v); want the earlier job's PIN", err, res)
				}
				return
			}
			wantErr(t, err, enroll.ErrKeyHasPIN)
			if after := key.State().Retries; after != before {
				t.Errorf("the key's PIN retries went from %d to %d: a PIN was guessed", before, after)
			}
		})
	}
}

// TestEscrowAfterTwoRefusals: a key refused twice (the second time with
// the PIN the first job escrowed) gets that PIN a third time: the job in
// between proved it is the same key by using the PIN.
func TestEscrowAfterTwoRefusals(t *testing.T) {
	v := newEnv(t, enrolltest.KeyConfig{})
	v.dir.ScriptRegister(enrolltest.RegisterRefused, enrolltest.RegisterRefused)
	for i := range 2 {
		if _, err := v.enroll(alex, enroll.Request{}); !errors.Is(err, enroll.ErrRefused) {
			t.Fatalf("enrollment %d: %v", i+1, err)
		}
	}
	res, err := v.enroll(adele, enroll.Request{})
	if err != nil || res.PINEscrow.Source != "earlier" {
		t.Fatalf("third enrollment: %v (result %+v); want the first job's PIN", err, res)
	}
	if n := v.key.Calls(enrolltest.OpSetPIN); n != 1 {
		t.Errorf("the PIN was set %d times, want once", n)
	}
}
