package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyprep/keyprep/internal/bench"
	pinpolicy "github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/userlist"
)

//go:embed web
var webFS embed.FS

type staticFile struct {
	contentType string
	body        []byte
}

func loadStatic() (map[string]staticFile, error) {
	types := map[string]string{
		".html": "text/html; charset=utf-8",
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".svg":  "image/svg+xml",
	}
	files := map[string]staticFile{}
	entries, err := fs.ReadDir(webFS, "web")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		body, err := webFS.ReadFile("web/" + e.Name())
		if err != nil {
			return nil, err
		}
		ct, ok := types[path.Ext(e.Name())]
		if !ok {
			return nil, fmt.Errorf("api: no content type for web/%s", e.Name())
		}
		files["/"+e.Name()] = staticFile{ct, body}
	}
	if _, ok := files["/index.html"]; !ok {
		return nil, errors.New("api: web/index.html missing")
	}
	files["/"] = files["/index.html"]
	delete(files, "/index.html")
	return files, nil
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /api/v1/session", s.createSession)
	m.HandleFunc("DELETE /api/v1/session", s.deleteSession)
	m.HandleFunc("GET /api/v1/keys", s.keys)
	m.HandleFunc("GET /api/v1/slots", s.slots)
	m.HandleFunc("GET /api/v1/jobs", s.jobs)
	m.HandleFunc("POST /api/v1/jobs", s.submit)
	m.HandleFunc("POST /api/v1/jobs/retry-failed", s.retryFailed)
	m.HandleFunc("POST /api/v1/jobs/clear", s.clear)
	m.HandleFunc("GET /api/v1/results", s.results)
	m.HandleFunc("POST /api/v1/results/{upn}/reveal-pin", s.revealPIN)
	m.HandleFunc("GET /api/v1/snapshot", s.snapshot)
	m.HandleFunc("GET /api/v1/events", s.events)
	m.HandleFunc("GET /api/v1/fleet", s.fleet)
	m.HandleFunc("/api/", s.apiFallback)
	m.HandleFunc("/", s.serveStatic)
	s.mux = m
}

// apiFallback answers what no API route matched: 405 when the path exists
// with another method, else 404, both as JSON.
func (s *Server) apiFallback(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(context.Background())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/api/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
		return
	}
	writeError(w, http.StatusNotFound, "not_found", "no such API endpoint")
}

func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, ok := s.static[r.URL.Path]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "not found")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here")
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	if _, viaCookie := s.authenticate(r); viaCookie {
		// A session is made from the token, not from another session.
		writeError(w, http.StatusUnauthorized, "unauthorized", "send the token as Authorization: Bearer TOKEN")
		return
	}
	id, exp, err := s.newSession()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "cannot create a session")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName,
		Value:    id,
		Path:     "/",
		Expires:  exp,
		MaxAge:   int(time.Until(exp).Seconds()),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	s.log.Info("dashboard session started", "peer", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.cookieName); err == nil {
		s.endSession(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) keys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.engine.Keys(r.Context())
	if err != nil {
		s.engineError(w, "list keys", err)
		return
	}
	if keys == nil {
		keys = []bench.KeyInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

func (s *Server) slots(w http.ResponseWriter, r *http.Request) {
	v := s.engine.View(bench.ViewQuery{Limit: 1})
	writeJSON(w, http.StatusOK, map[string]any{"slots": normaliseView(v).Slots})
}

// jobs answers one page of the queue: ?state=failed,pending (listed in
// that order; default every state in queue order), ?batch=NAME,
// ?offset=N, ?limit=N (default 100, at most 1000), with the counts of the
// whole queue and how many items match.
func (s *Server) jobs(w http.ResponseWriter, r *http.Request) {
	q, err := viewQuery(r, 0)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	v := normaliseView(s.engine.View(q))
	writeJSON(w, http.StatusOK, map[string]any{"items": v.Queue, "counts": v.Counts, "matched": v.Matched,
		"offset": v.Offset, "limit": v.Limit, "batches": v.Batches})
}

// Defaults of the bounded snapshot (GET snapshot and the event stream's
// first message): the open users, those at work first, and the newest
// results.
var snapshotStates = []bench.ItemState{bench.ItemActive, bench.ItemFailed, bench.ItemPending}

const snapshotResults = 100

// snapshot answers the bench at this moment, bounded: the slots, the
// counts of the whole queue, one page of it (the same parameters as jobs;
// default the open users, at work first, then failed, then pending) and
// the newest results (?results=N, default 100).
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	q, err := viewQuery(r, snapshotResults)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if len(q.States) == 0 && r.URL.Query().Get("state") == "" {
		q.States = snapshotStates
	}
	writeJSON(w, http.StatusOK, normaliseView(s.engine.View(q)))
}

// viewQuery reads the paging parameters of jobs and snapshot.
func viewQuery(r *http.Request, results int) (bench.ViewQuery, error) {
	v := r.URL.Query()
	q := bench.ViewQuery{Batch: v.Get("batch"), Results: results}
	if st := v.Get("state"); st != "" && st != "all" {
		for _, f := range strings.Split(st, ",") {
			switch x := bench.ItemState(strings.TrimSpace(f)); x {
			case bench.ItemPending, bench.ItemActive, bench.ItemDone, bench.ItemSkipped, bench.ItemFailed:
				q.States = append(q.States, x)
			default:
				return q, fmt.Errorf("state must be a comma-separated list of pending, active, done, skipped, failed (or all)")
			}
		}
	}
	num := func(name string, dst *int, max int) error {
		raw := v.Get(name)
		if raw == "" {
			return nil
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 || n > max {
			return fmt.Errorf("%s must be a number from 0 to %d", name, max)
		}
		*dst = n
		return nil
	}
	if err := num("offset", &q.Offset, 1<<30); err != nil {
		return q, err
	}
	if err := num("limit", &q.Limit, bench.MaxViewLimit); err != nil {
		return q, err
	}
	if err := num("results", &q.Results, bench.MaxViewLimit); err != nil {
		return q, err
	}
	return q, nil
}

// FleetSource is an engine that sees the whole fleet through its store
// (bench.Runner is one).
type FleetSource interface {
	Fleet(ctx context.Context) (*bench.Fleet, error)
}

// fleet answers the fleet panel: every bench sharing the store, the
// queue, the rate and the users waiting for their keys.
func (s *Server) fleet(w http.ResponseWriter, r *http.Request) {
	fs, ok := s.engine.(FleetSource)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "this bench has no fleet view")
		return
	}
	f, err := fs.Fleet(r.Context())
	if err != nil {
		s.log.Warn("fleet view", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the store cannot be read now; retry shortly")
		return
	}
	writeJSON(w, http.StatusOK, f)
}

// normaliseView makes nil lists empty so clients always get arrays.
func normaliseView(v bench.View) bench.View {
	if v.Slots == nil {
		v.Slots = []bench.Slot{}
	}
	if v.Queue == nil {
		v.Queue = []bench.Item{}
	}
	if v.Results == nil {
		v.Results = []bench.Result{}
	}
	if v.Batches == nil {
		v.Batches = []bench.BatchCounts{}
	}
	return v
}

// MaxUploadBytes is the largest user list the API takes (larger: 413).
// userlist.Read holds a list in memory while it parses it; uploads are
// parsed one at a time.
const MaxUploadBytes = 16 << 20

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the user list as text/csv or as multipart/form-data field \"file\"")
		return
	}
	if r.ContentLength > MaxUploadBytes+maxUploadExtra {
		s.tooLarge(w)
		return
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	case <-r.Context().Done():
		return
	}
	// The body has readTimeout from now (not from when it waited for the
	// upload before it); queueing a long list in the store may take longer
	// than writeTimeout, so the answer's deadline is set once it is known.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(readTimeout))
	_ = rc.SetWriteDeadline(time.Time{})
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBytes+maxUploadExtra)
	var (
		name string
		body io.Reader
	)
	switch ct {
	case "text/csv", "text/plain", "application/csv":
		name, body = r.URL.Query().Get("name"), r.Body
	case "multipart/form-data":
		if params["boundary"] == "" {
			writeError(w, http.StatusBadRequest, "bad_request", "multipart body without a boundary")
			return
		}
		mr, err := r.MultipartReader()
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "not a multipart body")
			return
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				if tooLarge(err) {
					s.tooLarge(w)
					return
				}
				writeError(w, http.StatusBadRequest, "bad_request", "bad multipart body")
				return
			}
			if part.FormName() == "file" {
				name, body = part.FileName(), part
				break
			}
			part.Close()
		}
		if body == nil {
			writeError(w, http.StatusBadRequest, "no_file", "the form has no field \"file\" with the user list")
			return
		}
	default:
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the user list as text/csv or as multipart/form-data field \"file\"")
		return
	}
	lr := &limitReader{r: body, n: MaxUploadBytes}
	sub, err := s.engine.Submit(r.Context(), cleanName(name), lr)
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err != nil {
		if tooLarge(err) {
			s.tooLarge(w)
			return
		}
		if lr.err != nil && !errors.Is(lr.err, io.EOF) {
			// The client's body broke off or is malformed (multipart).
			writeError(w, http.StatusBadRequest, "bad_request", "the upload could not be read to its end")
			return
		}
		if errors.Is(err, userlist.ErrFormat) {
			writeError(w, http.StatusBadRequest, "bad_csv", err.Error())
			return
		}
		s.engineError(w, "submit", err)
		return
	}
	if sub.Errors == nil {
		sub.Errors = []bench.RowError{}
	}
	s.log.Info("user list submitted", "batch", sub.Batch, "added", sub.Added, "duplicate", sub.Duplicate, "rowErrors", len(sub.Errors))
	writeJSON(w, http.StatusOK, sub)
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the user list is larger than %d MiB: split it", MaxUploadBytes>>20))
}

// limitReader reads at most n bytes of r and fails with an
// *http.MaxBytesError when r has more.
type limitReader struct {
	r   io.Reader
	n   int64
	err error // the first error reading r
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, &http.MaxBytesError{Limit: MaxUploadBytes}
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	if err != nil && l.err == nil {
		l.err = err
	}
	l.n -= int64(n)
	if l.n < 0 {
		return n + int(l.n), &http.MaxBytesError{Limit: MaxUploadBytes}
	}
	return n, err
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// cleanName keeps the base name of an uploaded file, printable and short.
func cleanName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(strings.TrimSpace(name))
	if name == "." || name == "/" {
		return ""
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	for len(name) > 100 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return name
}

func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) {
	n, err := s.engine.RetryFailed(r.Context())
	if err != nil {
		s.engineError(w, "retry failed", err)
		return
	}
	s.log.Info("failed users requeued", "count", n)
	writeJSON(w, http.StatusOK, map[string]int{"requeued": n})
}

// clear removes users from the run's queue: {"failed": true} every failed
// user (of "batch" when given), {"batch": NAME} a batch with no user
// pending or at work.
func (s *Server) clear(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Batch  string `json:"batch"`
		Failed bool   `json:"failed"`
	}
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", `send {"failed": true} or {"batch": "NAME"} (or both) as application/json`)
		return
	}
	if !req.Failed && req.Batch == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `say what to clear: {"failed": true} or {"batch": "NAME"}`)
		return
	}
	n, err := s.engine.Clear(r.Context(), bench.Clear{Batch: req.Batch, Failed: req.Failed})
	switch {
	case errors.Is(err, bench.ErrBatchBusy):
		writeError(w, http.StatusConflict, "batch_busy", "the batch still has users pending or at work: wait for them, or clear its failed users only")
		return
	case errors.Is(err, bench.ErrNoBatch):
		writeError(w, http.StatusNotFound, "not_found", "no such batch in the queue")
		return
	case err != nil:
		s.engineError(w, "clear", err)
		return
	}
	s.log.Info("users cleared from the queue", "batch", req.Batch, "failedOnly", req.Failed, "count", n, "peer", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]int{"cleared": n})
}

// decodeStrict reads one JSON object of at most maxJSONBody bytes sent as
// application/json into v: unknown fields, a key given twice and anything
// after the object are errors.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) error {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		return errors.New("not application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		return err
	}
	return strictJSON(body, v)
}

// strictJSON decodes body, one JSON object, into v, refusing unknown
// fields, duplicate keys (at any depth) and trailing data.
func strictJSON(body []byte, v any) error {
	if err := noDuplicateKeys(json.NewDecoder(bytes.NewReader(body))); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// noDuplicateKeys walks one JSON value and fails on an object with a key
// twice (encoding/json would keep the last one silently).
func noDuplicateKeys(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := k.(string)
			if seen[key] {
				return fmt.Errorf("key %q given twice", clipLog(key))
			}
			seen[key] = true
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := noDuplicateKeys(dec); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // the closing delimiter
	return err
}

func (s *Server) results(w http.ResponseWriter, r *http.Request) {
	snap := s.engine.Snapshot()
	if snap.Results == nil {
		snap.Results = []bench.Result{}
	}
	switch r.URL.Query().Get("format") {
	case "", "json":
		writeJSON(w, http.StatusOK, map[string]any{"results": snap.Results})
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="keyprep-results-%s.csv"`, time.Now().UTC().Format("20060102-150405")))
		if err := writeResultsCSV(w, snap.Results); err != nil {
			s.log.Warn("results export interrupted", "err", err)
		}
	default:
		writeError(w, http.StatusBadRequest, "bad_request", "format must be json or csv")
	}
}

func (s *Server) revealPIN(w http.ResponseWriter, r *http.Request) {
	upn, ok := canonicalUPN(r.PathValue("upn"))
	if !ok {
		writeError(w, http.StatusBadRequest, "bad_request", "the path does not name a user (UPN or object id)")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", `send {"confirm": true} as application/json`)
		return
	}
	var req struct {
		Confirm bool `json:"confirm"`
	}
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", `the body must be {"confirm": true}, nothing else`)
		return
	}
	if !req.Confirm {
		writeError(w, http.StatusBadRequest, "confirm_required", `revealing a PIN needs {"confirm": true}: it is an explicit, audited operator action`)
		return
	}
	who := "bearer token"
	if _, viaCookie := s.authenticate(r); viaCookie {
		who = "dashboard session"
	}
	pin, err := s.engine.RevealPIN(r.Context(), upn, bench.Requester{Who: who, Via: bench.RevealViaAPI, From: r.RemoteAddr})
	if err != nil {
		s.engineError(w, "reveal PIN", err)
		return
	}
	defer pinpolicy.Wipe(pin)
	s.log.Info("PIN revealed to the dashboard", "upn", upn, "who", who, "peer", r.RemoteAddr)

	// Built by hand so that every copy of the PIN is ours to wipe.
	upnJSON, _ := json.Marshal(upn)
	buf := make([]byte, 0, 64+len(upnJSON)+6*len(pin))
	buf = append(buf, `{"upn":`...)
	buf = append(buf, upnJSON...)
	buf = append(buf, `,"pin":`...)
	buf = appendJSONString(buf, pin)
	buf = append(buf, "}\n"...)
	defer pinpolicy.Wipe(buf)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
	w.Write(buf)
}

// canonicalUPN is the user a path names, as the audit records it: trimmed,
// checked as a UPN or object id, lower case (Entra compares both without
// case).
func canonicalUPN(raw string) (string, bool) {
	u := strings.TrimSpace(raw)
	if u == "" || len(u) > userlist.MaxUPNLength || userlist.CheckUser(u) != nil {
		return "", false
	}
	return strings.ToLower(u), true
}

// appendJSONString appends s as a JSON string without making copies the
// caller cannot wipe. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(buf, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf = append(buf, '\\', c)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				buf = append(buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, `\ufffd`...)
		} else {
			buf = append(buf, s[i:i+size]...)
		}
		i += size
	}
	return append(buf, '"')
}

// engineError answers an engine failure with the status its class calls for.
func (s *Server) engineError(w http.ResponseWriter, what string, err error) {
	status, code := http.StatusInternalServerError, "internal"
	switch {
	case errors.Is(err, userlist.ErrFormat):
		status, code = http.StatusBadRequest, "bad_request"
	case errors.Is(err, fs.ErrNotExist):
		status, code = http.StatusNotFound, "not_found"
	case errors.Is(err, fs.ErrPermission):
		status, code = http.StatusForbidden, "forbidden"
	case errors.Is(err, errors.ErrUnsupported):
		status, code = http.StatusNotImplemented, "not_implemented"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status, code = http.StatusServiceUnavailable, "unavailable"
	}
	// The body says what kind of failure it was and carries an id; the
	// details (paths, internal errors, the input) go to the log only,
	// under the same id.
	id := errorID()
	msg := genericMessages[code]
	if status == http.StatusForbidden || status == http.StatusBadRequest {
		msg = clipLog(err.Error())
	}
	s.log.Warn("request failed", "op", what, "status", status, "errorId", id, "err", err)
	writeJSONError(w, status, apiError{Code: code, Message: msg + " (error id " + id + ", in the daemon's log)", ID: id})
}

var genericMessages = map[string]string{
	"internal":        "the bench could not do this",
	"not_found":       "not found (no such user, result or escrow)",
	"not_implemented": "this bench cannot do this",
	"unavailable":     "the bench is not available now; retry shortly",
}

// errorID is a short random id tying an answer to its log line.
func errorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// ID names the failure in the daemon's log (engine failures).
	ID string `json:"id,omitempty"`
}

// writeError answers a refusal or a failure. The connection is closed
// after it: a client that was refused gets no second request on it, and
// a body it declared is not waited for.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSONError(w, status, apiError{Code: code, Message: msg})
}

func writeJSONError(w http.ResponseWriter, status int, e apiError) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Connection", "close")
	writeJSON(w, status, map[string]apiError{"error": e})
	// net/http reads what is left of a declared body (up to 256 KB)
	// before it closes the connection: a body that never comes would hold
	// it. No more reads: the connection closes once the answer is out.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"cannot encode the answer"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
