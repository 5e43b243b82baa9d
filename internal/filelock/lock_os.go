//go:build unix || windows

package filelock

import (
	"errors"
	"os"
)

// Lock is a held lock.
type Lock struct{ f *os.File }

// TryLock takes the lock on path (creating the file, mode 0600 on Unix)
// without waiting; *HeldError when another holder has it. Other errors are
// those of opening the file and of the lock call, unwrapped.
func TryLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := tryLock(f); err != nil {
		f.Close()
		if errors.Is(err, errHeld) {
			return nil, &HeldError{Path: path}
		}
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Wait takes the lock on path (creating the file, mode 0600 on Unix),
// waiting for it as long as another holder has it. When it cannot take it
// at once it calls waiting (when not nil) first. Errors are those of
// opening the file and of the lock call, unwrapped.
func Wait(path string, waiting func()) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err = tryLock(f); mustWait(err) {
		if waiting != nil {
			waiting()
		}
		err = lock(f)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Lock{f: f}, nil
}

// Unlock releases the lock and closes the file; its error is Close's.
func (l *Lock) Unlock() error {
	_ = unlock(l.f)
	return l.f.Close()
}
