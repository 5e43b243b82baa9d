package escrow

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"filippo.io/age"

	"github.com/keyprep/keyprep/internal/fileguard"
)

// BenchIdentityFile is the default identity's file name inside the escrow
// dir.
const BenchIdentityFile = "bench-identity.txt"

// EnsureBenchIdentity loads the bench identity from dir, creating it if
// there is none, and returns it, its recipient string ("age1…") and
// whether it was created by this call.
//
// The identity is an age X25519 key in dir/bench-identity.txt, an age
// identity file whose comment header says what it is and that anyone who
// can read it can decrypt the bench's escrowed PINs. A missing dir is
// created with mode 0700; an existing dir that group or others can write
// to is refused (whoever can replace the file chooses the key future PINs
// are encrypted to). A new identity is written to a temporary file
// created with O_EXCL and mode 0600, fsynced, and then hard-linked into
// place (on Windows moved, with MoveFileEx), which fails rather than
// replace a file another process created meanwhile; the directory is
// fsynced. Readers therefore never see a
// half-written identity, and concurrent callers end up with the same one.
// (Where hard links are not supported, the file is written in place with
// O_EXCL.)
//
// An existing file that group or others can access is refused with an
// error telling to chmod 600 it, and so is one holding anything but a
// single X25519 identity.
func EnsureBenchIdentity(dir string) (*age.X25519Identity, string, bool, error) {
	if dir == "" {
		return nil, "", false, errors.New("escrow: bench identity: no escrow directory given")
	}
	if err := ensurePrivateDir(dir); err != nil {
		return nil, "", false, fmt.Errorf("escrow: bench identity: %w", err)
	}
	path := filepath.Join(dir, BenchIdentityFile)
	for attempt := 0; ; attempt++ {
		id, err := loadBenchIdentity(path)
		if err == nil {
			return id, id.Recipient().String(), false, nil
		}
		if errors.Is(err, fileguard.ErrUnsafe) {
			return nil, "", false, fmt.Errorf("escrow: %w", err) // it names the file
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", false, fmt.Errorf("escrow: bench identity %s: %w", path, err)
		}
		id, err = createBenchIdentity(dir, path)
		if errors.Is(err, fs.ErrExist) && attempt < 3 {
			// Another process created it between our load and create:
			// load theirs.
			continue
		}
		if err != nil {
			return nil, "", false, fmt.Errorf("escrow: bench identity %s: create: %w", path, err)
		}
		return id, id.Recipient().String(), true, nil
	}
}

// ensurePrivateDir creates dir with mode 0700 if it is missing, and
// refuses an existing dir that is not a directory or that group or others
// can write to.
func ensurePrivateDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		// Exactly 0700 whatever the umask; on Windows a private DACL
		// (fileguard.MkdirAll).
		if err := fileguard.MkdirAll(dir); err != nil {
			return fmt.Errorf("create escrow directory %s: %w", dir, pathErrorCause(err))
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("escrow directory %s: %w", dir, pathErrorCause(err))
	}
	// Another user's directory, or one others can write, could hold an
	// identity planted for the bench to escrow to.
	return fileguard.Check("escrow directory", dir, fi, fileguard.Dir, euid())
}

// euid is the user the bench identity must belong to (tests stand in for
// another user).
var euid = os.Geteuid

// loadBenchIdentity reads the bench identity file. A missing file is an
// error matching fs.ErrNotExist.
func loadBenchIdentity(path string) (*age.X25519Identity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, pathErrorCause(err)
	}
	// Only the bench's user may have written it (or read it: it decrypts
	// the bench's escrowed PINs).
	if err := fileguard.Check("bench identity", path, fi, fileguard.Secret, euid()); err != nil {
		return nil, err
	}
	data, err := readSecretFile(path, maxIdentityFileSize)
	if err != nil {
		return nil, err
	}
	defer wipe(data)
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not a valid age identity file: %w", err)
	}
	if len(ids) != 1 {
		return nil, fmt.Errorf("holds %d identities, want exactly one", len(ids))
	}
	id, ok := ids[0].(*age.X25519Identity)
	if !ok {
		return nil, fmt.Errorf("holds a %T, want an age X25519 identity", ids[0])
	}
	return id, nil
}

// createBenchIdentity generates a new identity and puts it at path without
// ever replacing an existing file: if one appeared meanwhile, the error
// matches fs.ErrExist.
func createBenchIdentity(dir, path string) (*age.X25519Identity, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	content := benchIdentityContent(id, time.Now())
	defer wipe(content)

	tmp, err := fileguard.CreateTemp(dir, "."+BenchIdentityFile+".*.tmp") // O_EXCL, private
	if err != nil {
		return nil, pathErrorCause(err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // on failure; no-op once removed below
	if err := writeAndSync(tmp, content); err != nil {
		return nil, err
	}
	if err := linkNew(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fs.ErrExist
		}
		// Hard links unsupported here: write in place, still exclusively.
		if err := writeFileExclusive(path, content); err != nil {
			return nil, pathErrorCause(err)
		}
		return id, nil
	}
	os.Remove(tmpName) // now a second name of the identity (not on Windows); best effort
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return id, nil
}

// writeAndSync writes data to f (created private by fileguard), fsyncs and
// closes it.
func writeAndSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return pathErrorCause(err)
}

// benchIdentityContent renders the bench identity file, in a new buffer
// the caller wipes.
func benchIdentityContent(id *age.X25519Identity, now time.Time) []byte {
	header := "# keyprep bench escrow identity (age X25519 secret key), created " + now.UTC().Format(time.RFC3339) + ".\n" +
		"# public key: " + id.Recipient().String() + "\n" +
		"#\n" +
		"# PINs this bench sets are encrypted to this key when no --age-recipient is given.\n" +
		"# ANYONE WHO CAN READ THIS FILE CAN DECRYPT THE BENCH'S ESCROWED PINS.\n" +
		"# Keep it mode 0600 and do not copy it off the bench; prefer --age-recipient with\n" +
		"# a helpdesk key the bench cannot decrypt. Deleting it makes those PINs unrecoverable.\n"
	secret := id.String()
	buf := make([]byte, 0, len(header)+len(secret)+1)
	buf = append(buf, header...)
	buf = append(buf, secret...)
	return append(buf, '\n')
}
