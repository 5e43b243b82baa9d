//go:build !unix

package simkeys

// dirLock is a no-op where flock is not available.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }
func (l *dirLock) release() error      { return nil }
