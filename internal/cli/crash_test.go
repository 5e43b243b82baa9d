package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
)

// subprocess runs keyprep (this test binary in KEYPREP_CLI_MAIN mode) with
// the simulation in state.
type procResult struct {
	stdout, stderr string
	exit           int
	killed         bool
}

func keyprep(t *testing.T, state string, env []string, stdin string, args ...string) procResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"--state-dir", state, "--sim"}, args...)...)
	cmd.Env = append(os.Environ(), "KEYPREP_CLI_MAIN=1", "NO_COLOR=1", "KEYPREP_TEST_CRASH=")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := procResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		}
		r.exit = ee.ExitCode()
	default:
		t.Fatalf("run keyprep %v: %v", args, err)
	}
	recordOutput(r.stdout + r.stderr)
	return r
}

// TestEnrollCrashSafety kills enroll (SIGKILL) at every journal boundary —
// after each side-effect step is journaled "begin", and after its side
// effect but before "done" — then runs journal resume, and checks docs/architecture.md
// §4.2: the key has a PIN only with an escrow that opens to that
// PIN, every passkey Entra holds for the user is recorded, exactly one was
// registered, and no unfinished job is left.
func TestEnrollCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns keyprep processes")
	}
	const upn = "adele.vance@contoso.test"
	var cases []string
	for _, s := range enroll.SideEffectSteps {
		cases = append(cases, string(s)+":"+enroll.HookBegin, string(s)+":"+enroll.HookEffect)
	}
	for _, boundary := range cases {
		t.Run(strings.ReplaceAll(boundary, ":", "_"), func(t *testing.T) {
			t.Parallel()
			state := t.TempDir()
			r := keyprep(t, state, []string{"KEYPREP_TEST_CRASH=" + boundary}, "",
				"enroll", "--user", upn, "--reset", "--min-pin-length", "8", "--min-pin-length-rp", "--force-pin-change", "--json")
			if !r.killed {
				t.Fatalf("enroll was not killed at %s (exit %d)\n%s", boundary, r.exit, r.stderr)
			}
			r = keyprep(t, state, nil, "", "journal", "resume", "--json")
			if r.exit != 0 {
				t.Fatalf("journal resume after a crash at %s: exit %d\n%s\n%s", boundary, r.exit, r.stdout, r.stderr)
			}
			checkInvariants(t, state, upn)
		})
	}
}

func checkInvariants(t *testing.T, state, upn string) {
	t.Helper()
	ctx := context.Background()
	// Entra's view.
	r := keyprep(t, state, nil, "", "methods", "list", "--user", upn, "--json")
	if r.exit != 0 {
		t.Fatalf("methods list: %d %s", r.exit, r.stderr)
	}
	var ml struct {
		Methods []struct {
			ID string `json:"id"`
		} `json:"methods"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &ml); err != nil {
		t.Fatal(err)
	}
	// The key's view.
	r = keyprep(t, state, nil, "", "keys", "--json")
	var kl struct {
		Keys []struct {
			PINSet         bool `json:"pinSet"`
			ForcePINChange bool `json:"forcePINChange"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &kl); err != nil || len(kl.Keys) != 1 {
		t.Fatalf("keys --json: %v %s", err, r.stdout)
	}

	st, err := store.Open(ctx, filepath.Join(state, "keyprep.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	unfinished, err := st.Jobs(ctx, store.JobFilter{States: []store.JobState{store.JobRunning, store.JobFailed}})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range unfinished {
		t.Errorf("job %s left %s at %s %s: %s", j.ID, j.State, j.Step, j.Phase, j.Error)
	}
	if len(ml.Methods) != 1 {
		t.Errorf("Entra holds %d passkeys for %s, want exactly 1", len(ml.Methods), upn)
	}
	results, err := st.Results(ctx, store.ResultFilter{UPN: upn})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ml.Methods {
		i := slices.IndexFunc(results, func(r store.Result) bool { return r.MethodID == m.ID })
		if i < 0 {
			t.Errorf("Entra method %s is not recorded in the store", m.ID)
			continue
		}
		if !results[i].Verified {
			t.Errorf("result for method %s is not verified", m.ID)
		}
	}
	if !kl.Keys[0].PINSet {
		t.Fatal("the key has no PIN after resume")
	}
	if !kl.Keys[0].ForcePINChange {
		t.Error("forcePINChange was asked for but is not set on the key")
	}
	// The key's PIN is escrowed, and the escrow holds that very PIN: a PIN
	// change with it succeeds.
	es, err := st.Escrows(ctx, store.EscrowFilter{KeyPath: "vkey:0", States: []string{store.EscrowApplied}})
	if err != nil || len(es) != 1 {
		t.Fatalf("applied escrows for the key: %d (%v), want 1", len(es), err)
	}
	ids, err := escrow.LoadIdentities(filepath.Join(state, "escrow", escrow.BenchIdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	p, err := escrow.Open(es[0].Ciphertext, ids)
	if err != nil {
		t.Fatal(err)
	}
	defer pin.Wipe(p)
	r = keyprep(t, state, nil, fmt.Sprintf("%s\n%s\n", p, "73918264"), "pin", "change")
	if r.exit != 0 {
		t.Errorf("the escrowed PIN does not open the key: exit %d %s", r.exit, r.stderr)
	}
	if n, err := st.VerifyAudit(ctx); err != nil {
		t.Errorf("audit chain after %d events: %v", n, err)
	}
}
