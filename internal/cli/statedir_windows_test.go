package cli

import (
	"path/filepath"
	"testing"
)

// TestDefaultStateDirWindows: without --state-dir or KEYPREP_STATE_DIR the
// state lives in %ProgramData%\keyprep; both still come first.
func TestDefaultStateDirWindows(t *testing.T) {
	t.Setenv("ProgramData", `D:\Data`)
	t.Setenv("KEYPREP_STATE_DIR", "")
	t.Setenv("XDG_STATE_HOME", `C:\xdg`) // not a Windows convention: ignored
	g := &globals{}
	if d, err := g.stateDir(); err != nil || d != `D:\Data\keyprep` {
		t.Fatalf("default: %q %v", d, err)
	}
	t.Setenv("KEYPREP_STATE_DIR", `E:\kp`)
	if d, err := g.stateDir(); err != nil || d != `E:\kp` {
		t.Fatalf("KEYPREP_STATE_DIR: %q %v", d, err)
	}
	g.StateDir = `F:\bench`
	if d, err := g.stateDir(); err != nil || d != filepath.Clean(`F:\bench`) {
		t.Fatalf("--state-dir: %q %v", d, err)
	}
}
