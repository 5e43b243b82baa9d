package simkeys

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyprep/keyprep/internal/filelock"
)

// lockDir takes the exclusive lock on DIR/.lock (internal/filelock), waiting
// for another process that holds it and saying so on stderr. Where there is
// no file lock it takes none.
func lockDir(dir string) (*filelock.Lock, error) {
	l, err := filelock.Wait(filepath.Join(dir, ".lock"), func() {
		fmt.Fprintf(os.Stderr, "waiting for another keyprep process that uses the virtual keys in %s\n", dir)
	})
	if err != nil {
		return nil, fmt.Errorf("simkeys: lock: %w", err)
	}
	return l, nil
}
