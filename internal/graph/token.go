package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// StaticToken is an azcore.TokenCredential that hands out one bearer token
// obtained elsewhere (keyprep --auth token, KEYPREP_ACCESS_TOKEN, tests).
//
// The token never appears in any formatted output: String, GoString, Format
// and MarshalText all print a redacted placeholder.
type StaticToken struct {
	token   string
	expires time.Time
}

var _ azcore.TokenCredential = (*StaticToken)(nil)

// NewStaticToken returns a credential for the given bearer token. A leading
// "Bearer " is removed and surrounding white space trimmed. Tokens containing
// white space or control characters are refused (they would corrupt the
// Authorization header).
func NewStaticToken(token string) (*StaticToken, error) {
	t := strings.TrimSpace(token)
	if len(t) >= 7 && strings.EqualFold(t[:7], "bearer ") {
		t = strings.TrimSpace(t[7:])
	}
	if t == "" || strings.EqualFold(t, "bearer") {
		return nil, errors.New("graph: access token is empty")
	}
	for _, r := range t {
		if r <= ' ' || r == 0x7f {
			return nil, errors.New("graph: access token contains white space or control characters")
		}
	}
	// A static token carries no lifetime the client could trust; report a
	// distant expiry so that no caching layer asks for a refresh.
	return &StaticToken{token: t, expires: time.Now().Add(24 * time.Hour)}, nil
}

// GetToken implements azcore.TokenCredential.
func (s *StaticToken) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	if s == nil || s.token == "" {
		return azcore.AccessToken{}, errors.New("graph: no access token configured")
	}
	return azcore.AccessToken{Token: s.token, ExpiresOn: s.expires}, nil
}

const redacted = "StaticToken(REDACTED)"

// String implements fmt.Stringer without revealing the token.
func (s *StaticToken) String() string { return redacted }

// GoString implements fmt.GoStringer without revealing the token.
func (s *StaticToken) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %q,
// %x, ...) prints the placeholder.
func (s *StaticToken) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText keeps the token out of JSON, YAML and structured logs.
func (s *StaticToken) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// IssueFunc obtains a new bearer token and when it expires (the emulated
// tenant's token endpoint, for keyprep --sim).
type IssueFunc func(ctx context.Context) (token string, expires time.Time, err error)

// RenewingToken is an azcore.TokenCredential that gets its tokens from an
// IssueFunc and gets a new one shortly before the current one expires (5
// minutes, or a tenth of the lifetime for short ones), on its clock, as
// azidentity's credentials do. When the service refuses a token as expired
// (clocks differ, or it expired between issue and use), the Client tells
// the credential (Refused), which drops that token so the next GetToken
// issues a fresh one.
//
// Like StaticToken it never prints the token.
type RenewingToken struct {
	issue IssueFunc
	now   func() time.Time

	mu      sync.Mutex
	token   string
	issued  time.Time
	expires time.Time
	count   int
}

var _ azcore.TokenCredential = (*RenewingToken)(nil)

// NewRenewingToken returns a credential issuing through issue; now is its
// clock (time.Now when nil).
func NewRenewingToken(issue IssueFunc, now func() time.Time) *RenewingToken {
	if now == nil {
		now = time.Now
	}
	return &RenewingToken{issue: issue, now: now}
}

// GetToken implements azcore.TokenCredential.
func (r *RenewingToken) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if err := ctx.Err(); err != nil {
		return azcore.AccessToken{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); r.token == "" || (!r.expires.IsZero() && !now.Before(r.expires.Add(-renewMargin(r.expires.Sub(r.issued))))) {
		tok, exp, err := r.issue(ctx)
		if err != nil {
			return azcore.AccessToken{}, fmt.Errorf("graph: getting a token: %w", err)
		}
		r.token, r.issued, r.expires = tok, now, exp
		r.count++
	}
	exp := r.expires
	if exp.IsZero() {
		exp = r.now().Add(24 * time.Hour)
	}
	return azcore.AccessToken{Token: r.token, ExpiresOn: exp}, nil
}

// Refused drops token if it is the current one: the service said it has
// expired, so the next GetToken issues a new one.
func (r *RenewingToken) Refused(token string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if token != "" && token == r.token {
		r.token = ""
	}
}

// Issued is how many tokens the credential has obtained.
func (r *RenewingToken) Issued() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// renewMargin is how long before its expiry a token of the given lifetime
// is renewed.
func renewMargin(lifetime time.Duration) time.Duration {
	return min(5*time.Minute, lifetime/10)
}

// String implements fmt.Stringer without revealing the token.
func (r *RenewingToken) String() string { return redactedRenewing }

// GoString implements fmt.GoStringer without revealing the token.
func (r *RenewingToken) GoString() string { return redactedRenewing }

// Format prints the placeholder for every verb.
func (r *RenewingToken) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedRenewing)) }

// MarshalText keeps the token out of JSON and structured logs.
func (r *RenewingToken) MarshalText() ([]byte, error) { return []byte(redactedRenewing), nil }

const redactedRenewing = "RenewingToken(REDACTED)"
