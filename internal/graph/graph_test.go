package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

func newTestClient(t *testing.T, f *fakeGraph, mod ...func(*Options)) *Client {
	t.Helper()
	tok, err := NewStaticToken(testToken)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{BaseURL: f.srv.URL, Credential: tok, UserAgent: "keyprep/test",
		Retry: RetryPolicy{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: time.Second}, ReconcileDelay: time.Millisecond}
	for _, m := range mod {
		m(&o)
	}
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func regBody(name, credID string) []byte {
	return []byte(fmt.Sprintf(`{"displayName":%q,"publicKeyCredential":{"id":%q,"response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIn0","attestationObject":"o2NmbXRkbm9uZQ"},"clientExtensionResults":{}}}`, name, credID))
}

func TestGetUserAndEscaping(t *testing.T) {
	f := newFakeGraph(t)
	c := newTestClient(t, f)
	ctx := context.Background()
	for _, tc := range []struct{ in, wantPath, wantID string }{
		{"adele.vance@contoso.test", "/v1.0/users/adele.vance%40contoso.test?", "99a1915f-70a7-4b67-9dca-64095b41be73"},
		{"99a1915f-70a7-4b67-9dca-64095b41be73", "/v1.0/users/99a1915f-70a7-4b67-9dca-64095b41be73?", "99a1915f-70a7-4b67-9dca-64095b41be73"},
		{"o'brien@contoso.test", "/v1.0/users/o%27brien%40contoso.test?", "5b2d8a0c-1111-4c1e-9c58-0f0e0d0c0b0a"},
		{"kim_fabrikam.com#EXT#@contoso.onmicrosoft.com", "/v1.0/users/kim_fabrikam.com%23EXT%23%40contoso.onmicrosoft.com?", "0f6b4d2e-2222-4b8a-8f1f-9e9d9c9b9a99"},
	} {
		u, err := c.GetUser(ctx, tc.in)
		if err != nil {
			t.Fatalf("GetUser(%q): %v", tc.in, err)
		}
		if u.ID != tc.wantID {
			t.Errorf("GetUser(%q).ID = %q", tc.in, u.ID)
		}
		got := f.last()
		if !strings.HasPrefix(got.URI, tc.wantPath) {
			t.Errorf("GetUser(%q) requested %q, want prefix %q", tc.in, got.URI, tc.wantPath)
		}
		if !strings.Contains(got.URI, "select=id,userPrincipalName,displayName,userType") && !strings.Contains(got.URI, "select=id%2CuserPrincipalName") {
			t.Errorf("no $select in %q", got.URI)
		}
	}
	g, err := c.GetUser(ctx, "kim_fabrikam.com#EXT#@contoso.onmicrosoft.com")
	if err != nil {
		t.Fatal(err)
	}
	if !g.IsGuest() || !errors.Is(RequireMember(g), ErrGuestUser) {
		t.Errorf("guest not detected: %+v", g)
	}
	m, _ := c.GetUser(ctx, "adele.vance@contoso.test")
	if m.IsGuest() || RequireMember(m) != nil || m.UserType != "Member" || m.DisplayName != "Adele Vance" {
		t.Errorf("member: %+v", m)
	}
	_, err = c.GetUser(ctx, "nobody@contoso.test")
	var ge *Error
	if !errors.Is(err, ErrUserNotFound) || !errors.As(err, &ge) || ge.RequestID != "6f1c0e8e-0000-4000-8000-000000000001" || ge.Status != 404 {
		t.Errorf("missing user: %v", err)
	}
	if got := f.last(); got.Auth != "Bearer "+testToken {
		t.Errorf("Authorization = %q", got.Auth)
	}
}

func TestCreationOptionsVersions(t *testing.T) {
	f := newFakeGraph(t)
	c := newTestClient(t, f)
	ctx := context.Background()
	for _, tc := range []struct {
		timeout time.Duration
		want    string
	}{
		{0, "/v1.0/users/o%27brien%40contoso.test/authentication/fido2Methods/creationOptions"},
		{5 * time.Minute, "/v1.0/users/o%27brien%40contoso.test/authentication/fido2Methods/creationOptions"},
		{10 * time.Minute, "/beta/users/o%27brien%40contoso.test/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=10)"},
		{30 * 24 * time.Hour, "/beta/users/o%27brien%40contoso.test/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=43200)"},
	} {
		raw, err := c.CreationOptions(ctx, "o'brien@contoso.test", tc.timeout)
		if err != nil {
			t.Fatalf("timeout %v: %v", tc.timeout, err)
		}
		if got := f.last().URI; got != tc.want {
			t.Errorf("timeout %v: requested %q, want %q", tc.timeout, got, tc.want)
		}
		if !json.Valid(raw) || !bytes.Contains(raw, []byte(`"login.microsoft.com"`)) || !bytes.Contains(raw, []byte(`TZ2KrDEawbrIGQsnheGZ/BG9Nfnb7blSGwQYMGyJIhM=`)) {
			t.Errorf("timeout %v: raw options not passed through: %.120s", tc.timeout, raw)
		}
	}
	before := len(f.requests)
	for _, bad := range []time.Duration{-time.Minute, time.Minute, 4*time.Minute + 59*time.Second, 43201 * time.Minute, 90 * time.Second, 10*time.Minute + time.Second} {
		if _, err := c.CreationOptions(ctx, "adele.vance@contoso.test", bad); err == nil {
			t.Errorf("timeout %v accepted", bad)
		}
	}
	if len(f.requests) != before {
		t.Errorf("invalid timeouts sent %d requests", len(f.requests)-before)
	}
}

func TestRegisterListGetDelete(t *testing.T) {
	f := newFakeGraph(t)
	c := newTestClient(t, f)
	ctx := context.Background()
	uid := "99a1915f-70a7-4b67-9dca-64095b41be73"
	body := regBody("YubiKey 5 NFC 1234", "pQ5kZ7cR0eXb3yJmVtA2sw")
	m, err := c.RegisterFido2Method(ctx, uid, body)
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "method-1" || m.DisplayName != "YubiKey 5 NFC 1234" || m.AAGUID != "ee882879-721c-4913-9775-3dfcce97072a" ||
		m.AttestationLevel != "attested" || len(m.AttestationCertificates) != 1 || m.CreatedDateTime.IsZero() || m.Reconciled || m.PasskeyType != "deviceBound" {
		t.Errorf("method = %+v", m)
	}
	post := f.last()
	if !bytes.Equal(post.Body, body) || post.ContentEncoding != "" || !strings.HasPrefix(post.ContentType, "application/json") {
		t.Errorf("POST body not sent verbatim: enc %q type %q body %s", post.ContentEncoding, post.ContentType, post.Body)
	}
	if post.URI != "/v1.0/users/"+uid+"/authentication/fido2Methods" {
		t.Errorf("POST URI %q", post.URI)
	}
	ms, err := c.ListFido2Methods(ctx, uid)
	if err != nil || len(ms) != 1 || ms[0].ID != "method-1" {
		t.Fatalf("list = %v, %v", ms, err)
	}
	g, err := c.GetFido2Method(ctx, uid, "method-1")
	if err != nil || g.Model != "YubiKey 5 NFC" {
		t.Fatalf("get = %+v, %v", g, err)
	}
	if err := c.DeleteFido2Method(ctx, uid, "method-1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteFido2Method(ctx, uid, "method-1"); !errors.Is(err, ErrMethodNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if _, err := c.RegisterFido2Method(ctx, uid, []byte(`{"displayName":"x"}`)); err == nil {
		t.Error("body without publicKeyCredential accepted")
	}
}

// A 503 on POST is ambiguous: never repeated, reconciled by listing.
func TestRegisterNotRetriedNothingLanded(t *testing.T) {
	f := newFakeGraph(t)
	f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.Method == "POST" {
			w.Header().Set("Retry-After", "0")
			graphError(w, 503, "serviceNotAvailable", "Service unavailable.")
			return true
		}
		return false
	}
	c := newTestClient(t, f)
	uid := "99a1915f-70a7-4b67-9dca-64095b41be73"
	_, err := c.RegisterFido2Method(context.Background(), uid, regBody("key A", "cred-a"))
	if !errors.Is(err, ErrService) || errors.Is(err, ErrAmbiguousRegistration) {
		t.Errorf("err = %v", err)
	}
	if n := f.count("POST", "fido2Methods"); n != 1 {
		t.Errorf("POST sent %d times", n)
	}
	if n := f.count("GET", "/authentication/fido2Methods"); n != 2 {
		t.Errorf("reconciliation listed %d times, want 2", n)
	}
}

// The POST landed but the answer was lost (504, dropped connection): the
// method is found by listing and returned with Reconciled.
func TestRegisterReconciled(t *testing.T) {
	for _, mode := range []string{"504", "drop", "429"} {
		t.Run(mode, func(t *testing.T) {
			f := newFakeGraph(t)
			uid := "99a1915f-70a7-4b67-9dca-64095b41be73"
			f.methods[uid] = []*fido2Stored{{wire: map[string]any{"id": "old", "displayName": "key A", "createdDateTime": "2020-01-01T00:00:00Z"}}}
			f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
				if r.Method != "POST" {
					return false
				}
				if mode == "429" {
					w.Header().Set("Retry-After", "0")
					graphError(w, 429, "TooManyRequests", "Too many requests.")
					return true
				}
				f.mu.Lock()
				f.methods[uid] = append(f.methods[uid], &fido2Stored{wire: map[string]any{"id": "new", "displayName": "key A",
					"createdDateTime": time.Now().UTC().Format(time.RFC3339), "aaGuid": "ee882879-721c-4913-9775-3dfcce97072a"}})
				f.mu.Unlock()
				if mode == "drop" {
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
					return true
				}
				graphError(w, 504, "GatewayTimeout", "The gateway timed out.")
				return true
			}
			c := newTestClient(t, f)
			m, err := c.RegisterFido2Method(context.Background(), uid, regBody("key A", "cred-a"))
			if n := f.count("POST", "fido2Methods"); n != 1 {
				t.Errorf("POST sent %d times", n)
			}
			if mode == "429" {
				var ge *Error
				if !errors.Is(err, ErrThrottled) || !errors.As(err, &ge) || ge.RetryAfter != 0 || m != nil {
					t.Errorf("429: %v", err)
				}
				if n := f.count("GET", "fido2Methods"); n != 0 {
					t.Errorf("429 is not ambiguous, yet listed %d times", n)
				}
				return
			}
			if err != nil || m == nil || m.ID != "new" || !m.Reconciled {
				t.Fatalf("got %+v, %v", m, err)
			}
		})
	}
}

func TestRegisterAmbiguous(t *testing.T) {
	f := newFakeGraph(t)
	uid := "99a1915f-70a7-4b67-9dca-64095b41be73"
	now := time.Now().UTC().Format(time.RFC3339)
	f.methods[uid] = []*fido2Stored{
		{wire: map[string]any{"id": "m1", "displayName": "key A", "createdDateTime": now}},
		{wire: map[string]any{"id": "m2", "displayName": "key A", "createdDateTime": now}},
	}
	f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.Method == "POST" {
			graphError(w, 500, "generalException", "An internal error occurred.")
			return true
		}
		return false
	}
	c := newTestClient(t, f)
	_, err := c.RegisterFido2Method(context.Background(), uid, regBody("key A", "cred-a"))
	if !errors.Is(err, ErrAmbiguousRegistration) || !errors.Is(err, ErrService) || Hint(err) == "" {
		t.Errorf("two candidates: %v", err)
	}
	// Listing itself fails: ambiguous too.
	f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		graphError(w, 500, "generalException", "An internal error occurred.")
		return true
	}
	_, err = c.RegisterFido2Method(context.Background(), uid, regBody("key B", "cred-b"))
	if !errors.Is(err, ErrAmbiguousRegistration) {
		t.Errorf("list failure: %v", err)
	}
	// Cancelled while in flight: ambiguous, no reconciliation traffic.
	ctx, cancel := context.WithCancel(context.Background())
	f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		cancel()
		time.Sleep(50 * time.Millisecond)
		return false
	}
	_, err = c.RegisterFido2Method(ctx, uid, regBody("key C", "cred-c"))
	if !errors.Is(err, ErrAmbiguousRegistration) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	f := newFakeGraph(t)
	var mu sync.Mutex
	fails := 2
	f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			w.Header().Set("Retry-After", "0.05")
			graphError(w, 429, "TooManyRequests", "Too many requests.")
			return true
		}
		return false
	}
	c := newTestClient(t, f)
	start := time.Now()
	if _, err := c.ListFido2Methods(context.Background(), "adele.vance@contoso.test"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Errorf("2 Retry-After of 50ms honoured in %v", el)
	}
	if n := f.count("GET", "fido2Methods"); n != 3 {
		t.Errorf("attempts = %d, want 3", n)
	}

	// Recorded waits: seconds and HTTP-date forms, bounded retries.
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	f.fault = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n%2 == 0 {
			w.Header().Set("Retry-After", "7")
		} else {
			w.Header().Set("Retry-After", time.Now().Add(20*time.Second).UTC().Format(http.TimeFormat))
		}
		graphError(w, 503, "serviceNotAvailable", "Service unavailable.")
		return true
	}
	c.retry.MaxDelay = time.Minute
	before := f.count("GET", "")
	_, err := c.GetUser(context.Background(), "adele.vance@contoso.test")
	if !errors.Is(err, ErrService) {
		t.Errorf("err = %v", err)
	}
	if n := f.count("GET", "") - before; n != 4 {
		t.Errorf("attempts = %d, want 1+3", n)
	}
	if len(waits) != 3 {
		t.Fatalf("waits = %v", waits)
	}
	for _, w := range waits {
		if w != 7*time.Second && (w < 18*time.Second || w > 20*time.Second) {
			t.Errorf("wait %v not from Retry-After", w)
		}
	}
	// A Retry-After beyond MaxDelay is not waited for. (The sleeps above
	// were not real, so the client's throttling gate still holds their
	// deadlines: start from a quiet client.)
	c.gate = throttleGate{}
	waits = nil
	f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		w.Header().Set("Retry-After", "3600")
		graphError(w, 429, "TooManyRequests", "Too many requests.")
		return true
	}
	_, err = c.GetUser(context.Background(), "adele.vance@contoso.test")
	var ge *Error
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &ge) || ge.RetryAfter != time.Hour || len(waits) != 0 {
		t.Errorf("long Retry-After: %v (waits %v)", err, waits)
	}
}

// TestThrottleGateShared: a Retry-After told to one request holds every
// request of the client (the bench's slots share one throttling budget),
// including one the client never repeats (a POST).
func TestThrottleGateShared(t *testing.T) {
	f := newFakeGraph(t)
	var mu sync.Mutex
	throttled := false
	f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost && !throttled {
			throttled = true
			w.Header().Set("Retry-After", "5")
			graphError(w, 429, "TooManyRequests", "Too many requests.")
			return true
		}
		return false
	}
	c := newTestClient(t, f, func(o *Options) { o.Retry.MaxDelay = time.Minute })
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	_, err := c.CreateTAP(context.Background(), "adele.vance@contoso.test", TAPRequest{})
	if !errors.Is(err, ErrThrottled) || f.count("POST", "") != 1 || len(waits) != 0 {
		t.Fatalf("throttled POST: %v, %d POSTs, waits %v", err, f.count("POST", ""), waits)
	}
	if _, err := c.GetUser(context.Background(), "adele.vance@contoso.test"); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] < 4*time.Second || waits[0] > 5*time.Second {
		t.Errorf("the next request waited %v, want the 5 s the service asked for", waits)
	}
}

func TestContextCancelsRetryWait(t *testing.T) {
	f := newFakeGraph(t)
	f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		w.Header().Set("Retry-After", "30")
		graphError(w, 429, "TooManyRequests", "Too many requests.")
		return true
	}
	c := newTestClient(t, f, func(o *Options) { o.Retry.MaxDelay = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.ListFido2Methods(ctx, "adele.vance@contoso.test")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
}

func TestTokenNeverLeavesConfiguredHost(t *testing.T) {
	var otherAuth []string
	var mu sync.Mutex
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherAuth = append(otherAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"id": "x", "value": []any{}})
	}))
	defer other.Close()
	f := newFakeGraph(t)
	f.fault = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		switch {
		case strings.Contains(r.URL.Path, "/users/adele"):
			http.Redirect(w, r, other.URL+"/v1.0/users/adele", http.StatusTemporaryRedirect)
			return true
		case strings.HasSuffix(r.URL.Path, "/fido2Methods"):
			writeJSON(w, 200, map[string]any{"value": []any{}, "@odata.nextLink": other.URL + "/v1.0/users/x/authentication/fido2Methods?$skiptoken=2"})
			return true
		}
		return false
	}
	c := newTestClient(t, f)
	_, _ = c.GetUser(context.Background(), "adele.vance@contoso.test")
	_, err := c.ListFido2Methods(context.Background(), "99a1915f-70a7-4b67-9dca-64095b41be73")
	if err == nil || !strings.Contains(err.Error(), "refusing to send a token") {
		t.Errorf("nextLink to another host: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(otherAuth) == 0 {
		t.Fatal("redirect not followed; test proves nothing")
	}
	for _, a := range otherAuth {
		if a != "" {
			t.Errorf("other host received Authorization %q", a)
		}
	}
}

func TestBaseURLRules(t *testing.T) {
	tok, _ := NewStaticToken("t")
	for _, tc := range []struct {
		url  string
		ok   bool
		root string
	}{
		{"", true, "https://graph.microsoft.com"},
		{"https://graph.microsoft.com/v1.0/", true, "https://graph.microsoft.com"},
		{"https://graph.microsoft.us", true, "https://graph.microsoft.us"},
		{"http://127.0.0.1:8080", true, "http://127.0.0.1:8080"},
		{"http://127.0.0.2:8080/graph/beta", true, "http://127.0.0.2:8080/graph"},
		{"http://[::1]:9000", true, "http://[::1]:9000"},
		{"http://localhost:9000", true, "http://localhost:9000"},
		{"http://graph.example.com", false, ""},
		{"http://10.0.0.5:8080", false, ""},
		{"http://127.0.0.1.nip.io", false, ""},
		{"ftp://127.0.0.1", false, ""},
		{"https://user:pw@graph.example.com", false, ""},
		{"https://graph.example.com/?x=1", false, ""},
		{"graph.microsoft.com", false, ""},
	} {
		c, err := New(context.Background(), Options{BaseURL: tc.url, Credential: tok})
		if (err == nil) != tc.ok {
			t.Errorf("New(%q): err = %v", tc.url, err)
			continue
		}
		if err == nil && c.BaseURL() != tc.root {
			t.Errorf("New(%q).BaseURL() = %q, want %q", tc.url, c.BaseURL(), tc.root)
		}
		if err != nil && strings.Contains(tc.url, "pw") && strings.Contains(err.Error(), "pw") {
			t.Errorf("error leaks URL password: %v", err)
		}
	}
	if _, err := New(context.Background(), Options{}); err == nil {
		t.Error("no credential accepted")
	}
}

func TestStaticTokenRedaction(t *testing.T) {
	tok, err := NewStaticToken("Bearer " + testToken + "\n")
	if err != nil {
		t.Fatal(err)
	}
	at, err := tok.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{DefaultScope}})
	if err != nil || at.Token != testToken {
		t.Fatalf("GetToken = %q, %v", at.Token, err)
	}
	holder := struct{ Cred *StaticToken }{tok}
	js, _ := json.Marshal(holder)
	for _, s := range []string{
		fmt.Sprint(tok), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", tok, tok, tok, tok, tok, tok, tok, tok),
		fmt.Sprintf("%+v %#v", holder, holder), tok.String(), tok.GoString(), string(js),
	} {
		if strings.Contains(s, "SECRET") || strings.Contains(s, "eyJ0") {
			t.Errorf("token leaked: %s", s)
		}
		if !strings.Contains(s, "REDACTED") {
			t.Errorf("no placeholder: %s", s)
		}
	}
	for _, bad := range []string{"", "  ", "Bearer ", "a b", "a\r\nX-Evil: 1"} {
		if _, err := NewStaticToken(bad); err == nil {
			t.Errorf("NewStaticToken(%q) accepted", bad)
		}
	}
}

func TestWrongTokenIsAuthenticationError(t *testing.T) {
	f := newFakeGraph(t)
	tok, _ := NewStaticToken("wrong")
	c, err := New(context.Background(), Options{BaseURL: f.srv.URL, Credential: tok})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetUser(context.Background(), "adele.vance@contoso.test")
	if !errors.Is(err, ErrAuthentication) || !strings.Contains(Hint(err), "login") {
		t.Errorf("err = %v, hint %q", err, Hint(err))
	}
}

// hostGuard alone: whatever the layers above do, a request for another host
// or scheme leaves without Authorization.
func TestHostGuardStripsForeignAuthorization(t *testing.T) {
	var seen []string
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, r.URL.Scheme+"://"+r.URL.Host+" "+r.Header.Get("Authorization"))
		return &http.Response{StatusCode: 204, Body: http.NoBody, Request: r}, nil
	})
	g := &hostGuard{scheme: "https", host: "graph.microsoft.com", next: next}
	for _, u := range []string{"https://graph.microsoft.com/v1.0/me", "https://evil.example/v1.0/me", "http://graph.microsoft.com/v1.0/me", "https://graph.microsoft.com:444/x"} {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", "Bearer secret")
		if _, err := g.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"https://graph.microsoft.com Bearer secret", "https://evil.example ", "http://graph.microsoft.com ", "https://graph.microsoft.com:444 "}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("seen %q, want %q", seen, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestMethodIDEscaped(t *testing.T) {
	f := newFakeGraph(t)
	c := newTestClient(t, f)
	_, err := c.GetFido2Method(context.Background(), "o'brien@contoso.test", "a/b?c#d")
	if !errors.Is(err, ErrMethodNotFound) {
		t.Errorf("err = %v", err)
	}
	if got, want := f.last().URI, "/v1.0/users/o%27brien%40contoso.test/authentication/fido2Methods/a%2Fb%3Fc%23d"; got != want {
		t.Errorf("URI %q, want %q", got, want)
	}
}
