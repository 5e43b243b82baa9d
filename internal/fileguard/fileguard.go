// Package fileguard checks the files and directories keyprep trusts with
// its state and secrets — the state directory, the daemon's API token, the
// escrow directory and the bench identity — before they are used: they must
// belong to the user keyprep runs as (or to root) and no one else may write
// them; a secret file may not be readable by group or others either.
// Otherwise another local user could plant a token or an identity, or swap
// the store, for keyprep to trust (a root daemon reading a token from a
// directory another user owns, a state directory left at mode 0777).
//
// On Windows the same rules are read from the file's owner and access
// control list (DACL) instead of Unix owners and modes: the trusted owners
// are the user keyprep runs as, SYSTEM and BUILTIN\Administrators, and
// nobody else may write a directory or read a secret (docs/windows.md).
//
// Check takes the file's metadata and the expected owner, so callers and
// tests decide both; CheckPath stats a path for the running user. MkdirAll,
// OpenFile and CreateTemp create directories and files that are private
// from the start: mode 0700 and 0600 on Unix, a protected DACL on Windows.
package fileguard

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrUnsafe is matched (errors.Is) by every refusal.
var ErrUnsafe = errors.New("not safe to trust")

// Kind is what a path is expected to be.
type Kind int

const (
	// Dir is a directory keyprep keeps its state or secrets in.
	Dir Kind = iota
	// Secret is a regular file holding a secret (a token, a key).
	Secret
)

// Error is a refusal: which path, the problem and the fix.
type Error struct {
	What    string // "state directory", "API token", …
	Path    string
	Problem string
	Fix     string // a command or an action, for the hint
}

func (e *Error) Error() string   { return fmt.Sprintf("%s %s: %s", e.What, e.Path, e.Problem) }
func (e *Error) Unwrap() error   { return ErrUnsafe }
func (e *Error) Hint() string    { return e.Fix }
func (e *Error) Is(t error) bool { return t == ErrUnsafe }

// Check checks fi, the metadata of path (os.Stat), against uid, the user
// keyprep runs as. On Windows uid is not used: the owner and the access
// control list of path are read and judged for the user of the running
// process.
func Check(what, path string, fi fs.FileInfo, kind Kind, uid int) error {
	refuse := func(problem, fix string) error {
		return &Error{What: what, Path: path, Problem: problem, Fix: fix}
	}
	switch {
	case kind == Dir && !fi.IsDir():
		return refuse("not a directory", "give a directory")
	case kind == Secret && !fi.Mode().IsRegular():
		return refuse("not a regular file", "remove it; keyprep creates a new one where it creates it")
	}
	return checkAccess(path, fi, kind, uid, refuse)
}

// CheckPath stats path (following a symbolic link, whose target is what is
// used) and checks it for uid. A missing path is returned as the stat error
// (errors.Is(err, fs.ErrNotExist)).
func CheckPath(what, path string, kind Kind, uid int) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return Check(what, path, fi, kind, uid)
}

// MkdirAll is os.MkdirAll for directories that hold state or secrets: every
// directory it creates is private to the user keyprep runs as — mode
// exactly 0700 on Unix (whatever the umask); on Windows a protected DACL
// (nothing inherited from the parent) granting full control to that user,
// SYSTEM and BUILTIN\Administrators, which files and directories created
// inside inherit. Directories that exist are left as they are: Check
// judges them.
func MkdirAll(dir string) error {
	dir = filepath.Clean(dir)
	fi, err := os.Stat(dir)
	if err == nil {
		if fi.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: errNotDir}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent); err != nil {
			return err
		}
	}
	if err := mkdirPrivate(dir); err != nil {
		// Created meanwhile by another process: fine if a directory.
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return nil
		}
		return err
	}
	return nil
}

var errNotDir = errors.New("not a directory")

// OpenFile opens path (flag: os.O_RDWR or os.O_WRONLY, optionally with
// os.O_EXCL; os.O_CREATE is implied) as a file only the user keyprep runs
// as may access. On Unix it is created with mode 0600 and then set to
// exactly 0600, also when it existed. On Windows a file it creates has a
// protected DACL granting full control to that user, SYSTEM and
// BUILTIN\Administrators from the moment it exists (members of
// Administrators can take ownership of any file anyway, and keeping them
// out would lock the operator out of the API token of a daemon that runs
// as SYSTEM); an existing file's DACL is left as it is — Windows files are
// never chmodded, and a file another program holds open (SQLite's) could
// not be.
func OpenFile(path string, flag int) (*os.File, error) {
	if flag&^(os.O_RDWR|os.O_WRONLY|os.O_EXCL|os.O_CREATE) != 0 || flag&(os.O_RDWR|os.O_WRONLY) == 0 {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New("fileguard: unsupported open flags")}
	}
	return openPrivate(path, flag|os.O_CREATE)
}

// CreateTemp is os.CreateTemp(dir, pattern) for a file that holds a
// secret: a new file, opened for reading and writing, private to the user
// keyprep runs as as OpenFile makes it. The last "*" in pattern is
// replaced by a random string (appended without one).
func CreateTemp(dir, pattern string) (*os.File, error) {
	if strings.ContainsAny(pattern, `/\`) {
		return nil, &fs.PathError{Op: "createtemp", Path: pattern, Err: errors.New("pattern contains a path separator")}
	}
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)+suffix)
		f, err := OpenFile(name, os.O_RDWR|os.O_EXCL)
		if errors.Is(err, fs.ErrExist) && try < 10000 {
			continue
		}
		return f, err
	}
}
