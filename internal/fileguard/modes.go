//go:build !windows

package fileguard

import (
	"fmt"
	"io/fs"
)

// checkModes refuses a mode that lets group or others write fi, or read it
// when it is a secret.
func checkModes(path string, fi fs.FileInfo, kind Kind, refuse func(problem, fix string) error) error {
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
