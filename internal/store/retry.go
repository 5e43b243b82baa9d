package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrCommitUnknown is returned (wrapped) when the connection to the
// database was lost while a transaction committed: it may or may not have
// been applied. The store does not run it again; the caller must find out
// (for the workflow, journal resume reconciles, as after a crash).
var ErrCommitUnknown = errors.New("store: the connection was lost during the commit; the outcome is unknown")

// retryPolicy is how a Store rides out a database that went away.
type retryPolicy struct {
	max    time.Duration            // 0: no retries
	notify func(err error)          // called before each wait
	back   func(down time.Duration) // called once when an outage ends
}

// outage is the store's view of the database being away: since when (the
// first lost connection of a retried call), zero while it answers.
type outage struct {
	down  atomic.Bool // fast path: since is set
	mu    sync.Mutex
	since time.Time
}

// begin records that a call found the database away.
func (o *outage) begin(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		o.since = now
		o.down.Store(true)
	}
}

// end records that a call got through; it returns how long the database
// was away, or 0 when it was not (or another call already said so).
func (o *outage) end(now time.Time) time.Duration {
	if !o.down.Load() {
		return 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return 0
	}
	d := max(now.Sub(o.since), time.Nanosecond)
	o.since = time.Time{}
	o.down.Store(false)
	return d
}

// SetRetry makes the store ride out a lost database connection (a
// PostgreSQL server restarting): a write transaction that failed before
// its commit, or a read, is tried again with backoff (0.2 s doubling to
// 5 s) for up to max, notify being told each time (for a "store
// unavailable: …; retrying" message). When the first call gets through
// after an outage, back is told, once per outage, how long the database
// was away (for a "store reachable again" message); either may be nil.
// It must be called before the Store is shared. max 0 turns retrying off
// (the default: a command fails at once).
func (s *Store) SetRetry(max time.Duration, notify func(err error), back func(down time.Duration)) {
	s.rp = retryPolicy{max: max, notify: notify, back: back}
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
		if err == nil || !s.d.connLost(err) {
			// The database answered (a failure of another kind is an
			// answer too).
			if d := s.outage.end(time.Now()); d > 0 && s.rp.back != nil {
				s.rp.back(d)
			}
		}
		if err == nil || s.rp.max <= 0 || ctx.Err() != nil || !s.d.connLost(err) {
			return err
		}
		s.outage.begin(time.Now())
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
