package cli

import (
	"os"

	"github.com/keyprep/keyprep/internal/enroll"
)

// crashFromEnv is the crash tests' hook, wired only into the keyprep
// processes the tests spawn (TestMain, KEYPREP_CLI_MAIN=1), so a released
// binary has none: KEYPREP_TEST_CRASH=STEP:PHASE kills the process with
// SIGKILL at that journal boundary (docs/architecture.md §4 item 4.2).
// os.Process.Kill is SIGKILL on Unix and TerminateProcess on Windows.
func crashFromEnv() func(enroll.Step, string) {
	want := os.Getenv("KEYPREP_TEST_CRASH")
	if want == "" {
		return nil
	}
	return func(s enroll.Step, phase string) {
		if string(s)+":"+phase == want {
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Kill()
			}
			select {} // never continue past the boundary
		}
	}
}
