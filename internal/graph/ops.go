package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/keyprep/keyprep/internal/duration"
)

// User is the part of a Graph user keyprep needs.
type User struct {
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	DisplayName       string `json:"displayName"`
	UserType          string `json:"userType"` // Member or Guest
	Mail              string `json:"mail,omitempty"`
}

// IsGuest reports a B2B guest (userType Guest, or an #EXT# UPN).
func (u *User) IsGuest() bool {
	return strings.EqualFold(u.UserType, "Guest") || strings.Contains(strings.ToUpper(u.UserPrincipalName), "#EXT#")
}

// Fido2Method is a registered passkey (fido2AuthenticationMethod).
type Fido2Method struct {
	ID                      string    `json:"id"` // method id, not the credential id
	DisplayName             string    `json:"displayName"`
	AAGUID                  string    `json:"aaGuid"`
	Model                   string    `json:"model"`
	CreatedDateTime         time.Time `json:"createdDateTime"`
	AttestationLevel        string    `json:"attestationLevel"` // attested, notAttested
	AttestationCertificates []string  `json:"attestationCertificates"`
	PasskeyType             string    `json:"passkeyType,omitempty"` // deviceBound, synced
	// CredentialID is publicKeyCredential.id when the service returns it
	// (it is write-only on v1.0, so usually empty).
	CredentialID string `json:"credentialId,omitempty"`
	// Reconciled is true when the POST outcome was ambiguous and this
	// method was found afterwards by listing the user's methods.
	Reconciled bool `json:"-"`
}

// wire form of a fido2AuthenticationMethod; tolerant of nulls.
type fido2Wire struct {
	ID                      string   `json:"id"`
	DisplayName             string   `json:"displayName"`
	AAGUID                  string   `json:"aaGuid"`
	Model                   string   `json:"model"`
	CreatedDateTime         string   `json:"createdDateTime"`
	AttestationLevel        string   `json:"attestationLevel"`
	AttestationCertificates []string `json:"attestationCertificates"`
	PasskeyType             string   `json:"passkeyType"`
	PublicKeyCredential     *struct {
		ID string `json:"id"`
	} `json:"publicKeyCredential"`
}

func (w *fido2Wire) method() *Fido2Method {
	// Every server-supplied string is sanitised: it ends up on terminals.
	m := &Fido2Method{
		ID: sanitize(w.ID), DisplayName: sanitize(w.DisplayName), AAGUID: sanitize(w.AAGUID), Model: sanitize(w.Model),
		AttestationLevel: sanitize(w.AttestationLevel), PasskeyType: sanitize(w.PasskeyType),
	}
	for _, c := range w.AttestationCertificates {
		m.AttestationCertificates = append(m.AttestationCertificates, sanitize(c))
	}
	if w.PublicKeyCredential != nil {
		m.CredentialID = sanitize(w.PublicKeyCredential.ID)
	}
	if t, err := time.Parse(time.RFC3339Nano, w.CreatedDateTime); err == nil {
		m.CreatedDateTime = t
	}
	return m
}

func (c *Client) user(id string) *users.UserItemRequestBuilder { return c.users.ByUserId(id) }

func checkID(op, what, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("graph: %s: empty %s", op, what)
	}
	if strings.ContainsAny(id, "\x00\r\n") {
		return fmt.Errorf("graph: %s: %s contains control characters", op, what)
	}
	return nil
}

func decodeJSON(op string, r *response, v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return &Error{Op: op, Status: r.status, Class: ErrService, RequestID: r.header.Get("request-id"),
			Err: fmt.Errorf("undecodable response: %w", err)}
	}
	return nil
}

// GetUser looks a user up by object id or UPN.
func (c *Client) GetUser(ctx context.Context, idOrUPN string) (*User, error) {
	if err := checkID(OpGetUser, "user id", idOrUPN); err != nil {
		return nil, err
	}
	ri, err := c.user(idOrUPN).ToGetRequestInformation(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{
			Select: []string{"id", "userPrincipalName", "displayName", "userType", "mail"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", OpGetUser, err)
	}
	r, err := c.send(ctx, OpGetUser, false, ri)
	if err != nil {
		return nil, err
	}
	var u User
	if err := decodeJSON(OpGetUser, r, &u); err != nil {
		return nil, err
	}
	if u.ID == "" {
		return nil, &Error{Op: OpGetUser, Status: r.status, Class: ErrService, Err: errors.New("user without id in response")}
	}
	return &u, nil
}

// RequireMember returns an ErrGuestUser error for a guest, nil otherwise.
func RequireMember(u *User) error {
	if u.IsGuest() {
		return &Error{Op: OpGetUser, Class: ErrGuestUser,
			Message: fmt.Sprintf("%s is a guest (userType %s)", sanitize(u.UserPrincipalName), sanitize(u.UserType))}
	}
	return nil
}

// Challenge lifetimes accepted by the beta creationOptions function.
const (
	MinChallengeTimeout = 5 * time.Minute
	MaxChallengeTimeout = 43200 * time.Minute
)

// CreationOptions fetches WebAuthn creation options for a user and returns
// the raw JSON body for internal/webauthn.ParseCreationOptions.
//
// challengeTimeout 0 or 5 minutes uses v1.0 (fixed 5-minute challenge);
// anything else between 5 minutes and 30 days (whole minutes) uses the beta
// function creationOptions(challengeTimeoutInMinutes=N). The range is checked
// before any request.
func (c *Client) CreationOptions(ctx context.Context, userID string, challengeTimeout time.Duration) ([]byte, error) {
	if err := checkID(OpCreationOptions, "user id", userID); err != nil {
		return nil, err
	}
	beta := challengeTimeout != 0 && challengeTimeout != MinChallengeTimeout
	if beta {
		if challengeTimeout < MinChallengeTimeout || challengeTimeout > MaxChallengeTimeout {
			return nil, fmt.Errorf("graph: challenge timeout %s out of range: allowed 5m to 30d", duration.Format(challengeTimeout))
		}
		if challengeTimeout%time.Minute != 0 {
			return nil, fmt.Errorf("graph: challenge timeout %s is not a whole number of minutes", duration.Format(challengeTimeout))
		}
	}
	var ri *abs.RequestInformation
	if !beta {
		// v1.0: the documented parameterless URL (the SDK's builder appends
		// "()" and decodes into Kiota models; we need the raw JSON).
		ri = abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET,
			"{+baseurl}/users/{user%2Did}/authentication/fido2Methods/creationOptions",
			map[string]string{"user%2Did": userID})
	} else {
		// beta: the documented function-call form with a literal value
		// (docs/graph.md §2.1, §10), never the query-string form.
		ri = abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET,
			"{+betaurl}/users/{user%2Did}/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes={minutes})",
			map[string]string{
				"betaurl":   c.root + "/beta",
				"user%2Did": userID,
				"minutes":   strconv.Itoa(int(challengeTimeout / time.Minute)),
			})
	}
	ri.Headers.TryAdd("Accept", "application/json")
	r, err := c.send(ctx, OpCreationOptions, beta, ri)
	if err != nil {
		return nil, err
	}
	body := bytes.TrimSpace(r.body)
	if !json.Valid(body) || len(body) == 0 || body[0] != '{' {
		return nil, &Error{Op: OpCreationOptions, Status: r.status, Class: ErrService,
			RequestID: sanitize(r.header.Get("request-id")), Err: errors.New("response is not a JSON object")}
	}
	return body, nil
}

// registerBody is the part of the POST body the reconciliation needs.
type registerBody struct {
	DisplayName         string `json:"displayName"`
	PublicKeyCredential *struct {
		ID string `json:"id"`
	} `json:"publicKeyCredential"`
}

// RegisterFido2Method registers a passkey for a user: POST
// /users/{id}/authentication/fido2Methods (v1.0) with body exactly as given
// (built by internal/webauthn).
//
// The POST is never retried. When it fails ambiguously (no response,
// timeout, 5xx) the user's methods are listed (twice, ReconcileDelay apart)
// for one created since the attempt began with the same display name (and
// credential id when the service returns it): if exactly one is found it is
// returned with Reconciled set; if none is found the original error is
// returned (nothing landed as far as Graph shows; fresh creationOptions will
// list the credential in excludeCredentials if it did); otherwise the error
// matches ErrAmbiguousRegistration.
func (c *Client) RegisterFido2Method(ctx context.Context, userID string, body []byte) (*Fido2Method, error) {
	if err := checkID(OpRegister, "user id", userID); err != nil {
		return nil, err
	}
	var rb registerBody
	if err := json.Unmarshal(body, &rb); err != nil || rb.PublicKeyCredential == nil {
		return nil, fmt.Errorf("graph: %s: body is not a fido2AuthenticationMethod with publicKeyCredential", OpRegister)
	}
	ri := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.POST,
		"{+baseurl}/users/{user%2Did}/authentication/fido2Methods",
		map[string]string{"user%2Did": userID})
	ri.Headers.TryAdd("Accept", "application/json")
	ri.SetStreamContentAndContentType(body, "application/json")

	started := time.Now()
	r, err := c.send(ctx, OpRegister, false, ri)
	if err == nil {
		if r.status != http.StatusCreated && r.status != http.StatusOK {
			// 202/204: accepted without a body; find it.
			return c.reconcile(ctx, userID, rb, started, &Error{Op: OpRegister, Status: r.status, Class: ErrService,
				Err: fmt.Errorf("unexpected status %d without the created method", r.status)})
		}
		var w fido2Wire
		if err := decodeJSON(OpRegister, r, &w); err != nil {
			return c.reconcile(ctx, userID, rb, started, err)
		}
		return w.method(), nil
	}
	if !ambiguous(err) {
		return nil, err
	}
	return c.reconcile(ctx, userID, rb, started, err)
}

// ambiguous: the POST may have been applied.
func ambiguous(err error) bool {
	var ge *Error
	if !errors.As(err, &ge) {
		return true
	}
	if ge.Status == 0 {
		return true // no response: timeout, reset, cancellation
	}
	return ge.Status >= 500 || ge.Status == http.StatusRequestTimeout
}

func (c *Client) reconcile(ctx context.Context, userID string, rb registerBody, started time.Time, cause error) (*Fido2Method, error) {
	amb := func(why string, inner error) error {
		return &Error{Op: OpRegister, Class: ErrAmbiguousRegistration,
			Message: why, Err: errors.Join(cause, inner)}
	}
	if ctx.Err() != nil {
		// The caller gave up; do not keep talking to Graph.
		return nil, amb("cancelled while the registration was in flight", nil)
	}
	credID := ""
	if rb.PublicKeyCredential != nil {
		credID = rb.PublicKeyCredential.ID
	}
	// Allow for clock skew between this machine and Graph.
	since := started.Add(-5 * time.Minute)
	for pass := 0; pass < 2; pass++ {
		if pass > 0 {
			if err := c.sleep(ctx, c.reconcileDelay); err != nil {
				return nil, amb("cancelled while reconciling", err)
			}
		}
		ms, err := c.ListFido2Methods(ctx, userID)
		if err != nil {
			return nil, amb("could not list the user's methods", err)
		}
		var found []*Fido2Method
		for _, m := range ms {
			if credID != "" && m.CredentialID != "" {
				if m.CredentialID == credID {
					found = append(found, m)
				}
				continue
			}
			if m.DisplayName == rb.DisplayName && (m.CreatedDateTime.IsZero() || !m.CreatedDateTime.Before(since)) {
				found = append(found, m)
			}
		}
		switch len(found) {
		case 1:
			found[0].Reconciled = true
			return found[0], nil
		case 0:
			continue
		default:
			return nil, amb(fmt.Sprintf("%d recent methods named %q", len(found), rb.DisplayName), nil)
		}
	}
	return nil, cause
}

// ListFido2Methods lists a user's passkeys (following @odata.nextLink).
func (c *Client) ListFido2Methods(ctx context.Context, userID string) ([]*Fido2Method, error) {
	if err := checkID(OpListMethods, "user id", userID); err != nil {
		return nil, err
	}
	b := c.user(userID).Authentication().Fido2Methods()
	ri, err := b.ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", OpListMethods, err)
	}
	var out []*Fido2Method
	for page := 0; ; page++ {
		if page >= 100 {
			return nil, &Error{Op: OpListMethods, Class: ErrService, Err: errors.New("more than 100 pages of methods")}
		}
		r, err := c.send(ctx, OpListMethods, false, ri)
		if err != nil {
			return nil, err
		}
		var coll struct {
			Value    []fido2Wire `json:"value"`
			NextLink string      `json:"@odata.nextLink"`
		}
		if err := decodeJSON(OpListMethods, r, &coll); err != nil {
			return nil, err
		}
		for i := range coll.Value {
			out = append(out, coll.Value[i].method())
		}
		if coll.NextLink == "" {
			return out, nil
		}
		ri, err = b.WithUrl(coll.NextLink).ToGetRequestInformation(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("graph: %s: %w", OpListMethods, err)
		}
	}
}

// GetFido2Method reads one of a user's passkeys by method id.
func (c *Client) GetFido2Method(ctx context.Context, userID, methodID string) (*Fido2Method, error) {
	if err := checkID(OpGetMethod, "user id", userID); err != nil {
		return nil, err
	}
	if err := checkID(OpGetMethod, "method id", methodID); err != nil {
		return nil, err
	}
	ri, err := c.user(userID).Authentication().Fido2Methods().ByFido2AuthenticationMethodId(methodID).ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", OpGetMethod, err)
	}
	r, err := c.send(ctx, OpGetMethod, false, ri)
	if err != nil {
		return nil, err
	}
	var w fido2Wire
	if err := decodeJSON(OpGetMethod, r, &w); err != nil {
		return nil, err
	}
	return w.method(), nil
}

// DeleteFido2Method removes one of a user's passkeys. A method that is
// already gone yields an error matching ErrMethodNotFound.
func (c *Client) DeleteFido2Method(ctx context.Context, userID, methodID string) error {
	if err := checkID(OpDeleteMethod, "user id", userID); err != nil {
		return err
	}
	if err := checkID(OpDeleteMethod, "method id", methodID); err != nil {
		return err
	}
	ri, err := c.user(userID).Authentication().Fido2Methods().ByFido2AuthenticationMethodId(methodID).ToDeleteRequestInformation(ctx, nil)
	if err != nil {
		return fmt.Errorf("graph: %s: %w", OpDeleteMethod, err)
	}
	_, err = c.send(ctx, OpDeleteMethod, false, ri)
	return err
}
