package api_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/userlist"
)

// fakeEngine is a small in-memory bench: slots, a queue fed by Submit
// (parsed with internal/userlist like the real one), results, PINs and
// ordered events with the Engine's subscriber rules. With simulate it
// also works the queue: each slot claims the next pending user and walks
// it through working → touch → working → done (or attention for a UPN
// containing "fail"), pausing step between states.
type fakeEngine struct {
	mu       sync.Mutex
	seq      int64
	started  time.Time
	slots    []*bench.Slot
	queue    []*bench.Item
	byUPN    map[string]*bench.Item
	results  []bench.Result
	pins     map[string]string
	subs     map[chan bench.Event]bool
	buffer   int
	batches  int
	revealed []string
	// revealedBy are the requesters of the reveals, in order.
	revealedBy []bench.Requester
	wake       chan struct{}
	// views counts View calls.
	views int
}

func newFakeEngine(nslots int) *fakeEngine {
	e := &fakeEngine{
		byUPN:  map[string]*bench.Item{},
		pins:   map[string]string{},
		subs:   map[chan bench.Event]bool{},
		buffer: 256,
		wake:   make(chan struct{}, 1),
	}
	for i := range nslots {
		e.slots = append(e.slots, &bench.Slot{
			ID: fmt.Sprintf("slot-%d", i), Key: fmt.Sprintf("vkey:%d", i), Model: "keyprep virtual key",
			State: bench.SlotIdle, Since: time.Now(),
		})
	}
	return e
}

// emit records an event and fans it out; e.mu must be held.
func (e *fakeEngine) emit(ev bench.Event) {
	e.seq++
	ev.Seq = e.seq
	ev.Time = time.Now()
	for ch := range e.subs {
		select {
		case ch <- ev:
		default: // fell behind: dropped, it must take a new snapshot
			delete(e.subs, ch)
			close(ch)
		}
	}
}

func (e *fakeEngine) emitSlot(s *bench.Slot) {
	c := *s
	e.emit(bench.Event{Type: bench.EventSlot, Slot: &c})
}

func (e *fakeEngine) emitItem(it *bench.Item) {
	c := *it
	e.emit(bench.Event{Type: bench.EventItem, Item: &c})
}

func (e *fakeEngine) Snapshot() bench.Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	snap := bench.Snapshot{Started: e.started, Slots: []bench.Slot{}, Queue: []bench.Item{}}
	for _, s := range e.slots {
		snap.Slots = append(snap.Slots, *s)
	}
	for _, it := range e.queue {
		snap.Queue = append(snap.Queue, *it)
		snap.Counts.Total++
		switch it.State {
		case bench.ItemPending:
			snap.Counts.Pending++
		case bench.ItemActive:
			snap.Counts.Active++
		case bench.ItemDone:
			snap.Counts.Done++
		case bench.ItemSkipped:
			snap.Counts.Skipped++
		case bench.ItemFailed:
			snap.Counts.Failed++
		}
	}
	snap.Results = append([]bench.Result(nil), e.results...)
	if !e.started.IsZero() && snap.Counts.Done > 0 {
		hours := time.Since(e.started).Hours()
		snap.PerHour = float64(snap.Counts.Done) / hours
		snap.ETA = time.Duration(float64(snap.Counts.Pending+snap.Counts.Active) / snap.PerHour * float64(time.Hour))
	}
	return snap
}

func (e *fakeEngine) View(q bench.ViewQuery) bench.View {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.views++
	v := bench.View{Snapshot: bench.Snapshot{Started: e.started, Slots: []bench.Slot{}}}
	for _, s := range e.slots {
		v.Slots = append(v.Slots, *s)
	}
	bench.PageItems(&v, e.queue, q)
	v.ResultsTotal = len(e.results)
	v.Results = bench.NewestResults(e.results, bench.NormaliseViewQuery(q).Results)
	return v
}

func (e *fakeEngine) Clear(ctx context.Context, c bench.Clear) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	kept, removed, err := bench.ClearItems(e.queue, c)
	if err != nil {
		return 0, err
	}
	e.queue = kept
	for _, it := range removed {
		delete(e.byUPN, strings.ToLower(it.UPN))
	}
	e.emit(bench.Event{Type: bench.EventCleared, Message: fmt.Sprintf("%d users cleared", len(removed))})
	return len(removed), nil
}

func (e *fakeEngine) Keys(ctx context.Context) ([]bench.KeyInfo, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var keys []bench.KeyInfo
	for _, s := range e.slots {
		if s.State != bench.SlotRemoved {
			keys = append(keys, bench.KeyInfo{Path: s.Key, Product: s.Model, Slot: s.ID})
		}
	}
	return keys, nil
}

func (e *fakeEngine) Submit(ctx context.Context, name string, csv io.Reader) (*bench.Submission, error) {
	rows, rowErrs, err := userlist.Read(csv)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches++
	sub := &bench.Submission{Batch: fmt.Sprintf("b%d", e.batches)}
	for _, re := range rowErrs {
		sub.Errors = append(sub.Errors, bench.RowError{Line: re.Line, UPN: re.UPN, Msg: re.Msg})
	}
	for _, r := range rows {
		k := strings.ToLower(r.UPN)
		if e.byUPN[k] != nil {
			sub.Duplicate++
			continue
		}
		it := &bench.Item{UPN: r.UPN, DisplayName: r.DisplayName, Batch: sub.Batch, Line: r.Line, State: bench.ItemPending, Updated: time.Now()}
		e.queue = append(e.queue, it)
		e.byUPN[k] = it
		sub.Added++
		e.emitItem(it)
	}
	e.emit(bench.Event{Type: bench.EventBatch, Message: fmt.Sprintf("batch %s (%s): %d users queued", sub.Batch, name, sub.Added)})
	e.poke()
	return sub, nil
}

func (e *fakeEngine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *fakeEngine) RetryFailed(ctx context.Context) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, it := range e.queue {
		if it.State == bench.ItemFailed {
			it.State, it.Error, it.Hint, it.Updated = bench.ItemPending, "", "", time.Now()
			e.emitItem(it)
			n++
		}
	}
	e.poke()
	return n, nil
}

func (e *fakeEngine) Subscribe(ctx context.Context) <-chan bench.Event {
	ch := make(chan bench.Event, e.buffer)
	e.mu.Lock()
	e.subs[ch] = true
	e.mu.Unlock()
	context.AfterFunc(ctx, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.subs[ch] {
			delete(e.subs, ch)
			close(ch)
		}
	})
	return ch
}

func (e *fakeEngine) RevealPIN(ctx context.Context, upn string, by bench.Requester) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if strings.Contains(upn, "broken") {
		return nil, fmt.Errorf("open /var/lib/keyprep/escrow/%s.age: internal detail", upn)
	}
	pin, ok := e.pins[strings.ToLower(upn)]
	if !ok {
		return nil, fmt.Errorf("no escrowed PIN for %s: %w", upn, fs.ErrNotExist)
	}
	e.revealed = append(e.revealed, upn)
	e.revealedBy = append(e.revealedBy, by)
	return []byte(pin), nil
}

// subscribers counts live subscriptions.
func (e *fakeEngine) subscribers() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.subs)
}

// dropSubscribers closes every subscription as if they had fallen behind.
func (e *fakeEngine) dropSubscribers() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ch := range e.subs {
		delete(e.subs, ch)
		close(ch)
	}
}

// setState sets the state of the queued users named.
func (e *fakeEngine) setState(st bench.ItemState, upns ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range upns {
		if it := e.byUPN[strings.ToLower(u)]; it != nil {
			it.State = st
			e.emitItem(it)
		}
	}
}

// setSlot changes (or adds) a slot and emits the event.
func (e *fakeEngine) setSlot(s bench.Slot) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, cur := range e.slots {
		if cur.ID == s.ID {
			*cur = s
			e.emitSlot(cur)
			return
		}
	}
	c := s
	e.slots = append(e.slots, &c)
	e.emitSlot(&c)
}

// addResult records a finished enrollment with its PIN.
func (e *fakeEngine) addResult(r bench.Result, pin string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.results = append(e.results, r)
	if pin != "" {
		e.pins[strings.ToLower(r.UPN)] = pin
	}
	c := r
	e.emit(bench.Event{Type: bench.EventResult, Result: &c})
}

// simulate works the queue with every slot until ctx ends.
func (e *fakeEngine) simulate(ctx context.Context, step time.Duration) {
	var wg sync.WaitGroup
	e.mu.Lock()
	slots := append([]*bench.Slot(nil), e.slots...)
	e.mu.Unlock()
	work := make(chan struct{})
	go func() { // one wake-up for every slot
		for {
			select {
			case <-ctx.Done():
				close(work)
				return
			case <-e.wake:
				for range slots {
					select {
					case work <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	for i, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.runSlot(ctx, s, i, step, work)
		}()
	}
	wg.Wait()
}

func (e *fakeEngine) runSlot(ctx context.Context, s *bench.Slot, n int, step time.Duration, work <-chan struct{}) {
	pause := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(step):
			return true
		}
	}
	set := func(f func()) {
		e.mu.Lock()
		defer e.mu.Unlock()
		f()
		s.Since = time.Now()
		e.emitSlot(s)
	}
	jobs := 0
	for {
		it := e.claim(s)
		if it == nil {
			select {
			case <-ctx.Done():
				return
			case <-work:
				continue
			case <-time.After(step):
				continue
			}
		}
		jobs++
		job := fmt.Sprintf("%08x-job-%d-%d", n*1000+jobs, n, jobs)
		for _, st := range []struct {
			state        bench.SlotState
			step, msg    string
			stepDuration int
		}{
			{bench.SlotWorking, "pin", "", 1},
			{bench.SlotTouch, "makeCredential", "Touch the key now", 2},
			{bench.SlotWorking, "register", "", 1},
			{bench.SlotWorking, "self-test", "", 1},
		} {
			set(func() { s.State, s.Step, s.Message, s.UPN, s.JobID = st.state, st.step, st.msg, it.UPN, job })
			for range st.stepDuration {
				if !pause() {
					return
				}
			}
		}
		if strings.Contains(it.UPN, "fail") {
			set(func() {
				s.State, s.Step = bench.SlotAttention, ""
				s.Message, s.Hint = "Entra refused the key model", "allow this key's AAGUID in the passkey profile, or use another key"
				it.State, it.Error, it.Hint, it.Updated = bench.ItemFailed, s.Message, s.Hint, time.Now()
				e.emitItem(it)
			})
		} else {
			e.mu.Lock()
			r := bench.Result{
				UPN: it.UPN, User: it.DisplayName, UserID: fmt.Sprintf("user-%d-%d", n, jobs), MethodID: "m-" + job,
				CredentialID: "cred-" + job, AAGUID: "a1b2c3d4-0000-4000-8000-000000000000", Model: s.Model, Key: s.Key,
				JobID: job, Verified: true, PINEscrow: "esc-" + job, CreatedDateTime: time.Now(),
			}
			e.results = append(e.results, r)
			e.pins[strings.ToLower(it.UPN)] = fmt.Sprintf("%06d", 100000+n*1000+jobs)
			it.State, it.JobID, it.Updated = bench.ItemDone, job, time.Now()
			e.emitItem(it)
			e.emit(bench.Event{Type: bench.EventResult, Result: &r})
			e.mu.Unlock()
			set(func() {
				s.State, s.Step, s.Message, s.Done = bench.SlotDone, "", "remove the key and plug in the next", s.Done+1
			})
		}
		for range 2 { // the operator swaps the key
			if !pause() {
				return
			}
		}
		set(func() { s.State, s.UPN, s.Step, s.Message, s.Hint, s.JobID = bench.SlotIdle, "", "", "", "", "" })
		e.mu.Lock()
		if e.idle() {
			e.emit(bench.Event{Type: bench.EventIdle})
		}
		e.mu.Unlock()
	}
}

// claim hands the next pending user to slot s.
func (e *fakeEngine) claim(s *bench.Slot) *bench.Item {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, it := range e.queue {
		if it.State == bench.ItemPending {
			if e.started.IsZero() {
				e.started = time.Now()
			}
			it.State, it.Key, it.Attempts, it.Updated = bench.ItemActive, s.Key, it.Attempts+1, time.Now()
			e.emitItem(it)
			return it
		}
	}
	return nil
}

// idle says whether nothing is pending and no slot works; e.mu held.
func (e *fakeEngine) idle() bool {
	for _, it := range e.queue {
		if it.State == bench.ItemPending || it.State == bench.ItemActive {
			return false
		}
	}
	for _, s := range e.slots {
		if s.State == bench.SlotWorking || s.State == bench.SlotTouch {
			return false
		}
	}
	return true
}

// resultUPNs lists the UPNs with a result, sorted.
func (e *fakeEngine) resultUPNs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var upns []string
	for _, r := range e.results {
		upns = append(upns, r.UPN)
	}
	sort.Strings(upns)
	return upns
}
