// Command mkzip writes a zip archive that is the same bytes for the same
// inputs (make release: keyprep-windows-amd64.zip):
//
//	go run ./scripts/windows/mkzip -o OUT.zip -mtime UNIX-SECONDS NAME=FILE...
//
// Entries come in the order of their names, whatever the order of the
// arguments; each carries the time -mtime (make passes SOURCE_DATE_EPOCH)
// in UTC, never the file's own, and a fixed mode (0755 for .exe, else
// 0644), never the file's; no directory entries, no owner, nothing of the
// machine that wrote it. The content is deflated with Go's compress/flate,
// which gives the same output for the same input and Go release.
//
// Written here rather than with zip(1): its output depends on its version
// and options (extra fields with owners and times, the order of the
// command line), and getting each of them fixed is harder to check than
// this.
package main

import (
	"archive/zip"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	out := flag.String("o", "", "write the archive to `FILE`")
	mtime := flag.Int64("mtime", -1, "every entry's time, in `seconds` since 1970 (SOURCE_DATE_EPOCH)")
	flag.Parse()
	if *out == "" || *mtime < 0 || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: mkzip -o OUT.zip -mtime UNIX-SECONDS NAME=FILE...")
		os.Exit(2)
	}
	entries, err := parseEntries(flag.Args())
	if err == nil {
		err = writeFile(*out, entries, time.Unix(*mtime, 0))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkzip:", err)
		os.Exit(1)
	}
}

// entry is one file of the archive: its name in the archive and where its
// content is read from.
type entry struct {
	name, file string
}

// parseEntries reads NAME=FILE arguments. A name is a relative slash path
// without "." or ".." elements (what unpacks inside the target directory
// on Windows and elsewhere); no name may come twice.
func parseEntries(args []string) ([]entry, error) {
	seen := map[string]bool{}
	var entries []entry
	for _, a := range args {
		name, file, ok := strings.Cut(a, "=")
		if !ok || name == "" || file == "" {
			return nil, fmt.Errorf("%q: want NAME=FILE", a)
		}
		if !fs.ValidPath(name) || name == "." || strings.Contains(name, `\`) || strings.Contains(name, ":") {
			return nil, fmt.Errorf("%q: not a relative slash path inside the archive", name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%q: named twice", name)
		}
		seen[name] = true
		entries = append(entries, entry{name: name, file: file})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries, nil
}

// writeFile writes the archive to a temporary file next to out and renames
// it into place, so that a failed run leaves no partial archive.
func writeFile(out string, entries []entry, mtime time.Time) (err error) {
	f, err := os.CreateTemp(filepath.Dir(out), ".mkzip-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f, entries, mtime); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}

// write writes entries, sorted by name, to w.
func write(w io.Writer, entries []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		if err := add(zw, e, mtime.UTC()); err != nil {
			return err
		}
	}
	return zw.Close()
}

func add(zw *zip.Writer, e entry, mtime time.Time) error {
	src, err := os.Open(e.file)
	if err != nil {
		return err
	}
	defer src.Close()
	if st, err := src.Stat(); err != nil {
		return err
	} else if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", e.file)
	}
	mode := fs.FileMode(0o644)
	if strings.HasSuffix(strings.ToLower(e.name), ".exe") {
		mode = 0o755
	}
	h := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
	h.SetMode(mode)
	dst, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		return fmt.Errorf("%s: %w", e.file, err)
	}
	return nil
}
