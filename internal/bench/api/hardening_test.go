package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/bench/api"
)

// Abuse of the daemon's API (issue: bounded memory and connections): every
// answer is bounded whatever the queue holds, refusals close their
// connection, and connections held without the token cannot lock out the
// operator.

// hangGuard bounds a network read that must end: not a performance
// bound (the server answers these at once), a guard against a hang.
const hangGuard = 30 * time.Second

// queueUsers submits n users to e's engine and returns their UPNs.
func queueUsers(t *testing.T, e *env, n int) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("upn,displayName\n")
	upns := make([]string, n)
	for i := range upns {
		upns[i] = fmt.Sprintf("user%05d@contoso.test", i)
		fmt.Fprintf(&b, "%s,User %d\n", upns[i], i)
	}
	if _, err := e.engine.Submit(context.Background(), "big", strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	return upns
}

// TestSnapshotBounded: with 20,000 users queued, the snapshot, the event
// stream's first message and a jobs page carry one page each, with the
// counts of everything.
func TestSnapshotBounded(t *testing.T) {
	e := newEnv(t, api.Options{})
	upns := queueUsers(t, e, 20000)
	e.engine.setState(bench.ItemFailed, upns[:3]...)

	resp := e.do(req{path: "/api/v1/snapshot", auth: true})
	body, _ := io.ReadAll(resp.Body)
	var v bench.View
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if len(body) > 100<<10 || len(v.Queue) != bench.DefaultViewLimit || v.Counts.Total != 20000 || v.Matched != 20000 {
		t.Fatalf("snapshot: %d bytes, %d items, counts %+v, matched %d; want one page of %d and the counts of 20000",
			len(body), len(v.Queue), v.Counts, v.Matched, bench.DefaultViewLimit)
	}
	if v.Queue[0].State != bench.ItemFailed || v.Queue[3].State != bench.ItemPending {
		t.Errorf("the snapshot's page lists failed users before pending ones: %s, %s", v.Queue[0].State, v.Queue[3].State)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, s := e.openEvents(ctx)
	f, err := s.next()
	if err != nil || f.event != "snapshot" {
		t.Fatalf("first frame %+v, %v", f, err)
	}
	if err := json.Unmarshal([]byte(f.data), &v); err != nil {
		t.Fatal(err)
	}
	if len(f.data) > 100<<10 || len(v.Queue) != bench.DefaultViewLimit || v.Counts.Total != 20000 {
		t.Fatalf("stream snapshot: %d bytes, %d items, counts %+v", len(f.data), len(v.Queue), v.Counts)
	}
	// A change brings a view message: counts and the page.
	e.engine.setState(bench.ItemFailed, upns[10])
	for {
		f, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if f.event != "view" {
			continue
		}
		var vv struct {
			Counts bench.Counts `json:"counts"`
			Queue  []bench.Item `json:"queue"`
		}
		if err := json.Unmarshal([]byte(f.data), &vv); err != nil {
			t.Fatal(err)
		}
		if vv.Counts.Failed == 4 && len(vv.Queue) == bench.DefaultViewLimit {
			break
		}
	}
}

// TestJobsPaged: the queue in pages, filtered by state and batch.
func TestJobsPaged(t *testing.T) {
	e := newEnv(t, api.Options{})
	upns := queueUsers(t, e, 250)
	e.engine.setState(bench.ItemFailed, upns[200], upns[100])
	type page struct {
		Items   []bench.Item        `json:"items"`
		Counts  bench.Counts        `json:"counts"`
		Matched int                 `json:"matched"`
		Offset  int                 `json:"offset"`
		Limit   int                 `json:"limit"`
		Batches []bench.BatchCounts `json:"batches"`
	}
	p := decode[page](t, e.do(req{path: "/api/v1/jobs?offset=240&limit=20", auth: true}))
	if len(p.Items) != 10 || p.Items[0].UPN != upns[240] || p.Matched != 250 || p.Counts.Total != 250 || p.Offset != 240 || p.Limit != 20 {
		t.Errorf("page at 240: %d items from %v, matched %d, counts %+v", len(p.Items), p.Items[:1], p.Matched, p.Counts)
	}
	p = decode[page](t, e.do(req{path: "/api/v1/jobs?state=failed&batch=b1", auth: true}))
	if len(p.Items) != 2 || p.Items[0].UPN != upns[100] || p.Matched != 2 || len(p.Batches) != 1 || p.Batches[0].Failed != 2 {
		t.Errorf("failed users: %+v, matched %d, batches %+v", p.Items, p.Matched, p.Batches)
	}
	if p := decode[page](t, e.do(req{path: "/api/v1/jobs", auth: true})); len(p.Items) != bench.DefaultViewLimit {
		t.Errorf("default page: %d items", len(p.Items))
	}
	for _, q := range []string{"limit=100000", "offset=-1", "limit=x", "state=bogus"} {
		if r := e.do(req{path: "/api/v1/jobs?" + q, auth: true}); r.StatusCode != 400 || errorCode(t, r) != "bad_request" {
			t.Errorf("jobs?%s: %d, want 400", q, r.StatusCode)
		}
	}
}

// TestEventStreamCap: beyond MaxStreams clients the stream answers 503
// and closes the connection; a slot frees when a client leaves.
func TestEventStreamCap(t *testing.T) {
	e := newEnv(t, api.Options{MaxStreams: 2})
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	e.openEvents(ctx1)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	e.openEvents(ctx2)
	waitFor(t, "two subscribers", func() bool { return e.engine.subscribers() == 2 })
	resp := e.do(req{path: "/api/v1/events", auth: true})
	if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close || resp.Header.Get("Retry-After") == "" || errorCode(t, resp) != "too_many_streams" {
		t.Fatalf("third stream: %d close=%v, want 503 closing the connection", resp.StatusCode, resp.Close)
	}
	cancel1()
	waitFor(t, "a stream slot free", func() bool {
		r := e.do(req{path: "/api/v1/events", auth: true, header: map[string]string{"X-Probe": "1"}})
		defer r.Body.Close()
		return r.StatusCode == 200
	})
}

// TestClearQueue: the operator clears failed users and finished batches.
func TestClearQueue(t *testing.T) {
	e := newEnv(t, api.Options{})
	upns := queueUsers(t, e, 5)
	e.engine.setState(bench.ItemFailed, upns[0], upns[1])
	post := func(body string) *http.Response {
		return e.do(req{method: "POST", path: "/api/v1/jobs/clear", auth: true, body: body, header: map[string]string{"Content-Type": "application/json"}})
	}
	for _, tc := range []struct {
		body, code string
		status     int
	}{
		{`{}`, "bad_request", 400},
		{`{"failed":true,"failed":false}`, "bad_request", 400},
		{`{"failed":true} {"batch":"b1"}`, "bad_request", 400},
		{`{"batch":"nope"}`, "not_found", 404},
		{`{"batch":"b1"}`, "batch_busy", 409},
	} {
		if r := post(tc.body); r.StatusCode != tc.status || errorCode(t, r) != tc.code {
			t.Errorf("clear %s: %d, want %d %s", tc.body, r.StatusCode, tc.status, tc.code)
		}
	}
	if got := decode[map[string]int](t, post(`{"failed":true}`)); got["cleared"] != 2 {
		t.Errorf("clear failed: %v, want 2", got)
	}
	e.engine.setState(bench.ItemDone, upns[2:]...)
	if got := decode[map[string]int](t, post(`{"batch":"b1"}`)); got["cleared"] != 3 {
		t.Errorf("clear the finished batch: %v, want 3", got)
	}
	if n := len(e.engine.Snapshot().Queue); n != 0 {
		t.Errorf("%d users left", n)
	}
}

// TestUploadTooLarge: a list over the limit is 413 too_large, as text/csv,
// as multipart and when its Content-Length says so up front.
func TestUploadTooLarge(t *testing.T) {
	e := newEnv(t, api.Options{})
	big := "upn\n" + strings.Repeat("garbage,", api.MaxUploadBytes/8+1)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "big.csv")
	io.WriteString(fw, big)
	mw.Close()
	for _, tc := range []struct {
		name, ct string
		body     io.Reader
		length   int64
	}{
		{"text/csv", "text/csv", strings.NewReader(big), -1},
		{"multipart", mw.FormDataContentType(), bytes.NewReader(mp.Bytes()), -1},
		{"declared", "text/csv", strings.NewReader(big), int64(len(big))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hr, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/jobs", tc.body)
			hr.ContentLength = tc.length
			hr.Header.Set("Content-Type", tc.ct)
			hr.Header.Set("Authorization", "Bearer "+e.token)
			resp, err := e.ts.Client().Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, resp) != "too_large" {
				t.Errorf("%d, want 413 too_large", resp.StatusCode)
			}
		})
	}
	if n := len(e.engine.Snapshot().Queue); n != 0 {
		t.Errorf("%d users queued from refused uploads", n)
	}
}

// rawRequest sends head (a request without its body) on a new connection
// and returns the response and whether the server closed the connection
// after it.
func rawRequest(t *testing.T, e *env, head string) (*http.Response, bool) {
	t.Helper()
	c, err := net.Dial("tcp", e.host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hangGuard))
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = br.ReadByte()
	return resp, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// TestRefusalClosesConnection: a request refused before its body was read
// (here one that declares 200 KB and sends none) is answered at once and
// its connection closed.
func TestRefusalClosesConnection(t *testing.T) {
	e := newEnv(t, api.Options{})
	for _, tc := range []struct{ name, head string }{
		{"no token", "POST /api/v1/jobs HTTP/1.1\r\nHost: " + e.host + "\r\nContent-Type: text/csv\r\nContent-Length: 200000\r\n\r\n"},
		{"foreign host", "POST /api/v1/jobs HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 200000\r\n\r\n"},
		{"cross origin", "POST /api/v1/jobs HTTP/1.1\r\nHost: " + e.host + "\r\nOrigin: http://evil.example\r\nContent-Length: 200000\r\n\r\n"},
		{"not found", "GET /nope HTTP/1.1\r\nHost: " + e.host + "\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, closed := rawRequest(t, e, tc.head)
			if resp.StatusCode < 400 || !resp.Close || !closed {
				t.Errorf("%d, Connection: close %v, closed %v; want a refusal that closes", resp.StatusCode, resp.Close, closed)
			}
		})
	}
}

// TestHeaderLimit: headers beyond the limit are refused (431).
func TestHeaderLimit(t *testing.T) {
	e := newEnv(t, api.Options{})
	resp, closed := rawRequest(t, e, "GET /api/v1/slots HTTP/1.1\r\nHost: "+e.host+"\r\nX-Junk: "+strings.Repeat("a", 64<<10)+"\r\n\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !closed {
		t.Errorf("64 KiB of headers: %d, closed %v; want 431", resp.StatusCode, closed)
	}
	if hs := e.srv.HTTPServer(); hs.ReadHeaderTimeout <= 0 || hs.ReadTimeout <= 0 || hs.WriteTimeout <= 0 || hs.IdleTimeout <= 0 {
		t.Errorf("timeouts: header %v, read %v, write %v, idle %v; want all set", hs.ReadHeaderTimeout, hs.ReadTimeout, hs.WriteTimeout, hs.IdleTimeout)
	}
}

// TestConnectionCap: connections held without the token beyond MaxConns
// are closed, and the operator still gets in. Which ones go depends on the
// order in which the server saw them change state (conns.go), so the test
// counts: every held connection has sent part of a request line, and is
// either closed by the cap with no answer, or survives until the header
// timeout answers it.
func TestConnectionCap(t *testing.T) {
	const max, held = 8, 30
	e := newEnv(t, api.Options{MaxConns: max})
	conns := make([]net.Conn, held)
	for i := range conns {
		c, err := net.Dial("tcp", e.host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /api/v1/sl")
		conns[i] = c
	}
	if r := e.do(req{path: "/api/v1/slots", auth: true}); r.StatusCode != 200 {
		t.Fatalf("the operator: %d", r.StatusCode)
	}
	closed := make(chan bool, held)
	for i, c := range conns {
		go func() {
			c.SetReadDeadline(time.Now().Add(hangGuard))
			n, err := c.Read(make([]byte, 1))
			switch {
			case n == 0 && (errors.Is(err, io.EOF) || isReset(err)):
				closed <- true
			case n > 0:
				closed <- false
			default:
				t.Errorf("connection %d: %v, want closed or answered", i, err)
				closed <- false
			}
		}()
	}
	n := 0
	for range conns {
		if <-closed {
			n++
		}
	}
	if n < held-max {
		t.Errorf("%d of %d held connections closed by the server, want at least %d (cap %d)", n, held, held-max, max)
	}
}

// TestRevealPINStrict: the reveal takes exactly {"confirm": true}; the
// user is audited in canonical form with the peer; failures answer a
// generic body whose error id the log carries.
func TestRevealPINStrict(t *testing.T) {
	var logs lockedBuffer
	e := newEnvLog(t, &logs)
	e.engine.addResult(bench.Result{UPN: "adele.vance@contoso.test", JobID: "j1"}, "482913")
	reveal := func(upn, body string) *http.Response {
		return e.do(req{method: "POST", path: "/api/v1/results/" + url.PathEscape(upn) + "/reveal-pin", auth: true, body: body,
			header: map[string]string{"Content-Type": "application/json"}})
	}
	for _, body := range []string{
		`{"confirm":false,"confirm":true}`,
		`{"confirm":true}{"confirm":true}`,
		`{"confirm":true} trailing`,
		`{"confirm":true,"extra":1}`,
		`[{"confirm":true}]`,
		`{"confirm":true}` + strings.Repeat(" ", 5000),
	} {
		if r := reveal("adele.vance@contoso.test", body); r.StatusCode != 400 {
			t.Errorf("body %.40q: %d, want 400", body, r.StatusCode)
		}
	}
	if n := len(e.engine.revealed); n != 0 {
		t.Fatalf("%d reveals from refused bodies", n)
	}
	r := reveal(" Adele.Vance@CONTOSO.test ", `{"confirm":true}`)
	got := decode[map[string]string](t, r)
	if r.StatusCode != 200 || got["upn"] != "adele.vance@contoso.test" || got["pin"] != "482913" {
		t.Fatalf("reveal: %d %v", r.StatusCode, got["upn"])
	}
	if e.engine.revealed[0] != "adele.vance@contoso.test" || !strings.HasPrefix(e.engine.revealedBy[0].From, "127.0.0.1:") {
		t.Errorf("audited %q from %q, want the canonical UPN and the peer", e.engine.revealed[0], e.engine.revealedBy[0].From)
	}

	long := strings.Repeat("x", 8<<10) + "@contoso.test"
	if r := reveal(long, `{"confirm":true}`); r.StatusCode != 400 {
		t.Errorf("an 8 KB UPN: %d, want 400", r.StatusCode)
	}
	for _, tc := range []struct {
		upn    string
		status int
		leak   string
	}{
		{"nobody." + strings.Repeat("y", 100) + "@contoso.test", 404, "yyyy"},
		{"broken@contoso.test", 500, "/var/lib/keyprep"},
	} {
		r := reveal(tc.upn, `{"confirm":true}`)
		var body struct {
			Error struct{ Code, Message, ID string }
		}
		raw, _ := io.ReadAll(r.Body)
		json.Unmarshal(raw, &body)
		if r.StatusCode != tc.status || body.Error.ID == "" || strings.Contains(string(raw), tc.leak) {
			t.Errorf("%s: %d %s; want %d, an error id and nothing of the input or the cause", tc.upn, r.StatusCode, raw, tc.status)
			continue
		}
		if !strings.Contains(logs.String(), body.Error.ID) || !strings.Contains(logs.String(), tc.leak) {
			t.Errorf("the log does not carry error id %s with the cause", body.Error.ID)
		}
	}
}

// TestLogsBounded: a refused request with a 100 KB path writes a bounded
// log line, and a flood of refusals is rate-limited.
func TestLogsBounded(t *testing.T) {
	var logs lockedBuffer
	e := newEnvLog(t, &logs)
	e.do(req{path: "/api/v1/" + strings.Repeat("p", 100<<10)})
	for _, l := range strings.Split(logs.String(), "\n") {
		if len(l) > 2000 {
			t.Fatalf("a log line of %d bytes", len(l))
		}
	}
	// A value that reaches the log whole at its call site (the error of an
	// unknown user, with its 300-byte UPN) is cut there too.
	upn := "a@" + strings.Repeat(strings.Repeat("d", 60)+".", 5) + "test"
	e.do(req{method: "POST", path: "/api/v1/results/" + upn + "/reveal-pin", auth: true, body: `{"confirm":true}`,
		header: map[string]string{"Content-Type": "application/json"}})
	if out := logs.String(); !strings.Contains(out, "request failed") || strings.Contains(out, upn) || !strings.Contains(out, " bytes)") {
		t.Errorf("the unknown user's error is not cut in the log:\n%s", out)
	}
	before := strings.Count(logs.String(), "level=WARN")
	for range 200 {
		e.do(req{path: "/api/v1/slots"})
	}
	// At most a burst per minute: two bursts if the minute turned.
	if n := strings.Count(logs.String(), "level=WARN") - before; n == 0 || n > 40 {
		t.Errorf("%d warnings for 200 refused requests, want them rate-limited", n)
	}
}
