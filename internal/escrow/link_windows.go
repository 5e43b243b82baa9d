package escrow

import (
	"os"

	"golang.org/x/sys/windows"
)

// linkNew moves the file tmp to path, failing (fs.ErrExist) rather than
// replacing a file there: MoveFileEx without MOVEFILE_REPLACE_EXISTING
// (https://learn.microsoft.com/en-us/windows/win32/api/winbase/nf-winbase-movefileexw).
// Not a hard link as on Unix: removing tmp's name afterwards would open
// the file for deletion, and another process opening path for reading at
// that moment (os.Open does not share deletion) would get a sharing
// violation.
func linkNew(tmp, path string) error {
	from, err := windows.UTF16PtrFromString(tmp)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	to, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	if err := windows.MoveFileEx(from, to, windows.MOVEFILE_WRITE_THROUGH); err != nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err}
	}
	return nil
}
