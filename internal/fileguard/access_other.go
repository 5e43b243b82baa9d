//go:build !unix && !windows

package fileguard

import (
	"io/fs"
	"os"
)

// checkAccess knows no owners here: only the modes are judged.
func checkAccess(path string, fi fs.FileInfo, kind Kind, _ int, refuse func(problem, fix string) error) error {
	return checkModes(path, fi, kind, refuse)
}

func mkdirPrivate(dir string) error { return os.Mkdir(dir, 0o700) }

func openPrivate(path string, flag int) (*os.File, error) { return os.OpenFile(path, flag, 0o600) }
