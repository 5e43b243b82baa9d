//go:build !unix

package fileguard

import (
	"io/fs"
	"strconv"
)

func ownerOf(fs.FileInfo) (int, bool) { return 0, false }

func userName(uid int) string { return "uid " + strconv.Itoa(uid) }
