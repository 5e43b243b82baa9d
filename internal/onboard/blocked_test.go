package onboard

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/policy"
)

func TestAfterEnrollment(t *testing.T) {
	live := Pass{Created: t0, Start: t0, Lifetime: time.Hour, Usable: true, Reason: "EnabledByPolicy"}
	expired := Pass{Created: t0.Add(-3 * time.Hour), Start: t0.Add(-3 * time.Hour), Lifetime: time.Hour, Reason: "Expired"}
	used := Pass{Created: t0, Start: t0, Lifetime: time.Hour, Once: true, Reason: "OneTimeUsed"}
	tests := []struct {
		name             string
		verified, delete bool
		want             []Leftover
	}{
		{name: "not asked", verified: true, want: []Leftover{LeftoverNotice, 0, 0}},
		{name: "asked, verified", verified: true, delete: true, want: []Leftover{LeftoverDelete, 0, 0}},
		{name: "asked, not verified", delete: true, want: []Leftover{LeftoverKeptUnverified, 0, 0}},
	}
	for _, tt := range tests {
		got := AfterEnrollment([]Pass{live, expired, used}, tt.verified, tt.delete, t0.Add(time.Minute))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// scanDir is the fake directory as a Scanner.
type scanDir struct {
	*fakeDir
	groups map[string][]string
}

func (s scanDir) Users(context.Context) ([]User, error) {
	var out []User
	for _, u := range s.users {
		out = append(out, *u)
	}
	return out, nil
}

func (s scanDir) GroupUserIDs(_ context.Context, id string) ([]string, error) {
	return s.groups[id], nil
}

// TestBlockedByOneTime: the users in the policy's targets are scanned, and
// only their live multi-use passes count.
func TestBlockedByOneTime(t *testing.T) {
	now := t0
	d := newFakeDir(func() time.Time { return now })
	is := newIssuer(d, &now)
	ctx := context.Background()
	for _, r := range []struct {
		upn  string
		once bool
	}{{"adele.vance@contoso.test", false}, {"alex.wilber@contoso.test", false}, {"megan.bowen@contoso.test", true}} {
		if _, err := is.Issue(ctx, r.upn, Request{Once: ptr(r.once)}); err != nil {
			t.Fatal(err)
		}
	}
	adele, alex := d.users["adele.vance@contoso.test"].ID, d.users["alex.wilber@contoso.test"].ID
	megan := d.users["megan.bowen@contoso.test"].ID
	s := scanDir{fakeDir: d, groups: map[string][]string{"g1": {adele, megan}, "g2": {megan}}}
	tests := []struct {
		name    string
		targets []policy.Target
		later   time.Duration
		want    []string
	}{
		{name: "all users", targets: []policy.Target{{ID: policy.AllUsers}}, want: []string{adele, alex}},
		{name: "groups", targets: []policy.Target{{ID: "g1"}, {ID: "g2"}}, want: []string{adele}},
		{name: "a user directly", targets: []policy.Target{{ID: alex, TargetType: "user"}}, want: []string{alex}},
		{name: "expired", targets: []policy.Target{{ID: policy.AllUsers}}, later: 2 * time.Hour},
	}
	for _, tt := range tests {
		p := d.policy
		p.IncludeTargets = tt.targets
		ids, upns, err := TargetUserIDs(ctx, s, &p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := BlockedByOneTime(ctx, s, &p, ids, upns, now.Add(tt.later))
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, b := range got {
			gotIDs = append(gotIDs, b.UserID)
		}
		slices.Sort(gotIDs)
		slices.Sort(tt.want)
		if !slices.Equal(gotIDs, tt.want) {
			t.Errorf("%s: blocked %v, want %v", tt.name, gotIDs, tt.want)
		}
	}
}
