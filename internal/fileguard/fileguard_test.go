//go:build unix

package fileguard

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeInfo is a stat result with an owner of the test's choosing.
type fakeInfo struct {
	mode fs.FileMode
	uid  uint32
}

func (f fakeInfo) Name() string       { return "x" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return &syscall.Stat_t{Uid: f.uid} }

func TestCheck(t *testing.T) {
	const me, other = 1000, 1001
	for _, tt := range []struct {
		name string
		fi   fakeInfo
		kind Kind
		uid  int
		want string // "" accepted, else in the error
	}{
		{"own private dir", fakeInfo{fs.ModeDir | 0o700, me}, Dir, me, ""},
		{"own dir others may read", fakeInfo{fs.ModeDir | 0o755, me}, Dir, me, ""},
		{"root's dir", fakeInfo{fs.ModeDir | 0o755, 0}, Dir, me, ""},
		{"dir of another user", fakeInfo{fs.ModeDir | 0o700, other}, Dir, me, "owned by uid 1001"},
		{"root and a dir of another user", fakeInfo{fs.ModeDir | 0o700, other}, Dir, 0, "owned by uid 1001"},
		{"world-writable dir", fakeInfo{fs.ModeDir | 0o777, me}, Dir, me, "mode 0777 lets group or others write"},
		{"group-writable dir", fakeInfo{fs.ModeDir | 0o770, me}, Dir, me, "group or others write"},
		{"file for a dir", fakeInfo{0o600, me}, Dir, me, "not a directory"},
		{"own secret", fakeInfo{0o600, me}, Secret, me, ""},
		{"secret others may read", fakeInfo{0o644, me}, Secret, me, "mode 0644 lets group or others read"},
		{"secret of another user", fakeInfo{0o600, other}, Secret, 0, "owned by uid 1001"},
		{"writable secret", fakeInfo{0o666, me}, Secret, me, "write"},
		{"dir for a secret", fakeInfo{fs.ModeDir | 0o700, me}, Secret, me, "not a regular file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := Check("thing", "/p", tt.fi, tt.kind, tt.uid)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *Error
			if !errors.Is(err, ErrUnsafe) || !errors.As(err, &fe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check = %v, want %q", err, tt.want)
			}
			if fe.Hint() == "" || !strings.HasPrefix(err.Error(), "thing /p: ") {
				t.Errorf("error %q hint %q", err, fe.Hint())
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	dir := t.TempDir()
	me := os.Geteuid()
	if err := CheckPath("state directory", dir, Dir, me); err != nil {
		t.Fatal(err)
	}
	// The same directory is refused to anyone else (its owner is not them).
	if err := CheckPath("state directory", dir, Dir, me+1); me != 0 && !errors.Is(err, ErrUnsafe) {
		t.Fatalf("for uid %d: %v", me+1, err)
	}
	if err := CheckPath("x", filepath.Join(dir, "missing"), Secret, me); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}
