//go:build unix || windows

package filelock_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/keyprep/keyprep/internal/filelock"
)

// take is how a holder takes the lock: TryLock or Wait (with no waiting
// callback: only ever called on a free lock here).
type take func(path string) (*filelock.Lock, error)

var takes = []struct {
	name string
	take take
}{
	{"TryLock", filelock.TryLock},
	{"Wait", func(path string) (*filelock.Lock, error) {
		return filelock.Wait(path, func() { panic("Wait waited for a free lock") })
	}},
}

// hold takes the free lock on path with tk until release, or the end of
// the test.
func hold(t *testing.T, tk take, path string) (release func() error) {
	t.Helper()
	l, err := tk(path)
	if err != nil {
		t.Fatalf("taking the free lock %s: %v", path, err)
	}
	release = sync.OnceValue(l.Unlock)
	t.Cleanup(func() { release() })
	return release
}

// TestTryLock takes the lock with a second open file (flock and LockFileEx
// lock per open file, so one process can play both holders) after a first
// one did something with it.
func TestTryLock(t *testing.T) {
	type before struct {
		name   string
		first  string // how the first holder took it ("" none)
		unlock bool   // and released it again
		held   bool   // TryLock must then answer *HeldError
	}
	var cases []before
	cases = append(cases, before{name: "free"})
	for _, tk := range takes {
		cases = append(cases,
			before{name: "held by " + tk.name, first: tk.name, held: true},
			before{name: "released after " + tk.name, first: tk.name, unlock: true})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.lock")
			for _, tk := range takes {
				if tk.name == c.first {
					release := hold(t, tk.take, path)
					if c.unlock {
						if err := release(); err != nil {
							t.Fatalf("Unlock: %v", err)
						}
					}
				}
			}
			l, err := filelock.TryLock(path)
			if !c.held {
				if err != nil {
					t.Fatalf("TryLock: %v, want the lock", err)
				}
				if err := l.Unlock(); err != nil {
					t.Fatalf("Unlock: %v", err)
				}
				return
			}
			var held *filelock.HeldError
			if !errors.As(err, &held) {
				if err == nil {
					l.Unlock()
				}
				t.Fatalf("TryLock: %v, want a *HeldError", err)
			}
			if held.Path != path || held.Err != nil {
				t.Errorf("HeldError{Path: %q, Err: %v}, want Path %q and no Err", held.Path, held.Err, path)
			}
			if got, want := err.Error(), "lock "+path+" held"; got != want {
				t.Errorf("error %q, want %q", got, want)
			}
		})
	}
}

// TestOpenError: a lock file that cannot be created is the open error, as
// it is, not a *HeldError.
func TestOpenError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no such dir", "x.lock")
	for _, tk := range takes {
		t.Run(tk.name, func(t *testing.T) {
			l, err := tk.take(path)
			if err == nil {
				l.Unlock()
				t.Fatal("took a lock in a directory that does not exist")
			}
			var held *filelock.HeldError
			var pe *fs.PathError
			if errors.As(err, &held) || !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %#v, want the *fs.PathError of a file that does not exist", err)
			}
		})
	}
}

func TestFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes on Windows")
	}
	for _, tk := range takes {
		t.Run(tk.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.lock")
			hold(t, tk.take, path)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("lock file mode %v, want no access for group and others", fi.Mode().Perm())
			}
		})
	}
}

// TestWait: a second holder's Wait calls waiting, does not return while the
// first holds the lock, and takes it when the first unlocks; a third
// TryLock then finds it held.
func TestWait(t *testing.T) {
	for _, tk := range takes {
		t.Run("first took it with "+tk.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.lock")
			release := hold(t, tk.take, path)

			type result struct {
				l   *filelock.Lock
				err error
			}
			waiting := make(chan struct{})
			done := make(chan result, 1)
			go func() {
				l, err := filelock.Wait(path, func() { close(waiting) })
				done <- result{l, err}
			}()
			select {
			case <-waiting:
			case r := <-done:
				if r.err == nil {
					r.l.Unlock()
				}
				t.Fatalf("Wait returned (%v) without waiting while another file held the lock", r.err)
			}
			select {
			case r := <-done:
				if r.err == nil {
					r.l.Unlock()
				}
				t.Fatalf("Wait returned (%v) after waiting while another file still held the lock", r.err)
			default:
			}
			if err := release(); err != nil {
				t.Fatalf("Unlock: %v", err)
			}
			r := <-done
			if r.err != nil {
				t.Fatalf("Wait after the unlock: %v", r.err)
			}
			var held *filelock.HeldError
			if l, err := filelock.TryLock(path); !errors.As(err, &held) {
				if err == nil {
					l.Unlock()
				}
				t.Errorf("TryLock while Wait's lock is held: %v, want a *HeldError", err)
			}
			if err := r.l.Unlock(); err != nil {
				t.Fatalf("Unlock: %v", err)
			}
			l, err := filelock.TryLock(path)
			if err != nil {
				t.Fatalf("TryLock after Wait's lock was released: %v", err)
			}
			l.Unlock()
		})
	}
}
