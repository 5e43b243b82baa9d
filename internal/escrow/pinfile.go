package escrow

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxPINFileSize bounds what ReadPINFile reads.
const maxPINFileSize = 64 << 10

// pinFileHeaderPrefix starts the first line of every PIN file.
const pinFileHeaderPrefix = "# keyprep PIN for "

// PINFileHeader describes whose PIN a --pin-out file holds. It holds no
// secrets: it is written in clear as the file's first line.
type PINFileHeader struct {
	UPN     string    // the user the key is provisioned for
	KeyPath string    // the device path of the key
	AAGUID  string    // the key's AAGUID
	Time    time.Time // when the PIN was set; the zero Time means now
}

// WritePINFile writes pin, in clear, to a new file at path, for the
// explicit --pin-out option. The file is created with O_CREATE|O_EXCL and
// mode 0600, and the file and its directory are fsynced before it returns.
// An existing file (or symlink) is never overwritten: the error then wraps
// ErrExists. A file that could not be written completely is
// removed.
//
// The content is two lines:
//
//	# keyprep PIN for <UPN> on key <KeyPath> (AAGUID <AAGUID>), <RFC 3339 time>
//	<PIN>
//
// Control characters in the header fields are replaced by '?' so the
// header stays one line. The PIN must be 1 to 63 bytes of UTF-8 without
// line breaks. WritePINFile does not modify or retain pin, and wipes its
// own copy.
func WritePINFile(path string, h PINFileHeader, pin []byte) error {
	if err := validatePIN(pin); err != nil {
		return fmt.Errorf("escrow: PIN file %s: %w", path, err)
	}
	content := formatPINFile(h, pin)
	defer wipe(content)
	if err := writeFileExclusive(path, content); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("escrow: PIN file %s: %w; a PIN file is never overwritten, choose another path", path, ErrExists)
		}
		return fmt.Errorf("escrow: PIN file %s: %w", path, pathErrorCause(err))
	}
	return nil
}

// formatPINFile renders a PIN file into a new buffer the caller wipes.
func formatPINFile(h PINFileHeader, pin []byte) []byte {
	t := h.Time
	if t.IsZero() {
		t = time.Now()
	}
	header := fmt.Sprintf("%s%s on key %s (AAGUID %s), %s\n", pinFileHeaderPrefix,
		oneLine(h.UPN), oneLine(h.KeyPath), oneLine(h.AAGUID), t.Format(time.RFC3339))
	buf := make([]byte, 0, len(header)+len(pin)+1)
	buf = append(buf, header...)
	buf = append(buf, pin...)
	buf = append(buf, '\n')
	return buf
}

// oneLine replaces control characters, line and paragraph separators and
// invalid UTF-8 in s with '?'.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// ReadPINFile returns the PIN held by a file written by WritePINFile: the
// line after the "# keyprep PIN for …" header. A CRLF line ending and
// trailing blank lines are tolerated; anything else after the PIN line is
// an error. Errors never quote the PIN. The caller wipes the result.
func ReadPINFile(path string) ([]byte, error) {
	data, err := readSecretFile(path, maxPINFileSize)
	if err != nil {
		return nil, fmt.Errorf("escrow: PIN file %s: %w", path, err)
	}
	defer wipe(data)
	p, err := parsePINFile(data)
	if err != nil {
		return nil, fmt.Errorf("escrow: PIN file %s: %w", path, err)
	}
	return p, nil
}

// parsePINFile extracts the PIN from PIN-file content into a new buffer.
// It does not modify data.
func parsePINFile(data []byte) ([]byte, error) {
	header, rest, ok := bytes.Cut(data, []byte("\n"))
	if !bytes.HasPrefix(header, []byte(pinFileHeaderPrefix)) {
		return nil, fmt.Errorf("not a keyprep PIN file: the first line must start with %q", pinFileHeaderPrefix)
	}
	if !ok {
		return nil, errors.New("no PIN line after the header")
	}
	line, tail, _ := bytes.Cut(rest, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(bytes.TrimSpace(tail)) != 0 {
		return nil, errors.New("unexpected content after the PIN line")
	}
	if err := validatePIN(line); err != nil {
		return nil, fmt.Errorf("PIN line: %w", err)
	}
	return bytes.Clone(line), nil
}
