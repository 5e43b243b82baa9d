package api

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
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
	snap := normalise(s.engine.Snapshot())
	writeJSON(w, http.StatusOK, map[string]any{"slots": snap.Slots})
}

func (s *Server) jobs(w http.ResponseWriter, r *http.Request) {
	snap := normalise(s.engine.Snapshot())
	writeJSON(w, http.StatusOK, map[string]any{"items": snap.Queue, "counts": snap.Counts})
}

func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, normalise(s.engine.Snapshot()))
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

// normalise makes nil lists empty so clients always get arrays.
func normalise(snap bench.Snapshot) bench.Snapshot {
	if snap.Slots == nil {
		snap.Slots = []bench.Slot{}
	}
	if snap.Queue == nil {
		snap.Queue = []bench.Item{}
	}
	if snap.Results == nil {
		snap.Results = []bench.Result{}
	}
	return snap
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the user list as text/csv or as multipart/form-data field \"file\"")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, userlist.MaxFileBytes+maxUploadExtra)
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
			writeError(w, http.StatusBadRequest, "bad_request", "not a multipart body: "+err.Error())
			return
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				if tooLarge(err) {
					writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the user list is larger than %d MiB", userlist.MaxFileBytes>>20))
					return
				}
				writeError(w, http.StatusBadRequest, "bad_request", "bad multipart body: "+err.Error())
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
	sub, err := s.engine.Submit(r.Context(), cleanName(name), body)
	if err != nil {
		if tooLarge(err) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the user list is larger than %d MiB", userlist.MaxFileBytes>>20))
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

func (s *Server) results(w http.ResponseWriter, r *http.Request) {
	snap := normalise(s.engine.Snapshot())
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
	upn := r.PathValue("upn")
	if upn == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "no UPN in the path")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", `send {"confirm": true} as application/json`)
		return
	}
	var req struct {
		Confirm bool `json:"confirm"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", `the body must be {"confirm": true}`)
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
	s.log.Info("PIN revealed to the dashboard", "upn", upn, "peer", r.RemoteAddr)

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
	if status >= 500 {
		s.log.Warn("engine error", "op", what, "err", err)
	}
	writeError(w, status, code, err.Error())
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg}})
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
