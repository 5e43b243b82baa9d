package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// files writes name→content into a new directory and returns NAME=FILE
// arguments for them, in the order given.
func files(t *testing.T, order []string, content map[string]string) []string {
	t.Helper()
	dir := t.TempDir()
	var args []string
	for i, name := range order {
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(p, []byte(content[name]), 0o600); err != nil {
			t.Fatal(err)
		}
		// Different file times and modes each run: none may show.
		when := time.Date(2020+i, 1, 2, 3, 4, 5, 0, time.Local)
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
		args = append(args, name+"="+p)
	}
	return args
}

func build(t *testing.T, args []string, mtime time.Time) []byte {
	t.Helper()
	entries, err := parseEntries(args)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := write(&buf, entries, mtime); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSameBytesWhateverTheInputOrderAndTimes(t *testing.T) {
	content := map[string]string{
		"keyprep.exe":           "MZ not really a program",
		"README.md":             "# keyprep\n",
		"licenses/libfido2.txt": "Copyright (c) Yubico AB\n",
		"licenses/zlib.txt":     "Jean-loup Gailly and Mark Adler\n",
	}
	mtime := time.Unix(1764936000, 0)
	a := build(t, files(t, []string{"keyprep.exe", "README.md", "licenses/libfido2.txt", "licenses/zlib.txt"}, content), mtime)
	b := build(t, files(t, []string{"licenses/zlib.txt", "licenses/libfido2.txt", "README.md", "keyprep.exe"}, content), mtime)
	if !bytes.Equal(a, b) {
		t.Fatal("two archives of the same files differ")
	}
	if c := build(t, files(t, []string{"keyprep.exe", "README.md", "licenses/libfido2.txt", "licenses/zlib.txt"}, content), mtime.Add(time.Second)); bytes.Equal(a, c) {
		t.Fatal("-mtime does not show in the archive")
	}

	zr, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if !f.Modified.Equal(mtime) {
			t.Errorf("%s: time %v, want %v", f.Name, f.Modified, mtime)
		}
		wantMode := os.FileMode(0o644)
		if f.Name == "keyprep.exe" {
			wantMode = 0o755
		}
		if f.Mode() != wantMode {
			t.Errorf("%s: mode %v, want %v", f.Name, f.Mode(), wantMode)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content[f.Name] {
			t.Errorf("%s: content %q, want %q", f.Name, got, content[f.Name])
		}
	}
	if want := "README.md keyprep.exe licenses/libfido2.txt licenses/zlib.txt"; strings.Join(names, " ") != want {
		t.Errorf("entries %q, want %q", names, want)
	}
}

func TestParseEntriesRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no equals sign", []string{"keyprep.exe"}},
		{"empty name", []string{"=x"}},
		{"empty file", []string{"a="}},
		{"absolute", []string{"/etc/passwd=x"}},
		{"dot dot", []string{"../up.txt=x"}},
		{"inner dot dot", []string{"licenses/../../up.txt=x"}},
		{"backslash", []string{`licenses\zlib.txt=x`}},
		{"drive", []string{"C:evil.txt=x"}},
		{"trailing slash", []string{"licenses/=x"}},
		{"twice", []string{"a.txt=x", "a.txt=y"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if e, err := parseEntries(tc.args); err == nil {
				t.Fatalf("parseEntries(%q) = %v, want an error", tc.args, e)
			}
		})
	}
}

func TestWriteFileLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.zip")
	entries := []entry{{name: "missing.txt", file: filepath.Join(dir, "does-not-exist")}}
	if err := writeFile(out, entries, time.Unix(0, 0)); err == nil {
		t.Fatal("writeFile with a missing input succeeded")
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	if err := writeFile(out, []entry{{name: "dir", file: dir}}, time.Unix(0, 0)); err == nil {
		t.Fatal("writeFile with a directory as input succeeded")
	}
}
