//go:build unix

package entrasim

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// fileLock is an exclusive, non-blocking flock on StatePath+".lock"
// (Options.StatePath).
type fileLock struct{ f *os.File }

func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("entrasim: lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("entrasim: state %s is in use by another emulated tenant (lock %s held)", path[:len(path)-len(".lock")], path)
		}
		return nil, fmt.Errorf("entrasim: lock %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

func (l *fileLock) release() error {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	return l.f.Close()
}
