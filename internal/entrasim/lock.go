package entrasim

import (
	"errors"
	"fmt"

	"github.com/keyprep/keyprep/internal/filelock"
)

// lockFile takes the exclusive lock on path, StatePath+".lock"
// (Options.StatePath), without waiting (internal/filelock).
func lockFile(path string) (*filelock.Lock, error) {
	l, err := filelock.TryLock(path)
	var held *filelock.HeldError
	switch {
	case errors.As(err, &held) && held.Err != nil:
		// No file lock here: the lock file exists (a crash leaves it
		// behind; delete it by hand).
		return nil, fmt.Errorf("entrasim: state %s is in use by another emulated tenant (lock %s exists): %w",
			path[:len(path)-len(".lock")], path, held.Err)
	case errors.As(err, &held):
		return nil, fmt.Errorf("entrasim: state %s is in use by another emulated tenant (lock %s held)", path[:len(path)-len(".lock")], path)
	case err != nil:
		return nil, fmt.Errorf("entrasim: lock %s: %w", path, err)
	}
	return l, nil
}
