package escrow

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// parseSSHRecipient parses an authorized_keys-style line holding an
// ssh-ed25519 or ssh-rsa public key and returns the age recipient with its
// normalised form (type and base64 key, no comment).
func parseSSHRecipient(s string) (age.Recipient, string, error) {
	pk, norm, err := parseSSHPublicKey(s)
	if err != nil {
		return nil, "", err
	}
	var r age.Recipient
	switch pk.Type() {
	case ssh.KeyAlgoED25519:
		r, err = agessh.NewEd25519Recipient(pk)
	case ssh.KeyAlgoRSA:
		r, err = agessh.NewRSARecipient(pk)
	default:
		return nil, "", fmt.Errorf("SSH key type %q is not supported (use ssh-ed25519 or ssh-rsa)", pk.Type())
	}
	if err != nil {
		return nil, "", fmt.Errorf("invalid %s key: %w", pk.Type(), err)
	}
	return r, norm, nil
}

// parseSSHIdentity parses an unencrypted OpenSSH (or PEM RSA) private key.
func parseSSHIdentity(pemBytes []byte) (age.Identity, error) {
	id, err := agessh.ParseIdentity(pemBytes)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, errors.New("the SSH private key is passphrase-protected, which is not supported; use an age identity or an unencrypted copy of the key")
		}
		return nil, fmt.Errorf("SSH private key: %w", err)
	}
	return id, nil
}

// parseSSHPublicKey parses one authorized_keys-style line ("type base64
// [comment]", no options) and returns the key with its normalised form.
func parseSSHPublicKey(s string) (ssh.PublicKey, string, error) {
	pk, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, "", fmt.Errorf("malformed SSH public key: %w", err)
	}
	if len(options) > 0 {
		return nil, "", errors.New("authorized_keys options are not allowed in a recipient")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, "", errors.New("more than one SSH key on the line")
	}
	norm := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	return pk, norm, nil
}
