package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/store"
	"github.com/keyprep/keyprep/internal/userlist"
)

// Device is an open key: what enrollment needs, and Close.
type Device interface {
	enroll.Device
	Close() error
}

// KeySource lists the attached keys (polled for hot-plug).
type KeySource interface {
	List(ctx context.Context) ([]KeyInfo, error)
}

// Outcome classifies a failed enrollment for the queue.
type Outcome int

// Outcomes of a failure.
const (
	// FailUser: the user cannot be enrolled as things are (not found,
	// guest, outside the policy): the item fails, the key carries on.
	FailUser Outcome = iota
	// FailKey: the key cannot be used as it is: the user goes back to the
	// queue for another key, the slot needs attention.
	FailKey
	// FailTransient: Graph was unavailable or throttling, or the outcome
	// is unknown: the user goes back to the queue (the job is resumed).
	FailTransient
)

// Explain turns an error into words for the operator: a message, a hint,
// and how the queue should treat it. The CLI supplies it (its one table of
// messages and exit codes).
type Explain func(err error) (msg, hint string, o Outcome)

// Options configure a Runner.
type Options struct {
	Enroller *enroll.Enroller
	Keys     KeySource
	Open     func(ctx context.Context, path string) (Device, error)
	// Request is the template of every enrollment (PIN settings, escrow
	// recipients, …); UPN and KeyPath are filled per job.
	Request enroll.Request
	// MaxParallel bounds the enrollments running at once (0: one per key).
	MaxParallel int
	// UsersPerKey is how many users a key takes before the slot asks for
	// the next key (default 1: one key per person).
	UsersPerKey int
	// ReuseKeys lets the bench use keys that already have a PIN (keys
	// keyprep set up before, whose PIN is escrowed); without it such a key
	// needs attention.
	ReuseKeys bool
	// SkipExisting skips users who already have a passkey in Entra.
	SkipExisting bool
	// RetryFailed queues users whose last job failed; without it they are
	// reported failed again (with the earlier error) and not retried.
	RetryFailed bool
	// MaxAttempts bounds how often one user is tried (default 3).
	MaxAttempts int
	// RetryDelay is the pause before retrying a user after a transient
	// failure, times the attempt (default 1 s).
	RetryDelay time.Duration
	// Poll is the hot-plug scan interval (default 300 ms).
	Poll time.Duration
	// Explain classifies failures (default: every failure is the user's).
	Explain Explain
	// Foreground: Run returns once every user is done, skipped or failed.
	// Otherwise it runs until its context ends (the daemon).
	Foreground bool
	// OnNeedsOperator is called when a slot's key must be swapped: it is
	// done, or needs attention (the simulated operator swaps it there).
	OnNeedsOperator func(s Slot)
	// NoPrefetch turns off fetching the next user's creationOptions while
	// a key waits for its touch.
	NoPrefetch bool
	// Resolver, when set, resolves the run's users in bulk (users looked
	// up LookupBatch at a time, the policy and its groups' members read
	// once): a bulk run then costs little more than the creationOptions
	// and the registration per enrollment (docs/graph.md §6.3). With it
	// the skip check (SkipExisting) reads the user's creationOptions,
	// which the enrollment then uses, instead of listing their passkeys.
	// nil: every user is resolved on their own, as `enroll --user` does.
	Resolver Resolver
	Log      *slog.Logger
	Now      func() time.Time
}

// Runner is the bench: slots over attached keys working one queue.
type Runner struct {
	o Options

	mu        sync.Mutex
	slots     map[string]*slot // by key path
	order     []string         // slot paths in order of arrival
	items     []*Item
	byUPN     map[string]*Item
	bound     map[string]*store.Job // UPN → unfinished job to resume on its key
	results   []Result
	seq       int64
	subs      map[chan Event]struct{}
	started   time.Time
	firstWork time.Time
	finished  int // enrollments finished since firstWork (for the rate)
	batches   int
	wake      chan struct{}
	sem       chan struct{}
	slotSeq   int
	present   map[string]bool
	pre       *prefetchDir
	bulk      *bulkDir // nil without Options.Resolver
	runCtx    context.Context
	preDone   map[string]bool // UPNs whose options were prefetched
}

type slot struct {
	Slot
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// New builds a Runner; Run starts it.
func New(o Options) (*Runner, error) {
	if o.Enroller == nil || o.Keys == nil || o.Open == nil {
		return nil, errors.New("bench: Enroller, Keys and Open are required")
	}
	if o.UsersPerKey <= 0 {
		o.UsersPerKey = 1
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 300 * time.Millisecond
	}
	if o.Explain == nil {
		o.Explain = func(err error) (string, string, Outcome) { return err.Error(), "", FailUser }
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Runner{o: o, slots: map[string]*slot{}, byUPN: map[string]*Item{}, bound: map[string]*store.Job{},
		subs: map[chan Event]struct{}{}, wake: make(chan struct{}), present: map[string]bool{}, preDone: map[string]bool{},
		runCtx: context.Background()}
	e := *o.Enroller
	dir := e.Directory
	if o.Resolver != nil {
		r.bulk = newBulkDir(dir, o.Resolver)
		dir = r.bulk
	}
	r.pre = newPrefetchDir(dir, o.Request.ChallengeTimeout, o.Now)
	if r.bulk != nil {
		r.pre.gate, r.pre.unknown = r.mayEnroll, r.bulk.notFound
	}
	e.Directory = r.pre
	r.o.Enroller = &e
	if o.MaxParallel > 0 {
		r.sem = make(chan struct{}, o.MaxParallel)
	}
	return r, nil
}

// ---- events ------------------------------------------------------------------

// emit records an event; the caller holds r.mu.
func (r *Runner) emit(ev Event) {
	r.seq++
	ev.Seq = r.seq
	ev.Time = r.o.Now()
	for ch := range r.subs {
		select {
		case ch <- ev:
		default: // too slow: it resyncs from a snapshot
			delete(r.subs, ch)
			close(ch)
		}
	}
}

func (r *Runner) slotEvent(s *slot) {
	c := s.Slot
	r.emit(Event{Type: EventSlot, Slot: &c})
}

func (r *Runner) itemEvent(it *Item) {
	it.Updated = r.o.Now()
	c := *it
	r.emit(Event{Type: EventItem, Item: &c})
}

// signal wakes every slot waiting for work; the caller holds r.mu.
func (r *Runner) signal() {
	close(r.wake)
	r.wake = make(chan struct{})
}

// Subscribe implements Engine.
func (r *Runner) Subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, 1024)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	go func() {
		<-ctx.Done()
		r.mu.Lock()
		if _, ok := r.subs[ch]; ok {
			delete(r.subs, ch)
			close(ch)
		}
		r.mu.Unlock()
	}()
	return ch
}

// Snapshot implements Engine.
func (r *Runner) Snapshot() Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Snapshot{Started: r.started, Slots: []Slot{}, Queue: make([]Item, 0, len(r.items)), Results: append([]Result{}, r.results...)}
	for _, p := range r.order {
		s.Slots = append(s.Slots, r.slots[p].Slot)
	}
	for _, it := range r.items {
		s.Queue = append(s.Queue, *it)
	}
	s.Counts = r.counts()
	s.OptionsPrefetched, _ = r.pre.stats()
	if r.finished > 0 && !r.firstWork.IsZero() {
		el := r.o.Now().Sub(r.firstWork)
		if el > 0 {
			s.PerHour = float64(r.finished) / el.Hours()
			left := s.Counts.Pending + s.Counts.Active
			s.ETA = time.Duration(float64(left) / s.PerHour * float64(time.Hour)).Round(time.Second)
		}
	}
	return s
}

func (r *Runner) counts() Counts {
	c := Counts{Total: len(r.items)}
	for _, it := range r.items {
		switch it.State {
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
	return c
}

// ---- the queue -----------------------------------------------------------------

// Submit implements Engine: the rows of a CSV user list join the queue.
func (r *Runner) Submit(ctx context.Context, name string, csv io.Reader) (*Submission, error) {
	rows, rowErrs, err := userlist.Read(csv)
	if err != nil {
		return nil, err
	}
	sub := &Submission{Errors: []RowError{}}
	for _, e := range rowErrs {
		sub.Errors = append(sub.Errors, RowError{Line: e.Line, UPN: e.UPN, Msg: e.Msg})
	}
	added, dup, err := r.Add(ctx, name, rows)
	if err != nil {
		return nil, err
	}
	sub.Batch, sub.Added, sub.Duplicate = r.batchName(name), added, dup
	return sub, nil
}

func (r *Runner) batchName(name string) string {
	if name == "" {
		return fmt.Sprintf("batch %d", r.batches)
	}
	return name
}

// Directory is the run's view of Entra: users looked up through it (the
// row check before any key is touched) are not asked for again.
func (r *Runner) Directory() enroll.Directory { return r.pre }

// Expect announces users about to be looked up (a list's rows before the
// row check), so that bulk resolution asks for them LookupBatch at a time.
// Add does it for the users it queues.
func (r *Runner) Expect(upns []string) {
	if r.bulk != nil {
		r.bulk.expect(upns)
	}
}

// BulkStats says what bulk resolution did in this run (zero without a
// Resolver).
func (r *Runner) BulkStats() BulkStats {
	if r.bulk == nil {
		return BulkStats{}
	}
	return r.bulk.stats()
}

// mayEnroll: a user whose creationOptions are worth fetching ahead (bulk
// resolution answers this from its caches).
func (r *Runner) mayEnroll(ctx context.Context, u *enroll.User) bool {
	if u.Guest {
		return false
	}
	el, err := r.pre.Eligibility(ctx, u)
	return err == nil && el.Allowed
}

// Add queues users. A user already queued (or done) in this run is not
// added twice. Users with an unfinished job in the store are bound to it:
// the job is resumed on its key (docs/architecture.md §4.4: nothing half-done is lost).
func (r *Runner) Add(ctx context.Context, batch string, rows []userlist.Row) (added, duplicate int, err error) {
	st := r.o.Enroller.Store
	type pre struct {
		row userlist.Row
		job *store.Job
	}
	var ps []pre
	for _, row := range rows {
		p := pre{row: row}
		// The user's enrollment history, newest first: a finished job means
		// enrolled (skipped when claimed); otherwise the newest unfinished
		// job is resumed, or the newest failure reported.
		jobs, err := st.Jobs(ctx, store.JobFilter{UPN: row.UPN})
		if err != nil {
			return 0, 0, err
		}
		done := false
		for i := range jobs {
			if jobs[i].Kind == enroll.JobKind && jobs[i].State == store.JobDone {
				done = true
			}
		}
		for i := range jobs {
			if done || jobs[i].Kind != enroll.JobKind {
				continue
			}
			if jobs[i].State == store.JobRunning || jobs[i].State == store.JobFailed {
				p.job = &jobs[i]
				break
			}
		}
		ps = append(ps, p)
	}
	var upns []string
	for _, p := range ps {
		if p.job == nil {
			upns = append(upns, p.row.UPN)
		}
	}
	r.Expect(upns)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches++
	name := r.batchName(batch)
	for _, p := range ps {
		k := strings.ToLower(p.row.UPN)
		if _, ok := r.byUPN[k]; ok {
			duplicate++
			continue
		}
		it := &Item{UPN: p.row.UPN, DisplayName: p.row.DisplayName, Batch: name, Line: p.row.Line, State: ItemPending}
		switch {
		case p.job != nil && p.job.State == store.JobRunning:
			r.bound[k] = p.job
			it.JobID, it.Key = p.job.ID, p.job.KeyPath
			it.Error = "interrupted earlier at " + p.job.Step + ": resumed on " + p.job.KeyPath
		case p.job != nil && !r.o.RetryFailed:
			it.State, it.JobID, it.Key = ItemFailed, p.job.ID, p.job.KeyPath
			it.Error = "failed earlier (job " + short(p.job.ID) + "): " + p.job.Error
			it.Hint = "fix the cause and run again with --retry-failed"
		}
		r.items = append(r.items, it)
		r.byUPN[k] = it
		r.itemEvent(it)
		added++
	}
	r.emit(Event{Type: EventBatch, Message: fmt.Sprintf("%s: %d users queued", name, added)})
	r.signal()
	return added, duplicate, nil
}

// RetryFailed implements Engine.
func (r *Runner) RetryFailed(context.Context) (int, error) {
	if r.bulk != nil {
		r.bulk.forget()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, it := range r.items {
		if it.State == ItemFailed {
			it.State, it.Attempts, it.Error, it.Hint = ItemPending, 0, "", ""
			r.itemEvent(it)
			n++
		}
	}
	r.signal()
	return n, nil
}

// claim hands the slot the next user it can take: first a user whose
// interrupted job is on this very key, then the next pending user not bound
// to another key. It blocks until there is one, and returns nil when the
// slot's context ends or (foreground) the queue is finished.
func (r *Runner) claim(ctx context.Context, s *slot) *Item {
	for {
		r.mu.Lock()
		var pick *Item
		for _, it := range r.items {
			if it.State != ItemPending {
				continue
			}
			if j := r.bound[strings.ToLower(it.UPN)]; j != nil {
				if j.KeyPath == s.Key {
					pick = it
					break
				}
				continue
			}
			if pick == nil {
				pick = it
			}
		}
		if pick != nil {
			pick.State, pick.Key = ItemActive, s.Key
			pick.Attempts++
			r.itemEvent(pick)
			r.mu.Unlock()
			return pick
		}
		wake := r.wake
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
	}
}

// finishedLocked reports whether the queue is finished: nothing active and
// nothing pending, or only users whose interrupted job waits for a key that
// is not attached (they are failed with the reason). The caller holds r.mu.
func (r *Runner) finishedLocked(settle bool) bool {
	c := r.counts()
	if c.Active > 0 {
		return false
	}
	if c.Pending == 0 {
		return true
	}
	// Pending users only for keys that are gone, and no slot could take
	// any other: report them and finish.
	for _, it := range r.items {
		if it.State != ItemPending {
			continue
		}
		j := r.bound[strings.ToLower(it.UPN)]
		if j == nil || r.present[j.KeyPath] {
			return false
		}
	}
	if !settle {
		return false
	}
	for _, it := range r.items {
		if it.State == ItemPending {
			j := r.bound[strings.ToLower(it.UPN)]
			it.State = ItemFailed
			it.Error = fmt.Sprintf("interrupted on key %s, which is not attached (job %s at %s)", j.KeyPath, short(j.ID), j.Step)
			it.Hint = "plug that key back in and run the same command again, or keyprep journal resume " + short(j.ID)
			r.itemEvent(it)
		}
	}
	return true
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// ---- running -------------------------------------------------------------------

// Run watches the keys and runs a slot per key until ctx ends or, in the
// foreground, until the queue is finished.
func (r *Runner) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.mu.Lock()
	r.started = r.o.Now()
	r.runCtx = ctx
	r.mu.Unlock()
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	tick := time.NewTicker(r.o.Poll)
	defer tick.Stop()
	idleSent := false
	for {
		keys, err := r.o.Keys.List(ctx)
		if err != nil && ctx.Err() == nil {
			r.o.Log.Warn("listing keys failed", "err", err)
		}
		r.mu.Lock()
		seen := map[string]bool{}
		for _, k := range keys {
			seen[k.Path] = true
			if _, ok := r.slots[k.Path]; !ok {
				s := r.newSlotLocked(ctx, k)
				wg.Add(1)
				go func() {
					defer wg.Done()
					r.runSlot(s)
				}()
			}
		}
		for path, s := range r.slots {
			if !seen[path] && s.State != SlotRemoved {
				s.State, s.Message, s.Since = SlotRemoved, "key removed", r.o.Now()
				s.cancel()
				r.slotEvent(s)
			}
		}
		r.present = seen
		// Forget removed slots once their goroutine has ended.
		for i := 0; i < len(r.order); i++ {
			s := r.slots[r.order[i]]
			if s.State == SlotRemoved && isClosed(s.done) {
				delete(r.slots, s.Key)
				r.order = append(r.order[:i], r.order[i+1:]...)
				i--
			}
		}
		finished := r.finishedLocked(r.o.Foreground)
		if finished && !idleSent {
			r.emit(Event{Type: EventIdle, Message: "queue finished"})
			idleSent = true
		} else if !finished {
			idleSent = false
		}
		r.mu.Unlock()
		if finished && r.o.Foreground {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (r *Runner) newSlotLocked(ctx context.Context, k KeyInfo) *slot {
	sctx, cancel := context.WithCancel(ctx)
	r.slotSeq++
	s := &slot{Slot: Slot{ID: fmt.Sprintf("slot-%d", r.slotSeq), Key: k.Path, Model: k.Product, State: SlotWorking,
		Message: "checking the key", Since: r.o.Now()}, ctx: sctx, cancel: cancel, done: make(chan struct{})}
	r.slots[k.Path] = s
	r.order = append(r.order, k.Path)
	r.slotEvent(s)
	return s
}
