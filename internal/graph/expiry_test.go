package graph

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/keyprep/keyprep/internal/entrasim"
)

// renewingCredential gets its tokens from the emulated tenant, an hour
// each, and renews one five minutes before it expires, on the tenant's
// clock, as azidentity's credentials do on the wall clock.
type renewingCredential struct {
	e       *simEnv
	mu      sync.Mutex
	token   string
	expires time.Time
	issued  int
}

func (c *renewingCredential) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == "" || !c.e.clock().Before(c.expires.Add(-5*time.Minute)) {
		c.token, c.expires = c.e.tenant.IssueToken(entrasim.Identity{Name: "bench"}, time.Hour)
		c.issued++
	}
	return azcore.AccessToken{Token: c.token, ExpiresOn: c.expires}, nil
}

func (e *simEnv) clock() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }

func (e *simEnv) clientWith(t *testing.T, cred azcore.TokenCredential) *Client {
	t.Helper()
	c, err := New(context.Background(), Options{BaseURL: e.srv.URL, Credential: cred,
		Retry: RetryPolicy{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Second}, ReconcileDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokenExpires: the tenant refuses a token after its lifetime (401,
// lifetime validation failed), as Entra does after about an hour; the
// client reports it as an authentication failure and does not send the
// registration again.
func TestTokenExpires(t *testing.T) {
	ctx := context.Background()
	e := newSimEnv(t, nil)
	c := e.clientAs(t, entrasim.Identity{Name: "bench"}, time.Hour)
	u, err := c.GetUser(ctx, "adele.vance@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.CreationOptions(ctx, u.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := loadTestKey(t).register(t, raw, "key")
	e.advance(time.Hour)
	before := len(e.tenant.Requests())
	_, err = c.RegisterFido2Method(ctx, u.ID, body)
	var ge *Error
	if !errors.Is(err, ErrAuthentication) || !errors.As(err, &ge) || ge.Status != 401 || !strings.Contains(ge.Message, "Lifetime validation failed") {
		t.Fatalf("register with an expired token: %v", err)
	}
	if n := len(e.tenant.Requests()) - before; n != 1 {
		t.Errorf("%d requests for the registration, want 1", n)
	}
	ms, err := e.clientAs(t, entrasim.Identity{Name: "check"}, 0).ListFido2Methods(ctx, u.ID)
	if err != nil || len(ms) != 0 {
		t.Errorf("after the refusal: %d methods, %v", len(ms), err)
	}
}

// TestLongRunRenewsToken: a run of three hours on the tenant's clock, one
// user every ten minutes, with a credential that renews its hourly token:
// the client asks the credential for each request, so no request meets an
// expired token, every user gets exactly one passkey, and the tenant saw
// every token the credential issued.
func TestLongRunRenewsToken(t *testing.T) {
	ctx := context.Background()
	e := newSimEnv(t, nil)
	cred := &renewingCredential{e: e}
	c := e.clientWith(t, cred)
	k := loadTestKey(t)
	var users []entrasim.User
	for _, u := range e.tenant.Users() {
		if u.UserType == "Member" && u.InFido2Scope {
			users = append(users, u)
		}
	}
	const n = 18
	if len(users) < n {
		t.Fatalf("%d members in scope, want %d", len(users), n)
	}
	for _, u := range users[:n] {
		raw, err := c.CreationOptions(ctx, u.ID, 0)
		if err != nil {
			t.Fatalf("%s: creationOptions: %v", u.UPN, err)
		}
		body, _ := k.register(t, raw, "key")
		if _, err := c.RegisterFido2Method(ctx, u.ID, body); err != nil {
			t.Fatalf("%s at %s: %v", u.UPN, e.clock().Format(time.TimeOnly), err)
		}
		e.advance(10 * time.Minute)
	}
	for _, u := range users[:n] {
		ms, err := c.ListFido2Methods(ctx, u.ID)
		if err != nil || len(ms) != 1 {
			t.Errorf("%s: %d passkeys, %v; want 1", u.UPN, len(ms), err)
		}
	}
	for _, r := range e.tenant.Requests() {
		if r.Status == 401 {
			t.Errorf("a request met an expired token: %+v", r)
		}
	}
	if cred.issued < 3 {
		t.Errorf("%d tokens over 3 hours, want at least 3 (an hour each)", cred.issued)
	}
}

// TestTokenExpiresBeforeUse: the token the credential hands out expires
// between issue and use (the tenant's clock moves on while the request is
// on its way; tokens of a minute, so that the challenge, valid for five,
// is still good). The tenant answers 401 "Lifetime validation failed"; the
// client tells the credential, which renews, and sends the request again
// once: Graph did not process the refused one, so the registration is
// neither lost nor repeated. A token that is refused again is not retried
// a third time, and with renewal switched off the first refusal is the
// answer.
func TestTokenExpiresBeforeUse(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stale     int  // how many tokens in a row expire before use
		noRenew   bool // the client does not renew a refused token
		ok        bool
		posts     int // registration requests the tenant saw
		refused   int // of which answered 401
		newTokens int // tokens issued for the registration
	}{
		{name: "renewed once", stale: 1, ok: true, posts: 2, refused: 1, newTokens: 2},
		{name: "refused again", stale: 5, // tokens: the first, the renewal, the retry's own renewal
			posts: 2, refused: 2, newTokens: 3},
		{name: "renewal off", stale: 1, noRenew: true, posts: 1, refused: 1, newTokens: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newSimEnv(t, nil)
			var mu sync.Mutex
			stale := 0
			cred := NewRenewingToken(func(context.Context) (string, time.Time, error) {
				tok, exp := e.tenant.IssueToken(entrasim.Identity{Name: "bench"}, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				if stale > 0 {
					stale--
					e.advance(time.Minute) // expired before it reaches the tenant
				}
				return tok, exp, nil
			}, e.clock)
			c := e.clientWith(t, cred)
			c.renew = !tc.noRenew
			u, err := c.GetUser(ctx, "adele.vance@contoso.test")
			if err != nil {
				t.Fatal(err)
			}
			raw, err := c.CreationOptions(ctx, u.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := loadTestKey(t).register(t, raw, "key")
			e.advance(time.Minute) // the first token has expired: a new one is issued
			mu.Lock()
			stale = tc.stale
			mu.Unlock()
			before, issued := len(e.tenant.Requests()), cred.Issued()
			_, err = c.RegisterFido2Method(ctx, u.ID, body)
			if tc.ok != (err == nil) {
				t.Fatalf("register: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrAuthentication) {
				t.Errorf("register: %v, want an authentication failure", err)
			}
			posts, refused := 0, 0
			for _, r := range e.tenant.Requests()[before:] {
				if r.Endpoint == entrasim.EPRegisterFido2 || r.Kind == entrasim.EPRegisterFido2 {
					posts++
					if r.Status == 401 {
						refused++
					}
				}
			}
			if posts != tc.posts || refused != tc.refused {
				t.Errorf("%d registration requests, %d refused; want %d, %d", posts, refused, tc.posts, tc.refused)
			}
			if n := cred.Issued() - issued; n != tc.newTokens {
				t.Errorf("%d tokens issued for the registration, want %d", n, tc.newTokens)
			}
			want := 0
			if tc.ok {
				want = 1
			}
			ms, err := e.clientAs(t, entrasim.Identity{Name: "check"}, 0).ListFido2Methods(ctx, u.ID)
			if err != nil || len(ms) != want {
				t.Errorf("after the run: %d passkeys, %v; want %d", len(ms), err, want)
			}
		})
	}
}

// TestRenewingToken: the credential keeps its token until the renewal
// margin before expiry (5 minutes, a tenth of a short lifetime), renews
// it then, drops it when told it was refused (only the current one), and
// never prints it.
func TestRenewingToken(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	n := 0
	var lifetime time.Duration
	cred := NewRenewingToken(func(context.Context) (string, time.Time, error) {
		n++
		return "tok-" + strconv.Itoa(n), now.Add(lifetime), nil
	}, func() time.Time { return now })
	get := func() string {
		t.Helper()
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	for _, step := range []struct {
		lifetime time.Duration // for the next token issued
		advance  time.Duration
		refuse   string
		want     string
	}{
		{lifetime: time.Hour, want: "tok-1"},
		{advance: 54 * time.Minute, want: "tok-1"},
		{advance: time.Minute, lifetime: 10 * time.Second, want: "tok-2"}, // 5 minutes before expiry
		{advance: 8 * time.Second, want: "tok-2"},
		{advance: time.Second, want: "tok-3"}, // a tenth of 10 s before expiry
		{refuse: "tok-2", want: "tok-3"},      // an earlier token: nothing to do
		{refuse: "tok-3", want: "tok-4"},
	} {
		now = now.Add(step.advance)
		if step.lifetime > 0 {
			lifetime = step.lifetime
		}
		if step.refuse != "" {
			cred.Refused(step.refuse)
		}
		if got := get(); got != step.want {
			t.Fatalf("after %+v: %s, want %s", step, got, step.want)
		}
	}
	if cred.Issued() != 4 {
		t.Errorf("issued %d, want 4", cred.Issued())
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		if s := fmt.Sprintf(f, cred); strings.Contains(s, "tok-") {
			t.Errorf("%s prints the token: %s", f, s)
		}
	}
}
