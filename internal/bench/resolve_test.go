package bench_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
	"github.com/keyprep/keyprep/internal/policy"
)

// Bulk resolution on the bench: a fake resolver over the same users as the
// fake directory, counting what it is asked.

const (
	groupIn  = "11111111-1111-1111-1111-111111111111"
	groupOut = "22222222-2222-2222-2222-222222222222"
)

type fakeResolver struct {
	mu      sync.Mutex
	users   map[string]enroll.User     // lower-case UPN
	members map[string]map[string]bool // group id → user ids
	pol     policy.Fido2Policy
	calls   map[string]int
	fail    map[string]error // call → error every time
}

func (f *fakeResolver) enter(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[call]++
	return f.fail[call]
}

func (f *fakeResolver) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[call]
}

func (f *fakeResolver) UsersByUPN(_ context.Context, upns []string) ([]enroll.User, error) {
	if err := f.enter("users"); err != nil {
		return nil, err
	}
	if len(upns) > bench.LookupBatch {
		return nil, fmt.Errorf("%d UPNs in one lookup", len(upns))
	}
	var out []enroll.User
	for _, u := range upns {
		if x, ok := f.users[strings.ToLower(u)]; ok {
			out = append(out, x)
		}
	}
	return out, nil
}

func (f *fakeResolver) Fido2Policy(context.Context) (*policy.Fido2Policy, error) {
	if err := f.enter("policy"); err != nil {
		return nil, err
	}
	p := f.pol
	return &p, nil
}

func (f *fakeResolver) GroupUserIDs(_ context.Context, id string) ([]string, error) {
	if err := f.enter("group"); err != nil {
		return nil, err
	}
	var out []string
	for u := range f.members[id] {
		out = append(out, u)
	}
	return out, nil
}

// bulkWorld is 60 queued users: members in the include group (eligible),
// members also in the exclude group, guests, users the directory does not
// know, and one user whose membership the per-user check sees but the
// listed members do not (added to the group mid-run).
type bulkWorld struct {
	b    *benchEnv
	res  *fakeResolver
	upns []string
	kind map[string]string
}

func newBulkWorld(t *testing.T) *bulkWorld {
	b := newBenchEnv(t, 0)
	w := &bulkWorld{b: b, kind: map[string]string{}, res: &fakeResolver{users: map[string]enroll.User{},
		members: map[string]map[string]bool{groupIn: {}, groupOut: {}}, calls: map[string]int{}, fail: map[string]error{},
		pol: policy.Fido2Policy{State: "enabled", IsSelfServiceRegistrationAllowed: true,
			IncludeTargets: []policy.Target{{ID: groupIn, TargetType: "group"}},
			ExcludeTargets: []policy.Target{{ID: groupOut, TargetType: "group"}}}}}
	for i := range 60 {
		kind := "eligible"
		switch {
		case i%30 == 3:
			kind = "excluded"
		case i%30 == 7:
			kind = "guest"
		case i%30 == 11:
			kind = "missing"
		case i == 20:
			kind = "late"
		}
		upn := fmt.Sprintf("%s%02d@contoso.test", kind, i)
		w.upns = append(w.upns, upn)
		w.kind[upn] = kind
		if kind == "missing" {
			continue
		}
		u := b.dir.AddUser(upn, upn, kind == "guest")
		w.res.users[strings.ToLower(upn)] = u
		var memberOf []string
		if kind != "late" {
			w.res.members[groupIn][u.ID] = true
			memberOf = append(memberOf, groupIn)
		}
		if kind == "excluded" {
			w.res.members[groupOut][u.ID] = true
			memberOf = append(memberOf, groupOut)
		}
		// The per-user check (the fake directory) answers what the policy
		// says of the user's memberships now: the late user is in.
		if kind == "late" {
			memberOf = []string{groupIn}
		}
		b.dir.SetEligibility(upn, *bench.EligibilityOf(&w.res.pol, &u, memberOf))
	}
	for range 4 {
		b.plug()
	}
	return w
}

func (w *bulkWorld) run(resolver bench.Resolver) bench.Snapshot {
	r := w.b.runner(benchOpts{Options: bench.Options{Foreground: true, SkipExisting: true, Resolver: resolver}, swap: true})
	return w.b.run(r, w.upns...)
}

// requests counts the Graph requests the run made: the resolver's and the
// per-user directory's, by kind.
func (w *bulkWorld) requests() (int, map[string]int) {
	by := map[string]int{}
	for _, c := range []string{"users", "policy", "group"} {
		by["bulk "+c] = w.res.count(c)
	}
	for _, c := range []string{enrolltest.CallUser, enrolltest.CallEligibility, enrolltest.CallOptions, enrolltest.CallRegister, enrolltest.CallMethods} {
		by[c] = w.b.dir.Calls(c)
	}
	n := 0
	for _, v := range by {
		n += v
	}
	return n, by
}

// budgetProblem says what is wrong with a run's Graph budget, "" when it
// is at most 2.3 requests per enrollment.
func budgetProblem(n int, by map[string]int, done int) string {
	if done == 0 || float64(n)/float64(done) > 2.3 {
		return fmt.Sprintf("%d requests for %d enrollments (%.2f each, want at most 2.3); by kind %v", n, done, float64(n)/float64(max(done, 1)), by)
	}
	return ""
}

// TestBulkResolution: a bulk run spends at most 2.3 requests per
// enrollment (users 15 per lookup, the policy and each target group once,
// per-user calls only for users a batch did not find and negative answers
// to confirm), and every user ends as a run without bulk resolution ends.
func TestBulkResolution(t *testing.T) {
	t.Parallel()
	bulk := newBulkWorld(t)
	bs := bulk.run(bulk.res)
	n, by := bulk.requests()
	if p := budgetProblem(n, by, bs.Counts.Done); p != "" {
		t.Error(p)
	}
	if by["bulk policy"] != 1 || by["bulk group"] != 2 || by["bulk users"] > 60/bench.LookupBatch+1 {
		t.Errorf("the policy, each group once and users 15 at a time: %v", by)
	}
	// Per-user calls: the 2 users not found, and the 2 excluded users and
	// the late one (negative answers confirmed); no passkey listing (the
	// skip check reads the options the enrollment uses).
	if by[enrolltest.CallUser] != 2 || by[enrolltest.CallEligibility] != 3 || by[enrolltest.CallMethods] != 0 {
		t.Errorf("per-user calls %v", by)
	}
	if by[enrolltest.CallOptions] != bs.Counts.Done || by[enrolltest.CallRegister] != bs.Counts.Done {
		t.Errorf("options and registrations %v for %d enrollments", by, bs.Counts.Done)
	}

	// The same users without bulk resolution: the same outcome for each.
	single := newBulkWorld(t)
	ss := single.run(nil)
	for _, upn := range bulk.upns {
		a, b := item(bs, upn), item(ss, upn)
		if a.State != b.State || a.Error != b.Error {
			t.Errorf("%s (%s): bulk %s %q, per user %s %q", upn, bulk.kind[upn], a.State, a.Error, b.State, b.Error)
		}
		want := map[string]bench.ItemState{"eligible": bench.ItemDone, "late": bench.ItemDone, "excluded": bench.ItemFailed,
			"guest": bench.ItemFailed, "missing": bench.ItemFailed}[bulk.kind[upn]]
		if a.State != want {
			t.Errorf("%s: %s, want %s (%s)", upn, a.State, want, a.Error)
		}
	}
	bulk.b.onePasskeyEach(bs)
	// The check can fail: the per-user run spends far more.
	n, by = single.requests()
	if p := budgetProblem(n, by, ss.Counts.Done); p == "" {
		t.Errorf("per-user run passes the budget check: %d requests, %v", n, by)
	}
}

// TestBulkResolutionFallback: lookups and member listings that fail fall
// back to the per-user directory (the run stays correct, the budget does
// not: the check catches broken batching).
func TestBulkResolutionFallback(t *testing.T) {
	t.Parallel()
	w := newBulkWorld(t)
	w.res.fail["users"] = errors.New("graph: batch lookup failed")
	w.res.fail["group"] = errors.New("graph: listing members failed")
	s := w.run(w.res)
	for _, upn := range w.upns {
		want := map[string]bench.ItemState{"eligible": bench.ItemDone, "late": bench.ItemDone, "excluded": bench.ItemFailed,
			"guest": bench.ItemFailed, "missing": bench.ItemFailed}[w.kind[upn]]
		if it := item(s, upn); it.State != want {
			t.Errorf("%s: %s, want %s (%s)", upn, it.State, want, it.Error)
		}
	}
	n, by := w.requests()
	if by[enrolltest.CallUser] < 60 || by["bulk users"] != 4 {
		t.Errorf("per-user lookups after failed batches: %v", by)
	}
	if p := budgetProblem(n, by, s.Counts.Done); p == "" {
		t.Errorf("failed batches pass the budget check: %v", by)
	}
}

// TestBulkLookupAhead: users announced with Expect are looked up 15 at a
// time, however many ask at once (the row check before any key).
func TestBulkLookupAhead(t *testing.T) {
	t.Parallel()
	w := newBulkWorld(t)
	r := w.b.runner(benchOpts{Options: bench.Options{Foreground: true, Resolver: w.res}})
	r.Expect(w.upns)
	var wg sync.WaitGroup
	errs := make([]error, len(w.upns))
	for i, u := range w.upns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Directory().User(w.b.ctx, u)
		}()
	}
	wg.Wait()
	for i, u := range w.upns {
		if (errs[i] != nil) != (w.kind[u] == "missing") {
			t.Errorf("%s (%s): %v", u, w.kind[u], errs[i])
		}
		if w.kind[u] == "missing" && !errors.Is(errs[i], enrolltest.ErrUserNotFound) {
			t.Errorf("%s: %v, want the directory's own not found", u, errs[i])
		}
	}
	if got := w.res.count("users"); got != 4 {
		t.Errorf("%d lookups for 60 users, want 4", got)
	}
	if got := w.b.dir.Calls(enrolltest.CallUser); got != 2 {
		t.Errorf("%d per-user lookups, want 2 (the users not found)", got)
	}
	if st := r.BulkStats(); st.Batches != 4 || st.Fallbacks != 2 {
		t.Errorf("stats %+v", st)
	}
}
