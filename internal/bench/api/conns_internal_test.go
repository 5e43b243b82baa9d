package api

import (
	"net"
	"net/http"
	"testing"
)

// closeCounter is a net.Conn that counts its Close calls.
type closeCounter struct {
	net.Conn
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// TestConnTrackerLateReport: a connection closed to make room may still
// report a state change (the request it was reading) before it reports
// itself closed. It must not count as open again, or the next eviction
// would pick it a second time and leave a live connection above the cap.
func TestConnTrackerLateReport(t *testing.T) {
	tr := newConnTracker(1)
	a, b, c := &closeCounter{}, &closeCounter{}, &closeCounter{}
	tr.track(a, http.StateNew)
	tr.track(b, http.StateNew) // over the cap: a, the oldest, goes
	if a.closed != 1 || b.closed != 0 {
		t.Fatalf("after b: a closed %d times, b %d; want a once", a.closed, b.closed)
	}
	tr.track(a, http.StateActive) // a's goroutine, late
	_ = tr.context(t.Context(), a)
	tr.track(c, http.StateNew) // over the cap again: b must go, not a
	if b.closed != 1 || a.closed != 1 || c.closed != 0 {
		t.Errorf("after c: a closed %d times, b %d, c %d; want b closed once and a not again", a.closed, b.closed, c.closed)
	}
	d := &closeCounter{}
	tr.track(d, http.StateNew) // and again: c goes; a is not picked again
	if c.closed != 1 || a.closed != 1 || d.closed != 0 {
		t.Errorf("after d: a closed %d times, c %d, d %d; want c closed once and a not again", a.closed, c.closed, d.closed)
	}
	tr.track(a, http.StateClosed)
	if len(tr.conns) != 1 {
		t.Errorf("open %d, closing %d; want c open and b still to report", len(tr.conns), len(tr.gone))
	}
}
