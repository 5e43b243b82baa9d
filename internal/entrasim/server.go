package entrasim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// apiError is a Graph error answer
// (https://learn.microsoft.com/graph/errors).
type apiError struct {
	Status        int
	Code, Message string
	RetryAfter    int // seconds, for 429
}

// reply is a successful answer: JSON body or none (204).
type reply struct {
	status int
	body   any
}

// call is one routed request.
type call struct {
	r        *http.Request
	version  string // "v1.0" or "beta"
	endpoint string
	userKey  string // {id} as given
	methodID string
	param    string // creationOptions function parameters, "" or "(…)"
	policyID string // "fido2" or "temporaryAccessPass"
	body     []byte
	now      time.Time
	dirty    bool
}

type handler func(t *Tenant, c *call) (*reply, *apiError)

type route struct {
	endpoint  string
	perms     []string // nil: any valid token
	betaPerms []string // under /beta when not nil, else perms
	handle    handler
	mutating  bool
}

const maxBody = 1 << 20

// ServeHTTP answers one Graph request. Order: throttle, authentication,
// routing, permission, fault, body, handler (under the tenant mutex; state
// saved after a mutation), AfterApply fault.
func (t *Tenant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := uuid.NewString()
	clientReqID := r.Header.Get("client-request-id")
	if clientReqID == "" || len(clientReqID) > 128 {
		clientReqID = reqID
	}
	c := &call{r: r}
	status := 0
	defer func() {
		t.record(r, c.endpoint, status, start, reqID)
	}()
	h := w.Header()
	h.Set("request-id", reqID)
	h.Set("client-request-id", clientReqID)
	fail := func(e *apiError) {
		status = e.Status
		t.writeError(w, e, reqID, clientReqID)
	}

	if e := t.throttle(); e != nil {
		fail(e)
		return
	}
	id, e := t.authenticate(r)
	if e != nil {
		fail(e)
		return
	}
	rt, e := routeRequest(r, c)
	if e != nil {
		fail(e)
		return
	}
	c.endpoint = rt.endpoint
	if e := id.authorize(rt); e != nil {
		fail(e)
		return
	}
	f := t.takeFault(rt.endpoint)
	if f != nil {
		if err := sleepFault(r, f); err != nil {
			status = 0
			return
		}
		if !f.AfterApply && (f.Drop || f.Status != 0) {
			if f.Drop {
				dropConnection(w)
				return
			}
			fail(faultError(f))
			return
		}
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		body, e := readBody(r)
		if e != nil {
			fail(e)
			return
		}
		c.body = body
	}

	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		fail(&apiError{Status: 503, Code: "serviceNotAvailable", Message: "The emulated tenant is closed."})
		return
	}
	c.now = t.now()
	rep, e := rt.handle(t, c)
	if e == nil && c.dirty {
		if err := t.saveLocked(); err != nil {
			e = &apiError{Status: 500, Code: "generalException", Message: "The tenant state could not be saved."}
			t.logf("entrasim: save state: %v\n", err)
		}
	}
	t.mu.Unlock()

	if f != nil && f.AfterApply && (f.Drop || f.Status != 0) {
		if f.Drop {
			dropConnection(w)
			return
		}
		fail(faultError(f))
		return
	}
	if e != nil {
		fail(e)
		return
	}
	status = rep.status
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	h.Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(rep.status)
	_, _ = w.Write(marshal(rep.body))
}

func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte(`{}`)
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func hasAny(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if strings.EqualFold(h, w) {
				return true
			}
		}
	}
	return false
}

func (t *Tenant) authenticate(r *http.Request) (Identity, *apiError) {
	a := r.Header.Get("Authorization")
	if a == "" {
		return Identity{}, &apiError{Status: 401, Code: "InvalidAuthenticationToken", Message: "Access token is empty."}
	}
	scheme, tok, ok := strings.Cut(a, " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		if id, found := t.identity(strings.TrimSpace(tok)); found {
			if !id.Expires.IsZero() && !t.now().Before(id.Expires) {
				return Identity{}, &apiError{Status: 401, Code: "InvalidAuthenticationToken", Message: msgTokenExpired}
			}
			return id, nil
		}
	}
	return Identity{}, &apiError{Status: 401, Code: "InvalidAuthenticationToken", Message: "Access token validation failure. Invalid audience."}
}

func (t *Tenant) burst() int {
	b := t.opts.Throttle.Burst
	if b <= 0 {
		b = int(math.Max(1, math.Ceil(t.opts.Throttle.Rate)))
	}
	return b
}

// throttle takes one token from the bucket or answers 429 with the whole
// seconds until one is available (at least 1).
func (t *Tenant) throttle() *apiError {
	rate := t.opts.Throttle.Rate
	if rate <= 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if el := now.Sub(t.lastFill).Seconds(); el > 0 {
		t.tokens = math.Min(float64(t.burst()), t.tokens+el*rate)
	}
	t.lastFill = now
	if t.tokens >= 1 {
		t.tokens--
		return nil
	}
	wait := int(math.Ceil((1 - t.tokens) / rate))
	if wait < 1 {
		wait = 1
	}
	return &apiError{Status: 429, Code: "TooManyRequests", Message: "Too many requests.", RetryAfter: wait}
}

func (t *Tenant) takeFault(endpoint string) *Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.faults[endpoint]
	if f == nil {
		return nil
	}
	cp := *f
	if f.Count > 0 {
		f.Count--
		if f.Count == 0 {
			delete(t.faults, endpoint)
		}
	}
	return &cp
}

func sleepFault(r *http.Request, f *Fault) error {
	d := f.Latency
	if f.Jitter > 0 {
		d += time.Duration(rand.Int64N(int64(f.Jitter) + 1))
	}
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	}
}

func faultError(f *Fault) *apiError {
	e := &apiError{Status: f.Status, Code: f.Code, Message: f.Message}
	if e.Code == "" {
		switch {
		case f.Status == 429:
			e.Code = "TooManyRequests"
		case f.Status == 503:
			e.Code = "serviceNotAvailable"
		case f.Status == 504:
			e.Code = "gatewayTimeout"
		case f.Status >= 500:
			e.Code = "generalException"
		default:
			e.Code = "badRequest"
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(f.Status)
		if e.Message == "" {
			e.Message = "Injected fault."
		}
		if !strings.HasSuffix(e.Message, ".") {
			e.Message += "."
		}
	}
	if f.Status == 429 {
		e.RetryAfter = 1
	}
	return e
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// readBody reads a request body up to maxBody, gunzipping
// Content-Encoding: gzip (the Go SDK compresses request bodies by default).
func readBody(r *http.Request) ([]byte, *apiError) {
	var rd io.Reader = io.LimitReader(r.Body, maxBody+1)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bufio.NewReader(rd))
		if err != nil {
			return nil, &apiError{Status: 400, Code: "BadRequest", Message: "The gzip request body could not be decoded."}
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, &apiError{Status: 415, Code: "UnsupportedMediaType", Message: fmt.Sprintf("Content-Encoding '%s' is not supported.", truncateForError(enc))}
	}
	b, err := io.ReadAll(io.LimitReader(rd, maxBody+1))
	if err != nil {
		return nil, &apiError{Status: 400, Code: "BadRequest", Message: "The request body could not be read."}
	}
	if len(b) > maxBody {
		return nil, &apiError{Status: 413, Code: "RequestEntityTooLarge", Message: "The request body is too large."}
	}
	return b, nil
}

func (t *Tenant) writeError(w http.ResponseWriter, e *apiError, reqID, clientReqID string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.Status == 401 {
		h.Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"`)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	type inner struct {
		Date            string `json:"date"`
		RequestID       string `json:"request-id"`
		ClientRequestID string `json:"client-request-id"`
	}
	type body struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError inner  `json:"innerError"`
		} `json:"error"`
	}
	var b body
	b.Error.Code, b.Error.Message = e.Code, e.Message
	b.Error.InnerError = inner{Date: t.now().UTC().Format("2006-01-02T15:04:05"), RequestID: reqID, ClientRequestID: clientReqID}
	w.WriteHeader(e.Status)
	_, _ = w.Write(marshal(b))
}

func (t *Tenant) record(r *http.Request, endpoint string, status int, start time.Time, reqID string) {
	kind := endpoint
	if kind == "" {
		// Refused before routing (or unroutable): route it now, for its kind.
		if rt, e := routeRequest(r, &call{r: r}); e == nil {
			kind = rt.endpoint
		} else {
			kind = KindOther
		}
	}
	t.mu.Lock()
	t.records = append(t.records, RequestRecord{Method: r.Method, Path: r.URL.EscapedPath(), Status: status,
		Endpoint: endpoint, Kind: kind, Time: t.now()})
	t.mu.Unlock()
	st := strconv.Itoa(status)
	if status == 0 {
		st = "dropped"
	}
	t.logf("entrasim %s %s %s %s request-id=%s\n", r.Method, r.URL.EscapedPath(), st,
		time.Since(start).Round(time.Microsecond), reqID)
}

func (t *Tenant) logf(format string, args ...any) {
	if t.opts.Log == nil {
		return
	}
	t.logMu.Lock()
	defer t.logMu.Unlock()
	fmt.Fprintf(t.opts.Log, format, args...)
}

// odataContext builds an @odata.context URL.
func odataContext(version, frag string) string {
	return "https://graph.microsoft.com/" + version + "/$metadata#" + frag
}
