package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/store"
)

// TestStoreTroubleClasses: the store's database away (at start, for
// longer than a bench waits, or during a commit) is the service class,
// retried by a bench on the same key; refused credentials are the
// sign-in class.
func TestStoreTroubleClasses(t *testing.T) {
	lost := errors.New("FATAL: terminating connection due to administrator command (SQLSTATE 57P01)")
	tests := []struct {
		name    string
		err     error
		code    ExitCode
		outcome bench.Outcome
	}{
		{"unreachable at start", storeOpenError(fmt.Errorf("store: open postgres://db/keyprep: %w: dial tcp: connection refused", store.ErrUnavailable)),
			ExitService, bench.FailTransient},
		{"credentials refused at start", storeOpenError(fmt.Errorf("store: open postgres://db/keyprep: %w: password authentication failed", store.ErrAccessDenied)),
			ExitAuth, bench.FailUser},
		{"away for longer than the bench waits", fmt.Errorf("claim: %w (gave up after 10m0s): %w", store.ErrUnavailable, lost),
			ExitService, bench.FailTransient},
		{"commit lost in an enrollment", &enroll.Error{Msg: "cannot write the journal", Hint: "check the state directory",
			Err: fmt.Errorf("store: commit: %w: %w", store.ErrCommitUnknown, lost)},
			ExitService, bench.FailTransient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := classify(tc.err)
			if e.Code != tc.code || e.Hint == "" {
				t.Errorf("exit %d, hint %q; want %d and a hint", e.Code, e.Hint, tc.code)
			}
			if _, _, o := explainBench(tc.err); o != tc.outcome {
				t.Errorf("bench outcome %d, want %d", o, tc.outcome)
			}
		})
	}
}
