// Package escrow keeps the PINs keyprep sets on security keys recoverable
// without ever writing them in clear to a log, the journal or an error
// (docs/architecture.md §4.1).
//
// A PIN is escrowed by encrypting it with filippo.io/age, ASCII-armored, to
// one or more recipients: the operator's --age-recipient keys (age X25519
// "age1…" keys, or SSH public keys through filippo.io/age/agessh), or by
// default to a bench identity kept in the escrow directory with mode 0600
// (see [EnsureBenchIdentity]). The bench identity is only as safe as that
// directory: anyone who can read it can decrypt every PIN escrowed to it.
// [WritePINFile] is the explicit plain alternative (--pin-out): a 0600 file
// written once and never overwritten.
//
// The package does no cryptography of its own; all of it is age's.
//
// # Secrets in memory
//
// PINs are passed as []byte. Buffers this package allocates to hold a PIN
// or a private key (file contents, formatted PIN files, decrypted
// plaintext before it is returned) are overwritten with zeros once they are
// no longer needed. Copies made inside age (its stream buffers, and the
// strings its identity parsers build) are out of reach and are left to the
// garbage collector. [Open] and [ReadPINFile] return a PIN the caller must
// wipe.
//
// # Errors
//
// Errors never contain a PIN or a private key. Errors about a recipient
// spec quote at most 80 characters of it, and none of it when it looks like
// a private key pasted in place of a public one.
//
// # SSH keys
//
// SSH recipients and identities (ssh-ed25519, ssh-rsa) go through
// filippo.io/age/agessh, which needs filippo.io/edwards25519 in go.mod.
// age recommends native X25519 keys; SSH keys are for reusing a helpdesk's
// existing key, and their stanzas carry a short key ID (not anonymous).
package escrow
