package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/store"
	"github.com/keyprep/keyprep/internal/webauthn"
)

func (r *Runner) setSlot(s *slot, st SlotState, upn, step, msg, hint string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.State == SlotRemoved {
		return
	}
	s.State, s.UPN, s.Step, s.Message, s.Hint, s.Since = st, upn, step, msg, hint, r.o.Now()
	r.slotEvent(s)
}

// openRetry opens the key; a key that was just plugged in may need a
// moment before it answers.
func (r *Runner) openRetry(ctx context.Context, path string) (Device, error) {
	var last error
	for i := 0; i < 5; i++ {
		d, err := r.o.Open(ctx, path)
		if err == nil {
			return d, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, last
}

// runSlot is one key's life on the bench: check it, enroll users on it
// (UsersPerKey of them), then ask for the next key; until it is pulled out.
func (r *Runner) runSlot(s *slot) {
	defer close(s.done)
	ctx := s.ctx
	wait := func() { <-ctx.Done() }
	dev, err := r.openRetry(ctx, s.Key)
	if err != nil {
		if ctx.Err() == nil {
			msg, hint, _ := r.o.Explain(err)
			r.setSlot(s, SlotAttention, "", "", "cannot open the key: "+msg, hint)
			r.needOperator(s)
		}
		wait()
		return
	}
	defer dev.Close()
	info, err := dev.Info(ctx)
	if err != nil {
		if ctx.Err() == nil {
			msg, hint, _ := r.o.Explain(err)
			r.setSlot(s, SlotAttention, "", "", "the key does not answer: "+msg, hint+" (replug it)")
			r.needOperator(s)
		}
		wait()
		return
	}
	pinSet, _ := info.Option("clientPin")
	if pinSet && s.Serial == "" {
		// A key without a serial number: is an unfinished enrollment's
		// credential on it?
		job := r.recognise(ctx, s, dev, info)
		r.mu.Lock()
		s.credJob = job
		r.mu.Unlock()
	}
	if pinSet && !r.o.ReuseKeys && !r.hasBound(s.Key) && !r.boundInStore(ctx, s) {
		if res := r.finishedOn(ctx, s.Key); res != nil {
			r.setSlot(s, SlotDone, res.UPN, "", fmt.Sprintf("already provisioned for %s: remove the key and plug in the next", res.UPN), "")
			r.needOperator(s)
		} else {
			r.setSlot(s, SlotAttention, "", "", "this key already has a PIN",
				"remove it and plug in a factory-fresh key, or run with --reuse-keys to add users to keys keyprep set up (their PIN is escrowed)")
			r.needOperator(s)
		}
		wait()
		return
	}
	for {
		r.mu.Lock()
		n := s.Done
		r.mu.Unlock()
		if n >= r.o.UsersPerKey && !r.hasBound(s.Key) {
			break
		}
		r.setSlot(s, SlotIdle, "", "", "ready: waiting for the next user", "")
		it := r.claim(ctx, s)
		if it == nil {
			return
		}
		switch r.work(ctx, s, dev, it) {
		case slotContinue:
		case slotAttention:
			r.needOperator(s)
			wait()
			return
		case slotGone:
			wait()
			return
		}
	}
	r.setSlot(s, SlotDone, "", "", "done: remove the key and plug in the next", "")
	r.needOperator(s)
	wait()
}

// needOperator tells the operator hook that the slot's key must be swapped
// (done, or needing attention).
func (r *Runner) needOperator(s *slot) {
	if r.o.OnNeedsOperator != nil {
		r.mu.Lock()
		c := s.Slot
		r.mu.Unlock()
		r.o.OnNeedsOperator(c)
	}
}

func (r *Runner) hasBound(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, j := range r.bound {
		if j.KeyPath == key {
			if it := r.byUPN[k]; it != nil && (it.State == ItemPending || it.State == ItemActive) {
				return true
			}
		}
	}
	return false
}

// boundInStore reports whether a begun user of the store's queue waits
// for this slot's key (by serial, by credential, or by path on this
// bench): a key that
// came from another bench, or from before a restart.
func (r *Runner) boundInStore(ctx context.Context, s *slot) bool {
	qs, err := r.o.Enroller.Store.Queue(ctx, store.QueueFilter{States: []store.QueueState{store.QueueBegun}})
	if err != nil {
		r.storeTrouble(err)
		return false
	}
	for _, q := range qs {
		if (s.Serial != "" && q.KeySerial == s.Serial) || (s.credJob != "" && q.JobID == s.credJob) {
			// Another bench's (or this bench's) enrollment, begun on this
			// very key: the slot waits for it, and takes no other user
			// first (see claimOnce).
			r.mu.Lock()
			s.boundJob = q.JobID
			r.mu.Unlock()
			return true
		}
		if q.KeySerial == "" && q.KeyPath == s.Key && q.Bench == r.o.Bench {
			return true
		}
	}
	return false
}

// settleRow runs f on the queue row this bench holds for upn (if any) and
// forgets the row; f's store call outlives a cancelled slot.
func (r *Runner) settleRow(upn string, f func(ctx context.Context, st storeQueue, q *store.QueueItem) error) {
	r.mu.Lock()
	k := strings.ToLower(upn)
	q := r.rows[k]
	delete(r.rows, k)
	r.mu.Unlock()
	if q == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.runCtxNow()), 2*time.Minute)
	defer cancel()
	if err := f(ctx, r.o.Enroller.Store, q); err != nil {
		r.storeTrouble(err)
	}
}

func (r *Runner) runCtxNow() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runCtx
}

// storeQueue is the store's queue, as the bench settles its rows.
type storeQueue interface {
	Release(ctx context.Context, id int64, bench, why string) error
	Unbind(ctx context.Context, id int64, bench, why string) error
	FinishClaim(ctx context.Context, id int64, bench string, state store.QueueState, jobID, errText string) error
}

// finishedOn returns the newest result recorded for a key path, if its
// job finished in this store (a key this bench provisioned before).
func (r *Runner) finishedOn(ctx context.Context, key string) *store.Result {
	res, err := r.o.Enroller.Store.Results(ctx, store.ResultFilter{})
	if err != nil {
		return nil
	}
	for i := range res {
		if res[i].KeyPath == key {
			return &res[i]
		}
	}
	return nil
}

type slotNext int

const (
	slotContinue slotNext = iota
	slotAttention
	slotGone
)

// work enrolls one user on the slot's key and settles the queue item.
func (r *Runner) work(ctx context.Context, s *slot, dev Device, it *Item) slotNext {
	if r.sem != nil {
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			r.requeue(it, nil, "")
			return slotGone
		}
		defer func() { <-r.sem }()
	}
	r.mu.Lock()
	if r.firstWork.IsZero() {
		r.firstWork = r.o.Now()
	}
	job := r.bound[strings.ToLower(it.UPN)]
	r.mu.Unlock()
	r.setSlot(s, SlotWorking, it.UPN, "start", "enrolling "+it.UPN, "")

	if job == nil {
		if why := r.enrolledBefore(ctx, it); why != "" {
			r.settleRow(it.UPN, func(ctx context.Context, st storeQueue, q *store.QueueItem) error {
				return st.FinishClaim(ctx, q.ID, r.o.Bench, store.QueueSkipped, "", why)
			})
			r.mu.Lock()
			it.State, it.Error, it.Hint, it.Key = ItemSkipped, why, "", ""
			r.itemEvent(it)
			r.signal()
			r.mu.Unlock()
			return slotContinue
		}
	}
	for {
		res, err := r.enrollOnce(ctx, s, dev, it, job)
		if err == nil && res != nil {
			r.succeeded(s, it, res)
			return slotContinue
		}
		if err == nil {
			err = errors.New("enrollment ended without a result")
		}
		if errors.Is(err, store.ErrLeaseLost) {
			// This bench's claim ran out (no heartbeat for a lease) and
			// another bench has the user: nothing was done here.
			r.mu.Lock()
			delete(r.rows, strings.ToLower(it.UPN))
			it.State, it.Error, it.Hint, it.Key = ItemSkipped, "taken over by another bench (this bench's claim ran out)", "", ""
			r.itemEvent(it)
			r.signal()
			r.mu.Unlock()
			return slotContinue
		}
		jobID := ""
		var ee *enroll.Error
		if errors.As(err, &ee) {
			jobID = ee.JobID
		}
		if ctx.Err() != nil || !r.stillAttached(ctx, s.Key) {
			// The key was pulled out mid-step (whatever error the device
			// layer made of it): the job is journaled; the user goes back
			// to the queue.
			r.requeue(it, r.interruptedJob(jobID, true), "the key was removed during "+stepOf(ee))
			return slotGone
		}
		msg, hint, outcome := r.o.Explain(err)
		switch outcome {
		case FailKey:
			if it.Attempts >= r.o.MaxAttempts {
				r.fail(it, ee, msg, hint)
			} else {
				r.requeue(it, r.interruptedJob(jobID, false), "the key "+s.Key+" could not be used: "+msg)
			}
			r.setSlot(s, SlotAttention, it.UPN, stepOf(ee), msg, hint)
			return slotAttention
		case FailTransient:
			if it.Attempts >= r.o.MaxAttempts {
				r.fail(it, ee, msg, hint)
				return slotContinue
			}
			// Graph is throttling or unavailable, or the store lost a
			// commit: try again here, on the same key (its PIN and
			// journal are here), after a pause.
			r.mu.Lock()
			it.Attempts++
			it.Error = "retrying: " + msg
			r.itemEvent(it)
			r.mu.Unlock()
			r.setSlot(s, SlotWorking, it.UPN, stepOf(ee), "Graph or the store is busy; retrying "+it.UPN+" shortly", "")
			select {
			case <-ctx.Done():
				r.requeue(it, r.interruptedJob(jobID, true), "the key was removed while waiting to retry")
				return slotGone
			case <-time.After(time.Duration(it.Attempts-1) * r.o.RetryDelay):
			}
			job = r.retriedJob(jobID)
			continue
		default:
			r.fail(it, ee, msg, hint)
			return slotContinue
		}
	}
}

func (r *Runner) enrollOnce(ctx context.Context, s *slot, dev Device, it *Item, job *store.Job) (*enroll.Result, error) {
	e := *r.o.Enroller
	e.Bench = r.o.Bench
	orig := e.Events
	e.Events = func(ev enroll.Event) {
		r.onEnrollEvent(s, it, ev)
		if orig != nil {
			orig(ev)
		}
	}
	if job != nil {
		return e.Resume(ctx, dev, job)
	}
	if q := r.heldRow(it.UPN); q != nil {
		// The claim becomes "begun" in the transaction that makes the job
		// durable, and only if this bench still holds it.
		claim := *q
		e.JobCreated = func(tx *store.Tx, j *store.Job) error {
			if err := tx.BeginClaim(&claim, j); err != nil {
				return err
			}
			r.mu.Lock()
			q.State, q.JobID = store.QueueBegun, j.ID
			r.mu.Unlock()
			return nil
		}
	}
	req := r.o.Request
	req.UPN, req.KeyPath = it.UPN, s.Key
	res, _, err := e.Enroll(ctx, dev, req)
	return res, err
}

// stillAttached asks the key source whether the key is still there.
func (r *Runner) stillAttached(ctx context.Context, key string) bool {
	ks, err := r.o.Keys.List(ctx)
	if err != nil {
		return true // cannot tell: treat the failure as the key's answer
	}
	for _, k := range ks {
		if k.Path == key {
			return true
		}
	}
	return false
}

func stepOf(ee *enroll.Error) string {
	if ee == nil || ee.Step == "" {
		return "the enrollment"
	}
	return string(ee.Step)
}

// interruptedJob returns the job if it must be finished on its key (it is
// still running, or failed because keyLeft: the key was pulled out mid-step,
// and it got as far as the registration, so Entra may hold its passkey),
// else abandons a running job so that the user can start afresh on any key.
// A failed job kept for its key is marked running again: it was
// interrupted, and a later run resumes it (docs/architecture.md §4 item
// 4.2).
func (r *Runner) interruptedJob(id string, keyLeft bool) *store.Job {
	if id == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := r.o.Enroller.Store
	j, err := st.Job(ctx, id)
	if err != nil || !(j.State == store.JobRunning || (keyLeft && j.State == store.JobFailed)) {
		return nil
	}
	steps, err := st.Steps(ctx, id)
	if err != nil {
		return j // cannot tell: keep it (resume reconciles)
	}
	for _, s := range steps {
		if s.Name == string(enroll.StepRegister) {
			if j.State != store.JobRunning {
				running := store.JobRunning
				if err := st.UpdateJob(ctx, id, store.JobUpdate{State: &running}); err == nil {
					j.State = running
				}
			}
			return j
		}
	}
	if j.State != store.JobRunning {
		return nil
	}
	ab := store.JobAbandoned
	why := "abandoned by the bench: the key left before the passkey was registered; the user is enrolled afresh"
	_ = st.UpdateJob(ctx, id, store.JobUpdate{State: &ab, Error: &why})
	return nil
}

// retriedJob returns the job to finish after a transient failure (Graph
// throttling or unavailable, the store losing a commit): the same job,
// running again, so that the retry carries on from its journal on the
// same key — the PIN it set and escrowed, the passkey it made — instead
// of starting afresh on a key whose PIN a new job would have to find.
// nil when there is no job (it failed before anything was durable) or it
// cannot be resumed.
func (r *Runner) retriedJob(id string) *store.Job {
	if id == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := r.o.Enroller.Store
	j, err := st.Job(ctx, id)
	if err != nil || (j.State != store.JobRunning && j.State != store.JobFailed) {
		return nil
	}
	return j
}

func (r *Runner) requeue(it *Item, job *store.Job, why string) {
	// In the store: a user not begun goes back to the queue; a begun one
	// stays bound to its key and waits for it (here or on any bench).
	r.settleRow(it.UPN, func(ctx context.Context, st storeQueue, q *store.QueueItem) error {
		if job == nil {
			// Not begun, or its job was abandoned before anything
			// reached Entra: any key may start the user afresh.
			return st.Unbind(ctx, q.ID, r.o.Bench, why)
		}
		return st.Release(ctx, q.ID, r.o.Bench, why)
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	k := strings.ToLower(it.UPN)
	if job != nil {
		r.bound[k] = job
		it.JobID, it.Key = job.ID, job.KeyPath
	} else {
		delete(r.bound, k)
		it.JobID, it.Key = "", ""
	}
	it.State, it.Error, it.Hint = ItemPending, why, ""
	r.recount = true
	r.itemEvent(it)
	r.signal()
	if h := r.hooks.requeued; h != nil {
		h(it.UPN)
	}
}

func (r *Runner) fail(it *Item, ee *enroll.Error, msg, hint string) {
	r.settleRow(it.UPN, func(ctx context.Context, st storeQueue, q *store.QueueItem) error {
		return st.FinishClaim(ctx, q.ID, r.o.Bench, store.QueueFailed, it.JobID, msg)
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.bound, strings.ToLower(it.UPN))
	it.State, it.Error, it.Hint = ItemFailed, msg, hint
	if refusedBeforeKey(ee) {
		it.Key = "" // as for a user skipped: the key was not the user's
	}
	r.finished++
	r.itemEvent(it)
	r.signal()
}

// refusedBeforeKey: the enrollment that failed with ee was refused in its
// first step, the user's lookup (an unknown user, one outside the policy),
// before the key was asked anything; no job was written (nothing to
// resume on the key), so the key was never this user's and went on to the
// next one.
func refusedBeforeKey(ee *enroll.Error) bool {
	return ee != nil && ee.JobID == "" && ee.Step == enroll.StepResolve
}

func (r *Runner) succeeded(s *slot, it *Item, res *enroll.Result) {
	r.settleRow(it.UPN, func(ctx context.Context, st storeQueue, q *store.QueueItem) error {
		return st.FinishClaim(ctx, q.ID, r.o.Bench, store.QueueDone, res.JobID, "")
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.bound, strings.ToLower(it.UPN))
	out := Result{UPN: res.UPN, User: res.User, UserID: res.UserID, MethodID: res.MethodID, CredentialID: res.CredentialID,
		AAGUID: res.AAGUID, Model: res.Model, Key: res.KeyPath, JobID: res.JobID, Verified: res.Verified,
		CreatedDateTime: res.CreatedDateTime, Serial: res.Serial, Skipped: res.Skipped}
	if res.PINEscrow != nil {
		out.PINEscrow = res.PINEscrow.ID
	}
	r.results = append(r.results, out)
	it.State, it.JobID, it.Error, it.Hint = ItemDone, res.JobID, "", ""
	s.Done++
	r.finished++
	r.itemEvent(it)
	r.emit(Event{Type: EventResult, Result: &out})
	r.signal()
}

// onEnrollEvent shows a workflow step on the slot ("touch the key now").
func (r *Runner) onEnrollEvent(s *slot, it *Item, ev enroll.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.State == SlotRemoved {
		return
	}
	if ev.JobID != "" && it.JobID != ev.JobID {
		it.JobID = ev.JobID
		s.JobID = ev.JobID
	}
	switch ev.Phase {
	case enroll.EventTouch:
		s.State = SlotTouch
		r.prefetchNextLocked()
	case enroll.EventInfo:
	default:
		s.State = SlotWorking
	}
	s.Step, s.Message, s.Since = string(ev.Step), ev.Message, r.o.Now()
	r.slotEvent(s)
}

// prefetchNextLocked starts fetching the creationOptions of the next
// pending user while a key waits for its touch. The caller holds r.mu.
//
// On a store benches share, the next pending user of this run's list is
// as likely to be claimed by another bench, which would fetch their
// options again (one Graph budget for the fleet): the bench claims the
// next user first, ahead of a free slot, and fetches options only for a
// user it holds. Its next free slot takes that user.
func (r *Runner) prefetchNextLocked() {
	if r.o.NoPrefetch {
		return
	}
	if r.shared {
		if r.aheadBusy || len(r.ahead) >= r.liveSlotsLocked() {
			return
		}
		r.aheadBusy = true
		go r.claimAhead(r.runCtx)
		return
	}
	for _, it := range r.items {
		k := strings.ToLower(it.UPN)
		if it.State != ItemPending || r.bound[k] != nil || r.preDone[k] {
			continue
		}
		r.preDone[k] = true
		r.pre.prefetch(r.runCtx, it.UPN, r.o.Request.ChallengeTimeout)
		return
	}
}

// claimAhead claims the next user from the shared queue for this bench's
// next free slot and fetches their creationOptions. The lease is renewed
// with the bench's other claims until a slot takes the user.
func (r *Runner) claimAhead(ctx context.Context) {
	if !r.aheadWorthIt(ctx) {
		r.mu.Lock()
		r.aheadBusy = false
		r.mu.Unlock()
		return
	}
	q, _, err := r.o.Enroller.Store.Claim(ctx, r.o.Bench, r.o.Lease)
	r.mu.Lock()
	r.aheadBusy = false
	if err != nil || q == nil {
		r.mu.Unlock()
		r.storeTrouble(err)
		return
	}
	r.ahead = append(r.ahead, q)
	r.signal()
	r.mu.Unlock()
	r.pre.prefetch(ctx, q.UPN, r.o.Request.ChallengeTimeout)
}

// aheadWorthIt: claiming a user ahead of a free slot pays only while the
// queue holds more users than the fleet has keys. Near the end of the
// list a user held ahead here would wait for one of this bench's keys
// while a key of another bench (or of this one) is free: the fleet's last
// round would be as long as its busiest bench's. The fleet's keys are
// those the live benches last reported.
func (r *Runner) aheadWorthIt(ctx context.Context) bool {
	st := r.o.Enroller.Store
	c, err := st.QueueCounts(ctx)
	if err != nil {
		r.storeTrouble(err)
		return false
	}
	bs, err := st.Benches(ctx)
	if err != nil {
		r.storeTrouble(err)
		return false
	}
	keys := 0
	now := r.o.Now()
	for _, b := range bs {
		var rep BenchReport
		if now.Sub(b.LastSeen) >= r.o.Lease || json.Unmarshal(b.Info, &rep) != nil || rep.Stopped {
			continue
		}
		keys += len(rep.Keys)
	}
	r.mu.Lock()
	keys = max(keys, r.liveSlotsLocked())
	r.mu.Unlock()
	return c.Queued > keys
}

// liveSlotsLocked counts the slots whose key is attached. The caller
// holds r.mu.
func (r *Runner) liveSlotsLocked() int {
	n := 0
	for _, s := range r.slots {
		if s.State != SlotRemoved {
			n++
		}
	}
	return n
}

// releaseAheadLocked returns the users claimed ahead to the queue when no
// key is attached any more to take them (the operator is done with this
// bench), so that other benches need not wait for the lease. The caller
// holds r.mu.
func (r *Runner) releaseAheadLocked() {
	if len(r.ahead) == 0 || r.liveSlotsLocked() > 0 {
		return
	}
	qs := r.ahead
	r.ahead = nil
	ctx := context.WithoutCancel(r.runCtx)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		for _, q := range qs {
			if err := r.o.Enroller.Store.Release(ctx, q.ID, r.o.Bench, ""); err != nil {
				r.storeTrouble(err)
			}
		}
	}()
}

// enrolledBefore says why a user needs no enrollment: a finished job in
// the store, or (SkipExisting) a passkey Entra already lists.
func (r *Runner) enrolledBefore(ctx context.Context, it *Item) string {
	st := r.o.Enroller.Store
	if jobs, err := st.Jobs(ctx, store.JobFilter{UPN: it.UPN, States: []store.JobState{store.JobDone}, Limit: 1}); err == nil && len(jobs) == 1 {
		return fmt.Sprintf("enrolled before on %s (job %s)", jobs[0].KeyPath, short(jobs[0].ID))
	}
	if !r.o.SkipExisting {
		return ""
	}
	if r.bulk != nil {
		return r.existingPasskeys(ctx, it)
	}
	d := r.o.Enroller.Directory
	u, err := d.User(ctx, it.UPN)
	if err != nil {
		return "" // the enrollment reports it
	}
	ms, err := d.Methods(ctx, u.ID)
	if err != nil || len(ms) == 0 {
		return ""
	}
	return fmt.Sprintf("already has %d passkey(s) in Entra (keyprep methods list --user %s); --include-existing provisions another", len(ms), it.UPN)
}

// existingPasskeys is the skip check of a bulk run without a request of
// its own: the user's creationOptions list every passkey the user already
// has in excludeCredentials (docs/graph.md §2), and the enrollment uses the
// same options. Users who cannot be enrolled are left to the enrollment,
// which says why.
func (r *Runner) existingPasskeys(ctx context.Context, it *Item) string {
	if r.bulk.notFound(it.UPN) {
		return ""
	}
	u, err := r.pre.User(ctx, it.UPN)
	if err != nil || !r.mayEnroll(ctx, u) {
		return ""
	}
	raw, err := r.pre.optionsNow(ctx, u.ID, r.o.Request.ChallengeTimeout)
	if err != nil {
		return ""
	}
	co, err := webauthn.ParseCreationOptions(raw)
	if err != nil || len(co.ExcludeCredentials) == 0 {
		return ""
	}
	r.pre.drop(u.ID)
	return fmt.Sprintf("already has %d passkey(s) in Entra (keyprep methods list --user %s); --include-existing provisions another", len(co.ExcludeCredentials), it.UPN)
}

// Keys implements Engine.
func (r *Runner) Keys(ctx context.Context) ([]KeyInfo, error) {
	ks, err := r.o.Keys.List(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range ks {
		if s := r.slots[ks[i].Path]; s != nil {
			ks[i].Slot = s.ID
		}
	}
	return ks, nil
}

// RevealPIN implements Engine: the escrowed PIN of a user's finished
// enrollment, opened with the bench identity (or the Enroller's
// identities) by enroll.RevealPIN, which records the reveal and by whom in
// the audit log.
func (r *Runner) RevealPIN(ctx context.Context, upn string, by Requester) ([]byte, error) {
	st := r.o.Enroller.Store
	res, err := st.Results(ctx, store.ResultFilter{UPN: upn, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(res) == 0 || res[0].EscrowID == "" {
		return nil, fmt.Errorf("no escrowed PIN for %s: %w", upn, fs.ErrNotExist)
	}
	esc, err := st.Escrow(ctx, res[0].EscrowID)
	if err != nil {
		return nil, err
	}
	p, err := enroll.RevealPIN(ctx, st, esc, r.o.Enroller.AgeIdentities(), by)
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, enroll.ErrNotSealed):
		return nil, fmt.Errorf("the PIN of %s was not escrowed in the store (%s): %w", upn, esc.Kind, fs.ErrNotExist)
	case errors.Is(err, enroll.ErrNoIdentity):
		return nil, fmt.Errorf("no identity of this bench can open the escrow of %s (it is encrypted to %s): %w", upn, strings.Join(esc.Recipients, ", "), fs.ErrPermission)
	case errors.Is(err, escrow.ErrDecrypt):
		return nil, fmt.Errorf("this bench cannot open the escrow of %s (encrypted to %s): %w", upn, strings.Join(esc.Recipients, ", "), fs.ErrPermission)
	}
	return nil, fmt.Errorf("open the escrow of %s: %w", upn, err)
}
