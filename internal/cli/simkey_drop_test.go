//go:build linux

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/keyprep/keyprep/internal/privdrop"
)

// TestSimKeyRunAs: as root, sim key --uhid decides whom it serves the key as
// (it gives up root once /dev/uhid is open) before it opens anything, and
// refuses root itself or a user that does not exist.
func TestSimKeyRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sim key drops privileges only when run as root")
	}
	w := newWorld(t)
	for _, tt := range []struct{ runAs, msg string }{
		{"root", "is root"},
		{"0:0", "is root"},
		{"no-such-user-keyprep", "no user"},
	} {
		var out, errOut strings.Builder
		code := run(t.Context(), []string{"--state-dir", w.state, "sim", "key", "--uhid", "--run-as", tt.runAs},
			IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, wiring{})
		if code != int(ExitUsage) || !strings.Contains(errOut.String(), "--run-as: ") || !strings.Contains(errOut.String(), tt.msg) ||
			!strings.Contains(errOut.String(), "hint: ") {
			t.Errorf("--run-as %s: exit %d\n%s", tt.runAs, code, errOut.String())
		}
	}
}

func TestDefaultRunAs(t *testing.T) {
	for _, tt := range []struct{ uid, gid, want string }{
		{"", "", "nobody"},
		{"0", "0", "nobody"},
		{"1000", "1000", "1000:1000"},
		{"1000", "", "1000"},
	} {
		t.Setenv("SUDO_UID", tt.uid)
		t.Setenv("SUDO_GID", tt.gid)
		if got := defaultRunAs(); got != tt.want {
			t.Errorf("SUDO_UID=%q SUDO_GID=%q: %q, want %q", tt.uid, tt.gid, got, tt.want)
		}
	}
}

// TestKeyDirAndHandOver: the key's directory is reached through a
// descriptor opened as root, and the key's files are handed to the user
// who serves it (its private directory too; a shared one is left alone).
func TestKeyDirAndHandOver(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("handing files over needs root")
	}
	base := t.TempDir()
	dir := filepath.Join(base, "private", "keys")
	p, release, err := keyDir(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	a, errA := os.Stat(p)
	b, errB := os.Stat(dir)
	if errA != nil || errB != nil || !os.SameFile(a, b) || !strings.HasPrefix(p, "/proc/self/fd/") {
		t.Fatalf("keyDir = %q (%v, %v), not the directory %s", p, errA, errB, dir)
	}
	state := filepath.Join(dir, "0.json")
	if err := os.WriteFile(filepath.Join(p, "0.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := &privdrop.Target{Name: "test", UID: 54321, GID: 54321}
	if err := handOver(state, target); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{state, dir} {
		fi, err := os.Stat(f)
		if err != nil || fi.Sys().(*syscall.Stat_t).Uid != 54321 {
			t.Errorf("%s not handed over: %v", f, err)
		}
	}
	shared := filepath.Join(base, "shared")
	if err := os.Mkdir(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := handOver(filepath.Join(shared, "k.json"), target); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(shared); fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Error("a shared directory was handed over")
	}
}
