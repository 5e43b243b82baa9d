package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/bench/api"
)

type env struct {
	t      *testing.T
	engine *fakeEngine
	srv    *api.Server
	ts     *httptest.Server
	token  string
	host   string // 127.0.0.1:PORT
	port   string
}

func newEnv(t *testing.T, opts api.Options) *env {
	t.Helper()
	return newEnvSlots(t, opts, 2)
}

// newEnvSlots serves an engine with nslots slots on a loopback port.
func newEnvSlots(t *testing.T, opts api.Options, nslots int) *env {
	t.Helper()
	b := make([]byte, 24)
	rand.Read(b)
	e := &env{t: t, engine: newFakeEngine(nslots), token: hex.EncodeToString(b)}
	ts := httptest.NewUnstartedServer(nil)
	e.host = ts.Listener.Addr().String()
	_, e.port, _ = net.SplitHostPort(e.host)
	opts.Token, opts.Addr = e.token, e.host
	srv, err := api.New(e.engine, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	ts.Config = srv.HTTPServer() // the daemon's own limits and timeouts
	ts.Start()
	t.Cleanup(func() { srv.Close(); ts.Close() })
	e.ts = ts
	return e
}

type req struct {
	method, path string
	body         string
	header       map[string]string // "Host" sets the Host header
	auth         bool              // send the right bearer token
}

func (e *env) do(r req) *http.Response {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	hr, err := http.NewRequest(r.method, e.ts.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		e.t.Fatal(err)
	}
	if r.auth {
		hr.Header.Set("Authorization", "Bearer "+e.token)
	}
	for k, v := range r.header {
		if k == "Host" {
			hr.Host = v
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := e.ts.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// errorCode reads a JSON error body and returns its code.
func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("error body: %v", err)
	}
	if body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("error body without code or message: %+v", body)
	}
	return body.Error.Code
}

func decode[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

func TestNewValidates(t *testing.T) {
	eng := newFakeEngine(0)
	good := "0123456789abcdef0123"
	for _, tt := range []struct {
		name string
		opts api.Options
		ok   bool
	}{
		{"loopback", api.Options{Token: good, Addr: "127.0.0.1:8765"}, true},
		{"localhost", api.Options{Token: good, Addr: "localhost:8765"}, true},
		{"ipv6 loopback", api.Options{Token: good, Addr: "[::1]:8765"}, true},
		{"short token", api.Options{Token: "short", Addr: "127.0.0.1:8765"}, false},
		{"no port", api.Options{Token: good, Addr: "127.0.0.1"}, false},
		{"port zero", api.Options{Token: good, Addr: "127.0.0.1:0"}, false},
		{"unspecified", api.Options{Token: good, Addr: "0.0.0.0:8765"}, false},
		{"empty host", api.Options{Token: good, Addr: ":8765"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := api.New(eng, tt.opts)
			if (err == nil) != tt.ok {
				t.Fatalf("New: err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), good) {
				t.Fatal("the error message carries the token")
			}
		})
	}
	if _, err := api.New(nil, api.Options{Token: good, Addr: "127.0.0.1:1"}); err == nil {
		t.Fatal("New(nil engine) succeeded")
	}
}

func TestRequestChecks(t *testing.T) {
	e := newEnv(t, api.Options{})
	other := "127.0.0.1:1" // another port on the same host
	for _, tt := range []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"no token", req{path: "/api/v1/slots"}, 401, "unauthorized"},
		{"wrong token", req{path: "/api/v1/slots", header: map[string]string{"Authorization": "Bearer " + strings.Repeat("x", 48)}}, 401, "unauthorized"},
		{"token prefix", req{path: "/api/v1/slots", header: map[string]string{"Authorization": "Bearer " + e.token[:20]}}, 401, "unauthorized"},
		{"token twice", req{path: "/api/v1/slots", header: map[string]string{"Authorization": "Bearer " + e.token + e.token}}, 401, "unauthorized"},
		{"basic scheme", req{path: "/api/v1/slots", header: map[string]string{"Authorization": "Basic " + e.token}}, 401, "unauthorized"},
		{"token in query is ignored", req{path: "/api/v1/slots?token=" + e.token}, 401, "unauthorized"},
		{"no token on POST", req{method: "POST", path: "/api/v1/jobs/retry-failed"}, 401, "unauthorized"},
		{"no token on events", req{path: "/api/v1/events"}, 401, "unauthorized"},
		{"foreign origin", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Origin": "https://attacker.com"}}, 403, "bad_origin"},
		{"null origin", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Origin": "null"}}, 403, "bad_origin"},
		{"other port origin", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Origin": "http://" + other}}, 403, "bad_origin"},
		{"https origin", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Origin": "https://" + e.host}}, 403, "bad_origin"},
		{"foreign origin POST", req{method: "POST", path: "/api/v1/jobs/retry-failed", auth: true, header: map[string]string{"Origin": "http://evil.example"}}, 403, "bad_origin"},
		{"foreign origin on page", req{path: "/", header: map[string]string{"Origin": "http://evil.example"}}, 403, "bad_origin"},
		{"cross-site fetch", req{path: "/api/v1/results", auth: true, header: map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403, "bad_origin"},
		{"same-site fetch (other port)", req{path: "/api/v1/results", auth: true, header: map[string]string{"Sec-Fetch-Site": "same-site"}}, 403, "bad_origin"},
		{"rebinding host", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": "evil.example:" + e.port}}, 403, "bad_host"},
		{"attacker host", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": "attacker.com"}}, 403, "bad_host"},
		{"host wrong port", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": other}}, 403, "bad_host"},
		{"host without port", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": "127.0.0.1"}}, 403, "bad_host"},
		{"host unspecified", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": "0.0.0.0:" + e.port}}, 403, "bad_host"},
		{"host localhost.evil", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": "localhost.evil.example:" + e.port}}, 403, "bad_host"},
		{"rebinding host on page", req{path: "/", header: map[string]string{"Host": "evil.example:" + e.port}}, 403, "bad_host"},
		{"rebinding host before auth", req{path: "/api/v1/slots", header: map[string]string{"Host": "evil.example:" + e.port}}, 403, "bad_host"},
		{"good", req{path: "/api/v1/slots", auth: true}, 200, ""},
		{"good bearer lower case", req{path: "/api/v1/slots", header: map[string]string{"Authorization": "bearer " + e.token}}, 200, ""},
		{"good localhost", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": "localhost:" + e.port}}, 200, ""},
		{"good LOCALHOST", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": "LOCALHOST:" + e.port}}, 200, ""},
		{"good ipv6", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": "[::1]:" + e.port}}, 200, ""},
		{"good own origin", req{path: "/api/v1/slots", auth: true, header: map[string]string{"Origin": "http://" + e.host, "Sec-Fetch-Site": "same-origin"}}, 200, ""},
		{"good typed URL", req{path: "/api/v1/results", auth: true, header: map[string]string{"Sec-Fetch-Site": "none"}}, 200, ""},
		{"page without token", req{path: "/"}, 200, ""},
		{"script without token", req{path: "/app.js"}, 200, ""},
		{"unknown endpoint", req{path: "/api/v1/nothing", auth: true}, 404, "not_found"},
		{"unknown page", req{path: "/secret.txt"}, 404, "not_found"},
		{"wrong method", req{method: "DELETE", path: "/api/v1/slots", auth: true}, 405, "method_not_allowed"},
		{"wrong method on page", req{method: "POST", path: "/", header: map[string]string{"Content-Type": "text/plain"}}, 405, "method_not_allowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.do(tt.r)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
			if tt.status == 405 && resp.Header.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			if tt.code != "" {
				if got := errorCode(t, resp); got != tt.code {
					t.Fatalf("code = %q, want %q", got, tt.code)
				}
			}
			checkSecurityHeaders(t, tt.r.path, resp)
		})
	}
}

func checkSecurityHeaders(t *testing.T, path string, resp *http.Response) {
	t.Helper()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline script: %q", csp)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if strings.HasPrefix(path, "/api/") && resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("API response Cache-Control = %q, want no-store", resp.Header.Get("Cache-Control"))
	}
}

func TestNonLoopbackPeerRefused(t *testing.T) {
	eng := newFakeEngine(1)
	srv, err := api.New(eng, api.Options{Token: strings.Repeat("k", 32), Addr: "127.0.0.1:8765"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		peer   string
		status int
	}{
		{"192.0.2.7:4321", 403},
		{"[2001:db8::1]:4321", 403},
		{"127.0.0.1:4321", 200},
		{"[::1]:4321", 200},
	} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:8765/api/v1/slots", nil)
		r.RemoteAddr = tt.peer
		r.Header.Set("Authorization", "Bearer "+strings.Repeat("k", 32))
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Errorf("peer %s: status %d, want %d", tt.peer, w.Code, tt.status)
		}
	}
}

func TestSession(t *testing.T) {
	e := newEnv(t, api.Options{})
	resp := e.do(req{method: "POST", path: "/api/v1/session", auth: true, header: map[string]string{"Origin": "http://" + e.host}})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST session: %d", resp.StatusCode)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("want one cookie, got %d", len(cookies))
	}
	c := cookies[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Name != "keyprep_session_"+e.port {
		t.Fatalf("cookie attributes: name %q HttpOnly %v SameSite %v Path %q", c.Name, c.HttpOnly, c.SameSite, c.Path)
	}
	if strings.Contains(c.Value, e.token) || len(c.Value) < 32 {
		t.Fatal("the session id is the token or too short")
	}
	cookie := c.Name + "=" + c.Value
	origin := "http://" + e.host

	for _, tt := range []struct {
		name   string
		r      req
		status int
	}{
		{"GET with cookie", req{path: "/api/v1/snapshot", header: map[string]string{"Cookie": cookie}}, 200},
		{"events with cookie", req{path: "/api/v1/events?probe", header: map[string]string{"Cookie": cookie, "Origin": "https://evil.example"}}, 403},
		{"POST with cookie and own origin", req{method: "POST", path: "/api/v1/jobs/retry-failed", header: map[string]string{"Cookie": cookie, "Origin": origin}}, 200},
		{"POST with cookie, no origin", req{method: "POST", path: "/api/v1/jobs/retry-failed", header: map[string]string{"Cookie": cookie}}, 403},
		{"POST with cookie, foreign origin", req{method: "POST", path: "/api/v1/jobs/retry-failed", header: map[string]string{"Cookie": cookie, "Origin": "http://evil.example"}}, 403},
		{"forged cookie", req{path: "/api/v1/snapshot", header: map[string]string{"Cookie": c.Name + "=" + strings.Repeat("0", 64)}}, 401},
		{"cookie of another port", req{path: "/api/v1/snapshot", header: map[string]string{"Cookie": "keyprep_session_1=" + c.Value}}, 401},
		{"token as cookie", req{path: "/api/v1/snapshot", header: map[string]string{"Cookie": c.Name + "=" + e.token}}, 401},
		{"session from a session", req{method: "POST", path: "/api/v1/session", header: map[string]string{"Cookie": cookie, "Origin": origin}}, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if resp := e.do(tt.r); resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}

	resp = e.do(req{method: "DELETE", path: "/api/v1/session", header: map[string]string{"Cookie": cookie, "Origin": origin}})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE session: %d", resp.StatusCode)
	}
	if resp := e.do(req{path: "/api/v1/snapshot", header: map[string]string{"Cookie": cookie}}); resp.StatusCode != 401 {
		t.Fatalf("cookie after logout: %d, want 401", resp.StatusCode)
	}
}

func TestSessionExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := newEnv(t, api.Options{SessionTTL: time.Hour, Now: clock})
	resp := e.do(req{method: "POST", path: "/api/v1/session", auth: true})
	cookie := resp.Cookies()[0]
	h := map[string]string{"Cookie": cookie.Name + "=" + cookie.Value}
	if resp := e.do(req{path: "/api/v1/slots", header: h}); resp.StatusCode != 200 {
		t.Fatalf("fresh session: %d", resp.StatusCode)
	}
	advance(59 * time.Minute)
	if resp := e.do(req{path: "/api/v1/slots", header: h}); resp.StatusCode != 200 {
		t.Fatalf("session after 59 minutes of an hour: %d", resp.StatusCode)
	}
	advance(2 * time.Minute)
	if resp := e.do(req{path: "/api/v1/slots", header: h}); resp.StatusCode != 401 {
		t.Fatalf("expired session: %d, want 401", resp.StatusCode)
	}
}

func TestReadEndpoints(t *testing.T) {
	e := newEnv(t, api.Options{})
	e.engine.setSlot(bench.Slot{ID: "slot-0", Key: "vkey:0", State: bench.SlotTouch, UPN: "adele.vance@contoso.test", Message: "touch the key now"})
	e.engine.Submit(context.Background(), "a.csv", strings.NewReader("upn\nadele.vance@contoso.test\nalex.wilber@contoso.test\n"))
	e.engine.addResult(bench.Result{UPN: "megan.bowen@contoso.test", User: "Megan Bowen", JobID: "j1", Verified: true}, "")

	slots := decode[struct{ Slots []bench.Slot }](t, e.do(req{path: "/api/v1/slots", auth: true}))
	if len(slots.Slots) != 2 || slots.Slots[0].State != bench.SlotTouch || slots.Slots[0].UPN != "adele.vance@contoso.test" {
		t.Fatalf("slots = %+v", slots.Slots)
	}
	jobs := decode[struct {
		Items  []bench.Item
		Counts bench.Counts
	}](t, e.do(req{path: "/api/v1/jobs", auth: true}))
	if len(jobs.Items) != 2 || jobs.Counts.Total != 2 || jobs.Counts.Pending != 2 {
		t.Fatalf("jobs = %+v", jobs)
	}
	keys := decode[struct{ Keys []bench.KeyInfo }](t, e.do(req{path: "/api/v1/keys", auth: true}))
	if len(keys.Keys) != 2 || keys.Keys[1].Path != "vkey:1" {
		t.Fatalf("keys = %+v", keys.Keys)
	}
	results := decode[struct{ Results []bench.Result }](t, e.do(req{path: "/api/v1/results", auth: true}))
	if len(results.Results) != 1 || results.Results[0].User != "Megan Bowen" {
		t.Fatalf("results = %+v", results.Results)
	}
	snap := decode[bench.Snapshot](t, e.do(req{path: "/api/v1/snapshot", auth: true}))
	if len(snap.Slots) != 2 || len(snap.Queue) != 2 || len(snap.Results) != 1 {
		t.Fatalf("snapshot: %d slots, %d queued, %d results", len(snap.Slots), len(snap.Queue), len(snap.Results))
	}

	// Empty lists are arrays, not null.
	empty := newEnv(t, api.Options{})
	empty.engine.slots = nil
	for _, path := range []string{"/api/v1/slots", "/api/v1/jobs", "/api/v1/results", "/api/v1/snapshot", "/api/v1/keys"} {
		b, _ := io.ReadAll(empty.do(req{path: path, auth: true}).Body)
		if bytes.Contains(b, []byte("null")) {
			t.Errorf("%s: %s", path, b)
		}
	}
	if resp := e.do(req{path: "/api/v1/results?format=xml", auth: true}); resp.StatusCode != 400 {
		t.Errorf("format=xml: %d, want 400", resp.StatusCode)
	}
}

func TestSubmit(t *testing.T) {
	e := newEnv(t, api.Options{})
	list := "upn,displayName\n" +
		"adele.vance@contoso.test,Adele Vance\n" +
		"not a upn\n" +
		"alex.wilber@contoso.test,Alex Wilber\n" +
		"ADELE.VANCE@contoso.test,Adele again\n" +
		",nobody\n"

	multipartBody := func(field, filename, content string) (string, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("note", "ignored")
		fw, _ := mw.CreateFormFile(field, filename)
		fw.Write([]byte(content))
		mw.Close()
		return buf.String(), mw.FormDataContentType()
	}

	resp := e.do(req{method: "POST", path: "/api/v1/jobs?name=users.csv", auth: true, body: list, header: map[string]string{"Content-Type": "text/csv; charset=utf-8"}})
	if resp.StatusCode != 200 {
		t.Fatalf("text/csv upload: %d", resp.StatusCode)
	}
	sub := decode[bench.Submission](t, resp)
	if sub.Added != 2 || len(sub.Errors) != 3 {
		t.Fatalf("submission: added %d, errors %+v", sub.Added, sub.Errors)
	}
	wantLines := []int{3, 5, 6}
	for i, re := range sub.Errors {
		if re.Line != wantLines[i] || re.Msg == "" {
			t.Errorf("row error %d = %+v, want line %d with a message", i, re, wantLines[i])
		}
	}

	body, ct := multipartBody("file", `C:\Users\op\bench list.csv`, "upn\nmegan.bowen@contoso.test\nadele.vance@contoso.test\n")
	resp = e.do(req{method: "POST", path: "/api/v1/jobs", auth: true, body: body, header: map[string]string{"Content-Type": ct}})
	if resp.StatusCode != 200 {
		t.Fatalf("multipart upload: %d", resp.StatusCode)
	}
	sub = decode[bench.Submission](t, resp)
	if sub.Added != 1 || sub.Duplicate != 1 || sub.Errors == nil {
		t.Fatalf("multipart submission = %+v (errors must be [] not null)", sub)
	}

	for _, tt := range []struct {
		name   string
		body   string
		ct     string
		status int
		code   string
	}{
		{"no UPN column", "name,mail\nAdele,adele@x\n", "text/csv", 400, "bad_csv"},
		{"empty file", "", "text/csv", 400, "bad_csv"},
		{"not UTF-8", "upn\n\xff\xfe\x00bad\n", "text/csv", 400, "bad_csv"},
		{"JSON body", `{"upn":"a@b.c"}`, "application/json", 415, "unsupported_media_type"},
		{"no content type", "upn\na@contoso.test\n", "", 415, "unsupported_media_type"},
		{"multipart without file", "", "multipart-nofile", 400, "no_file"},
		{"multipart without boundary", "x", "multipart/form-data", 400, "bad_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{"Content-Type": tt.ct}
			b := tt.body
			if tt.ct == "multipart-nofile" {
				b, h["Content-Type"] = multipartBody("other", "x.csv", "upn\nlee.gu@contoso.test\n")
			}
			if tt.ct == "" {
				delete(h, "Content-Type")
			}
			resp := e.do(req{method: "POST", path: "/api/v1/jobs", auth: true, body: b, header: h})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := errorCode(t, resp); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
		})
	}
	if n := len(e.engine.Snapshot().Queue); n != 3 {
		t.Fatalf("queue holds %d users, want 3 (refused uploads must queue nothing)", n)
	}
}

func TestRetryFailed(t *testing.T) {
	e := newEnv(t, api.Options{})
	e.engine.Submit(context.Background(), "", strings.NewReader("upn\na.fail@contoso.test\nb@contoso.test\n"))
	e.engine.mu.Lock()
	e.engine.queue[0].State = bench.ItemFailed
	e.engine.mu.Unlock()
	got := decode[map[string]int](t, e.do(req{method: "POST", path: "/api/v1/jobs/retry-failed", auth: true}))
	if got["requeued"] != 1 {
		t.Fatalf("requeued = %v, want 1", got)
	}
	if resp := e.do(req{path: "/api/v1/jobs/retry-failed", auth: true}); resp.StatusCode != 405 {
		t.Fatalf("GET retry-failed: %d, want 405", resp.StatusCode)
	}
}

func TestRevealPIN(t *testing.T) {
	e := newEnv(t, api.Options{})
	const upn = "adele.vance@contoso.test"
	pin := "48<\"&\\9" // JSON-special characters must survive the hand-built answer
	e.engine.addResult(bench.Result{UPN: upn, JobID: "j1", PINEscrow: "e1"}, pin)
	path := "/api/v1/results/" + upn + "/reveal-pin"
	jsonCT := map[string]string{"Content-Type": "application/json"}
	for _, tt := range []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"no body", req{method: "POST", path: path, auth: true, header: jsonCT}, 400, "bad_request"},
		{"confirm false", req{method: "POST", path: path, auth: true, body: `{"confirm":false}`, header: jsonCT}, 400, "confirm_required"},
		{"confirm missing", req{method: "POST", path: path, auth: true, body: `{}`, header: jsonCT}, 400, "confirm_required"},
		{"confirm as string", req{method: "POST", path: path, auth: true, body: `{"confirm":"yes"}`, header: jsonCT}, 400, "bad_request"},
		{"unknown field", req{method: "POST", path: path, auth: true, body: `{"confirm":true,"x":1}`, header: jsonCT}, 400, "bad_request"},
		{"form post", req{method: "POST", path: path, auth: true, body: `confirm=true`, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 415, "unsupported_media_type"},
		{"GET", req{path: path, auth: true}, 405, "method_not_allowed"},
		{"no token", req{method: "POST", path: path, body: `{"confirm":true}`, header: jsonCT}, 401, "unauthorized"},
		{"unknown user", req{method: "POST", path: "/api/v1/results/nobody@contoso.test/reveal-pin", auth: true, body: `{"confirm":true}`, header: jsonCT}, 404, "not_found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := e.do(tt.r)
			b, _ := io.ReadAll(resp.Body)
			// The PIN as it would appear: raw, or in a JSON string with
			// or without HTML escaping. Not just "48": a refusal carries
			// a random request id, which may hold those digits.
			for _, leak := range []string{pin, `48<\"&\\9`, `48\u003c`} {
				if bytes.Contains(b, []byte(leak)) {
					t.Fatalf("a refused reveal answered with the PIN: %s", b)
				}
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			var body struct{ Error struct{ Code string } }
			json.Unmarshal(b, &body)
			if body.Error.Code != tt.code {
				t.Fatalf("code %q, want %q", body.Error.Code, tt.code)
			}
		})
	}
	if len(e.engine.revealed) != 0 {
		t.Fatalf("the engine was asked for a PIN %d times without a confirmed request", len(e.engine.revealed))
	}

	resp := e.do(req{method: "POST", path: path, auth: true, body: `{"confirm": true}`, header: jsonCT})
	if resp.StatusCode != 200 {
		t.Fatalf("confirmed reveal: %d", resp.StatusCode)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	got := decode[struct{ UPN, PIN string }](t, resp)
	if got.UPN != upn || got.PIN != pin {
		t.Fatal("the revealed PIN or UPN does not match (values not shown)")
	}
	if len(e.engine.revealed) != 1 {
		t.Fatalf("engine reveals: %d, want 1", len(e.engine.revealed))
	}
	if by := e.engine.revealedBy[0]; by.Via != bench.RevealViaAPI || by.Who != "bearer token" || by.From == "" {
		t.Fatalf("reveal requester %+v, want the bearer token via the API from the peer's address", by)
	}
}

func TestResultsCSV(t *testing.T) {
	e := newEnv(t, api.Options{})
	created := time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)
	for i, name := range []string{
		`=HYPERLINK("http://evil.example","click")`,
		"+1+1",
		"-2+3",
		"@SUM(A1:A2)",
		"\tTabbed",
		"Zoë O'Brien, \"Jr\"",
		"plain",
	} {
		e.engine.addResult(bench.Result{UPN: "u" + string(rune('a'+i)) + "@contoso.test", User: name, Model: "YubiKey 5", Key: "/dev/hidraw3", JobID: "job", Verified: true, CreatedDateTime: created}, "")
	}
	resp := e.do(req{path: "/api/v1/results?format=csv", auth: true})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=\"keyprep-results-") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	raw, _ := io.ReadAll(resp.Body)
	if !bytes.HasPrefix(raw, []byte("\ufeff")) {
		t.Fatal("no UTF-8 byte order mark")
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(raw, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 8 || recs[0][0] != "upn" || recs[0][1] != "displayName" {
		t.Fatalf("got %d records, header %v", len(recs), recs[0])
	}
	want := []string{
		`'=HYPERLINK("http://evil.example","click")`,
		"'+1+1",
		"'-2+3",
		"'@SUM(A1:A2)",
		"'\tTabbed",
		"Zoë O'Brien, \"Jr\"",
		"plain",
	}
	for i, w := range want {
		row := recs[i+1]
		if row[1] != w {
			t.Errorf("row %d name = %q, want %q", i, row[1], w)
		}
		if row[6] != "true" || row[7] != "2026-11-03T09:30:00Z" || row[5] != "/dev/hidraw3" {
			t.Errorf("row %d = %q", i, row)
		}
	}
}

// sse reads server-sent events from a stream.
type sse struct {
	sc *bufio.Scanner
}

type frame struct {
	id, event, data string
	comment         bool
}

func (s *sse) next() (frame, error) {
	var f frame
	any := false
	for s.sc.Scan() {
		line := s.sc.Text()
		if line == "" {
			if any {
				return f, nil
			}
			continue
		}
		any = true
		switch {
		case strings.HasPrefix(line, ":"):
			f.comment = true
		case strings.HasPrefix(line, "id: "):
			f.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			f.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			f.data += line[6:]
		}
	}
	if err := s.sc.Err(); err != nil {
		return f, err
	}
	return f, io.EOF
}

func (e *env) openEvents(ctx context.Context) (*http.Response, *sse) {
	e.t.Helper()
	r, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/api/v1/events", nil)
	r.Header.Set("Authorization", "Bearer "+e.token)
	resp, err := e.ts.Client().Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		e.t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	return resp, &sse{sc}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEventsInOrder(t *testing.T) {
	e := newEnv(t, api.Options{Heartbeat: 20 * time.Millisecond})
	e.engine.setSlot(bench.Slot{ID: "slot-0", Key: "vkey:0", State: bench.SlotWorking, UPN: "before@contoso.test"})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, stream := e.openEvents(ctx)
	defer resp.Body.Close()

	first, err := stream.next()
	if err != nil || first.event != "snapshot" {
		t.Fatalf("first frame %+v, err %v: want the snapshot", first, err)
	}
	var snap bench.Snapshot
	if err := json.Unmarshal([]byte(first.data), &snap); err != nil || snap.Slots[0].UPN != "before@contoso.test" {
		t.Fatalf("snapshot %q: %v", first.data, err)
	}
	waitFor(t, "the subscription", func() bool { return e.engine.subscribers() == 1 })

	// Events after the snapshot arrive in order, each with its seq as id.
	e.engine.setSlot(bench.Slot{ID: "slot-0", Key: "vkey:0", State: bench.SlotTouch, UPN: "a@contoso.test", Message: "touch the key now"})
	e.engine.Submit(context.Background(), "x.csv", strings.NewReader("upn\nb@contoso.test\n"))
	e.engine.addResult(bench.Result{UPN: "a@contoso.test", User: "Line\nbreak", JobID: "j"}, "123456")
	wantTypes := []string{"slot", "item", "batch", "result"}
	var got []frame
	heartbeats := 0
	for len(got) < len(wantTypes) {
		f, err := stream.next()
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		if f.comment {
			heartbeats++
			continue
		}
		got = append(got, f)
	}
	var prev int64
	for i, f := range got {
		var ev bench.Event
		if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
			t.Fatalf("event %d data %q: %v", i, f.data, err)
		}
		if f.event != wantTypes[i] || string(ev.Type) != f.event || f.id == "" || f.id != jsonInt(ev.Seq) {
			t.Fatalf("event %d: id %q event %q data %s; want type %s", i, f.id, f.event, f.data, wantTypes[i])
		}
		if prev != 0 && ev.Seq != prev+1 {
			t.Fatalf("seq %d after %d", ev.Seq, prev)
		}
		prev = ev.Seq
	}
	if strings.Contains(got[3].data, "123456") {
		t.Fatal("an event carries the PIN")
	}
	// Heartbeats keep coming while nothing happens.
	for heartbeats < 2 {
		f, err := stream.next()
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		if !f.comment {
			t.Fatalf("unexpected frame %+v", f)
		}
		heartbeats++
	}

	// The client goes away: the handler ends and unsubscribes.
	cancel()
	waitFor(t, "the subscription to end after the client left", func() bool { return e.engine.subscribers() == 0 })
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestEventsEnd(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(e *env)
	}{
		{"engine drops a slow subscriber", func(e *env) { e.engine.dropSubscribers() }},
		{"server closed", func(e *env) { e.srv.Close() }},
		{"subscriber falls behind", func(e *env) {
			// Nobody reads the stream yet: once the connection's buffers
			// are full the handler stops draining its subscription, which
			// then overflows and is dropped. How many events that takes
			// depends on the socket buffers, so emit until it happens.
			step := strings.Repeat("x", 8<<10)
			for i := 0; i < 1<<16 && e.engine.subscribers() > 0; i++ {
				e.engine.setSlot(bench.Slot{ID: "slot-0", Key: "vkey:0", State: bench.SlotWorking, Step: step})
			}
			if e.engine.subscribers() > 0 {
				e.t.Fatal("the subscription was never dropped")
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, api.Options{})
			e.engine.buffer = 4
			resp, stream := e.openEvents(context.Background())
			defer resp.Body.Close()
			if f, err := stream.next(); err != nil || f.event != "snapshot" {
				t.Fatalf("first frame %+v %v", f, err)
			}
			waitFor(t, "the subscription", func() bool { return e.engine.subscribers() == 1 })
			tt.end(e)
			done := make(chan error, 1)
			go func() {
				for {
					if _, err := stream.next(); err != nil {
						done <- err
						return
					}
				}
			}()
			select {
			case err := <-done:
				if err != io.EOF {
					t.Fatalf("stream ended with %v, want a clean end", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the stream did not end")
			}
			waitFor(t, "no subscription", func() bool { return e.engine.subscribers() == 0 })
		})
	}
}

// TestNoSecretsInLogs runs authenticated and refused requests with a debug
// logger and checks the token and the PIN never show up.
func TestNoSecretsInLogs(t *testing.T) {
	var logs lockedBuffer
	e := newEnvLog(t, &logs)
	pin := "739184"
	e.engine.addResult(bench.Result{UPN: "a@contoso.test", JobID: "j"}, pin)
	e.do(req{path: "/api/v1/slots", auth: true})
	e.do(req{path: "/api/v1/slots", header: map[string]string{"Authorization": "Bearer " + e.token + "x"}})
	e.do(req{path: "/api/v1/slots", auth: true, header: map[string]string{"Host": "evil.example:" + e.port}})
	e.do(req{method: "POST", path: "/api/v1/session", auth: true})
	e.do(req{method: "POST", path: "/api/v1/results/a@contoso.test/reveal-pin", auth: true, body: `{"confirm":true}`, header: map[string]string{"Content-Type": "application/json"}})
	out := logs.String()
	if !strings.Contains(out, "PIN revealed") || !strings.Contains(out, "evil.example") {
		t.Fatalf("expected log lines missing:\n%s", out)
	}
	if strings.Contains(out, e.token) || strings.Contains(out, pin) {
		t.Fatal("the logs carry the token or the PIN")
	}
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnvLog(t *testing.T, w *lockedBuffer) *env {
	return newEnv(t, api.Options{Log: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))})
}
