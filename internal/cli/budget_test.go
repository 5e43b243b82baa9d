package cli

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/entrasim"
)

// The fleet's Graph budget (docs/graph.md §6.3): a bench run against the
// emulated tenant through the real Graph client, counted by the tenant per
// kind of request.

const excludedGroup = "Passkey Excluded"

// budgetTenant seeds 61 eligible members (one with an apostrophe in the
// UPN), 3 members the FIDO2 policy excludes by group and 2 guests, and
// returns the hooks that seed it and exclude the group, the CSV of all of
// them plus 2 users the tenant does not know, and each UPN's kind.
func budgetTenant(t *testing.T) (hooks, string, map[string]string) {
	t.Helper()
	kind := map[string]string{}
	var seed []entrasim.SeedUser
	add := func(upn, k, userType string, groups ...string) {
		kind[upn] = k
		if k != "missing" {
			seed = append(seed, entrasim.SeedUser{UPN: upn, DisplayName: upn, UserType: userType, Groups: groups})
		}
	}
	for i := range 60 {
		add(fmt.Sprintf("user%02d@contoso.test", i), "eligible", "Member", entrasim.PasskeyGroup)
		switch i {
		case 10, 30, 50:
			add(fmt.Sprintf("excl%02d@contoso.test", i), "excluded", "Member", entrasim.PasskeyGroup, excludedGroup)
		case 20, 40:
			add(fmt.Sprintf("guest%02d_fabrikam.com#EXT#@contoso.test", i), "guest", "Guest", entrasim.PasskeyGroup)
		case 25, 45:
			add(fmt.Sprintf("nobody%02d@contoso.test", i), "missing", "")
		}
	}
	add("o'neil@contoso.test", "eligible", "Member", entrasim.PasskeyGroup)
	var csv strings.Builder
	csv.WriteString("upn\n")
	upns := make([]string, 0, len(kind))
	for u := range kind {
		upns = append(upns, u)
	}
	sort.Strings(upns)
	for _, u := range upns {
		csv.WriteString(u + "\n")
	}
	p := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(p, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	setup := entrasim.NewToken()
	h := hooks{
		tenantOptions: func(o *entrasim.Options) {
			o.Users = seed
			o.Tokens[setup] = entrasim.Identity{Name: "test setup"}
			o.MaxPageSize = 20 // the include group's members come in pages
		},
		tenantOpened: func(tn *entrasim.Tenant) {
			body := fmt.Sprintf(`{"@odata.type":"#microsoft.graph.fido2AuthenticationMethodConfiguration","excludeTargets":[{"id":%q,"targetType":"group"}]}`,
				entrasim.GroupObjectID(excludedGroup))
			req := httptest.NewRequest("PATCH", "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+setup)
			rec := httptest.NewRecorder()
			tn.ServeHTTP(rec, req)
			if rec.Code != 204 {
				t.Errorf("excluding the group: %d %s", rec.Code, rec.Body.Bytes())
			}
		},
	}
	return h, p, kind
}

// budgetProblem says what breaks the budget of 2.3 Graph requests per
// enrollment, naming the requests by kind; "" when it holds.
func budgetProblem(counts map[string]int, done int) string {
	n := 0
	var kinds []string
	for k, v := range counts {
		n += v
		kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(kinds)
	if done == 0 || float64(n) > 2.3*float64(done) {
		return fmt.Sprintf("%d Graph requests for %d enrollments (%.2f each, want at most 2.3): %s",
			n, done, float64(n)/float64(max(done, 1)), strings.Join(kinds, ", "))
	}
	return ""
}

// budgetRun runs the bench on the budget tenant's list (a partial run:
// why says what fails) and returns its summary and the tenant's requests
// by kind, the test's own policy set-up left out; 61 users must be
// enrolled within the budget.
func budgetRun(t *testing.T, w *world, h hooks, csv, why string) (cliResult, benchSummary, map[string]int) {
	t.Helper()
	r := w.cli("", h, "--sim-keys", "4", "enroll", "--csv", csv, "--json")
	if r.code != int(ExitPartial) {
		t.Fatalf("enroll --csv: exit %d, want %d (%s)\n%s", r.code, ExitPartial, why, r.errOut[max(0, len(r.errOut)-3000):])
	}
	_, sum := jsonLines(t, r.out)
	counts := w.tenant.RequestCounts()
	counts[entrasim.EPPatchPolicy]-- // the test's own set-up
	if counts[entrasim.EPPatchPolicy] == 0 {
		delete(counts, entrasim.EPPatchPolicy)
	}
	if sum.Counts.Done != 61 {
		t.Fatalf("counts %+v, want 61 enrolled", sum.Counts)
	}
	if p := budgetProblem(counts, sum.Counts.Done); p != "" {
		t.Error(p)
	}
	return r, sum, counts
}

// TestBenchGraphBudget: a bench run of 68 rows costs at most 2.3 Graph
// requests per enrollment: users looked up 15 per request, the policy and
// each target group once, per-user requests only for users not found and
// to confirm a negative answer, then creationOptions and the registration.
// Each user ends as `enroll --user` ends for them.
func TestBenchGraphBudget(t *testing.T) {
	t.Parallel()
	h, csv, kind := budgetTenant(t)
	w := newWorld(t)
	r, sum, counts := budgetRun(t, w, h, csv, "2 row errors, 5 users refused")
	want := map[string]int{
		entrasim.EPListUsers:         5,  // 68 rows, 15 per request
		entrasim.EPGetUser:           2,  // the users not found, asked alone
		entrasim.EPGetPolicy:         1,  // once per run
		entrasim.EPGroupMembers:      5,  // the include group (66 members: 4 pages of 20) and the exclude group
		entrasim.EPCheckMemberGroups: 3,  // the excluded users' negative answers, confirmed
		entrasim.EPCreationOptions:   61, // one per enrollment (the skip check reads them)
		entrasim.EPRegisterFido2:     61,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%d %s requests, want %d (all: %v)", counts[k], k, v, counts)
		}
	}
	for k, v := range counts {
		if _, ok := want[k]; !ok && v != 0 {
			t.Errorf("%d unexpected %s requests", v, k)
		}
	}

	// The outcomes are those of per-user lookups: `enroll --user` (the
	// single path keeps its calls) for one user of each kind, in a tenant
	// seeded alike.
	items := map[string]bench.Item{}
	for _, it := range sum.Queue {
		items[it.UPN] = it
	}
	rowErrs := rowErrorLines(t, r.out)
	single := newWorld(t)
	seen := map[string]bool{}
	for _, upn := range sortedKeys(kind) {
		k := kind[upn]
		it, queued := items[upn]
		switch k {
		case "eligible":
			if it.State != bench.ItemDone {
				t.Errorf("%s: %s %q", upn, it.State, it.Error)
			}
		case "missing":
			if queued || rowErrs[upn] == "" {
				t.Errorf("%s: queued %v, row error %q", upn, queued, rowErrs[upn])
			}
		default:
			if it.State != bench.ItemFailed {
				t.Errorf("%s: %s, want failed", upn, it.State)
			}
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		sr := single.cli("", h, "--sim-keys", "1", "enroll", "--user", upn)
		switch k {
		case "eligible":
			if sr.code != 0 {
				t.Errorf("enroll --user %s: exit %d\n%s", upn, sr.code, sr.errOut)
			}
		case "missing":
			if sr.code == 0 || !strings.Contains(withoutIDs(sr.errOut), withoutIDs(rowErrs[upn])) {
				t.Errorf("%s: bench row error %q, enroll --user says (%d):\n%s", upn, rowErrs[upn], sr.code, sr.errOut)
			}
		default:
			if sr.code == 0 || !strings.Contains(withoutIDs(sr.errOut), withoutIDs(it.Error)) {
				t.Errorf("%s (%s): bench says %q, enroll --user says (%d):\n%s", upn, k, it.Error, sr.code, sr.errOut)
			}
		}
		if k != "eligible" && countReqs(sr.reqs, entrasim.EPRegisterFido2) != 0 {
			t.Errorf("%s: registered", upn)
		}
	}
	if len(seen) != 4 {
		t.Errorf("kinds %v", seen)
	}
}

// TestBenchListLoadedBefore: a bench given a list already in the store's
// queue (keyprep fleet load, or another bench of the fleet) starts without
// looking all of it up again: each user is looked up when a slot takes
// them, in the same batches, within the same budget. A user the tenant
// does not know, loaded without a look-up, is refused before a key is
// touched (no job, no registration) and reported failed.
func TestBenchListLoadedBefore(t *testing.T) {
	t.Parallel()
	h, csv, kind := budgetTenant(t)
	w := newWorld(t)
	if r := w.cli("", h, "fleet", "load", csv); r.code != 0 {
		t.Fatalf("fleet load: exit %d\n%s", r.code, r.errOut)
	}
	if w.tenant != nil {
		t.Fatalf("fleet load asked the tenant: %v", w.tenant.RequestCounts())
	}
	r, sum, counts := budgetRun(t, w, h, csv, "2 unknown users, 5 users refused")
	if n := counts[entrasim.EPListUsers]; n > 5 {
		t.Errorf("%d user look-ups, want at most 5 (68 rows, 15 per request)", n)
	}
	if rowErrs := rowErrorLines(t, r.out); len(rowErrs) != 0 {
		t.Errorf("row errors %v: rows loaded before are looked up when taken", rowErrs)
	}
	items := map[string]bench.Item{}
	for _, it := range sum.Queue {
		items[it.UPN] = it
	}
	for upn, k := range kind {
		it := items[upn]
		switch {
		case k == "eligible" && it.State != bench.ItemDone:
			t.Errorf("%s: %s %q", upn, it.State, it.Error)
		case k == "missing" && (it.State != bench.ItemFailed || it.JobID != "" || !strings.Contains(it.Error, upn)):
			t.Errorf("%s (not in the tenant): %+v, want failed with no job", upn, it)
		case k != "eligible" && k != "missing" && it.State != bench.ItemFailed:
			t.Errorf("%s (%s): %s, want failed", upn, k, it.State)
		}
	}
	if got, want := counts[entrasim.EPRegisterFido2], 61; got != want {
		t.Errorf("%d registrations, want %d", got, want)
	}
}

// TestBudgetCheckFails: the budget check flags a run that looks users up
// one by one, reads the policy per user or checks memberships per user.
func TestBudgetCheckFails(t *testing.T) {
	const done = 61
	good := map[string]int{entrasim.EPListUsers: 5, entrasim.EPGetUser: 2, entrasim.EPGetPolicy: 1, entrasim.EPGroupMembers: 5,
		entrasim.EPCheckMemberGroups: 3, entrasim.EPCreationOptions: done, entrasim.EPRegisterFido2: done}
	if p := budgetProblem(good, done); p != "" {
		t.Fatalf("the measured run fails: %s", p)
	}
	for name, change := range map[string]func(map[string]int){
		"users one by one":         func(c map[string]int) { c[entrasim.EPListUsers] = 0; c[entrasim.EPGetUser] = 68 },
		"policy per user":          func(c map[string]int) { c[entrasim.EPGetPolicy] = 66 },
		"membership per user":      func(c map[string]int) { c[entrasim.EPCheckMemberGroups] = 66 },
		"passkeys listed per user": func(c map[string]int) { c[entrasim.EPListFido2] = 66 },
	} {
		c := map[string]int{}
		for k, v := range good {
			c[k] = v
		}
		change(c)
		p := budgetProblem(c, done)
		if p == "" {
			t.Errorf("%s: passes the budget check", name)
		} else if !strings.Contains(p, entrasim.EPCreationOptions) {
			t.Errorf("%s: %q does not name the kinds", name, p)
		}
	}
}

var reRunIDs = regexp.MustCompile(` ?\(job [0-9a-f]+\)| ?\[request-id [0-9a-f-]+\]`)

// withoutIDs drops what differs between two runs: job and request ids.
func withoutIDs(s string) string { return reRunIDs.ReplaceAllString(s, "") }

// rowErrorLines maps the UPN of each --json row-error line to its message.
func rowErrorLines(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var re struct {
			Type, UPN, Message string
		}
		if json.Unmarshal([]byte(l), &re) == nil && re.Type == "row-error" {
			m[re.UPN] = re.Message
		}
	}
	return m
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
