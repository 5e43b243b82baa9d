package escrow

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keyprep/keyprep/internal/fileguard"
)

// TestCreatedPrivate: the escrow directory, the bench identity and the
// files WritePrivateFile writes are private to the user from the start,
// as fileguard sees it on every platform (modes on Unix, the DACL on
// Windows), so a later run trusts them.
func TestCreatedPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "escrow")
	if _, _, _, err := EnsureBenchIdentity(dir); err != nil {
		t.Fatal(err)
	}
	slip := filepath.Join(dir, "slip.txt")
	if err := WritePrivateFile(slip, []byte("TAP\n"), false); err != nil {
		t.Fatal(err)
	}
	replaced := filepath.Join(dir, "pending")
	for range 2 {
		if err := WritePrivateFile(replaced, []byte("x\n"), true); err != nil {
			t.Fatal(err)
		}
	}
	me := os.Geteuid()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := fileguard.CheckPath("escrow directory", d, fileguard.Dir, me); err != nil {
			t.Error(err)
		}
	}
	for _, p := range []string{filepath.Join(dir, BenchIdentityFile), slip, replaced} {
		if err := fileguard.CheckPath("secret", p, fileguard.Secret, me); err != nil {
			t.Error(err)
		}
	}
}
