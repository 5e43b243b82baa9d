//go:build unix

package filelock

import (
	"os"
	"syscall"
)

// errHeld is flock's answer to LOCK_NB when another holder has the lock.
const errHeld = syscall.EWOULDBLOCK

func tryLock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }
func lock(f *os.File) error    { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX) }
func unlock(f *os.File) error  { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// mustWait: Wait tries the blocking flock after any failed LOCK_NB one.
func mustWait(err error) bool { return err != nil }
