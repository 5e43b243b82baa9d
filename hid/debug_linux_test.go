//go:build cgo

package hid_test

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/keyprep/keyprep/hid"
)

// TestWithDebugOpens: with WithDebug, libfido2's debug log (on fd 2) shows
// the session's traffic; without it, libfido2 writes nothing. (libfido2
// only ever turns its debug log on, for the whole process: the session
// without debug goes first, and no other test of this package uses it.)
func TestWithDebugOpens(t *testing.T) {
	if os.Getenv("FIDO_DEBUG") != "" {
		t.Skip("FIDO_DEBUG is set: libfido2 logs every session")
	}
	for _, debug := range []bool{false, true} {
		out := captureFD2(t, func() {
			d := openT(t, plugIn(t, &fakeAuth{}), hid.WithDebug(debug))
			if _, err := d.Info(context.Background()); err != nil {
				t.Error(err)
			}
			_ = d.Close()
		})
		if logged := strings.Contains(out, "fido_"); logged != debug {
			t.Errorf("WithDebug(%v): libfido2 debug output %v:\n%.2000s", debug, logged, out)
		}
	}
}

// captureFD2 runs f with file descriptor 2 (where libfido2 logs) sent to a
// file and returns what was written there.
func captureFD2(t *testing.T, f func()) string {
	t.Helper()
	file, err := os.CreateTemp(t.TempDir(), "fd2")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Skip(err)
	}
	restore := func() {
		_ = syscall.Dup3(saved, 2, 0)
		_ = syscall.Close(saved)
	}
	if err := syscall.Dup3(int(file.Fd()), 2, 0); err != nil {
		restore()
		t.Skip(err)
	}
	func() {
		defer restore()
		f()
	}()
	b, err := os.ReadFile(file.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
