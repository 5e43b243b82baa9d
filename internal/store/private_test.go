package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keyprep/keyprep/internal/fileguard"
)

// TestStorePrivate: the directory Open creates for the database, and the
// database file, are private to the user as fileguard sees it on every
// platform (on Windows: the DACL they got when created, as Windows reports
// it; there nothing is chmodded while SQLite holds the files open), and the
// store works after being reopened.
func TestStorePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "db")
	path := filepath.Join(dir, "keyprep.db")
	s := openTest(t, path)
	mustJob(t, s, nil) // -wal and -shm exist now
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, path) // an existing file, with its companions
	mustJob(t, s, nil)
	me := os.Geteuid()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := fileguard.CheckPath("state directory", d, fileguard.Dir, me); err != nil {
			t.Error(err)
		}
	}
	if err := fileguard.CheckPath("database", s.Path(), fileguard.Secret, me); err != nil {
		t.Error(err)
	}
}
