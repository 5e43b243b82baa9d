package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Escrow kinds.
const (
	// EscrowAge: the PIN is age-encrypted to Recipients and the ciphertext
	// is kept in the store.
	EscrowAge = "age"
	// EscrowFile: the PIN was written, in clear, to the operator's
	// --pin-out file named by Location; the store keeps only the record.
	EscrowFile = "file"
)

// Escrow states.
const (
	EscrowPending    = "pending"    // written before the PIN is set on the key
	EscrowApplied    = "applied"    // the PIN is on the key
	EscrowUnused     = "unused"     // the PIN never reached the key
	EscrowSuperseded = "superseded" // a later PIN replaced it
)

// Escrow is the record of one PIN escrow: whose key, which kind, to whom
// it is encrypted and whether the PIN went on the key. It never holds a PIN
// in clear.
type Escrow struct {
	ID         string    `json:"id"`
	JobID      string    `json:"jobId,omitempty"`
	UPN        string    `json:"upn"`
	UserID     string    `json:"userId,omitempty"`
	KeyPath    string    `json:"keyPath,omitempty"`
	AAGUID     string    `json:"aaguid,omitempty"`
	Kind       string    `json:"kind"`
	Location   string    `json:"location,omitempty"`
	State      string    `json:"state"`
	Recipients []string  `json:"recipients,omitempty"`
	Ciphertext []byte    `json:"-"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// EscrowFilter selects escrow records for Escrows. Zero fields do not
// filter.
type EscrowFilter struct {
	UPN     string // case-insensitive (ASCII) exact match
	JobID   string
	KeyPath string
	States  []string
}

// validEscrowState reports whether st is one of the escrow states.
func validEscrowState(st string) bool {
	switch st {
	case EscrowPending, EscrowApplied, EscrowUnused, EscrowSuperseded:
		return true
	}
	return false
}

// age's binary and armored headers: an "age" escrow's ciphertext must start
// with one of them, so a PIN in clear cannot be stored by mistake.
var (
	ageHeader      = []byte("age-encryption.org/v1\n")
	ageArmorHeader = []byte("-----BEGIN AGE ENCRYPTED FILE-----")
)

// PutEscrow records an escrow durably (the commit is on disk when it
// returns) and appends the audit event "escrow" with its ID, kind, number
// of recipients and state (never the ciphertext). It fills e.ID, e.State
// (pending) if empty and the times if zero. An "age" escrow needs an age
// ciphertext (binary or armored) and at least one recipient; a "file"
// escrow needs Location and no ciphertext. A non-empty e.JobID must name an
// existing job.
func (s *Store) PutEscrow(ctx context.Context, e *Escrow) error {
	return s.update(ctx, func(t *Tx) error { return t.PutEscrow(e) })
}

// escrowEvent is the data of the audit event "escrow" (keys in order).
type escrowEvent struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Recipients int    `json:"recipients"`
	State      string `json:"state"`
}

// PutEscrow is Store.PutEscrow inside t.
func (t *Tx) PutEscrow(e *Escrow) error {
	if e == nil {
		return errors.New("store: put escrow: nil escrow")
	}
	if e.State == "" {
		e.State = EscrowPending
	}
	if !validEscrowState(e.State) {
		return fmt.Errorf("store: put escrow: invalid state %q", e.State)
	}
	switch e.Kind {
	case EscrowAge:
		if !bytes.HasPrefix(e.Ciphertext, ageHeader) && !bytes.HasPrefix(bytes.TrimLeft(e.Ciphertext, " \t\r\n"), ageArmorHeader) {
			return errors.New("store: put escrow: an age escrow needs an age ciphertext (it does not start with an age header)")
		}
		if len(e.Recipients) == 0 {
			return errors.New("store: put escrow: an age escrow needs its recipients")
		}
	case EscrowFile:
		if e.Location == "" {
			return errors.New("store: put escrow: a file escrow needs its location")
		}
		if len(e.Ciphertext) > 0 {
			return errors.New("store: put escrow: a file escrow keeps no ciphertext")
		}
	default:
		return fmt.Errorf("store: put escrow: invalid kind %q (want %q or %q)", e.Kind, EscrowAge, EscrowFile)
	}
	recips := e.Recipients
	if recips == nil {
		recips = []string{}
	}
	recipsJSON, err := json.Marshal(recips)
	if err != nil {
		return fmt.Errorf("store: put escrow: %w", err)
	}
	if e.ID == "" {
		e.ID = newID()
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = t.s.nowUTC()
	}
	e.CreatedAt = e.CreatedAt.UTC().Round(0)
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	e.UpdatedAt = e.UpdatedAt.UTC().Round(0)
	var ct any
	if len(e.Ciphertext) > 0 {
		ct = e.Ciphertext
	}
	audit, err := marshalData(escrowEvent{ID: e.ID, Kind: e.Kind, Recipients: len(e.Recipients), State: e.State})
	if err != nil {
		return fmt.Errorf("store: put escrow: %w", err)
	}
	_, err = t.exec(`INSERT INTO escrows (`+escrowCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, nullIfEmpty(e.JobID), e.UPN, e.UserID, e.KeyPath, e.AAGUID, e.Kind, e.Location, e.State,
		string(recipsJSON), ct, fmtTime(e.CreatedAt), fmtTime(e.UpdatedAt))
	if err == nil {
		err = t.appendAudit("escrow", e.JobID, audit)
	}
	if err != nil {
		return fmt.Errorf("store: put escrow %s: %w", e.ID, err)
	}
	return nil
}

// SetEscrowState moves escrow id to state (pending, applied, unused or
// superseded), bumps its UpdatedAt and appends the audit event
// "escrow.state" with the ID, the previous and the new state. An unknown
// escrow gives an error wrapping ErrNotFound.
func (s *Store) SetEscrowState(ctx context.Context, id, state string) error {
	return s.update(ctx, func(t *Tx) error { return t.SetEscrowState(id, state) })
}

// escrowStateEvent is the data of the audit event "escrow.state" (keys in
// order).
type escrowStateEvent struct {
	ID       string `json:"id"`
	Previous string `json:"previous"`
	State    string `json:"state"`
}

// SetEscrowState is Store.SetEscrowState inside t.
func (t *Tx) SetEscrowState(id, state string) error {
	if !validEscrowState(state) {
		return fmt.Errorf("store: set escrow %s state: invalid state %q", id, state)
	}
	if err := t.setEscrowState(id, state); err != nil {
		return fmt.Errorf("store: set escrow %s state: %w", id, err)
	}
	return nil
}

func (t *Tx) setEscrowState(id, state string) error {
	var (
		prev  string
		jobID sql.NullString
	)
	err := t.queryRow(`SELECT state, job_id FROM escrows WHERE id = ?`, []any{id}, &prev, &jobID)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if _, err := t.exec(`UPDATE escrows SET state = ?, updated_at = ? WHERE id = ?`,
		state, fmtTime(t.s.nowUTC()), id); err != nil {
		return err
	}
	raw, err := marshalData(escrowStateEvent{ID: id, Previous: prev, State: state})
	if err != nil {
		return err
	}
	return t.appendAudit("escrow.state", jobID.String, raw)
}

const escrowCols = `id, job_id, upn, user_id, key_path, aaguid, kind, location, state, recipients, ciphertext, created_at, updated_at`

// Escrow returns escrow record id, ciphertext included, or an error
// wrapping ErrNotFound.
func (s *Store) Escrow(ctx context.Context, id string) (*Escrow, error) {
	e, err := scanEscrow(s.queryRow(ctx, `SELECT `+escrowCols+` FROM escrows WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: escrow %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: escrow %s: %w", id, err)
	}
	return e, nil
}

// Escrows returns the escrow records matching f, newest first (by creation
// time, then by insertion order), ciphertexts included.
func (s *Store) Escrows(ctx context.Context, f EscrowFilter) ([]Escrow, error) {
	var (
		where []string
		args  []any
	)
	if f.UPN != "" {
		where = append(where, s.d.ciEq("upn"))
		args = append(args, f.UPN)
	}
	if f.JobID != "" {
		where = append(where, "job_id = ?")
		args = append(args, f.JobID)
	}
	if f.KeyPath != "" {
		where = append(where, "key_path = ?")
		args = append(args, f.KeyPath)
	}
	if len(f.States) > 0 {
		where = append(where, inClause("state", len(f.States)))
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	out, err := queryAll(ctx, s, `SELECT `+escrowCols+` FROM escrows`+whereClause(where)+
		` ORDER BY created_at DESC, rowid DESC`, args, scanEscrow)
	if err != nil {
		return nil, fmt.Errorf("store: escrows: %w", err)
	}
	return out, nil
}

func scanEscrow(sc scanner) (*Escrow, error) {
	var (
		e                Escrow
		jobID            sql.NullString
		recips           string
		created, updated string
	)
	if err := sc.Scan(&e.ID, &jobID, &e.UPN, &e.UserID, &e.KeyPath, &e.AAGUID, &e.Kind, &e.Location, &e.State,
		&recips, &e.Ciphertext, &created, &updated); err != nil {
		return nil, err
	}
	e.JobID = jobID.String
	if err := json.Unmarshal([]byte(recips), &e.Recipients); err != nil {
		return nil, fmt.Errorf("escrow %s: recipients: %w", e.ID, err)
	}
	if len(e.Recipients) == 0 {
		e.Recipients = nil
	}
	var err error
	if e.CreatedAt, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("escrow %s: %w", e.ID, err)
	}
	if e.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, fmt.Errorf("escrow %s: %w", e.ID, err)
	}
	return &e, nil
}
