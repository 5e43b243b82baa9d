package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid/uhid"
)

// runSimKey runs keyprep in-process (no --sim) and returns exit code and stderr.
func runSimKey(t *testing.T, args ...string) (int, string) {
	t.Helper()
	// Bounded: where /dev/uhid works, a successful sim key would serve until
	// interrupted.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	code := run(ctx, append([]string{"--state-dir", t.TempDir()}, args...), IO{In: strings.NewReader(""), Out: &out, ErrOut: &errb}, wiring{})
	recordOutput(out.String() + errb.String())
	return code, errb.String()
}

// The uhid path itself runs in the VM (scripts/e2e-vm.sh); here: the
// command line, and a machine without /dev/uhid.
func TestSimKeyCommandLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		code ExitCode
		msg  string
	}{
		{[]string{"sim", "key"}, ExitUsage, "sim key needs --uhid"},
		{[]string{"sim", "key", "--uhid", "--inject-fault", "wrong-seq"}, ExitUsage, `unknown fault "wrong-seq"`},
		{[]string{"--sim", "sim", "key", "--uhid"}, ExitUsage, "drop --sim"},
	} {
		code, stderr := runSimKey(t, c.args...)
		if ExitCode(code) != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("keyprep %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.msg)
		}
	}
}

func TestSimKeyWithoutUHID(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(uhid.Path); err == nil {
		t.Skip(uhid.Path + " exists on this machine")
	}
	state := filepath.Join(t.TempDir(), "key.json")
	code, stderr := runSimKey(t, "sim", "key", "--uhid", "--state", state)
	if ExitCode(code) != ExitUnsupported || !strings.Contains(stderr, "modprobe uhid") {
		t.Errorf("exit %d, stderr %q; want exit %d naming modprobe uhid", code, stderr, ExitUnsupported)
	}
	if _, err := os.Stat(state); err == nil {
		t.Errorf("the key's state file was created although no device could be")
	}
}
