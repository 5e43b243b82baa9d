package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
