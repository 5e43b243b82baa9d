package escrow

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrExists is returned by WritePINFile when the file already exists:
	// a PIN file is written once and never overwritten.
	ErrExists = errors.New("file already exists")
	// ErrNoRecipients is returned when there is no recipient to encrypt to:
	// no specs, a recipients file holding only comments, or an empty slice
	// passed to Seal.
	ErrNoRecipients = errors.New("no recipients")
	// ErrDecrypt is returned by Open when none of the identities can open
	// the escrow: it was encrypted to other keys. The error also wraps
	// age's *age.NoIdentityMatchError.
	ErrDecrypt = errors.New("identity cannot open this escrow")
)

// maxSpecRunes is how much of a bad recipient spec an error quotes.
const maxSpecRunes = 80

// maxCauseRunes bounds the message of a parser's error about a spec (age's
// can echo long parts of it).
const maxCauseRunes = 160

// quoteSpec returns s quoted for an error message, truncated to
// maxSpecRunes characters, or a placeholder when s looks like a private
// key.
func quoteSpec(s string) string {
	if looksSecret(s) {
		return "<redacted: looks like a private key>"
	}
	if utf8.RuneCountInString(s) <= maxSpecRunes {
		return strconv.Quote(s)
	}
	r := []rune(s)
	return strconv.Quote(string(r[:maxSpecRunes])) + "…"
}

// looksSecret reports whether s looks like private key material: an age
// identity, an age plugin identity or a PEM private key block.
func looksSecret(s string) bool {
	u := strings.ToUpper(s)
	return strings.Contains(u, "AGE-SECRET-KEY-") ||
		strings.Contains(u, "AGE-PLUGIN-") ||
		strings.Contains(u, "PRIVATE KEY")
}

// specError is an error about a recipient spec whose message quotes the
// spec only in truncated form, while Unwrap still reaches the cause (whose
// own message may quote the spec in full; age's parsers do).
type specError struct {
	msg string
	err error
}

func (e *specError) Error() string { return e.msg }
func (e *specError) Unwrap() error { return e.err }

// newSpecError builds "prefix: cause". The prefix already quotes the spec
// s (truncated), so a quoted copy of s in the cause's message (age's
// parsers add one) is dropped, and, when s is too long to quote in full or
// looks secret, any other copy of it is replaced by "<recipient>". The
// cause's message is cut to maxCauseRunes characters.
func newSpecError(prefix, s string, cause error) error {
	msg := cause.Error()
	if s != "" {
		msg = strings.ReplaceAll(msg, " "+strconv.Quote(s), "")
		msg = strings.ReplaceAll(msg, strconv.Quote(s), "<recipient>")
		if utf8.RuneCountInString(s) > maxSpecRunes || looksSecret(s) {
			msg = strings.ReplaceAll(msg, s, "<recipient>")
		}
	}
	if r := []rune(msg); len(r) > maxCauseRunes {
		msg = string(r[:maxCauseRunes]) + "…"
	}
	return &specError{msg: prefix + ": " + msg, err: cause}
}
