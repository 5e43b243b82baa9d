//go:build !windows

package escrow

import "os"

// linkNew gives the file tmp the further name path, failing (fs.ErrExist)
// rather than replacing a file there. tmp keeps its name, for the caller
// to remove.
func linkNew(tmp, path string) error { return os.Link(tmp, path) }
