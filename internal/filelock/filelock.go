// Package filelock is an exclusive lock on a file that processes share:
// flock(2) on Unix, LockFileEx on Windows
// (https://learn.microsoft.com/en-us/windows/win32/api/fileapi/nf-fileapi-lockfileex).
// Both are held per open file (two opens of the same file in one process
// exclude each other too; LockFileEx locks the file's first byte, which
// nobody reads) and released by Unlock, by closing the file, or when the
// holder dies.
//
// Elsewhere there is neither: TryLock creates the lock file exclusively and
// Unlock removes it (a crash leaves it behind), and Wait takes no lock.
package filelock

import "fmt"

// HeldError is TryLock's error when another holder has the lock.
type HeldError struct {
	Path string
	// Err is nil where the lock is flock or LockFileEx. Elsewhere it is why
	// the lock file could not be created, usually that it exists.
	Err error
}

func (e *HeldError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("lock %s exists: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("lock %s held", e.Path)
}

func (e *HeldError) Unwrap() error { return e.Err }
