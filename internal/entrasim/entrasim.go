// Package entrasim is an emulated Microsoft Entra tenant: the subset of
// Microsoft Graph keyprep uses (docs/graph.md), served over HTTP by
// Tenant.ServeHTTP, with real WebAuthn verification (go-webauthn), the FIDO2
// and Temporary Access Pass method policies, throttling, fault injection and
// an optional persistent state file.
//
// Routes (the table graphPaths in routes.go; prefix /v1.0 or /beta; {id} is
// an object id or a UPN, path-escaped, case-insensitive):
//
//	GET    /users[?$filter=userPrincipalName in ('a','b',…)]            listUsers (eq or in on id or UPN, 15 values at most; paged)
//	GET    /users/{id}                                                  getUser
//	POST   /users/{id}/checkMemberGroups                                checkMemberGroups
//	GET    /groups[?$filter=displayName eq 'Name'], /groups/{id}        listGroups
//	GET    /groups/{id}/transitiveMembers[/microsoft.graph.user]        groupTransitiveMembers (paged; the cast needs ConsistencyLevel: eventual and $count=true)
//	GET    /users/{id}/authentication/fido2Methods/creationOptions      creationOptions (beta: creationOptions(challengeTimeoutInMinutes=N))
//	POST   /users/{id}/authentication/fido2Methods                      registerFido2
//	GET    /users/{id}/authentication/fido2Methods[/{methodId}]         listFido2, getFido2
//	DELETE /users/{id}/authentication/fido2Methods/{methodId}           deleteFido2
//	POST   /users/{id}/authentication/temporaryAccessPassMethods        createTAP
//	GET    /users/{id}/authentication/temporaryAccessPassMethods[/{id}] listTAP, getTAP
//	DELETE /users/{id}/authentication/temporaryAccessPassMethods/{id}   deleteTAP
//	GET    /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{fido2|temporaryAccessPass}  getPolicy
//	PATCH  same; DELETE on temporaryAccessPass restores its defaults    patchPolicy
//	POST   /_sim/users/{id}/tap/use (no version prefix)                 the user signs in with their TAP
//
// The Graph reference for these resources starts at
// https://learn.microsoft.com/graph/api/resources/authenticationmethods-overview;
// the behaviour of live Entra the tenant reproduces beyond it is in
// docs/graph.md. Object ids are deterministic: UserObjectID and
// GroupObjectID.
package entrasim

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	gowebauthn "github.com/go-webauthn/webauthn/webauthn"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"

	"github.com/keyprep/keyprep/internal/filelock"
	"github.com/keyprep/keyprep/internal/softkey/softkeymds"
)

// Options configure a Tenant.
type Options struct {
	// StatePath is the JSON state file; "" keeps the tenant in memory. Open
	// loads it (creating it from the seed when absent), every mutating
	// request saves it atomically (temporary file + rename, mode 0600), and
	// an flock on StatePath+".lock" is held from Open to Close so two
	// tenants never share it.
	StatePath string
	// Users seeds a new state; nil means DefaultSeed(). Ignored when the
	// state file exists.
	Users []SeedUser
	// Tokens are the accepted bearer tokens; any other request is answered
	// 401 InvalidAuthenticationToken. nil accepts none (see NewToken). The
	// map is copied by Open.
	Tokens map[string]Identity
	// Now is the clock (tests move time); nil means time.Now.
	Now func() time.Time
	// Metadata is the FIDO metadata used to judge attestation trust; nil
	// means softkeymds.Provider() (the virtual key model).
	Metadata metadata.Provider
	// Throttle is a token bucket over all requests; the zero value is off.
	Throttle Throttle
	// Log receives one line per request (method, path without query, status,
	// duration, request-id); never bodies, tokens or TAP codes.
	Log io.Writer
	// Quirks reproduce live encoding variants of creationOptions
	// (docs/graph.md).
	Quirks Quirks
	// MaxPageSize caps the pages of paged collections (users,
	// transitiveMembers) below Graph's own limit of 999, so that tests see
	// @odata.nextLink with few users; 0 means no extra cap.
	MaxPageSize int
}

// Quirks select the creationOptions variants seen live (docs/graph.md).
type Quirks struct {
	// ExcludeEncoding encodes excludeCredentials[].id: "base64url" (the
	// default; v1.0 docs), "std" (padded standard base64, as captured) or
	// "digit" (base64url with a trailing padding-count digit, beta docs).
	ExcludeEncoding string
	// WrapValue wraps the options in {"value":{…}} (beta doc example).
	WrapValue bool
	// ODataTypes adds "@odata.type" to every nested object (v1.0 doc
	// example).
	ODataTypes bool
}

// Identity is what a bearer token stands for. Each operation needs one of
// its permissions (the least privileged or a higher one,
// https://learn.microsoft.com/graph/permissions-reference), else 403
// Authorization_RequestDenied. Permissions nil means LeastPrivileged, what
// an application configured as the README says holds.
type Identity struct {
	Name        string
	Permissions []string
	// AllPermissions grants every permission (Permissions is then ignored).
	AllPermissions bool
	// Delegated is a signed-in user's token (Permissions are its scopes):
	// Graph also needs the user to hold a directory role that may act on
	// other users' authentication methods or policies (Roles; see
	// delegatedRoles), else 403.
	Delegated bool
	Roles     []string
	// Expires, when set, is when the token stops being accepted, on the
	// tenant's clock (Options.Now): 401 InvalidAuthenticationToken,
	// "Lifetime validation failed, the token is expired." (Entra's access
	// tokens last about an hour).
	Expires time.Time
}

// Throttle is a token bucket over all requests: Rate tokens per second up
// to Burst (Burst 0 means max(1, Rate)). An empty bucket answers 429
// TooManyRequests with an integer Retry-After (docs/graph.md).
type Throttle struct {
	Rate  float64
	Burst int
}

// Fault makes requests to one endpoint misbehave.
type Fault struct {
	// Status and Code/Message form the error answered (Code and Message
	// default from the status); Status 0 with Drop false only adds latency.
	Status        int
	Code, Message string
	// Latency (+ a random part up to Jitter) is waited before answering.
	Latency, Jitter time.Duration
	// Drop hijacks and closes the connection without answering (with a
	// ResponseWriter that cannot be hijacked it panics with
	// http.ErrAbortHandler, which net/http turns into an aborted reply).
	Drop bool
	// Count limits the fault to the next Count matching requests; 0 keeps
	// it until ClearFaults.
	Count int
	// AfterApply performs the request first (for POSTs: the change is
	// made), then fails or drops: the ambiguous case (docs/graph.md).
	AfterApply bool
}

// Endpoint names for SetFault and RequestRecord.Endpoint.
const (
	EPGetUser           = "getUser"
	EPCreationOptions   = "creationOptions"
	EPRegisterFido2     = "registerFido2"
	EPListFido2         = "listFido2"
	EPGetFido2          = "getFido2"
	EPDeleteFido2       = "deleteFido2"
	EPCreateTAP         = "createTAP"
	EPListTAP           = "listTAP"
	EPGetTAP            = "getTAP"
	EPDeleteTAP         = "deleteTAP"
	EPGetPolicy         = "getPolicy"
	EPPatchPolicy       = "patchPolicy"
	EPListGroups        = "listGroups"
	EPCheckMemberGroups = "checkMemberGroups"
	EPListUsers         = "listUsers"
	EPGroupMembers      = "groupTransitiveMembers"
	EPSimUseTAP         = "simUseTAP"
)

// KindOther is the RequestRecord.Kind of a request no route matches.
const KindOther = "other"

// User is a tenant user as the operator sees it.
type User struct {
	ID, UPN, DisplayName, UserType string
	Groups                         []string // display names, sorted
	InFido2Scope, InTAPScope       bool
}

// Group is a tenant group.
type Group struct {
	ID, DisplayName string
	Members         int
}

// RequestRecord is one served request.
type RequestRecord struct {
	Method, Path string // path without query
	Status       int    // 0 when the connection was dropped
	Endpoint     string // "" for unknown routes, and for requests refused before routing (401, 429)
	// Kind is the route the request was for, an EP* name, even when it was
	// refused before routing (a 429 counts against the budget too);
	// KindOther when no route matches. RequestCounts counts by Kind.
	Kind string
	Time time.Time
}

// Tenant is an emulated Entra tenant. It is safe for concurrent use.
type Tenant struct {
	opts   Options
	now    func() time.Time
	mds    metadata.Provider
	wa     *gowebauthn.WebAuthn
	header string // challenge JWE protected header
	lock   *filelock.Lock

	mu       sync.Mutex
	st       *state
	quirks   Quirks
	faults   map[string]*Fault
	records  []RequestRecord
	tokens   float64
	lastFill time.Time
	closed   bool

	logMu sync.Mutex

	tokMu  sync.Mutex
	issued map[string]Identity // IssueToken's tokens
	// issuedCount counts them (expired ones included).
	issuedCount int
}

// RPID and Origin are the relying party the emulated tenant verifies
// registrations for (docs/graph.md).
const (
	RPID   = "login.microsoft.com"
	Origin = "https://login.microsoft.com"
)

// Open creates a tenant: in memory, or backed by Options.StatePath.
func Open(opts Options) (*Tenant, error) {
	t := &Tenant{opts: opts, now: opts.Now, mds: opts.Metadata, quirks: opts.Quirks, faults: map[string]*Fault{}}
	t.opts.Tokens = make(map[string]Identity, len(opts.Tokens)) // the caller may reuse its map
	for k, v := range opts.Tokens {
		t.opts.Tokens[k] = v
	}
	if t.now == nil {
		t.now = time.Now
	}
	if err := checkQuirks(opts.Quirks); err != nil {
		return nil, err
	}
	if t.mds == nil {
		p, err := softkeymds.Provider()
		if err != nil {
			return nil, fmt.Errorf("entrasim: metadata: %w", err)
		}
		t.mds = p
	}
	wa, err := gowebauthn.New(&gowebauthn.Config{
		RPID: RPID, RPDisplayName: "Microsoft", RPOrigins: []string{Origin},
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	if err != nil {
		return nil, fmt.Errorf("entrasim: webauthn: %w", err)
	}
	t.wa = wa
	if opts.Throttle.Rate < 0 || opts.Throttle.Burst < 0 {
		return nil, errors.New("entrasim: negative throttle")
	}
	t.tokens = float64(t.burst())
	t.lastFill = t.now()

	seed := opts.Users
	if seed == nil {
		seed = DefaultSeed()
	}
	if opts.StatePath == "" {
		if t.st, err = newState(seed, t.now()); err != nil {
			return nil, err
		}
	} else {
		if t.lock, err = lockFile(opts.StatePath + ".lock"); err != nil {
			return nil, err
		}
		st, err := loadState(opts.StatePath)
		switch {
		case err == nil:
			t.st = st
		case errors.Is(err, os.ErrNotExist):
			if st, err = newState(seed, t.now()); err == nil {
				err = st.save(opts.StatePath)
			}
			if err != nil {
				_ = t.lock.Unlock()
				return nil, fmt.Errorf("entrasim: create state %s: %w", opts.StatePath, err)
			}
			t.st = st
		default:
			_ = t.lock.Unlock()
			return nil, err
		}
	}
	t.header = challengeHeader(t.st.CertDER)
	return t, nil
}

func checkQuirks(q Quirks) error {
	switch q.ExcludeEncoding {
	case "", "base64url", "std", "digit":
		return nil
	}
	return fmt.Errorf("entrasim: unknown ExcludeEncoding %q (want base64url, std or digit)", q.ExcludeEncoding)
}

// Close releases the state lock. Requests after Close get 503.
func (t *Tenant) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.lock != nil {
		return t.lock.Unlock()
	}
	return nil
}

// SetQuirks changes the creationOptions quirks at run time.
func (t *Tenant) SetQuirks(q Quirks) error {
	if err := checkQuirks(q); err != nil {
		return err
	}
	t.mu.Lock()
	t.quirks = q
	t.mu.Unlock()
	return nil
}

// NewToken returns a random bearer token (32 bytes, base64url).
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Users lists the tenant's users sorted by UPN.
func (t *Tenant) Users() []User {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []User
	for _, u := range t.st.Users {
		in, _ := t.st.fido2Scope(u)
		out = append(out, User{ID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName, UserType: u.UserType,
			Groups:       sortedGroupNames(t.st, u),
			InFido2Scope: in && t.st.Fido2Policy.State == "enabled", InTAPScope: t.st.tapScope(u)})
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].UPN) < strings.ToLower(out[j].UPN) })
	return out
}

// Groups lists the tenant's groups sorted by display name.
func (t *Tenant) Groups() []Group {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Group
	for _, g := range t.st.Groups {
		n := 0
		for _, u := range t.st.Users {
			if contains(u.Groups, g.ID) {
				n++
			}
		}
		out = append(out, Group{ID: g.ID, DisplayName: g.DisplayName, Members: n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DisplayName < out[j].DisplayName })
	return out
}

// SetFault installs a fault on an endpoint (EP* names), replacing any
// previous one.
func (t *Tenant) SetFault(endpoint string, f Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults[endpoint] = &f
}

// ClearFaults removes every fault.
func (t *Tenant) ClearFaults() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.faults = map[string]*Fault{}
}

// Requests returns the requests served so far, oldest first.
func (t *Tenant) Requests() []RequestRecord {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]RequestRecord(nil), t.records...)
}

// RequestCounts returns how many requests of each kind (RequestRecord.Kind:
// the EP* names, KindOther) the tenant has received, whatever their answer.
// Tests assert Graph budgets with it (docs/graph.md §9).
func (t *Tenant) RequestCounts() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]int{}
	for _, r := range t.records {
		out[r.Kind]++
	}
	return out
}

// UseTAP makes a user sign in with their Temporary Access Pass: it fails
// unless the pass is usable now (docs/graph.md) and marks a one-time
// pass used.
func (t *Tenant) UseTAP(userIDOrUPN string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.useTAP(userIDOrUPN, nil); err != nil {
		return errors.New("entrasim: " + err.Message)
	}
	return t.saveLocked()
}

// SignInWithTAP is a user signing in with the pass they were given (a
// rehearsal of the employee's side): the pass must be theirs and usable
// now; a one-time pass is then used up. It returns the pass's
// methodUsabilityReason after the sign-in.
func (t *Tenant) SignInWithTAP(userIDOrUPN, code string) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.useTAP(userIDOrUPN, &code); err != nil {
		return "", errors.New(err.Message)
	}
	u := t.st.userByKey(userIDOrUPN)
	_, why := t.st.usability(u, t.st.TAPs[u.ID], t.now())
	return why, t.saveLocked()
}

func (t *Tenant) saveLocked() error {
	if t.opts.StatePath == "" {
		return nil
	}
	if t.closed {
		return errors.New("entrasim: tenant closed")
	}
	return t.st.save(t.opts.StatePath)
}
