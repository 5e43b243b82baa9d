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
	// Bench names this bench in the store's queue (claims, jobs, the
	// fleet view); default the host name.
	Bench string
	// Lease is how long a claim holds without a heartbeat (default 60 s);
	// Heartbeat how often the bench renews its leases and reports its
	// keys and slots (default Lease/3).
	Lease     time.Duration
	Heartbeat time.Duration
	// ClaimPoll is how often an idle slot asks the store for work other
	// benches may have freed (default 1 s).
	ClaimPoll time.Duration
	Log       *slog.Logger
	Now       func() time.Time
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
	// rows are the queue rows this bench holds, by lower-case UPN.
	rows map[string]*store.QueueItem
	// claiming counts slots asking the store for work (see finishedLocked).
	claiming int
	// recount: a user went back to pending here since the store's count
	// of pending users was read; that count may predate it (the row was
	// this bench's claim then, which the count leaves out), so the run
	// is not finished on it and it is read again.
	recount bool
	// hooks stop the runner at chosen points in this package's tests
	// (export_test.go); zero in production.
	hooks testHooks
	// ahead are users claimed in the shared store ahead of a free slot, so
	// that their creationOptions are fetched while the keys wait for their
	// touch (see prefetchNextLocked); aheadBusy: a claim ahead is under
	// way.
	ahead     []*store.QueueItem
	aheadBusy bool
	// shared: the store is one several benches share (PostgreSQL).
	shared bool
	// retried are the users the operator retried (RetryFailed) in this run.
	retried map[string]bool
}

type slot struct {
	Slot
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// credJob is the begun job whose credential the key holds (a key
	// without a serial number, recognised by recognise); set once, before
	// the slot claims. boundJob is the begun job the key is bound to by
	// its serial number or that credential: until the slot takes it
	// (boundTaken) it takes no other user, and the run is not finished.
	// Written under r.mu.
	credJob, boundJob string
	boundTaken        bool
}

// New builds a Runner; Run starts it.
func New(o Options) (*Runner, error) {
	if o.Enroller == nil || o.Keys == nil || o.Open == nil {
		return nil, errors.New("bench: Enroller, Keys and Open are required")
	}
	if err := checkFleetEscrow(o); err != nil {
		return nil, err
	}
	if o.UsersPerKey <= 0 {
		o.UsersPerKey = 1
	}
	// A bench adds users to keys that hold passkeys only when told to
	// (UsersPerKey above one, ReuseKeys): nobody is there to ask per key,
	// and each slot shows the notice (enroll.SharedKey).
	if o.UsersPerKey > 1 || o.ReuseKeys {
		o.Request.SharedKeyOK = true
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
	if o.Bench == "" {
		o.Bench = DefaultBench()
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Heartbeat <= 0 || o.Heartbeat >= o.Lease {
		o.Heartbeat = o.Lease / 3
	}
	if o.ClaimPoll <= 0 {
		o.ClaimPoll = time.Second
		if o.Poll < 100*time.Millisecond {
			o.ClaimPoll = 10 * o.Poll
		}
	}
	r := &Runner{rows: map[string]*store.QueueItem{}, retried: map[string]bool{}, o: o, slots: map[string]*slot{}, byUPN: map[string]*Item{}, bound: map[string]*store.Job{},
		subs: map[chan Event]struct{}{}, wake: make(chan struct{}), present: map[string]bool{}, preDone: map[string]bool{},
		runCtx: context.Background(), shared: o.Enroller.Store != nil && o.Enroller.Store.Backend() == store.BackendPostgres}
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
	s.PerHour, s.ETA = r.rateLocked(s.Counts)
	return s
}

// rateLocked is the enrollment rate since the first one started and the
// time left at it for c's open users (zero when unknown); r.mu is held.
func (r *Runner) rateLocked(c Counts) (perHour float64, eta time.Duration) {
	if r.finished > 0 && !r.firstWork.IsZero() {
		el := r.o.Now().Sub(r.firstWork)
		if el > 0 {
			perHour = float64(r.finished) / el.Hours()
			left := c.Pending + c.Active
			eta = time.Duration(float64(left) / perHour * float64(time.Hour)).Round(time.Second)
		}
	}
	return perHour, eta
}

func (r *Runner) counts() Counts {
	var c Counts
	for _, it := range r.items {
		c.add(it.State)
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

// Loaded returns the users (lower-case UPNs) of batch already in the
// store's queue: loaded before, by an earlier run, another bench given the
// same list or keyprep fleet load. Their rows need no look-up before the
// run: each is looked up when a slot takes it (an unknown user is then
// refused before its key is touched), so benches sharing a list do not
// each resolve all of it before they start.
func (r *Runner) Loaded(ctx context.Context, batch string) (map[string]bool, error) {
	qs, err := r.o.Enroller.Store.Queue(ctx, store.QueueFilter{Batch: r.batchName(batch)})
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(qs))
	for _, q := range qs {
		out[strings.ToLower(q.UPN)] = true
	}
	return out, nil
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

// Add loads users into the store's queue (under batch: a user already in
// it is not added twice; docs/architecture.md §3.2) and shows them in this
// run. Slots claim users from the store's queue, so on a shared store the
// benches share the work. A user of the list whose row is settled shows
// how: enrolled before (skipped), failed earlier (reported again unless
// RetryFailed), skipped (queued again: this run decides anew), or begun on
// a key (resumed on that key when it is attached here).
func (r *Runner) Add(ctx context.Context, batch string, rows []userlist.Row) (added, duplicate int, err error) {
	st := r.o.Enroller.Store
	r.mu.Lock()
	r.batches++
	name := r.batchName(batch)
	r.mu.Unlock()
	es := make([]store.QueueEntry, len(rows))
	for i, row := range rows {
		es[i] = store.QueueEntry{UPN: row.UPN, DisplayName: row.DisplayName, Line: row.Line}
	}
	added, duplicate, err = st.LoadQueue(ctx, name, es)
	if err != nil {
		return 0, 0, err
	}
	qrows, err := st.Queue(ctx, store.QueueFilter{Batch: name})
	if err != nil {
		return 0, 0, err
	}
	byUPN := map[string]store.QueueItem{}
	for _, q := range qrows {
		byUPN[strings.ToLower(q.UPN)] = q
	}
	type pre struct {
		row userlist.Row
		q   store.QueueItem
		job *store.Job // the job that settled or began the row
	}
	var ps []pre
	for _, row := range rows {
		p := pre{row: row, q: byUPN[strings.ToLower(row.UPN)]}
		switch p.q.State {
		case store.QueueSkipped:
			if err := st.Requeue(ctx, p.q.ID); err != nil {
				return 0, 0, err
			}
			p.q.State = store.QueueQueued
		case store.QueueFailed:
			if r.o.RetryFailed {
				if err := st.Requeue(ctx, p.q.ID); err != nil {
					return 0, 0, err
				}
				p.q.State = store.QueueQueued
			}
		}
		if p.q.JobID != "" && p.q.State != store.QueueQueued {
			p.job, _ = st.Job(ctx, p.q.JobID)
		}
		if p.q.State == store.QueueDone && p.job == nil {
			jobs, _ := st.Jobs(ctx, store.JobFilter{UPN: row.UPN, States: []store.JobState{store.JobDone}, Limit: 1})
			if len(jobs) == 1 {
				p.job = &jobs[0]
			}
		}
		ps = append(ps, p)
	}
	var upns []string
	for _, p := range ps {
		if p.q.State == store.QueueQueued {
			upns = append(upns, p.row.UPN)
		}
	}
	r.Expect(upns)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range ps {
		k := strings.ToLower(p.row.UPN)
		if _, ok := r.byUPN[k]; ok {
			continue
		}
		it := &Item{UPN: p.row.UPN, DisplayName: p.row.DisplayName, Batch: name, Line: p.row.Line, State: ItemPending}
		switch p.q.State {
		case store.QueueDone:
			it.State = ItemSkipped
			if p.job != nil {
				it.Error = fmt.Sprintf("enrolled before on %s (job %s)", p.job.KeyPath, short(p.job.ID))
			} else {
				it.Error = "enrolled before"
			}
		case store.QueueFailed:
			it.State, it.JobID, it.Key = ItemFailed, p.q.JobID, p.q.KeyPath
			why := p.q.Error
			if p.job != nil && p.job.Error != "" {
				why = p.job.Error
			}
			it.Error = "failed earlier"
			if p.q.JobID != "" {
				it.Error += " (job " + short(p.q.JobID) + ")"
			}
			it.Error += ": " + why
			it.Hint = "fix the cause and run again with --retry-failed"
		case store.QueueBegun:
			// Only this bench's own begun users (from a process of the
			// same name that stopped) are bound here; another bench's
			// stay with it, or go to the bench their key turns up on
			// (ClaimBegun, by serial).
			if p.job != nil && strings.EqualFold(p.q.Bench, r.o.Bench) {
				r.bound[k] = p.job
				it.JobID, it.Key = p.job.ID, p.job.KeyPath
				it.Error = "interrupted earlier at " + p.job.Step + ": resumed on " + p.job.KeyPath
			}
		}
		r.items = append(r.items, it)
		r.byUPN[k] = it
		r.itemEvent(it)
	}
	r.emit(Event{Type: EventBatch, Message: fmt.Sprintf("%s: %d users queued", name, added)})
	r.signal()
	return added, duplicate, nil
}

// RetryFailed implements Engine.
func (r *Runner) RetryFailed(ctx context.Context) (int, error) {
	if r.bulk != nil {
		r.bulk.forget()
	}
	if _, err := r.o.Enroller.Store.RequeueFailed(ctx, ""); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, it := range r.items {
		if it.State == ItemFailed {
			it.State, it.Attempts, it.Error, it.Hint = ItemPending, 0, "", ""
			r.recount = true
			delete(r.bound, strings.ToLower(it.UPN))
			r.retried[strings.ToLower(it.UPN)] = true
			r.itemEvent(it)
			n++
		}
	}
	r.signal()
	return n, nil
}

// claim hands the slot the next user it can take, from the store's queue:
// first a user whose begun job is bound to this very key (recognised by
// its serial number, by its credential, or by its path on this bench),
// then the next queued
// user. It blocks until there is one, and returns nil when the slot's
// context ends or (foreground) the queue is finished.
func (r *Runner) claim(ctx context.Context, s *slot) *Item {
	for {
		if it := r.claimOnce(ctx, s); it != nil {
			return it
		}
		r.mu.Lock()
		wake := r.wake
		r.mu.Unlock()
		t := time.NewTimer(r.o.ClaimPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// testHooks are called, when set, at points a test needs to meet:
// claimed after a slot claimed a user in the store (before the user is
// taken), counted after the run loop read the store's count of pending
// users, requeued after a user went back to pending (with r.mu held).
type testHooks struct {
	claimed  func(upn string)
	counted  func(n int)
	requeued func(upn string)
}

// recounting reports whether the store's count of pending users must be
// read again (see Runner.recount).
func (r *Runner) recounting() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recount
}

// claimOnce asks the store once; nil when there is nothing for the slot.
func (r *Runner) claimOnce(ctx context.Context, s *slot) *Item {
	r.mu.Lock()
	r.claiming++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.claiming--
		r.mu.Unlock()
	}()
	st := r.o.Enroller.Store
	if ctx.Err() != nil {
		return nil
	}
	q, err := st.ClaimBegun(ctx, r.o.Bench, []store.KeyRef{{Serial: s.Serial, Path: s.Key, JobID: s.credJob}}, r.o.Lease)
	if err != nil {
		r.storeTrouble(err)
		return nil
	}
	if q != nil {
		job, err := st.Job(ctx, q.JobID)
		if err != nil {
			r.storeTrouble(err)
			_ = st.Release(ctx, q.ID, r.o.Bench, "")
			return nil
		}
		r.mu.Lock()
		if q.JobID == s.boundJob {
			s.boundTaken = true
		}
		r.mu.Unlock()
		return r.take(q, job, s)
	}
	r.mu.Lock()
	waiting := s.boundJob != "" && !s.boundTaken
	r.mu.Unlock()
	if waiting {
		// The key's own enrollment is not claimable yet (the lease of the
		// bench that held it has not run out): wait for it; a new user
		// would not get this key. Once it is not begun any more (finished
		// or abandoned elsewhere), stop waiting.
		if !r.boundInStore(ctx, s) {
			r.mu.Lock()
			s.boundTaken = true
			r.mu.Unlock()
		}
		return nil
	}
	for {
		// Users this bench claimed ahead come first.
		r.mu.Lock()
		var q *store.QueueItem
		if len(r.ahead) > 0 {
			q, r.ahead = r.ahead[0], r.ahead[1:]
		}
		r.mu.Unlock()
		if q == nil {
			break
		}
		if !r.stillHeld(ctx, q) {
			// Claimed ahead before the store went away for longer than
			// the lease: another bench may have the user now.
			continue
		}
		if it := r.vet(ctx, q, s); it != nil {
			return it
		}
	}
	for range 8 { // users settled on the way do not end the slot's turn
		q, _, err := st.Claim(ctx, r.o.Bench, r.o.Lease)
		if err != nil {
			r.storeTrouble(err)
			return nil
		}
		if q == nil {
			return nil
		}
		if h := r.hooks.claimed; h != nil {
			h(q.UPN)
		}
		if it := r.vet(ctx, q, s); it != nil {
			return it
		}
	}
	return nil
}

// stillHeld reports whether the claim q is still this bench's: no other
// claim of the row came since (its attempt number). A claim made ahead of
// a free slot may have waited through a store outage longer than the
// lease, during which another bench could take the user over. When the
// store cannot say, the claim is kept: beginning the enrollment checks it
// again (BeginClaim) before anything is done, and a claim dropped here
// while this bench still holds it would be renewed by its heartbeats and
// never taken.
func (r *Runner) stillHeld(ctx context.Context, q *store.QueueItem) bool {
	rows, err := r.o.Enroller.Store.Queue(ctx, store.QueueFilter{UPN: q.UPN})
	if err != nil {
		r.storeTrouble(err)
		return true
	}
	for i := range rows {
		cur := &rows[i]
		if cur.ID == q.ID {
			return strings.EqualFold(cur.Bench, r.o.Bench) && cur.Attempts == q.Attempts &&
				(cur.State == store.QueueClaimed || cur.State == store.QueueBegun)
		}
	}
	return false
}

// vet looks at the history of a user just claimed: an unfinished job
// binds the user to its key (resumed here when it is this slot's key;
// otherwise the row waits for that key), and a user whose last job
// failed before this run is reported, not retried, without RetryFailed.
// It returns the item to work on, or nil when the user was settled.
func (r *Runner) vet(ctx context.Context, q *store.QueueItem, s *slot) *Item {
	st := r.o.Enroller.Store
	jobs, err := st.Jobs(ctx, store.JobFilter{UPN: q.UPN})
	if err != nil {
		r.storeTrouble(err)
		_ = st.Release(ctx, q.ID, r.o.Bench, "")
		return nil
	}
	r.mu.Lock()
	prior := r.byUPN[strings.ToLower(q.UPN)]
	tried := (prior != nil && prior.Attempts > 0) || r.retried[strings.ToLower(q.UPN)]
	r.mu.Unlock()
	var running, failed *store.Job
	for i := range jobs {
		j := &jobs[i]
		if j.Kind != enroll.JobKind {
			continue
		}
		if j.State == store.JobDone {
			return r.take(q, nil, s) // work() skips: enrolled before
		}
		if j.State == store.JobRunning && running == nil {
			running = j
		}
		if j.State == store.JobFailed && failed == nil && running == nil {
			failed = j
		}
	}
	switch {
	case running != nil:
		here := (running.Serial != "" && running.Serial == s.Serial) || (s.credJob != "" && running.ID == s.credJob) ||
			(running.Serial == "" && running.KeyPath == s.Key && (running.Bench == "" || running.Bench == r.o.Bench))
		if err := st.BindJob(ctx, q, running, !here); err != nil {
			r.storeTrouble(err)
			return nil
		}
		if here {
			return r.take(q, running, s)
		}
		r.mu.Lock()
		it := r.itemLocked(q)
		r.bound[strings.ToLower(q.UPN)] = running
		it.State, it.JobID, it.Key = ItemPending, running.ID, running.KeyPath
		r.recount = true
		it.Error = "interrupted earlier at " + running.Step + ": waits for its key " + keyName(running)
		r.itemEvent(it)
		r.mu.Unlock()
		return nil
	case failed != nil && !tried && !r.o.RetryFailed:
		msg := "failed earlier (job " + short(failed.ID) + "): " + failed.Error
		_ = st.FinishClaim(ctx, q.ID, r.o.Bench, store.QueueFailed, failed.ID, failed.Error)
		r.mu.Lock()
		it := r.itemLocked(q)
		it.State, it.JobID, it.Key = ItemFailed, failed.ID, failed.KeyPath
		it.Error, it.Hint = msg, "fix the cause and run again with --retry-failed"
		r.itemEvent(it)
		r.mu.Unlock()
		return nil
	}
	return r.take(q, nil, s)
}

// keyName names a job's key for people: its serial number, else its path.
func keyName(j *store.Job) string {
	if j.Serial != "" {
		return "serial " + j.Serial + " (" + j.KeyPath + ")"
	}
	return j.KeyPath
}

// itemLocked returns the run's item of a queue row, adding one for a user
// another bench loaded. The caller holds r.mu.
func (r *Runner) itemLocked(q *store.QueueItem) *Item {
	k := strings.ToLower(q.UPN)
	it := r.byUPN[k]
	if it == nil {
		it = &Item{UPN: q.UPN, DisplayName: q.DisplayName, Batch: q.Batch, Line: q.Line, State: ItemPending}
		r.items = append(r.items, it)
		r.byUPN[k] = it
	}
	return it
}

// take makes the claimed row q the slot's work (job: its begun job to
// resume, or nil).
func (r *Runner) take(q *store.QueueItem, job *store.Job, s *slot) *Item {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := strings.ToLower(q.UPN)
	it := r.itemLocked(q)
	r.rows[k] = q
	if job != nil {
		r.bound[k] = job
		it.JobID = job.ID
	} else {
		delete(r.bound, k)
	}
	it.State, it.Key = ItemActive, s.Key
	it.Attempts++
	r.itemEvent(it)
	return it
}

// heldRow returns the queue row this bench holds for a user (nil if none).
func (r *Runner) heldRow(upn string) *store.QueueItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rows[strings.ToLower(upn)]
}

// storeTrouble logs a failed store call of the queue (the store already
// retried a lost connection for as long as it was told to).
func (r *Runner) storeTrouble(err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		r.o.Log.Warn("the store's queue", "err", err)
	}
}

// finishedLocked reports whether the run is finished (foreground): no slot
// at work, and nothing this bench could still claim (pending is the
// store's count of queued users and of other benches' claims, whose
// leases may yet expire: begun users of other benches do not count, they
// wait for their keys). Users of this run whose job waits for a key that
// is not attached are then reported failed with the reason. The caller
// holds r.mu.
func (r *Runner) finishedLocked(settle bool, pending int) bool {
	c := r.counts()
	if c.Active > 0 || pending > 0 || r.claiming > 0 || len(r.ahead) > 0 || r.aheadBusy {
		// A slot between its claim in the store and its item: the
		// store's count did not see that user as pending.
		return false
	}
	for _, it := range r.items {
		if it.State != ItemPending {
			continue
		}
		if j := r.bound[strings.ToLower(it.UPN)]; j != nil && r.present[j.KeyPath] && r.localKey(j) {
			return false // its key is here: a slot takes it
		}
	}
	for _, s := range r.slots {
		if s.State != SlotRemoved && s.boundJob != "" && !s.boundTaken {
			return false // a key here waits for its enrollment's lease to run out
		}
	}
	if !settle {
		return false
	}
	for _, it := range r.items {
		if it.State != ItemPending {
			continue
		}
		j := r.bound[strings.ToLower(it.UPN)]
		if j == nil {
			// Another bench took the user: not this run's to report.
			it.State, it.Error = ItemSkipped, "enrolled by another bench"
			r.itemEvent(it)
			continue
		}
		it.State = ItemFailed
		it.Error = fmt.Sprintf("interrupted on key %s, which is not attached (job %s at %s)", keyName(j), short(j.ID), j.Step)
		it.Hint = "plug that key back in and run the same command again (on any bench sharing this store for a key with a serial number or whose passkey was made; on this bench otherwise), or keyprep journal resume " + short(j.ID)
		r.itemEvent(it)
	}
	return true
}

// localKey reports whether job j's key may be the key at its path here.
func (r *Runner) localKey(j *store.Job) bool {
	return j.Bench == "" || j.Bench == r.o.Bench || j.Serial != ""
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
	// What an earlier process of this bench held (it died or was killed)
	// is released first: its claims return to the queue, its begun users
	// wait for their keys, which this bench's slots take back.
	if _, err := r.o.Enroller.Store.ReleaseBench(ctx, r.o.Bench); err != nil {
		return err
	}
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
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.heartbeats(ctx)
	}()
	if r.bulk != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.bulk.warm(ctx)
		}()
	}
	idleSent := false
	var (
		pending   = -1
		lastCount time.Time
	)
	for {
		if r.o.Foreground && (pending != 0 || r.recounting() || time.Since(lastCount) >= r.o.ClaimPoll) && r.idle() {
			// Only when no slot works: the store's count matters once this
			// bench has nothing left of its own.
			r.mu.Lock()
			r.recount = false // a user requeued from here on sets it again
			r.mu.Unlock()
			n, err := r.o.Enroller.Store.Pending(ctx, r.o.Bench)
			if err != nil {
				r.storeTrouble(err)
				n = 1
			}
			if h := r.hooks.counted; h != nil {
				h(n)
			}
			pending, lastCount = n, time.Now()
		}
		keys, err := r.o.Keys.List(ctx)
		if err != nil && ctx.Err() == nil {
			r.o.Log.Warn("listing keys failed", "err", err)
		}
		r.mu.Lock()
		seen := map[string]bool{}
		for _, k := range keys {
			seen[k.Path] = true
			if cur, ok := r.slots[k.Path]; ok && cur.State == SlotRemoved && isClosed(cur.done) {
				delete(r.slots, k.Path) // replugged: a new slot
				for i, p := range r.order {
					if p == k.Path {
						r.order = append(r.order[:i], r.order[i+1:]...)
						break
					}
				}
			}
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
		r.releaseAheadLocked()
		finished := pending == 0 && !r.recount && r.finishedLocked(r.o.Foreground, pending)
		if finished && !idleSent {
			r.emit(Event{Type: EventIdle, Message: "queue finished"})
			idleSent = true
		} else if !finished {
			idleSent = false
		}
		// A user settled (or queued) wakes the loop at once, so that a
		// foreground run ends when its last user is done, not at the next
		// tick.
		wake := r.wake
		r.mu.Unlock()
		if finished && r.o.Foreground {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-wake:
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
	s := &slot{Slot: Slot{ID: fmt.Sprintf("slot-%d", r.slotSeq), Key: k.Path, Model: k.Product, Serial: k.Serial, State: SlotWorking,
		Message: "checking the key", Since: r.o.Now()}, ctx: sctx, cancel: cancel, done: make(chan struct{})}
	r.slots[k.Path] = s
	r.order = append(r.order, k.Path)
	r.slotEvent(s)
	return s
}
