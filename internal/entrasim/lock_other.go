//go:build !unix && !windows

package entrasim

import (
	"fmt"
	"os"
)

// fileLock on systems without flock or LockFileEx: an exclusively created lock file,
// removed on release (a crash leaves it behind; delete it by hand).
type fileLock struct{ path string }

func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("entrasim: state %s is in use by another emulated tenant (lock %s exists): %w",
			path[:len(path)-len(".lock")], path, err)
	}
	f.Close()
	return &fileLock{path: path}, nil
}

func (l *fileLock) release() error { return os.Remove(l.path) }
