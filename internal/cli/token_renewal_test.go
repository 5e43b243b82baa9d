package cli

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/softkey"
	"github.com/keyprep/keyprep/internal/store"
)

// TestBenchRenewsToken: a bench run on four virtual keys that outlasts
// several of the emulated tenant's tokens (KEYPREP_SIM_TOKEN_LIFETIME=1s,
// the keys slowed by a per-command latency so that the run takes several
// seconds), which refuses each token after its lifetime as Entra does
// (401, lifetime validation failed). The run renews its token and loses
// and repeats nothing: every user has exactly one passkey, every job is
// done once, and the tenant made several tokens.
func TestBenchRenewsToken(t *testing.T) {
	if testing.Short() {
		t.Skip("a bench run of several seconds")
	}
	t.Setenv(simTokenLifetimeEnv, "1s")
	const n = 16
	w := newWorld(t)
	csv, upns := benchUsers(t, n)
	h := hooks{keyConfig: func(c *softkey.Config) { c.CommandLatency = 80 * time.Millisecond }}
	start := time.Now()
	r := w.cli("", h, "--sim-keys", "4", "enroll", "--csv", csv, "--json")
	took := time.Since(start)
	if w.tenant == nil {
		t.Fatal("the run did not open the emulated tenant")
	}
	issued := w.tenant.TokensIssued()
	refused := 0
	registered := map[int]int{}
	for _, rq := range r.reqs {
		if rq.Status == 401 {
			refused++
		}
		if rq.Kind == entrasim.EPRegisterFido2 {
			registered[rq.Status]++
		}
	}
	t.Logf("%s, %d tokens issued, %d requests refused (401), registrations by status %v", took.Round(time.Millisecond), issued, refused, registered)
	if r.code != 0 {
		t.Fatalf("enroll --csv: exit %d\n%s", r.code, r.errOut)
	}
	_, sum := jsonLines(t, r.out)
	if sum.Counts.Done != n || sum.Counts.Failed != 0 || len(sum.Results) != n {
		t.Errorf("counts %+v, %d results; want %d done", sum.Counts, len(sum.Results), n)
	}
	// Several lifetimes: the run could not have finished on one token.
	if issued < 4 {
		t.Errorf("%d tokens issued in %s: the run did not outlast several tokens (want at least 4)", issued, took)
	}
	if registered[201] != n {
		t.Errorf("%d registrations accepted, want %d", registered[201], n)
	}
	for u, k := range passkeysPerUser(t, w.state, upns) {
		if k != 1 {
			t.Errorf("%s has %d passkeys, want 1", u, k)
		}
	}
	// The journal: one job per user, done; none failed, none repeated.
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(w.state, "keyprep.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jobs, err := st.Jobs(ctx, store.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	perUser := map[string]int{}
	for _, j := range jobs {
		perUser[j.UPN]++
		if j.State != store.JobDone {
			t.Errorf("job %s for %s: %s %s", j.ID, j.UPN, j.State, j.Error)
		}
	}
	for _, u := range upns {
		if perUser[u] != 1 {
			t.Errorf("%s: %d jobs, want 1", u, perUser[u])
		}
	}
	if len(jobs) != n {
		t.Errorf("%d jobs for %d users", len(jobs), n)
	}
}
