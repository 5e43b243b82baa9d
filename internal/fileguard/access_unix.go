//go:build unix

package fileguard

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// checkAccess refuses a file of another user (root's is trusted) and modes
// that let others write it, or read a secret.
func checkAccess(path string, fi fs.FileInfo, kind Kind, uid int, refuse func(problem, fix string) error) error {
	if owner, ok := ownerOf(fi); ok && owner != uid && owner != 0 {
		return refuse(fmt.Sprintf("owned by %s, not by the user keyprep runs as (%s): another user could have put it there",
			userName(owner), userName(uid)),
			fmt.Sprintf("check what is in it; if it is yours, chown %s %s, else remove it (or use a directory of your own)", userName(uid), path))
	}
	return checkModes(path, fi, kind, refuse)
}

func ownerOf(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

// userName is "name (uid N)", or "uid N" for a user without a name.
func userName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil && u.Username != "" {
		return u.Username + " (uid " + id + ")"
	}
	return "uid " + id
}

// mkdirPrivate creates dir with mode exactly 0700 (the umask can only clear
// bits, in case it cleared the owner's).
func mkdirPrivate(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// openPrivate opens path with mode 0600 and sets it to exactly 0600.
func openPrivate(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
