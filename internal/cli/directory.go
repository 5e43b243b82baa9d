package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/policy"
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

// Eligibility applies the Passkey (FIDO2) policy to the user through
// internal/policy, the same evaluation `policy check` makes: method
// enabled, user in an include target and in no exclude target, self-service
// setup on (the provisioning API refuses without it), and the key rules of
// the passkey profile that applies. A policy or membership that cannot be
// read is an error.
func (d *graphDirectory) Eligibility(ctx context.Context, u *enroll.User) (*enroll.Eligibility, error) {
	p, err := d.fido2Policy(ctx)
	if err != nil {
		return nil, err
	}
	pu := policy.User{ID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName, Guest: u.Guest}
	var m policy.Membership
	if groups := policy.GroupsToCheck(u.ID, p.IncludeTargets, p.ExcludeTargets); len(groups) > 0 {
		if m.Groups, err = d.c.CheckMemberGroups(ctx, u.ID, groups); err != nil {
			return nil, err
		}
	}
	rep := policy.Evaluate(policy.Input{User: pu, Fido2: p, Membership: m})
	pe := rep.Eligibility()
	el := &enroll.Eligibility{Allowed: pe.Allowed, Reasons: pe.Reasons, Hint: pe.Hint,
		AttestationEnforced: pe.AttestationEnforced, Profile: pe.Profile}
	for _, kr := range pe.Restrictions {
		el.Restrictions = append(el.Restrictions, enroll.KeyRestrictions{Enforced: kr.IsEnforced, Allow: kr.AllowList(), AAGUIDs: kr.AAGUIDs})
	}
	return el, nil
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
