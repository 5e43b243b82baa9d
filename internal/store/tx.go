package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// Tx is one write transaction of the store, given to the function passed
// to Update. Its methods do what the Store methods of the same names do,
// audit events included, but they all commit together: when Update
// returns nil every change is on disk (synchronous=FULL), and when it
// returns an error none is. A Tx must not be used after its function
// returns.
type Tx struct {
	s   *Store
	tx  *sql.Tx
	ctx context.Context

	// The audit chain's head and each job's next step number, read once
	// per transaction: the write lock (BEGIN IMMEDIATE on SQLite, the
	// advisory write lock on PostgreSQL) keeps them valid until it ends.
	headRead bool
	headSeq  int64
	headHash string
	nextSeq  map[string]int64
	// lastStep is each job's latest journal row in this transaction: the
	// job's step, phase and updated_at are set once, before the commit,
	// instead of once per row.
	lastStep map[string]jobPosition
}

// jobPosition is where a job's journal stands.
type jobPosition struct{ step, phase, time string }

// settle writes what the transaction's journal rows changed in their jobs
// (see lastStep), in a fixed order.
func (t *Tx) settle() error {
	ids := make([]string, 0, len(t.lastStep))
	for id := range t.lastStep {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := t.lastStep[id]
		if _, err := t.exec(`UPDATE jobs SET step = ?, phase = ?, updated_at = ? WHERE id = ?`, p.step, p.phase, p.time, id); err != nil {
			return fmt.Errorf("store: job %s position: %w", id, err)
		}
	}
	return nil
}

// stmt returns q prepared (once per Store and connection) for use in t.
func (t *Tx) stmt(q string) (*sql.Stmt, error) {
	st, err := t.s.prepared(t.ctx, q)
	if err != nil {
		return nil, err
	}
	return t.tx.StmtContext(t.ctx, st), nil
}

// exec runs the statement q (in the shared spelling, see dialect) in t.
func (t *Tx) exec(q string, args ...any) (sql.Result, error) {
	if !t.s.d.prepare {
		return t.tx.ExecContext(t.ctx, t.s.d.q(q), args...)
	}
	st, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// queryRow runs the query q in t and scans its first row into dest.
func (t *Tx) queryRow(q string, args []any, dest ...any) error {
	if !t.s.d.prepare {
		return t.tx.QueryRowContext(t.ctx, t.s.d.q(q), args...).Scan(dest...)
	}
	st, err := t.stmt(q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(t.ctx, args...).Scan(dest...)
}

// prepared returns the Store's prepared statement for q, preparing it on
// first use. Preparing costs about as much as running a small statement,
// and a journal transaction runs a dozen.
func (s *Store) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.stmts[q]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.d.q(q))
	if err != nil {
		return nil, err
	}
	if s.stmts == nil {
		s.stmts = map[string]*sql.Stmt{}
	}
	s.stmts[q] = st
	return st, nil
}

// Update runs fn in one write transaction (BEGIN IMMEDIATE on SQLite; on
// PostgreSQL READ COMMITTED, holding the store's write lock) and commits it,
// durably, if fn returns nil; otherwise it rolls back and returns fn's
// error as it is (the Tx methods' errors name the store and the
// operation; a failed begin or commit is wrapped). Several journal rows
// and record changes written in one Update cost one disk sync instead of
// one each.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.update(ctx, fn)
}

// update is Update, for the Store methods that wrap one Tx method. A
// transaction that fails because the connection to the database was lost
// before its commit (PostgreSQL restarting) changed nothing: it runs again,
// from the start, while the store retries (see SetRetry). A commit whose
// answer was lost is not retried: the error wraps ErrCommitUnknown.
func (s *Store) update(ctx context.Context, fn func(*Tx) error) error {
	return s.retry(ctx, func() error { return s.updateOnce(ctx, s.d.writeTx, s.d.beginWrite, fn) })
}

// commitError is a failed commit: never retried (the outcome may be
// unknown).
type commitError struct{ err error }

func (e *commitError) Error() string { return "store: commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

func (s *Store) updateOnce(ctx context.Context, opts *sql.TxOptions, begin func(context.Context, *sql.Tx) error, fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", err)
	}
	if err := begin(ctx, tx); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("store: %w", err)
	}
	t := &Tx{s: s, tx: tx, ctx: ctx}
	err = fn(t)
	if err == nil {
		err = t.settle()
	}
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		if s.d.connLost(err) {
			err = fmt.Errorf("%w: %w", ErrCommitUnknown, err)
		}
		return &commitError{err}
	}
	return nil
}
