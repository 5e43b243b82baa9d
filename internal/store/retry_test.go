package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errLost = errors.New("test: connection lost")

// A store that retries says when the database went away (each retried
// failure) and, once per outage, when it answers again; a call that never
// met an outage says nothing.
func TestRetryOutageBack(t *testing.T) {
	s := &Store{d: &dialect{connLost: func(err error) bool { return errors.Is(err, errLost) }}}
	var notes int
	var backs []time.Duration
	s.SetRetry(time.Minute, func(error) { notes++ }, func(d time.Duration) { backs = append(backs, d) })
	failing := func(n int) func() error {
		return func() error {
			if n > 0 {
				n--
				return errLost
			}
			return nil
		}
	}
	ctx := context.Background()
	steps := []struct {
		name      string
		failures  int
		wantNotes int
		wantBacks int
	}{
		{"answers", 0, 0, 0},
		{"away twice, then back", 2, 2, 1},
		{"answers after the outage", 0, 2, 1},
		{"away again", 1, 3, 2},
	}
	for _, st := range steps {
		if err := s.retry(ctx, failing(st.failures)); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if notes != st.wantNotes || len(backs) != st.wantBacks {
			t.Fatalf("%s: %d notes, %d backs; want %d, %d", st.name, notes, len(backs), st.wantNotes, st.wantBacks)
		}
	}
	for i, d := range backs {
		if d <= 0 {
			t.Errorf("outage %d: back after %s, want a positive duration", i, d)
		}
	}
	// Another kind of failure is an answer too: it ends an outage.
	s.outage.begin(time.Now())
	if err := s.retry(ctx, func() error { return errors.New("test: constraint") }); err == nil || len(backs) != 3 {
		t.Errorf("an answered failure after an outage: err %v, %d backs; want an error and 3 backs", err, len(backs))
	}
}
