package enroll

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/keyprep/keyprep/internal/store"
)

// history is the journal of earlier attempts at a job, as Resume reads it.
type history struct {
	seen  map[Step]bool        // began or finished in an earlier attempt
	begun map[Step]*store.Step // the "begin" row of a step with no "done" after it
	done  map[Step]*store.Step // the last "done" row per step
	// cleanups are the cleanup rows in order (the latest per credential
	// says whether it is still on the key).
	cleanups []store.CleanupDone
}

// orphans are the credentials earlier attempts left on the key and no
// later cleanup removed (base64url ids, in the order they were left).
func (h *history) orphans() []string {
	if h == nil {
		return nil
	}
	state := map[string]bool{}
	var order []string
	for _, c := range h.cleanups {
		if _, seen := state[c.CredentialID]; !seen {
			order = append(order, c.CredentialID)
		}
		state[c.CredentialID] = c.Orphaned
	}
	var out []string
	for _, id := range order {
		if state[id] {
			out = append(out, id)
		}
	}
	return out
}

// empty: no earlier attempt of this job got as far as a step.
func (h *history) empty() bool {
	return h == nil || len(h.seen) == 0
}

func (h *history) has(s Step) bool {
	return h != nil && h.seen[s]
}

// doneData decodes the data of step s's last "done" row as T. A row whose
// data does not decode gives T's zero value (the step still counts as
// done).
func doneData[T store.StepData](h *history, s Step) (T, bool) {
	if h == nil || h.done == nil {
		var zero T
		return zero, false
	}
	return decodeRow[T](h.done[s])
}

// beginData decodes, as T, the data of a step that began and has no "done"
// after its latest "begin".
func beginData[T store.StepData](h *history, s Step) (T, bool) {
	if h == nil || h.begun == nil {
		var zero T
		return zero, false
	}
	return decodeRow[T](h.begun[s])
}

func decodeRow[T store.StepData](st *store.Step) (T, bool) {
	if st == nil {
		var zero T
		return zero, false
	}
	v, _ := store.DecodeStep[T](st)
	return v, true
}

func loadHistory(steps []store.Step) *history {
	h := &history{seen: map[Step]bool{}, begun: map[Step]*store.Step{}, done: map[Step]*store.Step{}}
	for i := range steps {
		st := &steps[i]
		s := Step(st.Name)
		switch st.Phase {
		case phaseBegin:
			h.seen[s] = true
			h.begun[s] = st
			delete(h.done, s) // a new attempt at the step
		case phaseDone:
			h.seen[s] = true
			h.done[s] = st
			delete(h.begun, s)
			if s == StepCleanup {
				if c, err := store.DecodeStep[store.CleanupDone](st); err == nil && c.CredentialID != "" {
					h.cleanups = append(h.cleanups, c)
				}
			}
		}
	}
	return h
}

// resumeEvent is the data of the audit event "job.resume": where the job
// stood.
type resumeEvent struct {
	From  string `json:"from"`
	Phase string `json:"phase"`
	Step  string `json:"step"`
}

// JobRequest decodes the request a job was started with.
func JobRequest(job *store.Job) (Request, error) {
	var req Request
	if err := json.Unmarshal(job.Params, &req); err != nil {
		return req, fmt.Errorf("%w %s: its parameters do not decode: %w", ErrJob, job.ID, err)
	}
	return req, nil
}

// Resume finishes an unfinished job: it reconciles each step with the key
// (PIN set? credential present? forcePINChange applied?) and with Graph
// (method registered?) and carries on from there. dev must be the job's
// key. A job that cannot be finished is reported with the reason.
func (e *Enroller) Resume(ctx context.Context, dev Device, job *store.Job) (*Result, error) {
	if job.State == store.JobDone {
		return nil, &Error{JobID: job.ID, Msg: fmt.Sprintf("job %s is already done", job.ID), Err: ErrJob}
	}
	if job.State == store.JobAbandoned {
		return nil, &Error{JobID: job.ID, Msg: fmt.Sprintf("job %s was abandoned", job.ID), Err: ErrJob}
	}
	req, err := JobRequest(job)
	if err != nil {
		return nil, &Error{JobID: job.ID, Msg: "cannot resume", Err: err}
	}
	steps, err := e.Store.Steps(ctx, job.ID)
	if err != nil {
		return nil, &Error{JobID: job.ID, Msg: "cannot read the journal", Err: err}
	}
	r := &run{e: e, dev: dev, req: req, job: job, prev: loadHistory(steps), durable: true}
	defer r.wipe()
	if job.State != store.JobRunning {
		st := store.JobRunning
		if err := e.Store.UpdateJob(ctx, job.ID, store.JobUpdate{State: &st}); err != nil {
			return nil, &Error{JobID: job.ID, Msg: "cannot update the job", Err: err}
		}
	}
	_ = e.Store.Audit(ctx, "job.resume", job.ID, resumeEvent{From: string(job.State), Phase: job.Phase, Step: job.Step})
	res, err := r.execute(ctx)
	if res != nil {
		res.Resumed = true
	}
	return res, r.finish(ctx, r.withOrphans(err))
}

// dryRun resolves the user and inspects the key without changing anything.
func (r *run) dryRun(ctx context.Context) (*Plan, error) {
	if err := r.resolve(ctx); err != nil {
		return nil, err
	}
	if err := r.readInfo(ctx); err != nil {
		return nil, err
	}
	ks := r.keyState(ctx)
	plan := &Plan{User: r.user, Eligibility: r.elig, Key: ks}
	if err := r.checkKey(ks); err != nil {
		return plan, err
	}
	a := func(f string, x ...any) { plan.Actions = append(plan.Actions, fmt.Sprintf(f, x...)) }
	if r.req.Reset {
		a("reset the key (touch within its reset window)")
	}
	switch {
	case !ks.PINSet || r.req.Reset:
		if r.req.PINOut != "" {
			a("set a new PIN, written once to %s (mode 0600) before it goes on the key", r.req.PINOut)
		} else if len(r.req.Recipients) > 0 {
			a("set a new PIN, age-encrypted to %d recipient(s) before it goes on the key", len(r.req.Recipients))
		} else {
			a("set a new PIN, age-encrypted to the bench identity before it goes on the key")
		}
	case r.req.PINMode == PINOperator:
		a("use the key's current PIN (asked for)")
	default:
		a("use the PIN keyprep escrowed for this key, if it recognises the key")
	}
	if r.req.MinPINLength > ks.MinPINLength {
		a("raise the key's minimum PIN length to %d", r.req.MinPINLength)
	}
	if r.req.AlwaysUV {
		a("turn alwaysUv on")
	}
	for _, s := range r.skipped {
		a("skip %s (--skip-unsupported)", s)
	}
	plan.Key.Skipped = r.skipped
	if r.req.UVFingerprint {
		a("fetch creation options for %s and create the passkey with the enrolled fingerprint (touch the sensor)", r.user.UPN)
	} else {
		a("fetch creation options for %s and create the passkey (touch)", r.user.UPN)
	}
	a("register it with Entra, then verify it with a signed assertion")
	if r.req.ForcePINChange {
		a("force a PIN change at first use")
	}
	return plan, nil
}
