//go:build cgo

package hid_test

import (
	"context"
	"os"
	"syscall"
	"testing"

	"github.com/keyprep/keyprep/hid"
)

func TestWithDebugOpens(t *testing.T) {
	// libfido2 logs to fd 2; send it to /dev/null for the duration.
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer null.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Skip(err)
	}
	defer func() {
		_ = syscall.Dup3(saved, 2, 0)
		_ = syscall.Close(saved)
	}()
	if err := syscall.Dup3(int(null.Fd()), 2, 0); err != nil {
		t.Skip(err)
	}
	d := openT(t, plugIn(t, &fakeAuth{}), hid.WithDebug(true))
	if _, err := d.Info(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
}
