package escrow

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/pin"
)

// maxPINBytes is the largest PIN CTAP 2.1 accepts, in bytes of UTF-8.
const maxPINBytes = pin.MaxPINBytes

// wipe overwrites b with zeros.
func wipe(b []byte) { pin.Wipe(b) }

// pathErrorCause strips the *fs.PathError wrapper (whose message repeats
// the path) from err, for messages that already name the path.
func pathErrorCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readSecretFile reads a file of at most limit bytes holding secrets. Every
// buffer it outgrows is wiped, so the only copy left is the returned one,
// which the caller wipes.
func readSecretFile(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, pathErrorCause(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, pathErrorCause(err)
	}
	if fi.IsDir() {
		return nil, errors.New("is a directory")
	}
	size := 512
	if fi.Mode().IsRegular() && fi.Size() < int64(limit) {
		size = int(fi.Size()) + 1 // +1 to see EOF without growing
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				wipe(buf)
				return nil, fmt.Errorf("larger than %d bytes", limit)
			}
			grown := make([]byte, len(buf), 2*cap(buf))
			copy(grown, buf)
			wipe(buf)
			buf = grown
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			wipe(buf)
			return nil, pathErrorCause(err)
		}
	}
	if len(buf) > limit {
		wipe(buf)
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return buf, nil
}

// writeFileExclusive creates path with O_EXCL, private to the user
// (fileguard.OpenFile: mode 0600, on Windows a private DACL), writes data,
// and syncs the file and its directory. It never replaces an existing
// file: that error matches fs.ErrExist. A file it created but could not
// finish writing is removed.
func writeFileExclusive(path string, data []byte) (err error) {
	f, err := fileguard.OpenFile(path, os.O_WRONLY|os.O_EXCL)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if err := writePrivate(f, data); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writePrivate writes data to f (created private by fileguard), syncs and
// closes it.
func writePrivate(f *os.File, data []byte) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// WritePrivateFile writes data to path with mode 0600 (on Windows a
// private DACL: fileguard.OpenFile), synced to disk.
// Without replace it never touches an existing file (the error matches
// fs.ErrExist); with replace it swaps the new content in atomically
// (a temporary file in the same directory, then rename), so a reader sees
// the old file or the new one, never a torn one.
func WritePrivateFile(path string, data []byte, replace bool) error {
	if !replace {
		return writeFileExclusive(path, data)
	}
	dir := filepath.Dir(path)
	f, err := fileguard.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := writePrivate(f, data); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

// syncDir fsyncs a directory so a file created in it survives a crash.
// File systems and platforms that cannot sync a directory are tolerated.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil &&
		!errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
