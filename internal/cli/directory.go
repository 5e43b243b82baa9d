package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/graph"
)

// graphDirectory adapts the Graph client to the workflow's Directory port.
// The FIDO2 policy is read once per run and cached; group memberships are
// cached per user.
type graphDirectory struct {
	c      *graph.Client
	mu     sync.Mutex // parallel bench slots share the adapter
	policy *graph.Fido2Policy
}

func (d *graphDirectory) User(ctx context.Context, upn string) (*enroll.User, error) {
	u, err := d.c.GetUser(ctx, upn)
	if err != nil {
		return nil, err
	}
	return &enroll.User{ID: u.ID, UPN: u.UserPrincipalName, DisplayName: u.DisplayName, Guest: u.IsGuest()}, nil
}

func (d *graphDirectory) fido2Policy(ctx context.Context) (*graph.Fido2Policy, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.policy != nil {
		return d.policy, nil
	}
	p, err := d.c.GetFido2Policy(ctx)
	if err != nil {
		return nil, err
	}
	d.policy = p
	return p, nil
}

// Eligibility applies the Passkey (FIDO2) policy to the user
// (docs/graph.md §6.1): method enabled, user in an include target and in
// no exclude target, self-service setup on (the provisioning API refuses
// without it), and the key rules of the passkey profile that applies.
func (d *graphDirectory) Eligibility(ctx context.Context, u *enroll.User) (*enroll.Eligibility, error) {
	p, err := d.fido2Policy(ctx)
	if err != nil {
		return nil, err
	}
	el := &enroll.Eligibility{Allowed: true, AttestationEnforced: p.IsAttestationEnforced}
	no := func(why, hint string) {
		el.Allowed = false
		el.Reasons = append(el.Reasons, why)
		if el.Hint == "" {
			el.Hint = hint
		}
	}
	if u.Guest {
		no("guest account: passkeys cannot be provisioned for guests", "provision the account in the user's home tenant")
	}
	if !p.Enabled() {
		no("the Passkey (FIDO2) method is disabled", "keyprep policy set fido2 --enable --include-group GROUP")
	}
	target, err := d.matchTarget(ctx, u, p.IncludeTargets)
	if err != nil {
		return nil, err
	}
	if target == nil {
		no("not in any target group of the Passkey (FIDO2) policy", "add the user to a target group, or keyprep policy set fido2 --include-group GROUP (keyprep policy check --user "+u.UPN+" explains)")
	}
	if len(p.ExcludeTargets) > 0 {
		ex, err := d.matchTarget(ctx, u, p.ExcludeTargets)
		if err != nil {
			return nil, err
		}
		if ex != nil {
			no("excluded from the Passkey (FIDO2) policy", "remove the user from the excluded group")
		}
	}
	if !p.IsSelfServiceRegistrationAllowed {
		no("self-service setup is off, and Entra's provisioning API refuses passkeys without it", "keyprep policy set fido2 --self-service on")
	}
	addKR := func(kr *graph.KeyRestrictions) {
		if kr != nil && kr.IsEnforced {
			el.Restrictions = append(el.Restrictions, enroll.KeyRestrictions{Enforced: true,
				Allow: strings.EqualFold(kr.EnforcementType, "allow"), AAGUIDs: kr.AAGUIDs})
		}
	}
	addKR(p.KeyRestrictions)
	profileID := p.DefaultPasskeyProfile
	if target != nil && len(target.AllowedPasskeyProfiles) > 0 {
		profileID = target.AllowedPasskeyProfiles[0]
	}
	if prof := p.Profile(profileID); prof != nil {
		el.Profile = prof.ID
		if prof.Name != "" {
			el.Profile = prof.Name
		}
		addKR(prof.KeyRestrictions)
		if strings.EqualFold(prof.AttestationEnforcement, "registrationOnly") {
			el.AttestationEnforced = true
		}
	}
	return el, nil
}

func (d *graphDirectory) matchTarget(ctx context.Context, u *enroll.User, ts []graph.Target) (*graph.Target, error) {
	var groups []string
	for i, t := range ts {
		if t.ID == graph.AllUsers || strings.EqualFold(t.ID, u.ID) {
			return &ts[i], nil
		}
		groups = append(groups, t.ID)
	}
	if len(groups) == 0 {
		return nil, nil
	}
	in, err := d.c.CheckMemberGroups(ctx, u.ID, groups)
	if err != nil {
		return nil, err
	}
	for i, t := range ts {
		for _, g := range in {
			if strings.EqualFold(g, t.ID) {
				return &ts[i], nil
			}
		}
	}
	return nil, nil
}

func (d *graphDirectory) CreationOptions(ctx context.Context, userID string, timeout time.Duration) ([]byte, error) {
	return d.c.CreationOptions(ctx, userID, timeout)
}

// Register maps the Graph classes the workflow acts on.
func (d *graphDirectory) Register(ctx context.Context, userID string, body []byte) (*enroll.Method, error) {
	m, err := d.c.RegisterFido2Method(ctx, userID, body)
	if err != nil {
		var ge *graph.Error
		switch {
		case errors.Is(err, graph.ErrAmbiguousRegistration):
			return nil, fmt.Errorf("%w: %w", enroll.ErrOutcomeUnknown, err)
		case errors.Is(err, graph.ErrChallengeExpired):
			return nil, fmt.Errorf("%w: %w", enroll.ErrChallengeExpired, err)
		case errors.As(err, &ge) && ge.Status >= 400 && ge.Status < 500 && ge.Status != http.StatusRequestTimeout && ge.Status != http.StatusTooManyRequests:
			return nil, fmt.Errorf("%w: %w", enroll.ErrRefused, err)
		}
		return nil, err
	}
	return methodOf(m), nil
}

func methodOf(m *graph.Fido2Method) *enroll.Method {
	return &enroll.Method{ID: m.ID, DisplayName: m.DisplayName, AAGUID: m.AAGUID, Model: m.Model,
		CreatedDateTime: m.CreatedDateTime, Reconciled: m.Reconciled}
}

func (d *graphDirectory) Methods(ctx context.Context, userID string) ([]enroll.Method, error) {
	ms, err := d.c.ListFido2Methods(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]enroll.Method, len(ms))
	for i, m := range ms {
		out[i] = *methodOf(m)
	}
	return out, nil
}
