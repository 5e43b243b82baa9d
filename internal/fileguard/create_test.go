package fileguard

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestCreatePrivate: what MkdirAll, OpenFile and CreateTemp create passes
// Check as a directory and as secrets, on every platform (on Windows that
// is the DACL they set, read back); on Unix the modes are exactly 0700 and
// 0600.
func TestCreatePrivate(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	if err := MkdirAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(dir); err != nil {
		t.Fatalf("again: %v", err)
	}
	me := os.Geteuid()
	for _, d := range []string{filepath.Join(base, "a"), dir} {
		if err := CheckPath("state directory", d, Dir, me); err != nil {
			t.Errorf("created directory refused: %v", err)
		}
		wantMode(t, d, 0o700)
	}

	secret := filepath.Join(dir, "token")
	f, err := OpenFile(secret, os.O_WRONLY|os.O_EXCL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("s3cret\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(secret, os.O_WRONLY|os.O_EXCL); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("O_EXCL over an existing file: %v", err)
	}
	// Without O_EXCL the existing file is opened, its content kept.
	f, err = OpenFile(secret, os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 6)
	if _, err := f.Read(b); err != nil || string(b) != "s3cret" {
		t.Fatalf("reopened: %q %v", b, err)
	}
	f.Close()

	tmp, err := CreateTemp(dir, ".id.*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	name := filepath.Base(tmp.Name())
	if filepath.Dir(tmp.Name()) != dir || !strings.HasPrefix(name, ".id.") || !strings.HasSuffix(name, ".tmp") || len(name) == len(".id..tmp") {
		t.Errorf("temporary file %q", tmp.Name())
	}
	tmp2, err := CreateTemp(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	tmp2.Close()
	if tmp2.Name() == tmp.Name() || !strings.HasPrefix(filepath.Base(tmp2.Name()), "x") {
		t.Errorf("second temporary file %q", tmp2.Name())
	}
	for _, p := range []string{secret, tmp.Name(), tmp2.Name()} {
		if err := CheckPath("secret", p, Secret, me); err != nil {
			t.Errorf("created file refused: %v", err)
		}
		wantMode(t, p, 0o600)
	}
}

func TestCreateRefusals(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(filepath.Join(file, "sub")); err == nil {
		t.Error("MkdirAll under a file succeeded")
	}
	if err := MkdirAll(file); err == nil {
		t.Error("MkdirAll of a file succeeded")
	}
	for _, flag := range []int{os.O_RDONLY, os.O_RDWR | os.O_TRUNC, os.O_WRONLY | os.O_APPEND} {
		if f, err := OpenFile(filepath.Join(dir, "g"), flag); err == nil {
			f.Close()
			t.Errorf("flag %#x accepted", flag)
		}
	}
	if _, err := CreateTemp(dir, "a/b*"); err == nil {
		t.Error("pattern with a separator accepted")
	}
}

// wantMode checks a Unix mode (Windows has none to check).
func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}
