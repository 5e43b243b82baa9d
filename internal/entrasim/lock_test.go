package entrasim

import (
	"path/filepath"
	"testing"
)

// TestStateLock: a second tenant on the same state file is refused with
// the message naming the state and its lock, until the first closes.
func TestStateLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenant.json")
	first, err := Open(Options{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(Options{StatePath: path})
	want := "entrasim: state " + path + " is in use by another emulated tenant (lock " + path + ".lock held)"
	if err == nil || err.Error() != want {
		t.Errorf("second Open: %v, want %s", err, want)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := Open(Options{StatePath: path})
	if err != nil {
		t.Fatalf("Open after the first tenant closed: %v", err)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
}
