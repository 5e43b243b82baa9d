package store

import (
	"context"
	"database/sql"
	"fmt"
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
}

// Update runs fn in one write transaction (BEGIN IMMEDIATE) and commits it,
// durably, if fn returns nil; otherwise it rolls back and returns fn's
// error. Several journal rows and record changes written in one Update
// cost one disk sync instead of one each.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		return fn(&Tx{s: s, tx: tx, ctx: ctx})
	})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// update is Update for the Store methods that wrap one Tx method: fn's
// error is returned as it is (the Tx methods name the store and the
// operation themselves), a failed begin or commit is wrapped.
func (s *Store) update(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", err)
	}
	if err := fn(&Tx{s: s, tx: tx, ctx: ctx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}
