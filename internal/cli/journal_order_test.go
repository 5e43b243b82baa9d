//go:build cgo

package cli

import (
	"context"
	"testing"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
)

// TestJournalBeginBeforeEffect enrolls factory-fresh virtual keys against
// the emulated tenant and, at every side effect (on the key or in Entra),
// reads the journal through a second connection to the database: the
// step's latest committed row must be its "begin" (docs/architecture.md
// §4.2), and before the PIN goes on the key its escrow must be committed
// and open to that PIN (§4.1). The enrollment batches the other journal
// rows into fewer transactions; this is what the batching must never
// give up.
func TestJournalBeginBeforeEffect(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  enroll.Request
	}{
		{"fresh key", enroll.Request{}},
		{"reset, min PIN length, forced change", enroll.Request{Reset: true, MinPINLength: 8, MinPINLengthRPID: true, ForcePINChange: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			env := newBenchEnv(t)
			env.freshKey(t)
			reader, err := store.Open(ctx, env.dbPath, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer reader.Close()
			chk := &journalChecker{t: t, st: reader, e: env.e}
			var jobID string
			env.e.Events = func(ev enroll.Event) { jobID = ev.JobID }
			chk.job = func() string { return jobID }
			env.e.Directory = checkedDirectory{Directory: &graphDirectory{c: env.client}, chk: chk}

			d, err := hid.Open(ctx, env.keyPath)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			req := tc.req
			req.UPN, req.KeyPath, req.PINMode = env.users[0].UPN, env.keyPath, enroll.PINGenerate
			res, _, err := env.e.Enroll(ctx, checkedDevice{Device: d, chk: chk}, req)
			if err != nil {
				t.Fatalf("enroll: %v", err)
			}
			pin.Wipe(res.PIN)
			want := []enroll.Step{enroll.StepPIN, enroll.StepMakeCred, enroll.StepRegister}
			if tc.req.Reset {
				want = append(want, enroll.StepReset, enroll.StepMinPIN, enroll.StepForcePIN)
			}
			for _, s := range want {
				if chk.checked[s] == 0 {
					t.Errorf("the side effect of %s was never checked", s)
				}
			}
			// Everything is committed once the enrollment returns.
			steps, err := reader.Steps(ctx, res.JobID)
			if err != nil || len(steps) == 0 {
				t.Fatalf("steps: %d, %v", len(steps), err)
			}
			if last := steps[len(steps)-1]; last.Name != string(enroll.StepRecord) || last.Phase != store.PhaseDone {
				t.Errorf("last journal row %s/%s, want %s/%s", last.Name, last.Phase, enroll.StepRecord, store.PhaseDone)
			}
			if es, _ := reader.Escrows(ctx, store.EscrowFilter{JobID: res.JobID}); len(es) != 1 || es[0].State != store.EscrowApplied {
				t.Errorf("escrows after the enrollment: %+v", es)
			}
		})
	}
}

// journalChecker reads the committed journal at each side effect.
type journalChecker struct {
	t       *testing.T
	st      *store.Store
	e       *enroll.Enroller
	job     func() string
	checked map[enroll.Step]int
}

// begun checks that step's latest committed row is its "begin".
func (c *journalChecker) begun(step enroll.Step) {
	c.t.Helper()
	if c.checked == nil {
		c.checked = map[enroll.Step]int{}
	}
	c.checked[step]++
	last, err := c.st.LastStep(context.Background(), c.job(), string(step))
	if err != nil {
		c.t.Fatalf("%s: side effect with no committed journal row: %v", step, err)
	}
	if last.Phase != store.PhaseBegin {
		c.t.Fatalf("%s: side effect while its latest committed row is %q, not begin", step, last.Phase)
	}
}

// escrowed checks that the PIN about to be set is escrowed, committed.
func (c *journalChecker) escrowed(p []byte) {
	c.t.Helper()
	last, err := c.st.LastStep(context.Background(), c.job(), string(enroll.StepPIN))
	if err != nil {
		c.t.Fatal(err)
	}
	b, err := store.DecodeStep[store.PINBegin](last)
	if err != nil || b.EscrowID == "" {
		c.t.Fatalf("pin begin names no escrow: %+v, %v", b, err)
	}
	esc, err := c.st.Escrow(context.Background(), b.EscrowID)
	if err != nil {
		c.t.Fatalf("the PIN is set before its escrow is committed: %v", err)
	}
	got, err := enroll.OpenEscrow(esc, c.e.AgeIdentities())
	if err != nil || string(got) != string(p) {
		c.t.Fatalf("the committed escrow does not open to the PIN being set (%v)", err)
	}
	pin.Wipe(got)
}

type checkedDevice struct {
	enroll.Device
	chk *journalChecker
}

func (d checkedDevice) Reset(ctx context.Context) error {
	d.chk.begun(enroll.StepReset)
	return d.Device.Reset(ctx)
}

func (d checkedDevice) SetPIN(ctx context.Context, p []byte) error {
	d.chk.begun(enroll.StepPIN)
	d.chk.escrowed(p)
	return d.Device.SetPIN(ctx, p)
}

func (d checkedDevice) SetMinPINLength(ctx context.Context, n int, p []byte) error {
	d.chk.begun(enroll.StepMinPIN)
	return d.Device.SetMinPINLength(ctx, n, p)
}

func (d checkedDevice) SetMinPINLengthRPIDs(ctx context.Context, rpIDs []string, p []byte) error {
	d.chk.begun(enroll.StepMinPIN)
	return d.Device.SetMinPINLengthRPIDs(ctx, rpIDs, p)
}

func (d checkedDevice) ForcePINChange(ctx context.Context, p []byte) error {
	d.chk.begun(enroll.StepForcePIN)
	return d.Device.ForcePINChange(ctx, p)
}

func (d checkedDevice) MakeCredential(ctx context.Context, req hid.MakeCredentialRequest, p []byte) (*hid.Credential, error) {
	d.chk.begun(enroll.StepMakeCred)
	return d.Device.MakeCredential(ctx, req, p)
}

// GetAssertion is not checked: the self-test changes nothing a crash could
// lose (only the key's signature counter moves), so its begin is not synced
// on its own (see enroll's selfTest); the registration before it is.

type checkedDirectory struct {
	enroll.Directory
	chk *journalChecker
}

func (d checkedDirectory) Register(ctx context.Context, userID string, body []byte) (*enroll.Method, error) {
	d.chk.begun(enroll.StepRegister)
	return d.Directory.Register(ctx, userID, body)
}
