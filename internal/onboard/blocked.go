package onboard

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/policy"
)

// Scanner is what counting the passes a policy change blocks needs of
// Entra: Graph lists no tenant-wide passes, so each targeted user's is read.
type Scanner interface {
	// Users lists every user of the tenant (id and UPN).
	Users(ctx context.Context) ([]User, error)
	// GroupUserIDs lists the ids of a group's users, nested groups included.
	GroupUserIDs(ctx context.Context, groupID string) ([]string, error)
	TAPs(ctx context.Context, userID string) ([]Pass, error)
}

// BlockedPass is a live multi-use pass that turning one-time use on blocks.
type BlockedPass struct {
	UserID string    `json:"userId"`
	UPN    string    `json:"upn,omitempty"`
	Expiry time.Time `json:"expiryDateTime"`
}

// TargetUserIDs lists the users in a TAP policy's include targets, whose
// passes can sign in at all: every user when it targets all_users (UPNs
// known), else the target groups' members and the users targeted directly,
// each once.
func TargetUserIDs(ctx context.Context, s Scanner, p *Policy) ([]string, map[string]string, error) {
	upns := map[string]string{}
	if slices.ContainsFunc(p.IncludeTargets, func(t policy.Target) bool { return t.ID == policy.AllUsers }) {
		us, err := s.Users(ctx)
		if err != nil {
			return nil, nil, err
		}
		ids := make([]string, 0, len(us))
		for _, u := range us {
			ids = append(ids, u.ID)
			upns[u.ID] = u.UPN
		}
		return ids, upns, nil
	}
	var ids []string
	seen := map[string]bool{}
	for _, t := range p.IncludeTargets {
		members := []string{t.ID}
		if !strings.EqualFold(t.TargetType, "user") {
			var err error
			if members, err = s.GroupUserIDs(ctx, t.ID); err != nil {
				return nil, nil, err
			}
		}
		for _, id := range members {
			if k := strings.ToLower(id); !seen[k] {
				seen[k] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, upns, nil
}

// BlockedByOneTime lists the live multi-use passes of the users in ids that
// p would block were one-time use on (policy.BlockedByOneTime).
func BlockedByOneTime(ctx context.Context, s Scanner, p *Policy, ids []string, upns map[string]string, now time.Time) ([]BlockedPass, error) {
	once := *p
	once.IsUsableOnce = true
	var out []BlockedPass
	for _, id := range ids {
		ps, err := s.TAPs(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, pass := range ps {
			if policy.BlockedByOneTime(&once, pass.Judged(), now) {
				out = append(out, BlockedPass{UserID: id, UPN: upns[id], Expiry: pass.Expiry()})
			}
		}
	}
	return out, nil
}

// Leftover is what becomes of a user's pass once their key is enrolled: a
// pass is an onboarding credential that the key replaces
// (https://learn.microsoft.com/en-us/entra/identity/authentication/howto-authentication-temporary-access-pass).
type Leftover int

// What becomes of a live pass after an enrollment.
const (
	// LeftoverNotice: it stays; say that it exists.
	LeftoverNotice Leftover = iota + 1
	// LeftoverDelete: delete it (asked for, and the key was verified).
	LeftoverDelete
	// LeftoverKeptUnverified: deleting was asked for, but the key was not
	// verified: the pass stays, the user may still need it.
	LeftoverKeptUnverified
)

// AfterEnrollment decides what becomes of each of a user's passes once a
// key is enrolled for them: passes that no longer work are left alone; a
// live one is deleted when asked and the enrollment verified, else
// pointed out. The answer has one entry per pass (0: nothing to do).
func AfterEnrollment(ps []Pass, verified, deleteAsked bool, now time.Time) []Leftover {
	out := make([]Leftover, len(ps))
	for i, p := range ps {
		switch {
		case !p.Live(now):
		case !deleteAsked:
			out[i] = LeftoverNotice
		case verified:
			out[i] = LeftoverDelete
		default:
			out[i] = LeftoverKeptUnverified
		}
	}
	return out
}
