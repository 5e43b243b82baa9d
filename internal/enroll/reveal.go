package enroll

import (
	"context"
	"errors"
	"fmt"

	"filippo.io/age"

	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
)

// EventPINReveal is the audit event of every PIN shown to a person, from
// the terminal (keyprep pins show) or the bench API (the dashboard's
// Reveal PIN). Its data is RevealEvent.
const EventPINReveal = "pin.reveal"

// Ways a PIN is revealed (Requester.Via).
const (
	RevealViaTerminal = "terminal" // keyprep pins show
	RevealViaAPI      = "api"      // the bench API (keyprep serve's dashboard)
)

// Requester says who asked to see a PIN, and from where, for the audit log
// (the event's actor is the keyprep process's OS user and host).
type Requester struct {
	// Who is the OS user of a terminal reveal ("alice@bench-1") or the API
	// principal ("bearer token", "dashboard session").
	Who string
	// Via is RevealViaTerminal or RevealViaAPI.
	Via string
	// From is the terminal ("/dev/pts/3", or "" when not a terminal) or
	// the API peer's address.
	From string
}

// RevealEvent is the data of the audit event EventPINReveal: the escrow
// and the user whose PIN was shown, and Requester's fields. Never the PIN.
type RevealEvent struct {
	EscrowID string `json:"escrowId"`
	UPN      string `json:"upn"`
	Who      string `json:"who"`
	Via      string `json:"via"`
	From     string `json:"from,omitempty"`
}

// Errors of RevealPIN besides the store's and escrow.ErrDecrypt (no
// identity given opens it).
var (
	// ErrNotSealed: the escrow is a plain --pin-out file the operator
	// holds, not a sealed record keyprep can reveal.
	ErrNotSealed = errors.New("the PIN was written to a file, not escrowed in the store")
	// ErrNoIdentity: no age identity was given to open the escrow.
	ErrNoIdentity = errors.New("no age identity to open the escrow")
)

// RevealPIN opens the age escrow e with ids for a person (a file escrow is
// refused with ErrNotSealed: the operator holds that file) and records the
// reveal (EventPINReveal, RevealEvent) in st's audit log before returning
// the PIN: a reveal that cannot be audited is refused and the PIN wiped.
// The caller wipes the returned PIN. The workflow reusing an escrowed PIN
// (Enroller) shares the decryption (OpenEscrow) but is no reveal: it shows
// the PIN to no one.
func RevealPIN(ctx context.Context, st *store.Store, e *store.Escrow, ids []age.Identity, by Requester) ([]byte, error) {
	if e.Kind == store.EscrowFile {
		return nil, fmt.Errorf("escrow %s of %s: %w (%s)", e.ID, e.UPN, ErrNotSealed, e.Location)
	}
	p, err := OpenEscrow(e, ids)
	if err != nil {
		return nil, fmt.Errorf("escrow %s of %s: %w", e.ID, e.UPN, err)
	}
	ev := RevealEvent{EscrowID: e.ID, UPN: e.UPN, Who: by.Who, Via: by.Via, From: by.From}
	if err := st.Audit(ctx, EventPINReveal, e.JobID, ev); err != nil {
		pin.Wipe(p)
		return nil, fmt.Errorf("the reveal could not be audited, so the PIN is not shown: %w", err)
	}
	return p, nil
}

// OpenEscrow recovers the PIN of escrow record e: an age escrow is opened
// with ids (the error wraps escrow.ErrDecrypt when none matches, and
// ErrNoIdentity when there is none), a file escrow is read from its file.
// The caller wipes the PIN.
func OpenEscrow(e *store.Escrow, ids []age.Identity) ([]byte, error) {
	switch e.Kind {
	case store.EscrowFile:
		return escrow.ReadPINFile(e.Location)
	case store.EscrowAge:
		if len(ids) == 0 {
			return nil, ErrNoIdentity
		}
		return escrow.Open(e.Ciphertext, ids)
	}
	return nil, fmt.Errorf("unknown escrow kind %q", e.Kind)
}

// AgeIdentities are the age identities that open this bench's escrows: the
// Enroller's and the bench identity in EscrowDir (when it exists).
func (e *Enroller) AgeIdentities() []age.Identity {
	ids := append([]age.Identity(nil), e.Identities...)
	if e.EscrowDir != "" {
		if id, err := escrow.LoadIdentities(escrowBenchPath(e.EscrowDir)); err == nil {
			ids = append(ids, id...)
		}
	}
	return ids
}
