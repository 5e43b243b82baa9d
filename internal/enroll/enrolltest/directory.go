package enrolltest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/webauthn"
)

// Outcome is a scripted answer of Directory.Register.
type Outcome int

// Register outcomes. Each applies once the body passed the directory's
// checks (a body that does not is refused whatever the script says).
const (
	// RegisterOK: the method is created and returned.
	RegisterOK Outcome = iota
	// RegisterRefused: a definite refusal (a 400); nothing lands.
	RegisterRefused
	// RegisterChallengeExpired: refused because the challenge expired;
	// nothing lands.
	RegisterChallengeExpired
	// RegisterUnknownLanded: the method is created but the answer is lost
	// (a timeout after Entra applied it).
	RegisterUnknownLanded
	// RegisterUnknownLost: nothing lands and the answer is lost.
	RegisterUnknownLost
	// RegisterThrottled: a 429; nothing lands.
	RegisterThrottled
)

// Errors of the Directory, besides the enroll classes they wrap.
var (
	ErrThrottled    = errors.New("enrolltest: throttled (429 Too Many Requests)")
	ErrUserNotFound = errors.New("enrolltest: user not found (404)")
	ErrBadRequest   = errors.New("enrolltest: bad request (400)")
)

// unknownUser is the lookup's "user not found": it matches
// enroll.ErrUnknownUser too, as the CLI's Graph directory's does.
type unknownUser struct{ error }

func (u unknownUser) Unwrap() error        { return u.error }
func (u unknownUser) Is(target error) bool { return target == enroll.ErrUnknownUser }

// Directory calls, as counted by Calls and named by FailNext.
const (
	CallUser        = "user"
	CallEligibility = "eligibility"
	CallOptions     = "options"
	CallRegister    = "register"
	CallMethods     = "methods"
)

// RPID is the relying party the Directory issues options for (the
// workflow's default).
const RPID = webauthn.DefaultRPID

type dirUser struct {
	enroll.User
	handle  []byte
	elig    *enroll.Eligibility
	methods []dirMethod
}

type dirMethod struct {
	enroll.Method
	credID []byte
}

type challenge struct {
	userID string
	expiry time.Time
}

// Directory is a fake Entra tenant for the workflow: users, one passkey
// policy, creationOptions with real challenges, registrations checked the
// way Entra checks them (challenge, rpIdHash, attestation signature,
// attestation enforcement) and listed afterwards. It is safe for
// concurrent use.
type Directory struct {
	// Now is the directory's clock (default time.Now).
	Now func() time.Time
	// ChallengeLifetime is how long a challenge is valid (default 5 min).
	ChallengeLifetime time.Duration

	mu         sync.Mutex
	users      map[string]*dirUser // by id
	byUPN      map[string]string   // lower-case UPN → id
	policy     enroll.Eligibility
	outcomes   []Outcome
	calls      map[string]int
	failures   map[string][]error
	challenges map[string]challenge
	seq        int
	extensions map[string]any
}

// SetExtensions replaces the extensions of the creation options the
// directory issues (default: credentialProtectionPolicy
// userVerificationOptional, not enforced, and hmacCreateSecret).
func (d *Directory) SetExtensions(x map[string]any) {
	d.mu.Lock()
	d.extensions = x
	d.mu.Unlock()
}

// NewDirectory returns a directory without users whose policy lets every
// member get a passkey.
func NewDirectory() *Directory {
	return &Directory{users: map[string]*dirUser{}, byUPN: map[string]string{}, calls: map[string]int{},
		failures: map[string][]error{}, challenges: map[string]challenge{},
		policy: enroll.Eligibility{Allowed: true, Profile: "Default passkey profile"}}
}

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// AddUser adds a member (or a guest) and returns it.
func (d *Directory) AddUser(upn, displayName string, guest bool) enroll.User {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	u := &dirUser{User: enroll.User{ID: uuid.NewString(), UPN: upn, DisplayName: displayName, Guest: guest},
		handle: []byte(fmt.Sprintf("OF:user-%d", d.seq))}
	d.users[u.ID] = u
	d.byUPN[strings.ToLower(upn)] = u.ID
	return u.User
}

// SetPolicy sets what Eligibility answers for users without their own.
func (d *Directory) SetPolicy(e enroll.Eligibility) {
	d.mu.Lock()
	d.policy = e
	d.mu.Unlock()
}

// SetEligibility sets what Eligibility answers for one user.
func (d *Directory) SetEligibility(upn string, e enroll.Eligibility) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if u := d.lookup(upn); u != nil {
		u.elig = &e
	}
}

// ScriptRegister queues the outcomes of the next Register calls; once
// they are used up, registrations succeed.
func (d *Directory) ScriptRegister(o ...Outcome) {
	d.mu.Lock()
	d.outcomes = append(d.outcomes, o...)
	d.mu.Unlock()
}

// FailNext makes the next call named call fail with err (queued: one
// failure per FailNext).
func (d *Directory) FailNext(call string, err error) {
	d.mu.Lock()
	d.failures[call] = append(d.failures[call], err)
	d.mu.Unlock()
}

// Calls counts the calls named call so far.
func (d *Directory) Calls(call string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[call]
}

// MethodsOf lists a user's passkeys with their credential ids.
func (d *Directory) MethodsOf(upn string) (ms []enroll.Method, credIDs [][]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.lookup(upn)
	if u == nil {
		return nil, nil
	}
	for _, m := range u.methods {
		ms = append(ms, m.Method)
		credIDs = append(credIDs, slices.Clone(m.credID))
	}
	return ms, credIDs
}

// enter counts a call and returns its scripted failure; the caller holds
// d.mu.
func (d *Directory) enter(call string) error {
	d.calls[call]++
	if q := d.failures[call]; len(q) > 0 {
		d.failures[call] = q[1:]
		return q[0]
	}
	return nil
}

func (d *Directory) lookup(idOrUPN string) *dirUser {
	if u, ok := d.users[idOrUPN]; ok {
		return u
	}
	if id, ok := d.byUPN[strings.ToLower(idOrUPN)]; ok {
		return d.users[id]
	}
	return nil
}

// User implements enroll.Directory.
func (d *Directory) User(ctx context.Context, idOrUPN string) (*enroll.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(CallUser); err != nil {
		return nil, err
	}
	u := d.lookup(idOrUPN)
	if u == nil {
		return nil, fmt.Errorf("%s: %w", idOrUPN, unknownUser{ErrUserNotFound})
	}
	c := u.User
	return &c, nil
}

// Eligibility implements enroll.Directory.
func (d *Directory) Eligibility(ctx context.Context, u *enroll.User) (*enroll.Eligibility, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(CallEligibility); err != nil {
		return nil, err
	}
	e := d.policy
	if du := d.lookup(u.ID); du != nil && du.elig != nil {
		e = *du.elig
	}
	e.Reasons = slices.Clone(e.Reasons)
	e.Restrictions = slices.Clone(e.Restrictions)
	return &e, nil
}

var b64 = base64.RawURLEncoding

// CreationOptions implements enroll.Directory: Graph's
// webauthnCredentialCreationOptions
// (https://learn.microsoft.com/graph/api/fido2authenticationmethod-creationoptions)
// with a fresh challenge and the user's passkeys excluded.
func (d *Directory) CreationOptions(ctx context.Context, userID string, challengeTimeout time.Duration) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(CallOptions); err != nil {
		return nil, err
	}
	u := d.lookup(userID)
	if u == nil {
		return nil, fmt.Errorf("%s: %w", userID, ErrUserNotFound)
	}
	life := d.ChallengeLifetime
	if challengeTimeout > 0 {
		life = challengeTimeout
	}
	if life <= 0 {
		life = 5 * time.Minute
	}
	ch := b64.EncodeToString(random(32))
	exp := d.now().Add(life).UTC()
	d.challenges[ch] = challenge{userID: u.ID, expiry: exp}
	type desc struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	ext := map[string]any{"credentialProtectionPolicy": "userVerificationOptional",
		"enforceCredentialProtectionPolicy": false, "hmacCreateSecret": true}
	if d.extensions != nil {
		ext = d.extensions
	}
	exclude := []desc{}
	for _, m := range u.methods {
		exclude = append(exclude, desc{"public-key", b64.EncodeToString(m.credID)})
	}
	body := map[string]any{
		"challengeTimeoutDateTime": exp.Format(time.RFC3339Nano),
		"publicKey": map[string]any{
			"rp":        map[string]any{"id": RPID, "name": "Microsoft"},
			"user":      map[string]any{"id": b64.EncodeToString(u.handle), "name": u.UPN, "displayName": u.DisplayName},
			"challenge": ch,
			"pubKeyCredParams": []map[string]any{{"type": "public-key", "alg": webauthn.AlgES256},
				{"type": "public-key", "alg": webauthn.AlgRS256}},
			"timeout":            life.Milliseconds(),
			"excludeCredentials": exclude,
			"authenticatorSelection": map[string]any{"authenticatorAttachment": "cross-platform", "requireResidentKey": true,
				"residentKey": "required", "userVerification": "required"},
			"attestation": "direct",
			"extensions":  ext,
		},
	}
	return json.Marshal(body)
}

// Register implements enroll.Directory: it checks the body as Entra does,
// then answers as scripted.
func (d *Directory) Register(ctx context.Context, userID string, body []byte) (*enroll.Method, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(CallRegister); err != nil {
		return nil, err
	}
	out := RegisterOK
	if len(d.outcomes) > 0 {
		out, d.outcomes = d.outcomes[0], d.outcomes[1:]
	}
	switch out {
	case RegisterThrottled:
		return nil, ErrThrottled
	case RegisterChallengeExpired:
		return nil, fmt.Errorf("%w: %w", enroll.ErrChallengeExpired, ErrBadRequest)
	}
	u := d.lookup(userID)
	if u == nil {
		return nil, fmt.Errorf("%s: %w", userID, ErrUserNotFound)
	}
	m, err := d.check(u, body)
	if err != nil {
		return nil, err
	}
	switch out {
	case RegisterRefused:
		return nil, fmt.Errorf("%w: %w: the scripted refusal", enroll.ErrRefused, ErrBadRequest)
	case RegisterUnknownLost:
		return nil, fmt.Errorf("%w: the answer was lost", enroll.ErrOutcomeUnknown)
	}
	u.methods = append(u.methods, *m)
	if out == RegisterUnknownLanded {
		return nil, fmt.Errorf("%w: the answer was lost after the method was created", enroll.ErrOutcomeUnknown)
	}
	c := m.Method
	return &c, nil
}

// check verifies a registration body
// (https://learn.microsoft.com/graph/api/authentication-post-fido2methods):
// a challenge this directory issued to the user and not expired, the
// attestation object's authData for RPID with the credential of the body,
// the attestation signature, and a certificate when attestation is
// enforced. The caller holds d.mu.
func (d *Directory) check(u *dirUser, body []byte) (*dirMethod, error) {
	refuse := func(format string, a ...any) error {
		return fmt.Errorf("%w: %w: %s", enroll.ErrRefused, ErrBadRequest, fmt.Sprintf(format, a...))
	}
	var b struct {
		DisplayName         string `json:"displayName"`
		PublicKeyCredential struct {
			ID       string `json:"id"`
			Response struct {
				ClientDataJSON    string `json:"clientDataJSON"`
				AttestationObject string `json:"attestationObject"`
			} `json:"response"`
		} `json:"publicKeyCredential"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, refuse("body: %v", err)
	}
	credID, err1 := b64.DecodeString(b.PublicKeyCredential.ID)
	cdj, err2 := b64.DecodeString(b.PublicKeyCredential.Response.ClientDataJSON)
	att, err3 := b64.DecodeString(b.PublicKeyCredential.Response.AttestationObject)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, refuse("base64url: %v", err)
	}
	var cd struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		Origin    string `json:"origin"`
	}
	if err := json.Unmarshal(cdj, &cd); err != nil || cd.Type != "webauthn.create" || cd.Origin != "https://"+RPID {
		return nil, refuse("clientDataJSON %q", cdj)
	}
	ch, ok := d.challenges[cd.Challenge]
	if !ok || ch.userID != u.ID {
		return nil, refuse("the challenge was not issued for this user")
	}
	if !d.now().Before(ch.expiry) {
		return nil, fmt.Errorf("%w: %w", enroll.ErrChallengeExpired, ErrBadRequest)
	}
	var ao struct {
		Fmt      string          `cbor:"fmt"`
		AttStmt  cbor.RawMessage `cbor:"attStmt"`
		AuthData []byte          `cbor:"authData"`
	}
	if err := cbor.Unmarshal(att, &ao); err != nil {
		return nil, refuse("attestationObject: %v", err)
	}
	req := &webauthn.MakeCredentialRequest{RPID: RPID, Algorithms: []int{webauthn.AlgES256, webauthn.AlgRS256}, UV: true}
	cdh := sha256.Sum256(cdj)
	if err := webauthn.CheckRegistration(req, cdh[:], ao.Fmt, ao.AuthData, ao.AttStmt); err != nil {
		return nil, refuse("%v", err)
	}
	ad, err := webauthn.ParseAuthData(ao.AuthData)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if !bytes.Equal(ad.CredentialID, credID) {
		return nil, refuse("the credential id differs from the attested one")
	}
	elig := d.policy
	if u.elig != nil {
		elig = *u.elig
	}
	if elig.AttestationEnforced && !webauthn.HasAttestationCertificate(ao.Fmt, ao.AttStmt) {
		return nil, refuse("attestation is enforced and the key sent no certificate")
	}
	for _, m := range u.methods {
		if bytes.Equal(m.credID, credID) {
			return nil, refuse("the credential is registered already")
		}
	}
	delete(d.challenges, cd.Challenge)
	d.seq++
	return &dirMethod{Method: enroll.Method{ID: fmt.Sprintf("method-%d", d.seq), DisplayName: b.DisplayName,
		AAGUID: ad.AAGUID.String(), Model: "enrolltest key", CreatedDateTime: d.now().UTC()}, credID: credID}, nil
}

// Methods implements enroll.Directory.
func (d *Directory) Methods(ctx context.Context, userID string) ([]enroll.Method, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.enter(CallMethods); err != nil {
		return nil, err
	}
	u := d.lookup(userID)
	if u == nil {
		return nil, fmt.Errorf("%s: %w", userID, ErrUserNotFound)
	}
	var out []enroll.Method
	for _, m := range u.methods {
		out = append(out, m.Method)
	}
	return out, nil
}
