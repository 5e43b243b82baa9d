// Package graph is keyprep's Microsoft Graph client: user lookup, passkey
// (FIDO2) creationOptions, registration on behalf of a user, and the user's
// fido2 methods. It is built on msgraph-sdk-go's request adapter; the SDK's
// types never leave this package.
package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	abs "github.com/microsoft/kiota-abstractions-go"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	khttp "github.com/microsoft/kiota-http-go"
	core "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
)

// DefaultBaseURL is the Microsoft Graph global endpoint.
const DefaultBaseURL = "https://graph.microsoft.com"

// DefaultScope is the token scope requested from the credential.
const DefaultScope = "https://graph.microsoft.com/.default"

// sdkVersion is the msgraph-sdk-go release this package is built against
// (reported in the SdkVersion telemetry header).
const sdkVersion = "1.103.0"

// maxBody bounds every response body read.
const maxBody = 8 << 20

// Options configure a Client.
type Options struct {
	// BaseURL is the Graph root without version, e.g.
	// https://graph.microsoft.com (default) or http://127.0.0.1:8080 for the
	// emulated tenant. A trailing /v1.0 or /beta is ignored. Plain http is
	// accepted only for loopback hosts.
	BaseURL string
	// Credential supplies bearer tokens (azidentity credentials, StaticToken).
	Credential azcore.TokenCredential
	// Scopes requested from Credential; default DefaultScope.
	Scopes []string
	// UserAgent is sent as User-Agent (the SDK appends its own product).
	UserAgent string
	// Retry controls retries of idempotent requests.
	Retry RetryPolicy
	// ReconcileDelay is the pause before the second listing when an
	// ambiguous registration is being reconciled; default 2s.
	ReconcileDelay time.Duration
	// HTTPClient supplies Timeout and Transport (tests, proxies). Its
	// CheckRedirect and Jar are not used: redirects are handled by the SDK
	// pipeline, which never carries the token to another host.
	HTTPClient *http.Client
}

// RetryPolicy bounds retries of idempotent requests (GET, DELETE) answered
// with 429, 503 or 504, or failing on the network. POST is never retried.
type RetryPolicy struct {
	// MaxRetries after the first attempt; 0 means the default (3), negative
	// disables retries.
	MaxRetries int
	// BaseDelay of the exponential backoff used without Retry-After;
	// default 1s.
	BaseDelay time.Duration
	// MaxDelay is the longest single wait; a Retry-After beyond it ends the
	// retries with ErrThrottled. Default 60s.
	MaxDelay time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxRetries == 0 {
		p.MaxRetries = 3
	}
	if p.MaxRetries < 0 {
		p.MaxRetries = 0
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 60 * time.Second
	}
	return p
}

// Client talks to Microsoft Graph. It is safe for concurrent use.
type Client struct {
	adapter        *core.GraphRequestAdapterBase
	users          *users.UsersRequestBuilder
	root           string // scheme://host[/path], no trailing slash
	scheme, host   string
	userAgent      string
	retry          RetryPolicy
	reconcileDelay time.Duration
	sleep          func(ctx context.Context, d time.Duration) error // tests
	gate           throttleGate
	cred           azcore.TokenCredential
	scopes         []string
	renew          bool // renew a token refused as expired (tests switch it off)
}

// New validates opts and builds a Client. It performs no network I/O.
func New(ctx context.Context, opts Options) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Credential == nil {
		return nil, errors.New("graph: no credential configured")
	}
	root, u, err := checkBaseURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		root:           root,
		scheme:         u.Scheme,
		host:           strings.ToLower(u.Host),
		userAgent:      opts.UserAgent,
		retry:          opts.Retry.withDefaults(),
		reconcileDelay: opts.ReconcileDelay,
		sleep:          sleepCtx,
		cred:           opts.Credential,
		renew:          true,
	}
	if c.reconcileDelay <= 0 {
		c.reconcileDelay = 2 * time.Second
	}
	scopes := opts.Scopes
	if len(scopes) == 0 {
		scopes = []string{DefaultScope}
	}
	c.scopes = scopes
	auth := absauth.NewBaseBearerTokenAuthenticationProvider(&tokenProvider{
		cred: opts.Credential, scopes: scopes, scheme: c.scheme, host: c.host,
	})

	parent := http.DefaultTransport
	httpc := &http.Client{Timeout: 100 * time.Second}
	if opts.HTTPClient != nil {
		httpc.Timeout = opts.HTTPClient.Timeout
		if opts.HTTPClient.Transport != nil {
			parent = opts.HTTPClient.Transport
		}
	}
	// Redirects are followed by the SDK's redirect middleware, not net/http.
	httpc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	clientOpts := core.GraphClientOptions{GraphServiceLibraryVersion: sdkVersion}
	// The SDK's default pipeline minus its retry handler (retries are ours:
	// POST must never be repeated blindly) and minus request compression
	// (the POST body goes out as the exact bytes internal/webauthn built).
	middlewares := []khttp.Middleware{
		core.NewGraphTelemetryHandler(&clientOpts),
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
	}
	httpc.Transport = khttp.NewCustomTransportWithParentTransport(&hostGuard{scheme: c.scheme, host: c.host, next: parent}, middlewares...)

	adapter, err := core.NewGraphRequestAdapterBaseWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, clientOpts, nil, nil, httpc)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	adapter.SetBaseUrl(root + "/v1.0")
	c.adapter = adapter
	c.users = users.NewUsersRequestBuilderInternal(map[string]string{}, adapter)
	return c, nil
}

// BaseURL returns the configured Graph root (no version segment).
func (c *Client) BaseURL() string { return c.root }

// checkBaseURL applies the security rule: https anywhere, http only on
// loopback; no credentials, query or fragment in the URL.
func checkBaseURL(raw string) (string, *url.URL, error) {
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, fmt.Errorf("graph: invalid Graph URL %q: %w", raw, err)
	}
	if u.Host == "" || u.Opaque != "" {
		return "", nil, fmt.Errorf("graph: invalid Graph URL %q: want scheme://host", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", nil, fmt.Errorf("graph: Graph URL %q must not contain credentials, a query or a fragment", u.Redacted())
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", nil, fmt.Errorf("graph: refusing plain http to %s: a bearer token would travel unencrypted; use https, or http only on a loopback address (127.0.0.1, ::1, localhost)", u.Host)
		}
	default:
		return "", nil, fmt.Errorf("graph: unsupported URL scheme %q in Graph URL (want https)", u.Scheme)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	p := strings.TrimRight(u.Path, "/")
	for _, v := range []string{"/v1.0", "/beta"} {
		if strings.HasSuffix(strings.ToLower(p), v) {
			p = p[:len(p)-len(v)]
		}
	}
	u.Path, u.RawPath = p, ""
	return u.Scheme + "://" + u.Host + u.EscapedPath(), u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenProvider hands the credential's token to the SDK only for requests to
// the configured scheme and host.
type tokenProvider struct {
	cred         azcore.TokenCredential
	scopes       []string
	scheme, host string
}

func (p *tokenProvider) GetAuthorizationToken(ctx context.Context, u *url.URL, _ map[string]any) (string, error) {
	if u == nil || !strings.EqualFold(u.Scheme, p.scheme) || !strings.EqualFold(u.Host, p.host) {
		return "", fmt.Errorf("graph: refusing to send a token to %s (configured Graph host is %s)", safeHost(u), p.host)
	}
	tok, err := p.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: p.scopes})
	if err != nil {
		return "", err
	}
	if s, ok := ctx.Value(sentTokenKey{}).(*sentToken); ok {
		s.token = tok.Token
	}
	return tok.Token, nil
}

// renewToken tells the credential its token was refused as expired and
// reports whether it now hands out another one (a static token cannot be
// renewed: sending it again would only be refused again).
func (c *Client) renewToken(ctx context.Context, refused string) bool {
	if r, ok := c.cred.(refuser); ok {
		r.Refused(refused)
	}
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: c.scopes})
	return err == nil && tok.Token != "" && tok.Token != refused
}

// sentToken remembers, for one attempt of one request, the token the
// provider handed out, so that a refusal can name it to the credential.
type sentToken struct{ token string }

type sentTokenKey struct{}

// refuser is a credential that can be told the service refused one of its
// tokens as expired (RenewingToken).
type refuser interface{ Refused(token string) }

// reExpired recognises Entra's answers to an expired access token
// ("Lifetime validation failed, the token is expired.", "Access token has
// expired or is not yet valid.").
var reExpired = regexp.MustCompile(`(?i)expired`)

func tokenExpired(e *Error) bool {
	return e.Status == http.StatusUnauthorized && reExpired.MatchString(e.Message)
}

func (p *tokenProvider) GetAllowedHostsValidator() *absauth.AllowedHostsValidator {
	v, err := absauth.NewAllowedHostsValidatorErrorCheck([]string{p.host})
	if err != nil {
		return &absauth.AllowedHostsValidator{}
	}
	return v
}

func safeHost(u *url.URL) string {
	if u == nil {
		return "<nil>"
	}
	return u.Scheme + "://" + u.Host
}

// hostGuard sits under the SDK pipeline, just above the network: a request
// for any other scheme/host (a redirect, a nextLink) loses its Authorization
// header, whatever the middleware above did.
type hostGuard struct {
	scheme, host string
	next         http.RoundTripper
}

func (g *hostGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" &&
		(!strings.EqualFold(req.URL.Scheme, g.scheme) || !strings.EqualFold(req.URL.Host, g.host)) {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	return g.next.RoundTrip(req)
}

// response is a captured HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send runs one request through the SDK adapter, capturing the raw response
// with a response handler, and retries idempotent requests on 429/503/504
// and network errors. A non-2xx answer becomes *Error.
func (c *Client) send(ctx context.Context, op string, beta bool, ri *abs.RequestInformation) (*response, error) {
	if c.userAgent != "" {
		ri.Headers.TryAdd("User-Agent", c.userAgent)
	}
	idempotent := ri.Method == abs.GET || ri.Method == abs.DELETE || ri.Method == abs.HEAD
	retries := 0
	renewed := false      // a token refused as expired was renewed once
	var covered time.Time // the gate deadline this request waited out itself
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sentAt, err := c.gate.wait(ctx, c.sleep, covered)
		if err != nil {
			return nil, &Error{Op: op, Class: ErrThrottled, Err: err}
		}
		var resp *response
		var readErr error
		h := abs.NewRequestHandlerOption()
		h.SetResponseHandler(func(r any, _ abs.ErrorMappings) (any, error) {
			hr, ok := r.(*http.Response)
			if !ok || hr == nil {
				return nil, errors.New("no HTTP response")
			}
			defer hr.Body.Close()
			b, err := io.ReadAll(io.LimitReader(hr.Body, maxBody+1))
			if err == nil && len(b) > maxBody {
				err = fmt.Errorf("response body larger than %d bytes", maxBody)
			}
			resp = &response{status: hr.StatusCode, header: hr.Header, body: b}
			readErr = err
			return nil, nil
		})
		ri.AddRequestOptions([]abs.RequestOption{h})
		// Each attempt asks the credential for its token (the SDK keeps
		// the header of an earlier attempt otherwise), so a retry after
		// a long wait, or after a refusal, carries a current one.
		ri.Headers.Remove("Authorization")
		sent := &sentToken{}
		err = c.adapter.SendNoContent(context.WithValue(ctx, sentTokenKey{}, sent), ri, nil)
		if err == nil && readErr != nil {
			err = readErr
			resp = nil
		}
		if err != nil || resp == nil {
			if err == nil {
				err = errors.New("no HTTP response")
			}
			if cerr := ctx.Err(); cerr != nil {
				return nil, &Error{Op: op, Class: ErrService, Err: cerr}
			}
			if unreachable(err) != "" {
				return nil, networkError(op, err) // not retried: it fails the same way
			}
			if notSignedIn(err) {
				return nil, &Error{Op: op, Class: ErrAuthentication, Message: "the saved sign-in has expired and this command does not prompt", Err: err}
			}
			ge := &Error{Op: op, Class: ErrService, Err: err}
			if idempotent && retries < c.retry.MaxRetries {
				retries++
				if serr := c.sleep(ctx, c.backoff(retries)); serr != nil {
					return nil, &Error{Op: op, Class: ErrService, Err: serr}
				}
				continue
			}
			return nil, ge
		}
		if resp.status >= 200 && resp.status < 300 {
			return resp, nil
		}
		ge := newHTTPError(op, beta, resp.status, resp.header, resp.body)
		// An expired token (it expired between issue and use, or the
		// clocks differ): Graph did not process the request, so it is
		// sent again, whatever its method, once, with a renewed token.
		if tokenExpired(ge) && !renewed && c.renew && c.renewToken(ctx, sent.token) {
			renewed = true
			continue
		}
		if retryableStatus(resp.status) && ge.RetryAfter > 0 && ge.RetryAfter <= c.retry.MaxDelay {
			covered = c.gate.throttled(sentAt, ge.RetryAfter)
		}
		if idempotent && retryableStatus(resp.status) && retries < c.retry.MaxRetries {
			wait, ok := parseRetryAfter(resp.header.Get("Retry-After"), time.Now())
			if !ok {
				wait = c.backoff(retries + 1)
			}
			if wait <= c.retry.MaxDelay {
				retries++
				if serr := c.sleep(ctx, wait); serr != nil {
					ge.Err = serr
					return nil, ge
				}
				continue
			}
		}
		return nil, ge
	}
}

func retryableStatus(s int) bool {
	return s == http.StatusTooManyRequests || s == http.StatusServiceUnavailable || s == http.StatusGatewayTimeout
}

// backoff is exponential with full jitter in [d/2, d], capped at MaxDelay.
func (c *Client) backoff(n int) time.Duration {
	d := c.retry.BaseDelay << min(n-1, 16)
	if d <= 0 || d > c.retry.MaxDelay {
		d = c.retry.MaxDelay
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// parseRetryAfter reads delta-seconds (decimals tolerated) or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || f > 7*24*3600 {
			return 0, false
		}
		return time.Duration(f * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
