package filelock

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// The lock is LockFileEx on the file's first byte.

// errHeld is LockFileEx's answer to LOCKFILE_FAIL_IMMEDIATELY when another
// holder has the lock.
const errHeld = windows.ERROR_LOCK_VIOLATION

func lockFileEx(f *os.File, flags uint32) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|flags, 0, 1, 0, new(windows.Overlapped))
}

func tryLock(f *os.File) error { return lockFileEx(f, windows.LOCKFILE_FAIL_IMMEDIATELY) }
func lock(f *os.File) error    { return lockFileEx(f, 0) }
func unlock(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}

// mustWait: Wait waits only when another holder has the lock.
func mustWait(err error) bool { return errors.Is(err, errHeld) }
