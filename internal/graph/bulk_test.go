package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/entrasim"
)

func TestODataString(t *testing.T) {
	for in, want := range map[string]string{
		"a@x.test":                   "'a@x.test'",
		"o'brien@x.test":             "'o''brien@x.test'",
		"''":                         "''''''",
		"kim_f.com#EXT#@x.onms.test": "'kim_f.com#EXT#@x.onms.test'",
	} {
		if got := odataString(in); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

// TestSimFindUsersByUPN: batches of 15, quoting, guests' #EXT# UPNs,
// paging, and users not found left out; counted by the tenant.
func TestSimFindUsersByUPN(t *testing.T) {
	seed := entrasim.DefaultSeed()
	var upns []string
	for i := range 20 {
		u := fmt.Sprintf("user%02d@contoso.test", i)
		seed = append(seed, entrasim.SeedUser{UPN: u, DisplayName: u, UserType: "Member"})
		upns = append(upns, u)
	}
	odd := []string{"o'brien@contoso.test", "a+b&c=d@contoso.test", "x%2Fy@contoso.test"}
	for _, u := range odd {
		seed = append(seed, entrasim.SeedUser{UPN: u, DisplayName: u, UserType: "Member"})
	}
	e := newSimEnv(t, nil, func(o *entrasim.Options) { o.Users = seed; o.MaxPageSize = 7 })
	ctx := context.Background()
	ask := append(append(append([]string{}, upns...), odd...), entrasim.GuestUPN, "Nobody@contoso.test", strings.ToUpper(upns[0]))
	got, err := e.client.FindUsersByUPN(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	byUPN := map[string]*User{}
	for _, u := range got {
		byUPN[strings.ToLower(u.UserPrincipalName)] = u
	}
	for _, u := range append(append([]string{}, upns...), odd...) {
		if g := byUPN[strings.ToLower(u)]; g == nil || g.ID != entrasim.UserObjectID(u) || g.UserPrincipalName != u {
			t.Errorf("%s: %+v", u, g)
		}
	}
	if g := byUPN[strings.ToLower(entrasim.GuestUPN)]; g == nil || !g.IsGuest() || g.UserType != "Guest" {
		t.Errorf("guest: %+v", g)
	}
	if len(got) != 24 {
		t.Errorf("%d users, want 24 (not found left out, duplicates once)", len(got))
	}
	// 25 distinct UPNs: two requests of 15 and 10, paged by 7 (15 and 9
	// found: 3 + 2 pages).
	counts := e.tenant.RequestCounts()
	if counts[entrasim.EPListUsers] != 5 || len(counts) != 1 {
		t.Errorf("requests by kind %v, want 5 %s (2 batches, 3 + 2 pages)", counts, entrasim.EPListUsers)
	}
	for _, r := range e.tenant.Requests() {
		if r.Status != 200 {
			t.Errorf("%+v", r)
		}
	}
	if _, err := e.client.FindUsersByUPN(ctx, []string{"a@x.test", "b\nc@x.test"}); err == nil {
		t.Error("a UPN with a newline was sent")
	}
	if us, err := e.client.FindUsersByUPN(ctx, nil); err != nil || len(us) != 0 {
		t.Errorf("no UPNs: %v, %v", us, err)
	}
}

func TestSimGroupUserIDs(t *testing.T) {
	e := newSimEnv(t, []string{"GroupMember.Read.All"}, func(o *entrasim.Options) { o.MaxPageSize = 10 })
	ctx := context.Background()
	ids, err := e.client.GroupUserIDs(ctx, entrasim.GroupObjectID(entrasim.PasskeyGroup))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, u := range e.tenant.Users() {
		if slices.Contains(u.Groups, entrasim.PasskeyGroup) {
			want = append(want, u.ID)
		}
	}
	slices.Sort(ids)
	slices.Sort(want)
	if len(want) != 25 || !slices.Equal(ids, want) {
		t.Errorf("members %v, want %v", ids, want)
	}
	if c := e.tenant.RequestCounts(); c[entrasim.EPGroupMembers] != 3 {
		t.Errorf("requests %v, want 3 pages of %s", c, entrasim.EPGroupMembers)
	}
	_, err = e.client.GroupUserIDs(ctx, entrasim.UserObjectID("nobody@contoso.test"))
	if !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("missing group: %v", err)
	}
	// Without a group permission: 403 naming it.
	e2 := newSimEnv(t, []string{"User.Read.All"})
	_, err = e2.client.GroupUserIDs(ctx, entrasim.GroupObjectID(entrasim.PasskeyGroup))
	var ge *Error
	if !errors.As(err, &ge) || !errors.Is(err, ErrPermission) || ge.MissingPermission != "GroupMember.Read.All" {
		t.Errorf("without permission: %v", err)
	}
}
