package cli

import (
	"os"
	"syscall"

	"github.com/keyprep/keyprep/internal/enroll"
)

// crashFromEnv is the crash tests' hook, wired only into the keyprep
// processes the tests spawn (TestMain, KEYPREP_CLI_MAIN=1), so a released
// binary has none: KEYPREP_TEST_CRASH=STEP:PHASE kills the process with
// SIGKILL at that journal boundary (docs/architecture.md §4 item 4.2).
func crashFromEnv() func(enroll.Step, string) {
	want := os.Getenv("KEYPREP_TEST_CRASH")
	if want == "" {
		return nil
	}
	return func(s enroll.Step, phase string) {
		if string(s)+":"+phase == want {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never continue past the boundary
		}
	}
}
