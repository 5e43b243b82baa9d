//go:build !windows

package store

import (
	"errors"
	"io/fs"
	"os"
)

// sqliteModes makes sure the database file and its companions are mode
// 0600 (the -wal and -shm files exist once the schema was read).
func sqliteModes(abs string) error {
	for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
