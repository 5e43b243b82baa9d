//go:build !unix && !windows

package filelock

import "os"

// Lock is a held lock: the lock file TryLock created, or nothing (Wait).
type Lock struct{ path string }

// TryLock creates the lock file path exclusively (mode 0600); *HeldError,
// with the reason in Err, when it cannot.
func TryLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, &HeldError{Path: path, Err: err}
	}
	f.Close()
	return &Lock{path: path}, nil
}

// Wait takes no lock here: it neither waits nor calls waiting.
func Wait(path string, waiting func()) (*Lock, error) { return &Lock{}, nil }

// Unlock removes the lock file TryLock created.
func (l *Lock) Unlock() error {
	if l.path == "" {
		return nil
	}
	return os.Remove(l.path)
}
