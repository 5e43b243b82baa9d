package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/policy"
)

// Every bench of a fleet spends the same application's Graph budget in the
// tenant, so a bench run resolves users in bulk (docs/graph.md §6.3): the
// queued users are looked up LookupBatch at a time ahead of their turn, the
// Passkey (FIDO2) policy is read once, and the members of the policy's
// target groups are listed once, instead of a user lookup and a membership
// check per enrollment. What remains per enrollment is the creationOptions
// and the registration.

// LookupBatch is how many users one lookup asks for: Graph takes at most 15
// values in a $filter "in" without advanced query capabilities.
const LookupBatch = 15

// Resolver is what bulk resolution needs of the directory. The CLI's Graph
// adapter implements it; errors keep the directory's classes.
type Resolver interface {
	// UsersByUPN looks up at most LookupBatch users by UPN (one request,
	// or a few pages); users it does not find are left out.
	UsersByUPN(ctx context.Context, upns []string) ([]enroll.User, error)
	// Fido2Policy reads the Passkey (FIDO2) method policy.
	Fido2Policy(ctx context.Context) (*policy.Fido2Policy, error)
	// GroupUserIDs lists the object ids of the users in a group, directly
	// or through nested groups.
	GroupUserIDs(ctx context.Context, groupID string) ([]string, error)
}

// EligibilityOf applies the Passkey (FIDO2) policy to a user whose group
// memberships among the policy's targets are known (memberOf: group ids),
// through internal/policy, the same evaluation `policy check` makes:
// method enabled, user in an include target and in no exclude target,
// self-service setup on (the provisioning API refuses without it), and the
// key rules of the passkey profile that applies.
func EligibilityOf(p *policy.Fido2Policy, u *enroll.User, memberOf []string) *enroll.Eligibility {
	pu := policy.User{ID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName, Guest: u.Guest}
	rep := policy.Evaluate(policy.Input{User: pu, Fido2: p, Membership: policy.Membership{Groups: memberOf}})
	pe := rep.Eligibility()
	el := &enroll.Eligibility{Allowed: pe.Allowed, Reasons: pe.Reasons, Hint: pe.Hint,
		AttestationEnforced: pe.AttestationEnforced, Profile: pe.Profile}
	for _, kr := range pe.Restrictions {
		el.Restrictions = append(el.Restrictions, enroll.KeyRestrictions{Enforced: kr.IsEnforced, Allow: kr.AllowList(), AAGUIDs: kr.AAGUIDs})
	}
	return el
}

// bulkDir resolves users and eligibility in bulk for a run and leaves the
// rest to the directory it wraps (which also answers whatever bulk
// resolution cannot: a user a batch did not find or could not look up, a
// membership that cannot be listed, a negative answer to confirm).
//
// Staleness: users, the policy and the groups' members are read once per
// run (per daemon for `keyprep serve`). A negative eligibility is
// confirmed per user with the wrapped directory (today's membership check),
// so a user added to a target group mid-run is enrolled; a user added to an
// exclude group (or removed from the include group) after the members were
// listed is still taken for eligible, and Entra's own check at
// creationOptions or registration is what refuses them.
type bulkDir struct {
	enroll.Directory
	res Resolver

	mu       sync.Mutex
	order    []string                       // expected UPNs, queue order
	expected map[string]bool                // lower-case UPN
	users    map[string]*enroll.User        // lower-case UPN → user found in a batch
	perUser  map[string]bool                // lower-case UPN → ask the wrapped directory
	missing  map[string]bool                // lower-case UPN → a batch did not find it
	inflight map[string]chan struct{}       // lower-case UPN → closed when its batch ends
	elig     map[string]*enroll.Eligibility // user id → answer this run

	pol    loadOnce[*policy.Fido2Policy] // the run's policy ("" key)
	groups loadOnce[map[string]bool]     // lower-case group id → lower-case user ids

	batches, fallbacks int
}

func newBulkDir(d enroll.Directory, res Resolver) *bulkDir {
	return &bulkDir{Directory: d, res: res, expected: map[string]bool{}, users: map[string]*enroll.User{},
		perUser: map[string]bool{}, missing: map[string]bool{}, inflight: map[string]chan struct{}{},
		elig: map[string]*enroll.Eligibility{}}
}

// expect queues UPNs for lookup ahead of their turn, in order.
func (d *bulkDir) expect(upns []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range upns {
		k := strings.ToLower(u)
		if !d.expected[k] {
			d.expected[k] = true
			d.order = append(d.order, u)
		}
	}
}

// forget drops the eligibility answers (a retry of failed users asks
// again).
func (d *bulkDir) forget() {
	d.mu.Lock()
	d.elig = map[string]*enroll.Eligibility{}
	d.mu.Unlock()
}

func isUPN(s string) bool { return strings.Contains(s, "@") }

// User implements enroll.Directory: from the user's batch, looked up
// together with the next expected users; a user the batch did not find (or
// whose batch failed) is asked for alone, so "not found" and every other
// answer are exactly the wrapped directory's.
func (d *bulkDir) User(ctx context.Context, idOrUPN string) (*enroll.User, error) {
	k := strings.ToLower(idOrUPN)
	for {
		d.mu.Lock()
		if u := d.users[k]; u != nil {
			d.mu.Unlock()
			c := *u
			return &c, nil
		}
		if d.perUser[k] || !isUPN(idOrUPN) {
			d.fallbacks++
			d.mu.Unlock()
			return d.Directory.User(ctx, idOrUPN)
		}
		if ch := d.inflight[k]; ch != nil {
			d.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		batch := d.nextBatchLocked(idOrUPN)
		ch := make(chan struct{})
		for _, u := range batch {
			d.inflight[strings.ToLower(u)] = ch
		}
		d.batches++
		d.mu.Unlock()

		found, err := d.res.UsersByUPN(ctx, batch)
		d.mu.Lock()
		for i := range found {
			u := found[i]
			d.users[strings.ToLower(u.UPN)] = &u
		}
		for _, u := range batch {
			bk := strings.ToLower(u)
			delete(d.inflight, bk)
			if d.users[bk] == nil {
				// Not found, or the batch failed: ask for this user alone.
				d.perUser[bk] = true
				d.missing[bk] = err == nil
			}
		}
		close(ch)
		d.mu.Unlock()
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A failed batch: every user of it is asked for alone (this one
		// on the next turn), which reports any error user by user.
	}
}

// notFound reports a user a batch lookup did not find: only the
// enrollment asks for them again (alone), not the look-ahead.
func (d *bulkDir) notFound(upn string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.missing[strings.ToLower(upn)]
}

// nextBatchLocked is first and the next expected users not yet resolved
// or being looked up, LookupBatch at most. The caller holds d.mu.
func (d *bulkDir) nextBatchLocked(first string) []string {
	batch := []string{first}
	fk := strings.ToLower(first)
	for _, u := range d.order {
		if len(batch) == LookupBatch {
			break
		}
		k := strings.ToLower(u)
		if k == fk || d.users[k] != nil || d.perUser[k] || d.inflight[k] != nil {
			continue
		}
		batch = append(batch, u)
	}
	return batch
}

// policy reads the Passkey (FIDO2) policy once per run; a failure is not
// kept (the next user asks again).
func (d *bulkDir) policy(ctx context.Context) (*policy.Fido2Policy, error) {
	return d.pol.get(ctx, "", d.res.Fido2Policy)
}

// members lists a group's users once per run; a failure is not kept.
func (d *bulkDir) members(ctx context.Context, groupID string) (map[string]bool, error) {
	return d.groups.get(ctx, strings.ToLower(groupID), func(ctx context.Context) (map[string]bool, error) {
		ids, err := d.res.GroupUserIDs(ctx, groupID)
		if err != nil {
			return nil, err
		}
		m := make(map[string]bool, len(ids))
		for _, id := range ids {
			m[strings.ToLower(id)] = true
		}
		return m, nil
	})
}

// warm reads the policy and lists its target groups' members at the start
// of a run, while the keys are checked, instead of in the first user's
// enrollment: the same requests, each made once (loadOnce), that every
// enrollment needs. A failure is not kept: the first enrollment asks
// again and reports it.
func (d *bulkDir) warm(ctx context.Context) {
	p, err := d.policy(ctx)
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	for _, g := range policy.GroupsToCheck("", p.IncludeTargets, p.ExcludeTargets) {
		if g == policy.AllUsers {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = d.members(ctx, g)
		}()
	}
	wg.Wait()
}

// loadOnce keeps what load returned per key for the run: concurrent
// callers of one key wait for the one load in flight; a success is kept,
// a failure is not (the next caller loads again).
type loadOnce[V any] struct {
	mu   sync.Mutex
	done map[string]V
	wait map[string]chan struct{}
}

func (l *loadOnce[V]) get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	var zero V
	for {
		l.mu.Lock()
		if v, ok := l.done[key]; ok {
			l.mu.Unlock()
			return v, nil
		}
		if ch := l.wait[key]; ch != nil {
			l.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return zero, ctx.Err()
			}
		}
		if l.wait == nil {
			l.done, l.wait = map[string]V{}, map[string]chan struct{}{}
		}
		ch := make(chan struct{})
		l.wait[key] = ch
		l.mu.Unlock()
		v, err := load(ctx)
		l.mu.Lock()
		delete(l.wait, key)
		if err == nil {
			l.done[key] = v
		}
		close(ch)
		l.mu.Unlock()
		return v, err
	}
}

// Eligibility implements enroll.Directory from the run's policy and the
// target groups' members. A membership that cannot be listed, and a
// negative answer that depends on memberships, are settled by the wrapped
// directory (one membership check for this user).
func (d *bulkDir) Eligibility(ctx context.Context, u *enroll.User) (*enroll.Eligibility, error) {
	d.mu.Lock()
	if el := d.elig[u.ID]; el != nil {
		d.mu.Unlock()
		return copyEligibility(el), nil
	}
	d.mu.Unlock()
	p, err := d.policy(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the Passkey (FIDO2) policy: %w", err)
	}
	groups := policy.GroupsToCheck(u.ID, p.IncludeTargets, p.ExcludeTargets)
	var memberOf []string
	listed := true
	for _, g := range groups {
		m, err := d.members(ctx, g)
		if err != nil {
			listed = false
			break
		}
		if m[strings.ToLower(u.ID)] {
			memberOf = append(memberOf, g)
		}
	}
	var el *enroll.Eligibility
	if listed {
		el = EligibilityOf(p, u, memberOf)
	}
	if !listed || (!el.Allowed && len(groups) > 0 && !u.Guest) {
		d.mu.Lock()
		d.fallbacks++
		d.mu.Unlock()
		if el, err = d.Directory.Eligibility(ctx, u); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	d.elig[u.ID] = el
	d.mu.Unlock()
	return copyEligibility(el), nil
}

func copyEligibility(el *enroll.Eligibility) *enroll.Eligibility {
	c := *el
	c.Reasons = append([]string(nil), el.Reasons...)
	c.Restrictions = append([]enroll.KeyRestrictions(nil), el.Restrictions...)
	return &c
}

// BulkStats counts what bulk resolution did in a run.
type BulkStats struct {
	// Batches is the number of batch lookups (each up to LookupBatch
	// users); Fallbacks the questions left to the per-user directory.
	Batches, Fallbacks int
}

func (d *bulkDir) stats() BulkStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return BulkStats{Batches: d.batches, Fallbacks: d.fallbacks}
}
