package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrSecretField is returned (wrapped) when data handed to the store has a
// JSON object key, at any depth, that names a secret (see secretKeys). The
// value is never echoed in the error.
var ErrSecretField = errors.New("store: refusing to record a secret field")

// ErrAuditBroken is returned (wrapped) by VerifyAudit when the audit chain
// does not verify; the error names the first bad sequence number.
var ErrAuditBroken = errors.New("store: audit chain broken")

// secretKeys are the object keys, compared case-insensitively, that the
// store refuses to record anywhere in step data, audit data or job
// parameters. Keys that merely contain one of them ("pinSet", "pinEscrow",
// "tokenExpiry") are allowed.
var secretKeys = []string{
	"pin", "newPin", "oldPin", "currentPin",
	"pass", "password", "temporaryAccessPass",
	"token", "accessToken", "refreshToken",
	"secret", "clientSecret",
}

// zeroHash is the PrevHash of the first audit event.
var zeroHash = strings.Repeat("0", 64)

// AuditEvent is one entry of the hash-chained audit log.
//
// Hash is hex(SHA-256(PrevHash || 0x00 || enc)), PrevHash being the previous
// event's Hash as 64 hex characters (64 zeros for the first event) and enc
// the concatenation of Seq as an 8-byte big-endian integer and then, each
// preceded by its length as an 8-byte big-endian integer, the bytes of Time
// (UTC, time.RFC3339Nano), Actor, Event, JobID and Data (compact JSON).
type AuditEvent struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Event    string          `json:"event"`
	JobID    string          `json:"jobId,omitempty"`
	Data     json.RawMessage `json:"data"`
	PrevHash string          `json:"prevHash"`
	Hash     string          `json:"hash"`
}

// Audit appends an event to the audit log in its own transaction. data is
// encoded with json.Marshal (nil becomes null) and refused, with an error
// wrapping ErrSecretField, if it has a secret key. jobID may be empty.
func (s *Store) Audit(ctx context.Context, event, jobID string, data any) error {
	raw, err := marshalData(data)
	if err != nil {
		return fmt.Errorf("store: audit %q: %w", event, err)
	}
	err = s.update(ctx, func(t *Tx) error {
		return t.appendAudit(event, jobID, raw)
	})
	if err != nil {
		return fmt.Errorf("store: audit %q: %w", event, err)
	}
	return nil
}

// AuditEvents returns up to limit events (all if limit <= 0) with Seq
// greater than afterSeq, in Seq order. Pass the last Seq seen to page on.
func (s *Store) AuditEvents(ctx context.Context, afterSeq int64, limit int) ([]AuditEvent, error) {
	out, err := queryAll(ctx, s, `SELECT seq, time, actor, event, job_id, data, prev_hash, hash
		   FROM audit WHERE seq > ? ORDER BY seq`+limitClause(limit), []any{afterSeq}, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("store: audit events: %w", err)
	}
	return out, nil
}

// VerifyAudit recomputes the audit chain from the first event and returns
// the number of events checked. The first event must have Seq 1 and the
// zero PrevHash, each later one the next Seq and its predecessor's Hash,
// and every Hash must match the event's content; otherwise the error wraps
// ErrAuditBroken and names the first bad Seq. A chain cut short at its end
// cannot be told from a shorter one: compare the count (or the last Hash)
// with a copy kept elsewhere to detect that.
func (s *Store) VerifyAudit(ctx context.Context) (int, error) {
	// One read transaction gives a consistent snapshot while writers go on.
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("store: verify audit: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx,
		`SELECT seq, time, actor, event, job_id, data, prev_hash, hash FROM audit ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("store: verify audit: %w", err)
	}
	defer rows.Close()
	n := 0
	prev := zeroHash
	wantSeq := int64(1)
	for rows.Next() {
		var (
			ev      AuditEvent
			tm      string
			data    string
			badTime error
		)
		if err := rows.Scan(&ev.Seq, &tm, &ev.Actor, &ev.Event, &ev.JobID, &data, &ev.PrevHash, &ev.Hash); err != nil {
			return n, fmt.Errorf("store: verify audit: %w", err)
		}
		ev.Time, badTime = parseTime(tm)
		switch {
		case ev.Seq != wantSeq:
			return n, fmt.Errorf("%w at seq %d: expected seq %d (events missing or reordered)", ErrAuditBroken, ev.Seq, wantSeq)
		case badTime != nil || tm == "":
			return n, fmt.Errorf("%w at seq %d: unreadable time", ErrAuditBroken, ev.Seq)
		case ev.PrevHash != prev:
			return n, fmt.Errorf("%w at seq %d: previous hash does not match seq %d", ErrAuditBroken, ev.Seq, ev.Seq-1)
		case auditHash(ev.PrevHash, ev.Seq, ev.Time, ev.Actor, ev.Event, ev.JobID, []byte(data)) != ev.Hash:
			return n, fmt.Errorf("%w at seq %d: content does not match its hash", ErrAuditBroken, ev.Seq)
		}
		prev = ev.Hash
		wantSeq++
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("store: verify audit: %w", err)
	}
	return n, nil
}

// appendAudit adds one event to the chain inside t, a write (BEGIN
// IMMEDIATE) transaction, so that the read of the chain's head and the
// insert cannot interleave with another writer. raw must already be
// checked by marshalData.
func (t *Tx) appendAudit(event, jobID string, raw []byte) error {
	if event == "" {
		return errors.New("empty audit event name")
	}
	if !t.headRead {
		t.headSeq, t.headHash = 0, zeroHash
		err := t.queryRow(`SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`, nil, &t.headSeq, &t.headHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read audit head: %w", err)
		}
		t.headRead = true
	}
	seq, prev := t.headSeq+1, t.headHash
	now := t.s.nowUTC()
	h := auditHash(prev, seq, now, t.s.actor, event, jobID, raw)
	_, err := t.exec(`INSERT INTO audit (seq, time, actor, event, job_id, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		seq, fmtTime(now), t.s.actor, event, jobID, string(raw), prev, h)
	if err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	t.headSeq, t.headHash = seq, h
	return nil
}

// auditHash computes an event's chain hash; see AuditEvent.
func auditHash(prev string, seq int64, t time.Time, actor, event, jobID string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{0})
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(t.UTC().Format(time.RFC3339Nano)))
	field([]byte(actor))
	field([]byte(event))
	field([]byte(jobID))
	field(data)
	return hex.EncodeToString(h.Sum(nil))
}

func scanAudit(sc scanner) (*AuditEvent, error) {
	var (
		ev   AuditEvent
		tm   string
		data string
	)
	if err := sc.Scan(&ev.Seq, &tm, &ev.Actor, &ev.Event, &ev.JobID, &data, &ev.PrevHash, &ev.Hash); err != nil {
		return nil, err
	}
	t, err := parseTime(tm)
	if err != nil {
		return nil, fmt.Errorf("audit seq %d: %w", ev.Seq, err)
	}
	ev.Time = t
	ev.Data = json.RawMessage(data)
	return &ev, nil
}

// marshalData encodes v as compact JSON (nil becomes null) and refuses it,
// with an error wrapping ErrSecretField, if any object key at any depth is
// one of secretKeys. A json.RawMessage is validated and compacted. Unlike
// json.Marshal, '<', '>' and '&' are kept as they are, for readability.
func marshalData(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode data: %w", err)
	}
	raw := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if err := checkSecrets(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// checkSecrets returns an error wrapping ErrSecretField if the JSON in raw
// has an object key, at any depth, equal (case-insensitively, Unicode
// folding) to one of secretKeys. Escaped keys ("p\u0069n") are decoded
// before the comparison. raw must be valid JSON.
func checkSecrets(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("decode data: %w", err)
	}
	return walkSecrets(v)
}

func walkSecrets(v any) error {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if isSecretKey(k) {
				return fmt.Errorf("%w: key %q", ErrSecretField, k)
			}
			if err := walkSecrets(child); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range v {
			if err := walkSecrets(child); err != nil {
				return err
			}
		}
	}
	return nil
}

func isSecretKey(k string) bool {
	for _, s := range secretKeys {
		if strings.EqualFold(k, s) {
			return true
		}
	}
	return false
}
