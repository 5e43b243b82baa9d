package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrCommitUnknown is returned (wrapped) when the connection to the
// database was lost while a transaction committed: it may or may not have
// been applied. The store does not run it again; the caller must find out
// (for the workflow, journal resume reconciles, as after a crash).
var ErrCommitUnknown = errors.New("store: the connection was lost during the commit; the outcome is unknown")

// retryPolicy is how a Store rides out a database that went away.
type retryPolicy struct {
	max    time.Duration   // 0: no retries
	notify func(err error) // called before each wait
}

// SetRetry makes the store ride out a lost database connection (a
// PostgreSQL server restarting): a write transaction that failed before
// its commit, or a read, is tried again with backoff (0.2 s doubling to
// 5 s) for up to max, notify being told each time (for a "store
// unavailable: …; retrying" message). It must be called before the Store
// is shared. max 0 turns retrying off (the default: a command fails at
// once).
func (s *Store) SetRetry(max time.Duration, notify func(err error)) {
	s.rp = retryPolicy{max: max, notify: notify}
}

// Unavailable reports whether err means the database could not be
// reached (the connection was lost or refused).
func (s *Store) Unavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || s.d.connLost(err)
}

// retry runs op until it succeeds, fails for another reason than a lost
// connection, fails in its commit, or the retry budget or ctx ends.
func (s *Store) retry(ctx context.Context, op func() error) error {
	var (
		start time.Time
		wait  = 200 * time.Millisecond
	)
	for {
		err := op()
		if err == nil || s.rp.max <= 0 || ctx.Err() != nil || !s.d.connLost(err) {
			return err
		}
		var ce *commitError
		if errors.As(err, &ce) {
			return err
		}
		if start.IsZero() {
			start = time.Now()
		}
		if time.Since(start) > s.rp.max {
			return fmt.Errorf("%w (gave up after %s): %w", ErrUnavailable, s.rp.max, err)
		}
		if s.rp.notify != nil {
			s.rp.notify(err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}
