package bench_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/enroll"
)

// TestViewAndClear: the daemon's bounded view pages the queue and counts
// all of it; the operator clears failed users, and a finished batch, but
// not one with users still pending.
func TestViewAndClear(t *testing.T) {
	b := newBench(t, 6)
	for _, u := range b.upns[:2] {
		b.dir.SetEligibility(u, enroll.Eligibility{Reasons: []string{"outside the policy"}})
	}
	b.plug()
	r := b.runner(benchOpts{Options: bench.Options{UsersPerKey: 10, Foreground: true}})
	if _, _, err := r.Add(b.ctx, "first", rows(b.upns[:4]...)); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(b.ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Add(b.ctx, "second", rows(b.upns[4:]...)); err != nil {
		t.Fatal(err)
	}

	v := r.View(bench.ViewQuery{States: []bench.ItemState{bench.ItemFailed, bench.ItemPending}, Limit: 1, Offset: 1, Results: 1})
	want := bench.Counts{Total: 6, Pending: 2, Done: 2, Failed: 2}
	if v.Counts != want || v.Matched != 4 || len(v.Queue) != 1 || v.Queue[0].UPN != b.upns[1] || v.Offset != 1 || v.Limit != 1 {
		t.Errorf("view: counts %+v matched %d page %+v, want %+v, 4 matched and %s alone", v.Counts, v.Matched, v.Queue, want, b.upns[1])
	}
	if len(v.Results) != 1 || v.ResultsTotal != 2 || v.Results[0].UPN != b.upns[3] {
		t.Errorf("results %+v (total %d), want the newest of 2 (%s)", v.Results, v.ResultsTotal, b.upns[3])
	}
	if len(v.Batches) != 2 || v.Batches[0].Name != "first" || v.Batches[0].Failed != 2 || v.Batches[1].Pending != 2 {
		t.Errorf("batches %+v", v.Batches)
	}
	if v := r.View(bench.ViewQuery{Limit: 1 << 30}); v.Limit != bench.MaxViewLimit || len(v.Queue) != 6 {
		t.Errorf("an oversized limit: %d items, limit %d", len(v.Queue), v.Limit)
	}

	if _, err := r.Clear(b.ctx, bench.Clear{Batch: "second"}); !errors.Is(err, bench.ErrBatchBusy) {
		t.Errorf("clearing a batch with pending users: %v, want ErrBatchBusy", err)
	}
	if _, err := r.Clear(b.ctx, bench.Clear{Batch: "nope"}); !errors.Is(err, bench.ErrNoBatch) {
		t.Errorf("clearing an unknown batch: %v, want ErrNoBatch", err)
	}
	ch := r.Subscribe(b.ctx)
	if n, err := r.Clear(b.ctx, bench.Clear{Failed: true}); err != nil || n != 2 {
		t.Fatalf("clear failed: %d %v, want 2", n, err)
	}
	if ev := <-ch; ev.Type != bench.EventCleared {
		t.Errorf("event %+v, want cleared", ev)
	}
	if c := r.View(bench.ViewQuery{}).Counts; c != (bench.Counts{Total: 4, Pending: 2, Done: 2}) {
		t.Errorf("after clearing the failed: %+v", c)
	}
	if n, err := r.Clear(b.ctx, bench.Clear{Batch: "first"}); err != nil || n != 2 {
		t.Fatalf("clear the finished batch: %d %v, want 2", n, err)
	}
	if c := r.View(bench.ViewQuery{}).Counts; c != (bench.Counts{Total: 2, Pending: 2}) {
		t.Errorf("after clearing the batch: %+v", c)
	}
	// A cleared user can be listed again.
	b.dir.SetEligibility(b.upns[0], enroll.Eligibility{Allowed: true})
	if added, _, err := r.Add(b.ctx, "again", rows(b.upns[0])); err != nil || r.View(bench.ViewQuery{Batch: "again"}).Matched != 1 {
		t.Errorf("listed again after clearing: added %d, %v", added, err)
	}
}

// TestPageItemsBounded: a view of a big queue copies one page only.
func TestPageItemsBounded(t *testing.T) {
	var items []*bench.Item
	for i := range 20000 {
		items = append(items, &bench.Item{UPN: fmt.Sprintf("u%d@contoso.test", i), State: bench.ItemFailed, Batch: fmt.Sprintf("b%d", i%150)})
	}
	var v bench.View
	bench.PageItems(&v, items, bench.ViewQuery{})
	if len(v.Queue) != bench.DefaultViewLimit || v.Matched != 20000 || v.Counts.Failed != 20000 || len(v.Batches) != 100 {
		t.Errorf("page %d, matched %d, counts %+v, %d batches", len(v.Queue), v.Matched, v.Counts, len(v.Batches))
	}
}
