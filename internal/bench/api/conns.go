package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Connection limits of the daemon's HTTP server (HTTPServer). The API is
// local and its clients are few (a dashboard or two, scripts): these keep
// a local user without the token from holding the daemon's connections
// and file descriptors.
const (
	// readHeaderTimeout: the request line and headers must arrive in it.
	readHeaderTimeout = 5 * time.Second
	// readTimeout: the whole request, body included (an upload of the
	// largest list over loopback takes well under a second).
	readTimeout = 30 * time.Second
	// writeTimeout: the answer (the event stream sets its own deadlines).
	writeTimeout = 30 * time.Second
	// idleTimeout: a kept-alive connection between requests.
	idleTimeout = 60 * time.Second
	// maxHeaderBytes: request line and headers (a token and a cookie fit
	// many times over).
	maxHeaderBytes = 16 << 10
	// DefaultMaxConns: open connections before the oldest that has not
	// shown the token (or is idle) is closed for a new one.
	DefaultMaxConns = 512
	// DefaultMaxStreams: event-stream clients at once; more get 503.
	DefaultMaxStreams = 16
)

// HTTPServer returns the http.Server to serve s with: header, body, write
// and idle timeouts, a header size limit and the connection cap. Serve it
// on the listener whose address is Options.Addr.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         s.conns.track,
		ConnContext:       s.conns.context,
		// The server's own complaints (bad TLS, accept errors) go to the
		// log, bounded and rate-limited like every refusal.
		ErrorLog: slog.NewLogLogger(&limitedHandler{s: s}, slog.LevelWarn),
	}
}

// connTracker caps the open connections. When a new one would exceed the
// cap, the oldest connection that is idle or has not (yet) carried a
// request with the token or a session is closed to make room, so that
// connections held open without the token cannot lock the operator out;
// when every connection is an authenticated request at work, the new one
// is closed instead.
type connTracker struct {
	max int

	mu    sync.Mutex
	seq   uint64
	conns map[net.Conn]*connInfo
	// gone: connections closed to make room whose goroutine has not yet
	// reported them closed. A state change it reports meanwhile (the
	// request it was reading) must not count it as open again: it would
	// take a place under the cap, and a later eviction would pick it
	// again instead of a live connection.
	gone map[net.Conn]bool
	// evicted is called (outside the lock) for each connection closed to
	// make room, with the number open.
	evicted func(open int)
}

type connInfo struct {
	conn  net.Conn
	state http.ConnState
	seq   uint64 // order of the last state change
	// authed: the current request on it carried the token or a session.
	authed bool
}

type connKey struct{}

func newConnTracker(max int) *connTracker {
	return &connTracker{max: max, conns: map[net.Conn]*connInfo{}, gone: map[net.Conn]bool{}}
}

// context puts the connection's record into its requests' contexts.
func (t *connTracker) context(ctx context.Context, c net.Conn) context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	ci, ok := t.conns[c]
	if !ok {
		ci = &connInfo{conn: c}
		if !t.gone[c] {
			t.conns[c] = ci
		}
	}
	return context.WithValue(ctx, connKey{}, ci)
}

// authenticated marks the connection of r as carrying an authenticated
// request until it goes idle.
func (t *connTracker) authenticated(r *http.Request) {
	ci, _ := r.Context().Value(connKey{}).(*connInfo)
	if ci == nil {
		return
	}
	t.mu.Lock()
	ci.authed = true
	t.mu.Unlock()
}

func (t *connTracker) track(c net.Conn, st http.ConnState) {
	var victim net.Conn
	t.mu.Lock()
	switch st {
	case http.StateClosed, http.StateHijacked:
		delete(t.conns, c)
		delete(t.gone, c)
		t.mu.Unlock()
		return
	}
	if t.gone[c] {
		t.mu.Unlock()
		return
	}
	ci, ok := t.conns[c]
	if !ok {
		ci = &connInfo{conn: c}
		t.conns[c] = ci
	}
	t.seq++
	ci.state, ci.seq = st, t.seq
	if st == http.StateIdle {
		ci.authed = false
	}
	if st == http.StateNew && len(t.conns) > t.max {
		var best *connInfo
		for _, o := range t.conns {
			if o == ci || (o.authed && o.state == http.StateActive) {
				continue
			}
			if best == nil || o.seq < best.seq {
				best = o
			}
		}
		if best != nil {
			victim = best.conn
		} else {
			victim = c
		}
		delete(t.conns, victim)
		t.gone[victim] = true
	}
	open := len(t.conns)
	t.mu.Unlock()
	if victim != nil {
		victim.Close()
		if t.evicted != nil {
			t.evicted(open)
		}
	}
}
