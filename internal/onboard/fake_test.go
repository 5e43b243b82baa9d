package onboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// fakeDir is an in-memory tenant with Graph's TAP rules
// (https://learn.microsoft.com/graph/api/resources/temporaryaccesspassauthenticationmethod):
// one pass per user, a new one replaces the old, the code only in the
// creation answer, usability computed at read time, external guests
// refused. Faults make a call fail.
type fakeDir struct {
	mu     sync.Mutex
	now    func() time.Time
	policy Policy
	users  map[string]*User // by lower-case UPN
	passes map[string]*Pass // by user id
	calls  []string
	// fail makes the named call ("CreateTAP:upn") return the error.
	fail map[string]error
}

func newFakeDir(now func() time.Time) *fakeDir {
	d := &fakeDir{now: now, users: map[string]*User{}, passes: map[string]*Pass{}, fail: map[string]error{},
		policy: Policy{State: "enabled", DefaultLifetimeInMinutes: 60, MinimumLifetimeInMinutes: 60, MaximumLifetimeInMinutes: 480, DefaultLength: 8}}
	for i, upn := range []string{"adele.vance@contoso.test", "alex.wilber@contoso.test", "megan.bowen@contoso.test", "kim_fabrikam.com#EXT#@contoso.test"} {
		d.users[strings.ToLower(upn)] = &User{ID: fmt.Sprintf("00000000-0000-0000-0000-00000000000%d", i+1), UPN: upn,
			DisplayName: "User " + strings.Split(upn, "@")[0], Guest: strings.Contains(upn, "#EXT#")}
	}
	return d
}

var errNotFound = errors.New("user not found")
var errGuest = errors.New("temporary access pass is not supported for external guest users")

func (d *fakeDir) call(name string) error {
	d.calls = append(d.calls, name)
	return d.fail[name]
}

func (d *fakeDir) userByID(id string) *User {
	for _, u := range d.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func (d *fakeDir) User(_ context.Context, upn string) (*User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.call("User:" + upn); err != nil {
		return nil, err
	}
	u := d.users[strings.ToLower(upn)]
	if u == nil {
		return nil, fmt.Errorf("get user %s: %w", upn, errNotFound)
	}
	c := *u
	return &c, nil
}

func (d *fakeDir) TAPPolicy(context.Context) (*Policy, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.call("TAPPolicy"); err != nil {
		return nil, err
	}
	p := d.policy
	return &p, nil
}

func (d *fakeDir) view(p *Pass) Pass {
	v := *p
	v.Code = nil
	now := d.now()
	switch {
	case p.Reason == "OneTimeUsed":
		v.Usable = false
	case !now.Before(p.Expiry()):
		v.Usable, v.Reason = false, "Expired"
	case now.Before(p.Start):
		v.Usable, v.Reason = false, "NotYetValid"
	default:
		v.Usable, v.Reason = true, "EnabledByPolicy"
	}
	return v
}

func (d *fakeDir) TAPs(_ context.Context, userID string) ([]Pass, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.call("TAPs:" + userID); err != nil {
		return nil, err
	}
	if p := d.passes[userID]; p != nil {
		return []Pass{d.view(p)}, nil
	}
	return nil, nil
}

func (d *fakeDir) CreateTAP(_ context.Context, userID string, r CreateRequest) (*Pass, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u := d.userByID(userID)
	if u == nil {
		return nil, errNotFound
	}
	if err := d.call("CreateTAP:" + u.UPN); err != nil {
		return nil, err
	}
	if u.Guest {
		return nil, errGuest
	}
	life := d.policy.DefaultLifetime()
	if r.Lifetime != 0 {
		if r.Lifetime < d.policy.MinLifetime() || r.Lifetime > d.policy.MaxLifetime() {
			return nil, errors.New("invalid lifetimeInMinutes specified")
		}
		life = r.Lifetime
	}
	once := d.policy.IsUsableOnce
	if r.Once != nil {
		if !*r.Once && d.policy.IsUsableOnce {
			return nil, errors.New("one-time use is required by policy")
		}
		once = *r.Once
	}
	start := d.now()
	if !r.Start.IsZero() {
		start = r.Start
	}
	b := make([]byte, d.policy.DefaultLength/2)
	_, _ = rand.Read(b)
	p := &Pass{ID: hex.EncodeToString(b[:2]) + "-pass", Created: d.now(), Start: start, Lifetime: life, Once: once}
	d.passes[userID] = p
	v := d.view(p)
	v.Code = []byte(hex.EncodeToString(b))
	return &v, nil
}

func (d *fakeDir) DeleteTAP(_ context.Context, userID, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.call("DeleteTAP:" + userID); err != nil {
		return err
	}
	if p := d.passes[userID]; p == nil || p.ID != id {
		return errors.New("not found")
	}
	delete(d.passes, userID)
	return nil
}

func (d *fakeDir) count(prefix string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}
