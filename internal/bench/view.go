package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ViewQuery selects the bounded view of the bench the daemon's API and
// dashboard show: a page of the queue and the newest results, with the
// counts of everything.
type ViewQuery struct {
	// States are the item states of the page, in the order they are
	// listed (every item of States[0] first, and so on). Empty: every
	// state, in queue order.
	States []ItemState
	// Batch keeps the page to one batch ("": every batch).
	Batch string
	// Offset and Limit select the page among the matching items; Limit
	// is capped at MaxViewLimit (0: DefaultViewLimit).
	Offset, Limit int
	// Results is how many of the newest results to include (0: none,
	// capped at MaxViewLimit).
	Results int
}

// Limits of a view.
const (
	DefaultViewLimit = 100
	MaxViewLimit     = 1000
	// maxViewBatches bounds the batch list of a view (the newest ones).
	maxViewBatches = 100
)

// BatchCounts are the counts of one batch of the queue.
type BatchCounts struct {
	Name string `json:"name"`
	Counts
}

// View is the bounded Snapshot: Queue holds the page, Results the newest
// results (newest first), Counts count the whole queue.
type View struct {
	Snapshot
	// Matched is how many queue items match the query's states and batch;
	// Offset and Limit are the page's, as applied.
	Matched int `json:"matched"`
	Offset  int `json:"offset"`
	Limit   int `json:"limit"`
	// ResultsTotal counts every result of the run.
	ResultsTotal int `json:"resultsTotal"`
	// Batches are the queue's batches (the newest maxViewBatches), oldest
	// first.
	Batches []BatchCounts `json:"batches"`
}

// Clear says which queue items Clear removes.
type Clear struct {
	// Batch is the batch to clear ("" with Failed: every batch).
	Batch string
	// Failed clears only failed users; without it the whole batch goes,
	// which must then have no user pending or at work.
	Failed bool
}

// ErrBatchBusy: a batch still has users pending or at work, so it cannot
// be cleared.
var ErrBatchBusy = errors.New("the batch still has users pending or at work")

// ErrNoBatch: no batch of that name is in the queue.
var ErrNoBatch = errors.New("no such batch in the queue")

// NormaliseViewQuery applies the defaults and limits of a view query.
func NormaliseViewQuery(q ViewQuery) ViewQuery {
	if q.Offset < 0 {
		q.Offset = 0
	}
	if q.Limit <= 0 {
		q.Limit = DefaultViewLimit
	}
	q.Limit = min(q.Limit, MaxViewLimit)
	q.Results = min(max(q.Results, 0), MaxViewLimit)
	return q
}

// PageItems fills v's queue fields from items (in queue order) for q: the
// counts of all, the batches and the page. Engines share it so that every
// one pages alike.
func PageItems(v *View, items []*Item, q ViewQuery) {
	q = NormaliseViewQuery(q)
	v.Offset, v.Limit = q.Offset, q.Limit
	v.Queue = []Item{}
	var batches []BatchCounts
	idx := map[string]int{}
	for _, it := range items {
		v.Counts.add(it.State)
		i, ok := idx[it.Batch]
		if !ok {
			i = len(batches)
			idx[it.Batch] = i
			batches = append(batches, BatchCounts{Name: it.Batch})
		}
		batches[i].Counts.add(it.State)
	}
	if len(batches) > maxViewBatches {
		batches = batches[len(batches)-maxViewBatches:]
	}
	v.Batches = append([]BatchCounts{}, batches...)
	states := q.States
	if len(states) == 0 {
		states = []ItemState{""}
	}
	for _, st := range states {
		for _, it := range items {
			if (st != "" && it.State != st) || (q.Batch != "" && it.Batch != q.Batch) {
				continue
			}
			if v.Matched >= q.Offset && len(v.Queue) < q.Limit {
				v.Queue = append(v.Queue, *it)
			}
			v.Matched++
		}
	}
}

func (c *Counts) add(s ItemState) {
	c.Total++
	switch s {
	case ItemPending:
		c.Pending++
	case ItemActive:
		c.Active++
	case ItemDone:
		c.Done++
	case ItemSkipped:
		c.Skipped++
	case ItemFailed:
		c.Failed++
	}
}

// NewestResults returns the n newest of results (kept oldest first), newest
// first.
func NewestResults(results []Result, n int) []Result {
	out := make([]Result, 0, min(n, len(results)))
	for i := len(results) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, results[i])
	}
	return out
}

// ClearItems removes from items what c selects and returns the rest and the
// removed; a whole batch with users pending or at work is refused with
// ErrBatchBusy, an unknown batch with ErrNoBatch.
func ClearItems(items []*Item, c Clear) (kept, removed []*Item, err error) {
	if !c.Failed {
		if c.Batch == "" {
			return items, nil, fmt.Errorf("clear: name the batch: %w", ErrNoBatch)
		}
		found, busy := false, 0
		for _, it := range items {
			if it.Batch != c.Batch {
				continue
			}
			found = true
			if it.State == ItemPending || it.State == ItemActive {
				busy++
			}
		}
		if !found {
			return items, nil, fmt.Errorf("clear %q: %w", c.Batch, ErrNoBatch)
		}
		if busy > 0 {
			return items, nil, fmt.Errorf("clear %q: %d users: %w", c.Batch, busy, ErrBatchBusy)
		}
	}
	kept = items[:0:0]
	for _, it := range items {
		match := (c.Batch == "" || it.Batch == c.Batch) && (!c.Failed || it.State == ItemFailed)
		if match {
			removed = append(removed, it)
		} else {
			kept = append(kept, it)
		}
	}
	return kept, removed, nil
}

// View implements Engine: the bounded snapshot for q.
func (r *Runner) View(q ViewQuery) View {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := View{Snapshot: Snapshot{Started: r.started, Slots: []Slot{}}}
	for _, p := range r.order {
		v.Slots = append(v.Slots, r.slots[p].Slot)
	}
	PageItems(&v, r.items, q)
	v.ResultsTotal = len(r.results)
	v.Results = NewestResults(r.results, NormaliseViewQuery(q).Results)
	v.OptionsPrefetched, _ = r.pre.stats()
	v.PerHour, v.ETA = r.rateLocked(v.Counts)
	return v
}

// Clear implements Engine: the operator removes failed users or a
// finished batch from this run's queue (the store keeps their rows and
// jobs; a list naming them again queues them anew). It returns how many
// users were removed.
func (r *Runner) Clear(ctx context.Context, c Clear) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	kept, removed, err := ClearItems(r.items, c)
	if err != nil {
		return 0, err
	}
	r.items = kept
	for _, it := range removed {
		k := strings.ToLower(it.UPN)
		delete(r.byUPN, k)
		delete(r.bound, k)
		delete(r.retried, k)
	}
	if len(removed) > 0 {
		r.emit(Event{Type: EventCleared, Message: clearMessage(c, len(removed))})
	}
	return len(removed), nil
}

func clearMessage(c Clear, n int) string {
	switch {
	case c.Failed && c.Batch != "":
		return fmt.Sprintf("%s: %d failed users cleared", c.Batch, n)
	case c.Failed:
		return fmt.Sprintf("%d failed users cleared", n)
	}
	return fmt.Sprintf("%s: %d users cleared", c.Batch, n)
}
