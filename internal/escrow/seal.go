package escrow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// maxIdentityFileSize bounds an identity file (age identities or an SSH
// private key).
const maxIdentityFileSize = 1 << 20

// validatePIN checks what escrow relies on, without ever quoting the PIN:
// 1 to maxPINBytes bytes of UTF-8, no line break (a PIN file holds it
// on one line) and no NUL (libfido2 takes PINs as C strings). The PIN
// policy proper is internal/pin's.
func validatePIN(p []byte) error {
	switch {
	case len(p) == 0:
		return errors.New("empty PIN")
	case len(p) > maxPINBytes:
		return fmt.Errorf("PIN longer than %d bytes", maxPINBytes)
	case bytes.ContainsAny(p, "\n\r\x00"):
		return errors.New("PIN contains a line break or NUL")
	case !utf8.Valid(p):
		return errors.New("PIN is not valid UTF-8")
	}
	return nil
}

// Seal encrypts pin to the recipients with age and returns the
// ASCII-armored ciphertext ("-----BEGIN AGE ENCRYPTED FILE-----"). There
// must be at least one recipient (else the error wraps ErrNoRecipients).
// The PIN must be 1 to 63 bytes of UTF-8 without line breaks; Seal does not
// modify or retain it.
func Seal(pin []byte, recipients []age.Recipient) ([]byte, error) {
	if err := validatePIN(pin); err != nil {
		return nil, fmt.Errorf("escrow: seal: %w", err)
	}
	return sealBytes(pin, recipients)
}

// SealDocument encrypts a document (an onboarding slip carrying a
// Temporary Access Pass) to the recipients like Seal, ASCII-armored. It
// takes any content up to 1 MiB.
func SealDocument(doc []byte, recipients []age.Recipient) ([]byte, error) {
	if len(doc) == 0 || len(doc) > 1<<20 {
		return nil, fmt.Errorf("escrow: seal: document of %d bytes: want 1 byte to 1 MiB", len(doc))
	}
	return sealBytes(doc, recipients)
}

func sealBytes(plain []byte, recipients []age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("escrow: seal: %w", ErrNoRecipients)
	}
	for i, r := range recipients {
		if r == nil {
			return nil, fmt.Errorf("escrow: seal: recipient %d is nil", i)
		}
	}
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, recipients...)
	if err != nil {
		return nil, fmt.Errorf("escrow: seal: %w", err)
	}
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("escrow: seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("escrow: seal: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("escrow: seal: armor: %w", err)
	}
	return buf.Bytes(), nil
}

// Open decrypts an escrow made by Seal (armored; binary age files are
// accepted too) with the first of the identities that matches. When none
// matches, the error wraps ErrDecrypt and *age.NoIdentityMatchError: this
// identity cannot open that escrow. Other errors mean the escrow is
// malformed, corrupted or tampered with. The plaintext must be a PIN (at
// most 63 bytes). The caller wipes the result.
func Open(ciphertext []byte, identities []age.Identity) ([]byte, error) {
	if len(identities) == 0 {
		return nil, errors.New("escrow: open: no identities given")
	}
	var src io.Reader = bytes.NewReader(ciphertext)
	if bytes.HasPrefix(bytes.TrimLeft(ciphertext, " \t\r\n"), []byte(armor.Header)) {
		src = armor.NewReader(src)
	}
	r, err := age.Decrypt(src, identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("escrow: open: %w: %w", ErrDecrypt, err)
		}
		return nil, fmt.Errorf("escrow: open: malformed escrow: %w", err)
	}
	// Read one byte more than a PIN may have, to detect a longer
	// plaintext. age authenticates each chunk before returning any of it,
	// and the plaintext fits in one chunk, so reaching EOF means it is
	// authentic.
	buf := make([]byte, maxPINBytes+1)
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
	case err == nil:
		wipe(buf)
		return nil, fmt.Errorf("escrow: open: plaintext longer than %d bytes, not a PIN", maxPINBytes)
	default:
		wipe(buf)
		return nil, fmt.Errorf("escrow: open: escrow corrupted or tampered with: %w", err)
	}
	if n == 0 {
		return nil, errors.New("escrow: open: empty plaintext, not a PIN")
	}
	return buf[:n:n], nil
}

// LoadIdentities reads the identities in the file at path: an age identity
// file (AGE-SECRET-KEY-1… lines, with blank lines and '#' comments
// allowed, as written by age-keygen or EnsureBenchIdentity), or an
// unencrypted OpenSSH private key (ssh-ed25519 or ssh-rsa, through
// filippo.io/age/agessh). Passphrase-protected SSH keys are refused.
func LoadIdentities(path string) ([]age.Identity, error) {
	data, err := readSecretFile(path, maxIdentityFileSize)
	if err != nil {
		return nil, fmt.Errorf("escrow: identity file %s: %w", quoteSpec(path), err)
	}
	defer wipe(data)
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		id, err := parseSSHIdentity(data)
		if err != nil {
			return nil, fmt.Errorf("escrow: identity file %s: %w", quoteSpec(path), err)
		}
		return []age.Identity{id}, nil
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("escrow: identity file %s: %w", quoteSpec(path), err)
	}
	return ids, nil
}
