//go:build unix

package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/fileguard"
)

// foreign makes paths another user's as keyprep sees them: as root by
// giving them to another uid (a root daemon and files another user
// planted), otherwise by keyprep believing it runs as someone else. It
// returns the undo.
func foreign(t *testing.T, paths ...string) func() {
	t.Helper()
	me := os.Geteuid()
	if me != 0 {
		prev := euid
		euid = func() int { return me + 1 }
		return func() { euid = prev }
	}
	for _, p := range paths {
		if err := os.Chown(p, 54321, -1); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		for _, p := range paths {
			if err := os.Chown(p, 0, -1); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestStateOwnedByAnotherUser: the state directory and the daemon's API
// token must belong to the user keyprep runs as (or to root).
func TestStateOwnedByAnotherUser(t *testing.T) {
	w := newWorld(t)
	if r := w.cli("", hooks{}, "keys"); r.code != 0 {
		t.Fatalf("keys: %d %s", r.code, r.errOut)
	}
	undo := foreign(t, w.state)
	r := w.cli("", hooks{}, "keys")
	if r.code != int(ExitUsage) || !strings.Contains(r.errOut, "state directory") || !strings.Contains(r.errOut, "owned by") ||
		!strings.Contains(r.errOut, "hint: ") {
		t.Errorf("state directory of another user: exit %d\n%s", r.code, r.errOut)
	}
	undo()

	// A token in place: accepted from its owner, refused from anyone else.
	tok := filepath.Join(w.state, TokenFile)
	if err := os.WriteFile(tok, []byte(strings.Repeat("t", 64)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := serveToken(w.state); err != nil {
		t.Fatalf("own token: %v", err)
	}
	undo = foreign(t, tok)
	if _, _, err := serveToken(w.state); !errors.Is(err, fileguard.ErrUnsafe) || !strings.Contains(err.Error(), "API token") {
		t.Errorf("token of another user: %v", err)
	}
	undo()
	if err := os.Chmod(tok, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := serveToken(w.state); !errors.Is(err, fileguard.ErrUnsafe) || classify(err).Hint == "" {
		t.Errorf("token others can read: %v", err)
	}
}
