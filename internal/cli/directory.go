package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/policy"
)

// graphDirectory adapts the Graph client to the workflow's Directory port
// and to the bench's bulk resolution (bench.Resolver). The FIDO2 policy is
// read once per run and cached.
type graphDirectory struct {
	c      *graph.Client
	mu     sync.Mutex // parallel bench slots share the adapter
	policy *graph.Fido2Policy
}

var _ bench.Resolver = (*graphDirectory)(nil)

func (d *graphDirectory) User(ctx context.Context, upn string) (*enroll.User, error) {
	u, err := d.c.GetUser(ctx, upn)
	if errors.Is(err, graph.ErrUserNotFound) {
		return nil, unknownUser{err}
	}
	if err != nil {
		return nil, err
	}
	return &enroll.User{ID: u.ID, UPN: u.UserPrincipalName, DisplayName: u.DisplayName, Guest: u.IsGuest()}, nil
}

// unknownUser is Graph's "user not found", matching enroll.ErrUnknownUser
// too, with Graph's message unchanged.
type unknownUser struct{ error }

func (u unknownUser) Unwrap() error        { return u.error }
func (u unknownUser) Is(target error) bool { return target == enroll.ErrUnknownUser }

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
// (bench.EligibilityOf, through internal/policy) with the user's
// memberships among the policy's target groups, checked for this user
// (checkMemberGroups). A policy or membership that cannot be read is an
// error.
func (d *graphDirectory) Eligibility(ctx context.Context, u *enroll.User) (*enroll.Eligibility, error) {
	p, err := d.fido2Policy(ctx)
	if err != nil {
		return nil, err
	}
	var groups []string
	if check := policy.GroupsToCheck(u.ID, p.IncludeTargets, p.ExcludeTargets); len(check) > 0 {
		if groups, err = d.c.CheckMemberGroups(ctx, u.ID, check); err != nil {
			return nil, err
		}
	}
	return bench.EligibilityOf(p, u, groups), nil
}

// The bench's bulk resolution (bench.Resolver, docs/graph.md §6.3).

// UsersByUPN looks users up many at a time ($filter=userPrincipalName in …).
func (d *graphDirectory) UsersByUPN(ctx context.Context, upns []string) ([]enroll.User, error) {
	us, err := d.c.FindUsersByUPN(ctx, upns)
	if err != nil {
		return nil, err
	}
	out := make([]enroll.User, len(us))
	for i, u := range us {
		out[i] = enroll.User{ID: u.ID, UPN: u.UserPrincipalName, DisplayName: u.DisplayName, Guest: u.IsGuest()}
	}
	return out, nil
}

// Fido2Policy is the run's Passkey (FIDO2) policy (read once).
func (d *graphDirectory) Fido2Policy(ctx context.Context) (*policy.Fido2Policy, error) {
	return d.fido2Policy(ctx)
}

// GroupUserIDs lists a group's users (transitive members).
func (d *graphDirectory) GroupUserIDs(ctx context.Context, groupID string) ([]string, error) {
	return d.c.GroupUserIDs(ctx, groupID)
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
