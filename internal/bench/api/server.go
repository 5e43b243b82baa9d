package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyprep/keyprep/internal/bench"
)

// Options configure a Server.
type Options struct {
	// Token is the bearer token every API request needs (directly, or
	// through a session obtained with it). At least 16 characters.
	Token string
	// Addr is the address the daemon listens on as host:port, best taken
	// from the listener (ln.Addr().String()) so the port is the real one.
	// It decides which Host headers are accepted.
	Addr string
	// Log receives access and security logs (no secrets). Nil: discarded.
	Log *slog.Logger
	// Heartbeat is the interval of the event stream's keep-alive comments
	// (default 15s).
	Heartbeat time.Duration
	// SessionTTL is how long a dashboard session lasts (default 12h).
	SessionTTL time.Duration
	// Now is the clock sessions expire by (default time.Now; tests).
	Now func() time.Time
	// MaxConns caps the open connections of HTTPServer (default
	// DefaultMaxConns); MaxStreams the event-stream clients at once
	// (default DefaultMaxStreams: more get 503).
	MaxConns   int
	MaxStreams int
}

// MinTokenLen is the shortest token New accepts.
const MinTokenLen = 16

const (
	maxSessions    = 64
	maxJSONBody    = 4 << 10
	maxUploadExtra = 1 << 20 // multipart overhead on top of the list itself
	// Warnings about refused requests: at most refusalBurst per
	// refusalPeriod; the next one says how many were not logged.
	refusalBurst  = 20
	refusalPeriod = time.Minute
)

// Server is the daemon's HTTP handler: the API under /api/v1 and the
// dashboard at /. Use it as the Handler of an http.Server and call Close
// before Shutdown so open event streams end.
type Server struct {
	engine     bench.Engine
	tokenHash  [32]byte
	log        *slog.Logger
	hosts      map[string]bool
	loopback   bool // listening on loopback: peers must be loopback too
	cookieName string
	heartbeat  time.Duration
	ttl        time.Duration
	now        func() time.Time
	mux        *http.ServeMux
	static     map[string]staticFile

	ctx    context.Context // ends every event stream on Close
	cancel context.CancelFunc

	conns    *connTracker
	refusals *warnLimiter
	streams  chan struct{} // one token per event-stream client
	uploads  chan struct{} // one upload parsed at a time

	mu       sync.Mutex
	sessions map[[32]byte]time.Time // SHA-256 of the session id → expiry
}

// New returns the API server for engine.
func New(engine bench.Engine, opts Options) (*Server, error) {
	if engine == nil {
		return nil, errors.New("api: no engine")
	}
	if len(opts.Token) < MinTokenLen {
		return nil, fmt.Errorf("api: the token must have at least %d characters", MinTokenLen)
	}
	host, port, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen address %q: %v", opts.Addr, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return nil, fmt.Errorf("api: listen address %q: need the actual port (take it from the listener)", opts.Addr)
	}
	hosts, loopback, err := allowedHosts(host, port)
	if err != nil {
		return nil, err
	}
	s := &Server{
		engine:     engine,
		tokenHash:  sha256.Sum256([]byte(opts.Token)),
		log:        opts.Log,
		hosts:      hosts,
		loopback:   loopback,
		cookieName: "keyprep_session_" + port,
		heartbeat:  opts.Heartbeat,
		ttl:        opts.SessionTTL,
		now:        opts.Now,
		sessions:   map[[32]byte]time.Time{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = slog.New(boundedHandler{s.log.Handler()})
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	s.conns = newConnTracker(opts.MaxConns)
	s.conns.evicted = func(open int) {
		s.refused("closed a connection to stay within the connection cap (the oldest idle or without the token)", "open", open, "max", opts.MaxConns)
	}
	s.refusals = newWarnLimiter(refusalBurst, refusalPeriod)
	s.streams = make(chan struct{}, opts.MaxStreams)
	s.uploads = make(chan struct{}, 1)
	if s.heartbeat <= 0 {
		s.heartbeat = 15 * time.Second
	}
	if s.ttl <= 0 {
		s.ttl = 12 * time.Hour
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.static, err = loadStatic(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Close ends every open event stream (http.Server.Shutdown would wait for
// them forever). The server still answers other requests.
func (s *Server) Close() { s.cancel() }

// allowedHosts lists the Host header values that name this daemon.
func allowedHosts(host, port string) (map[string]bool, bool, error) {
	hosts := map[string]bool{}
	add := func(h string) {
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
		hosts[strings.ToLower(h)+":"+port] = true
		if port == "80" {
			hosts[strings.ToLower(h)] = true
		}
	}
	for _, h := range []string{"127.0.0.1", "localhost", "::1"} {
		add(h)
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" {
		return hosts, true, nil
	}
	ip := net.ParseIP(h)
	switch {
	case h == "" || (ip != nil && ip.IsUnspecified()):
		return nil, false, fmt.Errorf("api: listen on a specific address (e.g. 127.0.0.1:PORT), not %q: the Host check needs it", host)
	case ip != nil && ip.IsLoopback():
		add(ip.String())
		return hosts, true, nil
	case ip != nil:
		add(ip.String())
	default:
		add(h)
	}
	return hosts, false, nil
}

// ServeHTTP applies the security checks, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	s.serve(sw, r)
	s.log.Debug("http", "method", clip(r.Method), "path", clip(r.URL.Path), "status", sw.code(), "duration", time.Since(start).Round(time.Microsecond))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	api := r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/")
	if api {
		h.Set("Cache-Control", "no-store")
	}

	if !s.hosts[strings.ToLower(r.Host)] {
		s.refused("refused a request for a foreign host name (DNS rebinding?)", "host", clip(r.Host), "path", clip(r.URL.Path), "peer", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "bad_host", "this daemon answers only to its loopback address")
		return
	}
	if s.loopback && !loopbackPeer(r.RemoteAddr) {
		s.refused("refused a request from a non-loopback peer", "peer", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "forbidden", "this daemon answers only to local clients")
		return
	}
	origin := r.Header.Get("Origin")
	if origin != "" && origin != "http://"+r.Host {
		s.refused("refused a cross-origin request", "origin", clip(origin), "path", clip(r.URL.Path), "peer", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "bad_origin", "cross-origin requests are not allowed")
		return
	}
	if !api {
		s.mux.ServeHTTP(w, r)
		return
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		s.refused("refused a cross-site request", "sec-fetch-site", clip(site), "path", clip(r.URL.Path), "peer", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "bad_origin", "cross-site requests are not allowed")
		return
	}
	ok, viaCookie := s.authenticate(r)
	if !ok {
		s.refused("refused an unauthenticated API request", "path", clip(r.URL.Path), "peer", r.RemoteAddr)
		h.Set("WWW-Authenticate", `Bearer realm="keyprep"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "a valid token is needed: open the URL keyprep serve printed, or send Authorization: Bearer TOKEN")
		return
	}
	if viaCookie && r.Method != http.MethodGet && r.Method != http.MethodHead && origin == "" {
		s.refused("refused a cookie-authenticated change without an Origin header", "path", clip(r.URL.Path), "peer", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "bad_origin", "a cookie-authenticated change needs an Origin header")
		return
	}
	s.conns.authenticated(r)
	s.mux.ServeHTTP(w, r)
}

// authenticate says whether r carries the token or a live session, and
// whether it was the session cookie.
func (s *Server) authenticate(r *http.Request) (ok, viaCookie bool) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, found := strings.Cut(auth, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			return false, false
		}
		return s.tokenOK(strings.TrimSpace(tok)), false
	}
	c, err := r.Cookie(s.cookieName)
	if err != nil || c.Value == "" {
		return false, false
	}
	return s.sessionOK(c.Value), true
}

func (s *Server) tokenOK(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], s.tokenHash[:]) == 1
}

func (s *Server) sessionOK(id string) bool {
	sum := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.sessions[sum]
	if ok && s.now().After(exp) {
		delete(s.sessions, sum)
		return false
	}
	return ok
}

// newSession stores a fresh session and returns its id.
func (s *Server) newSession() (string, time.Time, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	id := hex.EncodeToString(b[:])
	exp := s.now().Add(s.ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, e := range s.sessions {
		if now.After(e) {
			delete(s.sessions, k)
		}
	}
	for len(s.sessions) >= maxSessions { // drop the one expiring first
		var oldest [32]byte
		var oldestExp time.Time
		for k, e := range s.sessions {
			if oldestExp.IsZero() || e.Before(oldestExp) {
				oldest, oldestExp = k, e
			}
		}
		delete(s.sessions, oldest)
	}
	s.sessions[sha256.Sum256([]byte(id))] = exp
	return id, exp, nil
}

func (s *Server) endSession(id string) {
	sum := sha256.Sum256([]byte(id))
	s.mu.Lock()
	delete(s.sessions, sum)
	s.mu.Unlock()
}

func loopbackPeer(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// clip shortens attacker-controlled values before they are logged.
func clip(v string) string {
	const n = 80
	if len(v) > n {
		v = v[:n] + "…"
	}
	return strconv.Quote(v)
}

// statusWriter records the status for the access log; Unwrap keeps
// http.ResponseController (flush, deadlines) working through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
