package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// The queue's tests join the conformance suite: they run on both backends.
func init() {
	conformanceTests = append(conformanceTests, []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"QueueLoadIdempotent", testQueueLoadIdempotent},
		{"QueueClaimLeaseExpiry", testQueueClaimLeaseExpiry},
		{"QueueClaimersNeverShare", testQueueClaimersNeverShare},
		{"QueueOneHolderPerUser", testQueueOneHolderPerUser},
		{"QueueBegunWaitsForKey", testQueueBegunWaitsForKey},
		{"QueueBegunByCredential", testQueueBegunByCredential},
		{"QueueBeginAfterLeaseLost", testQueueBeginAfterLeaseLost},
		{"QueueBeginAfterSameBenchReclaim", testQueueBeginAfterSameBenchReclaim},
		{"QueueDoneWithResult", testQueueDoneWithResult},
		{"QueueBindFoundJob", testQueueBindFoundJob},
		{"QueueFinishAndRequeue", testQueueFinishAndRequeue},
	}...)
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openClocked opens a Store on loc with the clock clk (shared by the
// handles of one test), closed when the test ends.
func openClocked(t testing.TB, loc string, clk *fakeClock, actor string) *Store {
	t.Helper()
	s, err := Open(context.Background(), loc, Options{Now: clk.Now, Actor: actor})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func entries(upns ...string) []QueueEntry {
	out := make([]QueueEntry, len(upns))
	for i, u := range upns {
		out[i] = QueueEntry{UPN: u, Line: i + 2}
	}
	return out
}

func mustClaim(t *testing.T, s *Store, bench string, lease time.Duration) *QueueItem {
	t.Helper()
	q, _, err := s.Claim(context.Background(), bench, lease)
	if err != nil {
		t.Fatalf("Claim(%s): %v", bench, err)
	}
	return q
}

func counts(t *testing.T, s *Store) QueueCounts {
	t.Helper()
	c, err := s.QueueCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testQueueLoadIdempotent: loading a list again adds nothing (UPNs
// compared ignoring ASCII case); another batch may hold the same users.
func testQueueLoadIdempotent(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	for _, tc := range []struct {
		batch            string
		upns             []string
		added, duplicate int
	}{
		{"day1", []string{"a@contoso.test", "b@contoso.test", "c@contoso.test"}, 3, 0},
		{"day1", []string{"A@CONTOSO.TEST", "b@contoso.test", "c@Contoso.test"}, 0, 3},
		{"day1", []string{"c@contoso.test", "d@contoso.test"}, 1, 1},
		{"day2", []string{"a@contoso.test"}, 1, 0},
	} {
		added, dup, err := s.LoadQueue(ctx, tc.batch, entries(tc.upns...))
		if err != nil {
			t.Fatal(err)
		}
		if added != tc.added || dup != tc.duplicate {
			t.Errorf("LoadQueue(%s, %v) = %d added, %d duplicate; want %d, %d", tc.batch, tc.upns, added, dup, tc.added, tc.duplicate)
		}
	}
	rows, err := s.Queue(ctx, QueueFilter{Batch: "day1"})
	if err != nil || len(rows) != 4 {
		t.Fatalf("Queue(day1) = %d rows, %v", len(rows), err)
	}
	if rows[0].UPN != "a@contoso.test" || rows[0].State != QueueQueued || rows[0].Line != 2 {
		t.Errorf("first row = %+v", rows[0])
	}
	if c := counts(t, s); c.Queued != 5 {
		t.Errorf("counts = %+v, want 5 queued", c)
	}
	if _, _, err := s.LoadQueue(ctx, " ", entries("x@contoso.test")); err == nil {
		t.Error("LoadQueue with an empty batch name: no error")
	}
	verify(t, s)
}

// testQueueClaimLeaseExpiry: claims come in list order; a lease renewed
// by the heartbeat holds; one that expired is claimed by another bench.
func testQueueClaimLeaseExpiry(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	loc := b.fresh(t)
	s1 := openClocked(t, loc, clk, "one@host")
	s2 := openClocked(t, loc, clk, "two@host")
	const lease = 30 * time.Second
	if _, _, err := s1.LoadQueue(ctx, "list", entries("a@contoso.test", "b@contoso.test")); err != nil {
		t.Fatal(err)
	}
	a := mustClaim(t, s1, "bench-1", lease)
	if a == nil || a.UPN != "a@contoso.test" || a.State != QueueClaimed || a.Bench != "bench-1" || a.Attempts != 1 {
		t.Fatalf("first claim = %+v", a)
	}
	bb := mustClaim(t, s2, "bench-2", lease)
	if bb == nil || bb.UPN != "b@contoso.test" {
		t.Fatalf("second claim = %+v", bb)
	}
	if q := mustClaim(t, s2, "bench-2", lease); q != nil {
		t.Fatalf("third claim = %+v, want none", q)
	}
	// bench-1 renews; bench-2 does not.
	clk.advance(20 * time.Second)
	if n, err := s1.Heartbeat(ctx, "bench-1", clk.Now(), map[string]any{"keys": 1}, lease); err != nil || n != 1 {
		t.Fatalf("Heartbeat = %d, %v; want 1 lease renewed", n, err)
	}
	clk.advance(20 * time.Second)
	q, prev, err := s1.Claim(ctx, "bench-3", lease)
	if err != nil || q == nil || q.UPN != "b@contoso.test" || prev != "bench-2" || q.Attempts != 2 {
		t.Fatalf("reclaim = %+v (from %q), %v; want b@ taken over from bench-2", q, prev, err)
	}
	if q := mustClaim(t, s2, "bench-2", lease); q != nil {
		t.Errorf("a@ (renewed) was claimed again: %+v", q)
	}
	bs, err := s2.Benches(ctx)
	if err != nil || len(bs) != 1 || bs[0].ID != "bench-1" || !strings.Contains(string(bs[0].Info), `"keys":1`) {
		t.Errorf("Benches = %+v, %v", bs, err)
	}
	// bench-2 lost b@: it cannot settle it.
	if err := s2.FinishClaim(ctx, bb.ID, "bench-2", QueueDone, "", ""); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("FinishClaim by the old holder = %v, want ErrLeaseLost", err)
	}
}

// testQueueClaimersNeverShare: many claimers on separate Store handles
// empty the queue together; no user is handed to two of them.
func testQueueClaimersNeverShare(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	seed := b.openAt(t, loc)
	const users, claimers = 60, 8
	var upns []string
	for i := range users {
		upns = append(upns, fmt.Sprintf("user%02d@contoso.test", i))
	}
	if _, _, err := seed.LoadQueue(ctx, "list", entries(upns...)); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got = map[string]string{}
		wg  sync.WaitGroup
	)
	for i := range claimers {
		s := b.openAt(t, loc)
		bench := fmt.Sprintf("bench-%d", i)
		wg.Go(func() {
			for {
				q, _, err := s.Claim(ctx, bench, time.Minute)
				if err != nil {
					t.Errorf("%s: %v", bench, err)
					return
				}
				if q == nil {
					return
				}
				mu.Lock()
				if other, ok := got[q.UPN]; ok {
					t.Errorf("%s claimed by %s and %s", q.UPN, other, bench)
				}
				got[q.UPN] = bench
				mu.Unlock()
				if err := s.FinishClaim(ctx, q.ID, bench, QueueDone, "", ""); err != nil {
					t.Errorf("%s: finish: %v", bench, err)
				}
			}
		})
	}
	wg.Wait()
	if len(got) != users {
		t.Errorf("%d users claimed, want %d", len(got), users)
	}
	if c := counts(t, seed); c.Done != users || c.Queued+c.Claimed != 0 {
		t.Errorf("counts = %+v", c)
	}
}

// testQueueOneHolderPerUser: a user listed in two batches is held by one
// bench at a time, and the database itself refuses a second holder.
func testQueueOneHolderPerUser(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	s := b.openAt(t, loc)
	for _, batch := range []string{"day1", "day2"} {
		if _, _, err := s.LoadQueue(ctx, batch, entries("adele@contoso.test")); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		held []*QueueItem
	)
	for i := range 4 {
		h := b.openAt(t, loc)
		wg.Go(func() {
			q, _, err := h.Claim(ctx, fmt.Sprintf("bench-%d", i), time.Minute)
			if err != nil {
				t.Errorf("Claim: %v", err)
			}
			if q != nil {
				mu.Lock()
				held = append(held, q)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(held) != 1 {
		t.Fatalf("%d claims of one user listed twice, want 1", len(held))
	}
	// Behind the code's back: the unique index refuses a second holder.
	_, err := s.db.ExecContext(ctx, s.d.q(`UPDATE queue SET state = 'claimed', bench = 'rogue' WHERE state = 'queued'`))
	if err == nil || !s.d.unique(err) {
		t.Errorf("a second holder of one user: %v, want a unique violation", err)
	}
	// Once done, the other batch's row can be claimed (and is then
	// skipped by the bench: the user is enrolled).
	if err := s.FinishClaim(ctx, held[0].ID, held[0].Bench, QueueDone, "", ""); err != nil {
		t.Fatal(err)
	}
	if q := mustClaim(t, s, "bench-9", time.Minute); q == nil || q.Batch == held[0].Batch {
		t.Errorf("claim after done = %+v", q)
	}
}

// beginOn makes a job durable and binds the claimed row to it in one
// transaction, as the workflow's first journal row does.
func beginOn(t *testing.T, s *Store, q *QueueItem, bench, serial, path string) (*Job, error) {
	t.Helper()
	j := &Job{Kind: "enroll", UPN: q.UPN, KeyPath: path, Serial: serial}
	err := s.Update(context.Background(), func(tx *Tx) error {
		if err := tx.CreateJob(j); err != nil {
			return err
		}
		if err := tx.RecordStep(j.ID, "pin", PhaseBegin, nil); err != nil {
			return err
		}
		return tx.BeginClaim(q, j)
	})
	return j, err
}

// testQueueBegunWaitsForKey: a begun user does not return to the queue
// when its bench dies: it waits for its key, and the bench where that key
// turns up (recognised by serial) takes it; a key without a serial is
// recognised by its path on its own bench only.
func testQueueBegunWaitsForKey(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	loc := b.fresh(t)
	s1 := openClocked(t, loc, clk, "one@host")
	s2 := openClocked(t, loc, clk, "two@host")
	const lease = 30 * time.Second
	if _, _, err := s1.LoadQueue(ctx, "list", entries("a@contoso.test", "b@contoso.test", "c@contoso.test")); err != nil {
		t.Fatal(err)
	}
	a := mustClaim(t, s1, "bench-1", lease)
	ja, err := beginOn(t, s1, a, "bench-1", "SN-A", "vkey:0")
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := s2.Job(ctx, ja.ID); j == nil || j.Bench != "bench-1" {
		t.Errorf("job bench = %+v, want bench-1", j)
	}
	bq := mustClaim(t, s1, "bench-1", lease)
	if _, err := beginOn(t, s1, bq, "bench-1", "", "vkey:1"); err != nil {
		t.Fatal(err)
	}
	if c := counts(t, s2); c.Begun != 2 || c.Queued != 1 {
		t.Errorf("counts = %+v, want 2 begun, 1 queued", c)
	}
	// While bench-1 lives, nobody takes its begun users, even with the key.
	if q, err := s2.ClaimBegun(ctx, "bench-2", []KeyRef{{Serial: "SN-A", Path: "vkey:7"}}, lease); err != nil || q != nil {
		t.Fatalf("ClaimBegun under a live lease = %+v, %v", q, err)
	}
	// bench-1 dies.
	clk.advance(time.Minute)
	if c := counts(t, s2); c.Waiting != 2 || c.Begun != 0 {
		t.Errorf("counts after the lease = %+v, want 2 waiting", c)
	}
	// The queue gives c@, never a begun user.
	if q := mustClaim(t, s2, "bench-2", lease); q == nil || q.UPN != "c@contoso.test" {
		t.Fatalf("claim after bench-1 died = %+v", q)
	}
	if q := mustClaim(t, s2, "bench-2", lease); q != nil {
		t.Fatalf("a begun user returned to the queue: %+v", q)
	}
	// Another key, or b@'s path on another bench: not theirs.
	if q, err := s2.ClaimBegun(ctx, "bench-2", []KeyRef{{Serial: "SN-Z", Path: "vkey:0"}, {Path: "vkey:1"}}, lease); err != nil || q != nil {
		t.Fatalf("ClaimBegun with other keys = %+v, %v", q, err)
	}
	// Key SN-A plugged into bench-2: recognised by its serial.
	q, err := s2.ClaimBegun(ctx, "bench-2", []KeyRef{{Serial: "SN-A", Path: "vkey:3"}}, lease)
	if err != nil || q == nil || q.JobID != ja.ID || q.Bench != "bench-2" || q.KeyPath != "vkey:0" {
		t.Fatalf("ClaimBegun(SN-A) = %+v, %v", q, err)
	}
	if err := s2.FinishClaim(ctx, q.ID, "bench-2", QueueDone, ja.ID, ""); err != nil {
		t.Fatal(err)
	}
	// bench-1 restarts: b@'s key (no serial) at its path there.
	q, err = s1.ClaimBegun(ctx, "bench-1", []KeyRef{{Path: "vkey:1"}}, lease)
	if err != nil || q == nil || q.UPN != "b@contoso.test" {
		t.Fatalf("ClaimBegun(vkey:1) on bench-1 = %+v, %v", q, err)
	}
	if c := counts(t, s2); c.Done != 1 || c.Begun != 1 || c.Claimed != 1 || c.Waiting != 0 {
		t.Errorf("final counts = %+v", c)
	}
	verify(t, s1)
}

// testQueueBegunByCredential: the begun rows of keys without a serial
// whose jobs made their credential are listed with it, and a bench that
// found that credential on a key claims the row by its job (once the lease
// of the bench that held it has expired), on any bench.
func testQueueBegunByCredential(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	loc := b.fresh(t)
	s1 := openClocked(t, loc, clk, "one@host")
	s2 := openClocked(t, loc, clk, "two@host")
	const lease = 30 * time.Second
	if _, _, err := s1.LoadQueue(ctx, "list", entries("a@contoso.test", "b@contoso.test", "c@contoso.test")); err != nil {
		t.Fatal(err)
	}
	// a@: no serial, credential made; b@: no serial, no credential yet;
	// c@: a serial and a credential (recognised by its serial).
	var jobs []*Job
	for _, k := range []struct{ serial, path, cred string }{{"", "vkey:0", "Y3JlZC1h"}, {"", "vkey:1", ""}, {"SN-C", "vkey:2", "Y3JlZC1j"}} {
		q := mustClaim(t, s1, "bench-1", lease)
		j, err := beginOn(t, s1, q, "bench-1", k.serial, k.path)
		if err != nil {
			t.Fatal(err)
		}
		if k.cred != "" {
			cred := k.cred
			if err := s1.Update(ctx, func(tx *Tx) error { return tx.UpdateJob(j.ID, JobUpdate{CredentialID: &cred}) }); err != nil {
				t.Fatal(err)
			}
		}
		jobs = append(jobs, j)
	}
	bc, err := s2.BegunCredentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bc) != 1 || bc[0].JobID != jobs[0].ID || bc[0].CredentialID != "Y3JlZC1h" || bc[0].Bench != "bench-1" || bc[0].UPN != "a@contoso.test" {
		t.Fatalf("BegunCredentials = %+v, want a@'s job %s with its credential", bc, jobs[0].ID)
	}
	// While bench-1 lives, bench-2 cannot take it.
	if q, err := s2.ClaimBegun(ctx, "bench-2", []KeyRef{{Path: "vkey:5", JobID: jobs[0].ID}}, lease); err != nil || q != nil {
		t.Fatalf("ClaimBegun by credential under a live lease = %+v, %v", q, err)
	}
	clk.advance(time.Minute)
	// Another job's id names nothing begun there.
	if q, err := s2.ClaimBegun(ctx, "bench-2", []KeyRef{{Path: "vkey:5", JobID: "no-such-job"}}, lease); err != nil || q != nil {
		t.Fatalf("ClaimBegun by an unknown job = %+v, %v", q, err)
	}
	q, err := s2.ClaimBegun(ctx, "bench-2", []KeyRef{{Path: "vkey:5", JobID: jobs[0].ID}}, lease)
	if err != nil || q == nil || q.JobID != jobs[0].ID || q.Bench != "bench-2" {
		t.Fatalf("ClaimBegun by credential after the lease = %+v, %v", q, err)
	}
	// The key is at bench-2's vkey:5 now: the row and its job say so.
	// Bench-1's path for it names nothing on bench-2, where another key
	// may sit at vkey:0 and must not be taken for this one.
	if q.KeyPath != "vkey:5" {
		t.Errorf("the claimed row's key path = %q, want vkey:5 (where bench-2 found the key)", q.KeyPath)
	}
	if j, err := s1.Job(ctx, jobs[0].ID); err != nil || j.KeyPath != "vkey:5" || j.Bench != "bench-2" {
		t.Errorf("the moved job = %+v, %v; want key path vkey:5 on bench-2", j, err)
	}
	if q2, err := s2.ClaimBegun(ctx, "bench-2", []KeyRef{{Path: "vkey:0"}}, lease); err != nil || q2 != nil {
		t.Fatalf("ClaimBegun(vkey:0) on bench-2, the moved key's old path on bench-1 = %+v, %v", q2, err)
	}
	if q2, err := s2.ClaimBegun(ctx, "bench-2", []KeyRef{{Path: "vkey:5"}}, lease); err != nil || q2 == nil || q2.ID != q.ID {
		t.Fatalf("ClaimBegun(vkey:5) on bench-2, where the key is now = %+v, %v", q2, err)
	}
	// Held, it stays begun (its job is not finished), now bench-2's.
	if bc, err := s1.BegunCredentials(ctx); err != nil || len(bc) != 1 || bc[0].Bench != "bench-2" {
		t.Errorf("BegunCredentials after the claim = %+v, %v", bc, err)
	}
	if err := s2.FinishClaim(ctx, q.ID, "bench-2", QueueDone, jobs[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	if bc, err := s1.BegunCredentials(ctx); err != nil || len(bc) != 0 {
		t.Errorf("BegunCredentials after done = %+v, %v", bc, err)
	}
	verify(t, s1)
}

// testQueueBeginAfterLeaseLost: a bench whose claim was taken over cannot
// begin: the job and its journal row are not written either.
func testQueueBeginAfterLeaseLost(t *testing.T, b backend) {
	ctx := context.Background()
	clk := newClock()
	loc := b.fresh(t)
	s1 := openClocked(t, loc, clk, "one@host")
	s2 := openClocked(t, loc, clk, "two@host")
	if _, _, err := s1.LoadQueue(ctx, "list", entries("a@contoso.test")); err != nil {
		t.Fatal(err)
	}
	a := mustClaim(t, s1, "bench-1", 10*time.Second)
	clk.advance(time.Minute) // bench-1 stalls past its lease
	if q := mustClaim(t, s2, "bench-2", 10*time.Second); q == nil || q.ID != a.ID {
		t.Fatalf("reclaim = %+v", q)
	}
	j, err := beginOn(t, s1, a, "bench-1", "SN-A", "vkey:0")
	if !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("begin after the lease was lost = %v, want ErrLeaseLost", err)
	}
	if _, err := s2.Job(ctx, j.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the job of a refused begin exists: %v", err)
	}
	if n, err := s1.Heartbeat(ctx, "bench-1", clk.Now(), nil, time.Minute); err != nil || n != 0 {
		t.Errorf("Heartbeat of the old holder renewed %d, %v", n, err)
	}
}

// testQueueBeginAfterSameBenchReclaim: a slot whose claim ran out (the
// database was away longer than the lease) and was taken again by another
// slot of the same bench cannot begin on it: a claim is that claim, not
// any claim of the bench. (The multi-process fleet test saw two passkeys
// for one user when only the bench name was compared.)
func testQueueBeginAfterSameBenchReclaim(t *testing.T, b backend) {
	clk := newClock()
	loc := b.fresh(t)
	s1 := openClocked(t, loc, clk, "one@host")
	if _, _, err := s1.LoadQueue(context.Background(), "list", entries("a@contoso.test")); err != nil {
		t.Fatal(err)
	}
	first := mustClaim(t, s1, "bench-1", 10*time.Second)
	clk.advance(time.Minute)
	second := mustClaim(t, s1, "bench-1", 10*time.Second)
	if second == nil || second.ID != first.ID {
		t.Fatalf("reclaim = %+v", second)
	}
	if _, err := beginOn(t, s1, first, "bench-1", "SN-A", "vkey:5"); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("begin on the claim that ran out = %v, want ErrLeaseLost", err)
	}
	if _, err := beginOn(t, s1, second, "bench-1", "SN-B", "vkey:7"); err != nil {
		t.Fatalf("begin on the live claim = %v", err)
	}
}

// testQueueDoneWithResult: recording a job's result settles its begun
// queue row in the same transaction (a bench that loses the database right
// after it leaves nothing "begun"), and the bench's own settling of the
// row afterwards is no error.
func testQueueDoneWithResult(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	if _, _, err := s.LoadQueue(ctx, "list", entries("a@contoso.test")); err != nil {
		t.Fatal(err)
	}
	q := mustClaim(t, s, "bench-1", time.Minute)
	j, err := beginOn(t, s, q, "bench-1", "SN-A", "vkey:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx *Tx) error {
		return tx.RecordResult(&Result{JobID: j.ID, UPN: q.UPN, UserID: "u1", MethodID: "m1"})
	}); err != nil {
		t.Fatal(err)
	}
	rows, _ := s.Queue(ctx, QueueFilter{UPN: q.UPN})
	if len(rows) != 1 || rows[0].State != QueueDone || rows[0].JobID != j.ID {
		t.Fatalf("queue row after the result = %+v, want done with job %s", rows, j.ID)
	}
	if err := s.FinishClaim(ctx, q.ID, "bench-1", QueueDone, j.ID, ""); err != nil {
		t.Errorf("settling the row the result settled = %v", err)
	}
	if err := s.FinishClaim(ctx, q.ID, "bench-1", QueueFailed, j.ID, "x"); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("failing a row that is done = %v, want ErrLeaseLost", err)
	}
}

// testQueueBindFoundJob: a claimed user with an unfinished job (its bench
// died between the job and the queue row) is bound to the job's key; when
// the key is elsewhere the lease is released and the user waits for it.
func testQueueBindFoundJob(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	if _, _, err := s.LoadQueue(ctx, "list", entries("a@contoso.test")); err != nil {
		t.Fatal(err)
	}
	j := mustJob(t, s, &Job{Kind: "enroll", UPN: "a@contoso.test", Serial: "SN-A", KeyPath: "vkey:0"})
	q := mustClaim(t, s, "bench-2", time.Minute)
	if err := s.BindJob(ctx, q, j, true); err != nil {
		t.Fatal(err)
	}
	rows, _ := s.Queue(ctx, QueueFilter{UPN: "A@contoso.test"})
	if len(rows) != 1 || rows[0].State != QueueBegun || rows[0].JobID != j.ID || rows[0].KeySerial != "SN-A" || !rows[0].LeaseUntil.IsZero() {
		t.Fatalf("bound row = %+v", rows)
	}
	if c := counts(t, s); c.Waiting != 1 {
		t.Errorf("counts = %+v, want 1 waiting", c)
	}
	other := *q
	other.Bench = "bench-3"
	if err := s.BindJob(ctx, &other, j, false); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("BindJob by a bench that does not hold the row = %v", err)
	}
}

// testQueueFinishAndRequeue: settled rows leave the queue; failed ones
// come back with RequeueFailed; a released claim returns at once.
func testQueueFinishAndRequeue(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	if _, _, err := s.LoadQueue(ctx, "list", entries("a@contoso.test", "b@contoso.test", "c@contoso.test")); err != nil {
		t.Fatal(err)
	}
	a := mustClaim(t, s, "bench", time.Minute)
	bq := mustClaim(t, s, "bench", time.Minute)
	c := mustClaim(t, s, "bench", time.Minute)
	if err := s.FinishClaim(ctx, a.ID, "bench", QueueFailed, "", "not in the policy"); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishClaim(ctx, bq.ID, "bench", QueueSkipped, "", "enrolled before"); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, c.ID, "bench", "the key was removed"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Pending(ctx, "bench"); err != nil || n != 1 {
		t.Errorf("Pending = %d, %v; want 1", n, err)
	}
	if q := mustClaim(t, s, "other", time.Minute); q == nil || q.ID != c.ID {
		t.Fatalf("claim after release = %+v", q)
	}
	if got := counts(t, s); got.Failed != 1 || got.Done != 1 || got.Skipped != 1 || got.Claimed != 1 {
		t.Errorf("counts = %+v", got)
	}
	// The bench restarts: what it held is released.
	if n, err := s.ReleaseBench(ctx, "other"); err != nil || n != 1 {
		t.Errorf("ReleaseBench = %d, %v; want 1", n, err)
	}
	if q := mustClaim(t, s, "other", time.Minute); q == nil || q.ID != c.ID {
		t.Fatalf("claim after ReleaseBench = %+v", q)
	}
	if n, err := s.RequeueFailed(ctx, "list"); err != nil || n != 1 {
		t.Fatalf("RequeueFailed = %d, %v", n, err)
	}
	if q := mustClaim(t, s, "bench", time.Minute); q == nil || q.ID != a.ID || q.Attempts != 2 {
		t.Errorf("claim after requeue = %+v", q)
	}
	if n, err := s.FinishedSince(ctx, time.Time{}); err != nil || n != 0 {
		t.Errorf("FinishedSince = %d, %v (skipped users are not enrollments)", n, err)
	}
}

// BenchmarkClaim: claims per second with 16 concurrent claimers, each on
// its own Store handle (a bench), on each backend: claim a user and settle
// it, as every enrollment does once.
func BenchmarkClaim(b *testing.B) {
	for _, be := range []backend{sqliteBackend(), postgresBackend()} {
		b.Run(be.name, func(b *testing.B) {
			if be.skip != "" {
				b.Skip(be.skip)
			}
			ctx := context.Background()
			loc := be.fresh(b)
			seed := be.openAt(b, loc)
			const claimers = 16
			n := b.N + claimers
			es := make([]QueueEntry, n)
			for i := range es {
				es[i] = QueueEntry{UPN: fmt.Sprintf("user%07d@contoso.test", i), Line: i + 2}
			}
			if _, _, err := seed.LoadQueue(ctx, "bench", es); err != nil {
				b.Fatal(err)
			}
			handles := make([]*Store, claimers)
			for i := range handles {
				handles[i] = be.openAt(b, loc)
			}
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				next  int
				total int
			)
			b.ResetTimer()
			start := time.Now()
			for i := range claimers {
				s, bench := handles[i], fmt.Sprintf("bench-%02d", i)
				wg.Go(func() {
					for {
						mu.Lock()
						if next >= b.N {
							mu.Unlock()
							return
						}
						next++
						mu.Unlock()
						q, _, err := s.Claim(ctx, bench, time.Minute)
						if err != nil || q == nil {
							b.Errorf("claim: %v (%v)", q, err)
							return
						}
						if err := s.FinishClaim(ctx, q.ID, bench, QueueDone, "", ""); err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						total++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "claims/s")
		})
	}
}
