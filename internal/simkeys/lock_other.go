//go:build !unix && !windows

package simkeys

// dirLock is a no-op where neither flock nor LockFileEx is available.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }
func (l *dirLock) release() error      { return nil }
