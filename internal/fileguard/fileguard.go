// Package fileguard checks the files and directories keyprep trusts with
// its state and secrets — the state directory, the daemon's API token, the
// escrow directory and the bench identity — before they are used: they must
// belong to the user keyprep runs as (or to root) and no one else may write
// them; a secret file may not be readable by group or others either.
// Otherwise another local user could plant a token or an identity, or swap
// the store, for keyprep to trust (a root daemon reading a token from a
// directory another user owns, a state directory left at mode 0777).
//
// Check takes the file's metadata and the expected owner, so callers and
// tests decide both; CheckPath stats a path for the running user.
package fileguard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
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
// keyprep runs as. On platforms without Unix owners and modes it accepts.
func Check(what, path string, fi fs.FileInfo, kind Kind, uid int) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	refuse := func(problem, fix string) error {
		return &Error{What: what, Path: path, Problem: problem, Fix: fix}
	}
	switch {
	case kind == Dir && !fi.IsDir():
		return refuse("not a directory", "give a directory")
	case kind == Secret && !fi.Mode().IsRegular():
		return refuse("not a regular file", "remove it; keyprep creates a new one where it creates it")
	}
	if owner, ok := ownerOf(fi); ok && owner != uid && owner != 0 {
		return refuse(fmt.Sprintf("owned by %s, not by the user keyprep runs as (%s): another user could have put it there",
			userName(owner), userName(uid)),
			fmt.Sprintf("check what is in it; if it is yours, chown %s %s, else remove it (or use a directory of your own)", userName(uid), path))
	}
	perm := fi.Mode().Perm()
	chmod := "700"
	if kind == Secret {
		chmod = "600"
	}
	if perm&0o022 != 0 {
		return refuse(fmt.Sprintf("mode %04o lets group or others write it", perm),
			fmt.Sprintf("check that nobody changed what is in it, then chmod %s %s", chmod, path))
	}
	if kind == Secret && perm&0o077 != 0 {
		return refuse(fmt.Sprintf("mode %04o lets group or others read it", perm),
			fmt.Sprintf("chmod 600 %s, or remove it for a new one (consider the old one exposed)", path))
	}
	return nil
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
