package entrasim

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

// fileLock is an exclusive, non-blocking LockFileEx lock on the first
// byte of StatePath+".lock" (Options.StatePath), Windows' counterpart of
// the Unix build's flock
// (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-lockfileex).
// Windows releases it when the handle is closed, also when the process
// dies.
type fileLock struct{ f *os.File }

func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("entrasim: lock %s: %w", path, err)
	}
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	if err != nil {
		f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, fmt.Errorf("entrasim: state %s is in use by another emulated tenant (lock %s held)", path[:len(path)-len(".lock")], path)
		}
		return nil, fmt.Errorf("entrasim: lock %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

func (l *fileLock) release() error {
	_ = windows.UnlockFileEx(windows.Handle(l.f.Fd()), 0, 1, 0, new(windows.Overlapped))
	return l.f.Close()
}
