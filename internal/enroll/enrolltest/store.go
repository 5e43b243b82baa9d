package enrolltest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keyprep/keyprep/internal/store"
)

// Store opens a store of its own in a temporary directory of t's, closed
// when t ends: the real SQLite store the workflow journals into.
func Store(ctx context.Context, t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "keyprep.db"), store.Options{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
