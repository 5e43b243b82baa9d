// Package onboard is keyprep's Temporary Access Pass (TAP) onboarding: it
// issues a user's pass within the tenant's TAP policy and renders the
// onboarding slip that carries it to the user: a one-time pass with a short
// lifetime, handed over securely, used at https://aka.ms/mysecurityinfo to
// register a security key
// (https://learn.microsoft.com/entra/identity/authentication/howto-authentication-temporary-access-pass).
// What the tenant's TAP policy allows is decided in internal/policy.
//
// The package sees Entra through the Directory interface it declares; the
// CLI wires the Graph client to it and the tests wire the emulated tenant.
// A pass exists in clear only in a Pass's Code buffer (wiped by Wipe) and
// in the slip written for the user; it never reaches an error or a log.
package onboard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/duration"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/policy"
)

// RegistrationURL is where a user signs in with the pass and adds a
// security key (Microsoft's short link to My Security Info).
const RegistrationURL = "https://aka.ms/mysecurityinfo"

// OneTimeRegistrationWindow is how long a user has, after signing in with
// a one-time pass, to register a passwordless method.
const OneTimeRegistrationWindow = policy.OneTimeRegistrationWindow

// User is the directory's view of the person a pass is for.
type User struct {
	ID          string
	UPN         string
	DisplayName string
	Guest       bool
}

// Policy is the tenant's TAP method policy.
type Policy = policy.TAPPolicy

// Pass is a temporaryAccessPassAuthenticationMethod.
type Pass struct {
	ID       string
	Code     []byte // only in the answer to a creation; Wipe clears it
	Created  time.Time
	Start    time.Time
	Lifetime time.Duration
	Once     bool
	Usable   bool
	// Reason is methodUsabilityReason: EnabledByPolicy, DisabledByPolicy,
	// Expired, NotYetValid, OneTimeUsed.
	Reason string
}

// Expiry is when the pass stops working.
func (p *Pass) Expiry() time.Time {
	s := p.Start
	if s.IsZero() {
		s = p.Created
	}
	return s.Add(p.Lifetime)
}

// Live reports whether the pass still works now or will later: not
// expired and not used up. A live pass outside the policy's scope
// (DisabledByPolicy) counts: it works as soon as the user is in scope.
func (p *Pass) Live(now time.Time) bool {
	switch p.Reason {
	case "Expired", "OneTimeUsed":
		return false
	}
	return now.Before(p.Expiry())
}

// Judged is the pass as internal/policy judges it (never the code).
func (p *Pass) Judged() policy.Pass {
	return policy.Pass{Once: p.Once, Usable: p.Usable, Reason: p.Reason, Expiry: p.Expiry()}
}

// Blocked says why a pass that looks valid cannot sign in under the
// tenant's policy, with the way on: a multi-use pass while the policy
// allows one-time passes only. "" when it is not blocked that way.
func (p *Pass) Blocked(pol *Policy, upn string, now time.Time) (msg, fix string) {
	if !policy.BlockedByOneTime(pol, p.Judged(), now) {
		return "", ""
	}
	return policy.BlockedPassText(upn, p.Judged())
}

// Wipe overwrites the code.
func (p *Pass) Wipe() {
	if p == nil {
		return
	}
	pin.Wipe(p.Code)
	p.Code = nil
}

// State describes the pass in words (never the code).
func (p *Pass) State(now time.Time) string {
	switch {
	case p.Reason == "OneTimeUsed":
		return "used (one-time pass)"
	case p.Reason == "Expired" || !now.Before(p.Expiry()):
		return "expired"
	case p.Reason == "NotYetValid" || now.Before(p.Start):
		return "not yet valid"
	case p.Reason == "DisabledByPolicy":
		return "not usable: the TAP method is disabled or the user is outside the TAP policy"
	case p.Usable:
		return "usable"
	}
	return "not usable (" + p.Reason + ")"
}

// CreateRequest is what the directory sends to create a pass; zero values
// leave the choice to the tenant's policy.
type CreateRequest struct {
	Start    time.Time
	Lifetime time.Duration
	Once     *bool
}

// Directory is what onboarding needs of Entra. Errors keep their Graph
// classes (wrapped with %w).
type Directory interface {
	User(ctx context.Context, idOrUPN string) (*User, error)
	TAPPolicy(ctx context.Context) (*Policy, error)
	TAPs(ctx context.Context, userID string) ([]Pass, error)
	// CreateTAP never retries blindly: a pass whose creation outcome is
	// unknown cannot be read back, so a new one is the only remedy.
	CreateTAP(ctx context.Context, userID string, r CreateRequest) (*Pass, error)
	DeleteTAP(ctx context.Context, userID, passID string) error
}

// Request is what the operator asks for.
type Request struct {
	Lifetime time.Duration // 0: the policy's default
	Once     *bool         // nil: the policy decides; false: multi-use
	Start    time.Time     // zero: usable at once
	// Replace lets a new pass replace a user's live one (Entra keeps one
	// pass per user).
	Replace bool
}

// Error classes (errors.Is).
var (
	// ErrPolicy: the request does not fit the tenant's TAP policy.
	ErrPolicy = errors.New("outside the Temporary Access Pass policy")
	// ErrLivePass: the user has a live pass and Replace was not asked.
	ErrLivePass = errors.New("the user already has a valid Temporary Access Pass")
	// ErrRequest: the request is wrong whatever the policy says.
	ErrRequest = errors.New("invalid Temporary Access Pass request")
)

// Error is an onboarding failure with a plain message and a hint.
type Error struct {
	Class error
	Msg   string
	Hint  string
	Err   error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap exposes both the class and the cause.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Class, e.Err}
	}
	return []error{e.Class}
}

// Duration renders a lifetime the way operators write it: 1h, 90m, 2d, 1d12h.
func Duration(d time.Duration) string { return policy.Duration(d) }

// ParseLifetime reads a lifetime in keyprep's duration grammar
// (internal/duration: 90m, 2h, 30d, 1d12h). It must be positive and whole
// minutes; the range Entra allows is checked by CheckRequest.
func ParseLifetime(s string) (time.Duration, error) {
	d, err := duration.Parse(s)
	if err != nil {
		return 0, err
	}
	if d%time.Minute != 0 {
		return 0, fmt.Errorf("%s: whole minutes only", duration.Format(d))
	}
	return d, nil
}

// ParseStart reads a start time: RFC 3339 (2026-12-03T09:00:00+01:00), a
// local date and time (2026-12-03 09:00 or 2026-12-03T09:00), or an offset
// from now (+2h, +1d).
func ParseStart(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "+") {
		d, err := ParseLifetime(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("start %q: want +DURATION such as +2h", s)
		}
		return now.Add(d).Truncate(time.Minute), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("start %q: want RFC 3339 (2026-12-03T09:00:00Z), a local \"2026-12-03 09:00\" or +DURATION", s)
}

// Check validates a request against the tenant's policy before any call
// (internal/policy decides). The error matches ErrPolicy or ErrRequest and
// names the allowed range.
func Check(p *Policy, r Request, now time.Time) error {
	if err := CheckRequest(r, now); err != nil {
		return err
	}
	if f := policy.CheckTAPIssue(p, r.policy()); f != nil {
		return &Error{Class: ErrPolicy, Msg: f.Message, Hint: f.Fix}
	}
	return nil
}

// CheckRequest validates what holds whatever the tenant's policy says
// (Entra's lifetime bounds, whole minutes, a start not in the past); the
// error matches ErrRequest.
func CheckRequest(r Request, now time.Time) error {
	if f := policy.CheckTAPRequest(r.policy(), now); f != nil {
		return &Error{Class: ErrRequest, Msg: f.Message, Hint: f.Fix}
	}
	return nil
}

func (r Request) policy() policy.TAPRequest {
	return policy.TAPRequest{Lifetime: r.Lifetime, Once: r.Once, Start: r.Start}
}

// Issued is the outcome of Issue.
type Issued struct {
	User *User
	Pass *Pass // with Code; the caller delivers it and calls Wipe
	// Replaced is the live pass the new one replaced (no code), or nil.
	Replaced *Pass
}

// Issuer issues passes within policy. The policy is read once per Issuer.
type Issuer struct {
	Dir Directory
	Now func() time.Time // default time.Now

	policy *Policy
}

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

// Policy returns the tenant's TAP policy (read once).
func (is *Issuer) Policy(ctx context.Context) (*Policy, error) {
	if is.policy != nil {
		return is.policy, nil
	}
	p, err := is.Dir.TAPPolicy(ctx)
	if err != nil {
		return nil, err
	}
	is.policy = p
	return p, nil
}

// Preflight checks a request against the policy and, for a user, that no
// live pass stands in the way (unless Replace). It changes nothing. It
// returns the user and their current pass (nil when none).
func (is *Issuer) Preflight(ctx context.Context, upn string, r Request) (*User, *Pass, error) {
	p, err := is.Policy(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := Check(p, r, is.now()); err != nil {
		return nil, nil, err
	}
	u, err := is.Dir.User(ctx, upn)
	if err != nil {
		return nil, nil, err
	}
	cur, err := is.current(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	if cur != nil && cur.Live(is.now()) && !r.Replace {
		state := cur.State(is.now())
		if msg, _ := cur.Blocked(p, u.UPN, is.now()); msg != "" {
			state = "multi-use, blocked by the one-time-only policy"
		}
		return u, cur, &Error{Class: ErrLivePass,
			Msg: fmt.Sprintf("%s already has a Temporary Access Pass (%s, until %s)", u.UPN, state,
				cur.Expiry().Local().Format("2006-01-02 15:04 MST")),
			Hint: "add --replace to issue a new pass (the current one stops working), or keyprep tap show --user " + u.UPN}
	}
	return u, cur, nil
}

func (is *Issuer) current(ctx context.Context, u *User) (*Pass, error) {
	ps, err := is.Dir.TAPs(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	var cur *Pass
	for i := range ps {
		if cur == nil || ps[i].Created.After(cur.Created) {
			cur = &ps[i]
		}
	}
	return cur, nil
}

// Issue creates a pass for a user within policy: the request is checked
// against the policy before any change, a live pass is replaced only with
// Replace, and the answer is checked (a pass that came back without a
// code, or longer or multi-use against the request, is an error).
func (is *Issuer) Issue(ctx context.Context, upn string, r Request) (*Issued, error) {
	u, cur, err := is.Preflight(ctx, upn, r)
	if err != nil {
		return nil, err
	}
	pass, err := is.Dir.CreateTAP(ctx, u.ID, CreateRequest{Start: r.Start, Lifetime: r.Lifetime, Once: r.Once})
	if err != nil {
		return nil, err
	}
	if len(pass.Code) == 0 {
		return nil, fmt.Errorf("create the pass for %s: the answer carried no code", u.UPN)
	}
	out := &Issued{User: u, Pass: pass}
	if cur != nil && cur.Live(is.now()) {
		out.Replaced = cur
	}
	return out, nil
}
