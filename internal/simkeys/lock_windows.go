package simkeys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// dirLock is an exclusive LockFileEx lock on the first byte of DIR/.lock,
// Windows' counterpart of the flock the Unix build takes
// (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-lockfileex).
// Windows releases it when the handle is closed, also when the process
// dies.
type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("simkeys: lock: %w", err)
	}
	h := windows.Handle(f.Fd())
	err = windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		fmt.Fprintf(os.Stderr, "waiting for another keyprep process that uses the virtual keys in %s\n", dir)
		err = windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, new(windows.Overlapped))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("simkeys: lock: %w", err)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) release() error {
	_ = windows.UnlockFileEx(windows.Handle(l.f.Fd()), 0, 1, 0, new(windows.Overlapped))
	return l.f.Close()
}
