package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// JobState is where a job stands.
type JobState string

// Job states.
const (
	JobRunning   JobState = "running"   // started, not finished (or interrupted: see journal resume)
	JobDone      JobState = "done"      // finished; a Result is recorded
	JobFailed    JobState = "failed"    // stopped with Error
	JobAbandoned JobState = "abandoned" // given up by an operator
)

// Valid reports whether st is one of the defined states.
func (st JobState) Valid() bool {
	switch st {
	case JobRunning, JobDone, JobFailed, JobAbandoned:
		return true
	}
	return false
}

// Job is one unit of work (an enrollment, a reset, ...) and where it got to.
type Job struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	UPN     string `json:"upn"`
	UserID  string `json:"userId,omitempty"`
	KeyPath string `json:"keyPath,omitempty"`
	AAGUID  string `json:"aaguid,omitempty"`
	// Serial, Model and Firmware identify the physical key (its USB
	// serial number string, "" when it reports none; its model name;
	// getInfo's firmwareVersion, 0 when unknown); CredentialID is the
	// credential the job created on it (base64url).
	Serial       string `json:"serial,omitempty"`
	Model        string `json:"model,omitempty"`
	Firmware     int64  `json:"firmware,omitempty"`
	CredentialID string `json:"credentialId,omitempty"`
	// Bench is the bench (--bench) that began the job ("" before the
	// fleet's queue: schema version 3).
	Bench string   `json:"bench,omitempty"`
	State JobState `json:"state"`
	// Step and Phase are the name and phase of the last recorded step.
	Step  string `json:"step,omitempty"`
	Phase string `json:"phase,omitempty"`
	Error string `json:"error,omitempty"`
	// Params is what is needed to resume the job (never a secret: it is
	// refused like step data if it has a secret key).
	Params    json.RawMessage `json:"params,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// JobFilter selects jobs for Jobs. Zero fields do not filter.
type JobFilter struct {
	States []JobState
	UPN    string // case-insensitive (ASCII) exact match
	// KeyPath: the jobs begun (or last resumed) at this device path.
	KeyPath string
	Limit   int // <= 0: no limit
}

// JobUpdate lists the fields UpdateJob changes; nil fields are left alone.
type JobUpdate struct {
	UserID  *string
	KeyPath *string
	AAGUID  *string
	State   *JobState
	Error   *string
	// Key identity (see Job).
	Serial       *string
	Model        *string
	Firmware     *int64
	CredentialID *string
	// Bench: the bench now working on the job (a resume on another bench).
	Bench *string
}

// minPrefix is the shortest ID prefix Job accepts.
const minPrefix = 6

const jobCols = `id, kind, upn, user_id, key_path, aaguid, state, step, phase, error, params, created_at, updated_at,
	serial, model, firmware, credential_id, bench`

// CreateJob records a new job. It fills j.ID (a random 128-bit hex string)
// if empty, j.State (running) if empty, and j.CreatedAt/j.UpdatedAt if zero,
// and appends the audit event "job.created". j.Kind is required; j.Params,
// if set, must be JSON without secret keys.
func (s *Store) CreateJob(ctx context.Context, j *Job) error {
	return s.update(ctx, func(t *Tx) error { return t.CreateJob(j) })
}

// CreateJob is Store.CreateJob inside a transaction: the job (and its
// "job.created" audit event) is written with the rest of t, so a workflow
// can let its job become durable together with its first journal row.
// j.ID is set before the transaction commits.
func (t *Tx) CreateJob(j *Job) error {
	if j == nil {
		return errors.New("store: create job: nil job")
	}
	if j.Kind == "" {
		return errors.New("store: create job: empty kind")
	}
	if j.State == "" {
		j.State = JobRunning
	}
	if !j.State.Valid() {
		return fmt.Errorf("store: create job: invalid state %q", j.State)
	}
	var params any
	if len(j.Params) > 0 {
		raw, err := marshalData(j.Params)
		if err != nil {
			return fmt.Errorf("store: create job: params: %w", err)
		}
		j.Params = raw
		params = string(raw)
	}
	if j.ID == "" {
		j.ID = newID()
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = t.s.nowUTC()
	}
	j.CreatedAt = j.CreatedAt.UTC().Round(0)
	if j.UpdatedAt.IsZero() {
		j.UpdatedAt = j.CreatedAt
	}
	j.UpdatedAt = j.UpdatedAt.UTC().Round(0)

	audit, err := marshalData(jobCreatedEvent{AAGUID: j.AAGUID, KeyPath: j.KeyPath, Kind: j.Kind, State: j.State,
		UPN: j.UPN, UserID: j.UserID})
	if err != nil {
		return fmt.Errorf("store: create job: %w", err)
	}
	_, err = t.exec(`INSERT INTO jobs (`+jobCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.Kind, j.UPN, j.UserID, j.KeyPath, j.AAGUID, string(j.State), j.Step, j.Phase, j.Error,
		params, fmtTime(j.CreatedAt), fmtTime(j.UpdatedAt), j.Serial, j.Model, j.Firmware, j.CredentialID, j.Bench)
	if err == nil {
		err = t.appendAudit("job.created", j.ID, audit)
	}
	if err != nil {
		return fmt.Errorf("store: create job %s: %w", j.ID, err)
	}
	return nil
}

// jobCreatedEvent is the data of the audit event "job.created" (keys in
// order).
type jobCreatedEvent struct {
	AAGUID  string   `json:"aaguid"`
	KeyPath string   `json:"keyPath"`
	Kind    string   `json:"kind"`
	State   JobState `json:"state"`
	UPN     string   `json:"upn"`
	UserID  string   `json:"userId"`
}

// Job returns the job with the given ID or, failing an exact match, the
// only job whose ID starts with id when id has at least 6 characters. It
// returns an error wrapping ErrNotFound if there is none and one wrapping
// ErrAmbiguousID if the prefix matches several jobs.
func (s *Store) Job(ctx context.Context, id string) (*Job, error) {
	if id == "" {
		return nil, fmt.Errorf("store: job: empty ID: %w", ErrNotFound)
	}
	j, err := scanJob(s.queryRow(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	if err == nil {
		return j, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: job %q: %w", id, err)
	}
	if len(id) < minPrefix {
		return nil, fmt.Errorf("store: job %q (a prefix needs at least %d characters): %w", id, minPrefix, ErrNotFound)
	}
	found, err := queryAll(ctx, s, `SELECT `+jobCols+` FROM jobs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT 2`,
		[]any{len([]rune(id)), id}, scanJob)
	if err != nil {
		return nil, fmt.Errorf("store: job %q: %w", id, err)
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("store: job %q: %w", id, ErrNotFound)
	case 1:
		return &found[0], nil
	default:
		return nil, fmt.Errorf("store: job %q matches %s, %s, ...: %w; give more of the ID", id, found[0].ID, found[1].ID, ErrAmbiguousID)
	}
}

// Jobs returns the jobs matching f, newest first (by creation time, then
// by insertion order).
func (s *Store) Jobs(ctx context.Context, f JobFilter) ([]Job, error) {
	var (
		where []string
		args  []any
	)
	if len(f.States) > 0 {
		where = append(where, inClause("state", len(f.States)))
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if f.UPN != "" {
		where = append(where, s.d.ciEq("upn"))
		args = append(args, f.UPN)
	}
	if f.KeyPath != "" {
		where = append(where, "key_path = ?")
		args = append(args, f.KeyPath)
	}
	q := `SELECT ` + jobCols + ` FROM jobs` + whereClause(where) + ` ORDER BY created_at DESC, rowid DESC` + limitClause(f.Limit)
	out, err := queryAll(ctx, s, q, args, scanJob)
	if err != nil {
		return nil, fmt.Errorf("store: jobs: %w", err)
	}
	return out, nil
}

// UpdateJob changes the non-nil fields of u on the job with exactly this ID,
// bumps its UpdatedAt and appends the audit event "job.updated" naming the
// changed fields, the job's state and, if it changed, the error text. An
// update with no fields only checks that the job exists.
func (s *Store) UpdateJob(ctx context.Context, id string, u JobUpdate) error {
	return s.update(ctx, func(t *Tx) error { return t.UpdateJob(id, u) })
}

// UpdateJob is Store.UpdateJob inside t.
func (t *Tx) UpdateJob(id string, u JobUpdate) error {
	if err := t.updateJob(id, u); err != nil {
		return fmt.Errorf("store: update job %s: %w", id, err)
	}
	return nil
}

func (t *Tx) updateJob(id string, u JobUpdate) error {
	var (
		sets   []string
		args   []any
		fields []string
	)
	add := func(col, name string, v string) {
		sets = append(sets, col+" = ?")
		args = append(args, v)
		fields = append(fields, name)
	}
	if u.UserID != nil {
		add("user_id", "userId", *u.UserID)
	}
	if u.KeyPath != nil {
		add("key_path", "keyPath", *u.KeyPath)
	}
	if u.AAGUID != nil {
		add("aaguid", "aaguid", *u.AAGUID)
	}
	if u.State != nil {
		if !u.State.Valid() {
			return fmt.Errorf("invalid state %q", *u.State)
		}
		add("state", "state", string(*u.State))
	}
	if u.Error != nil {
		add("error", "error", *u.Error)
	}
	if u.Serial != nil {
		add("serial", "serial", *u.Serial)
	}
	if u.Model != nil {
		add("model", "model", *u.Model)
	}
	if u.Firmware != nil {
		sets = append(sets, "firmware = ?")
		args = append(args, *u.Firmware)
		fields = append(fields, "firmware")
	}
	if u.CredentialID != nil {
		add("credential_id", "credentialId", *u.CredentialID)
	}
	if u.Bench != nil {
		add("bench", "bench", *u.Bench)
	}
	var state string
	err := t.queryRow(`SELECT state FROM jobs WHERE id = ?`, []any{id}, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	if len(sets) == 0 {
		return nil
	}
	now := t.s.nowUTC()
	sets = append(sets, "updated_at = ?")
	args = append(args, fmtTime(now), id)
	if _, err := t.exec(`UPDATE jobs SET `+strings.Join(sets, ", ")+` WHERE id = ?`, args...); err != nil {
		return err
	}
	if u.State != nil {
		state = string(*u.State)
	}
	data := jobUpdatedEvent{Fields: fields, State: state, Error: u.Error}
	raw, err := marshalData(data)
	if err != nil {
		return err
	}
	return t.appendAudit("job.updated", id, raw)
}

// jobUpdatedEvent is the data of the audit event "job.updated".
// Fields are in key order, as the map it replaces encoded them.
type jobUpdatedEvent struct {
	Error  *string  `json:"error,omitempty"`
	Fields []string `json:"fields"`
	State  string   `json:"state"`
}

func scanJob(sc scanner) (*Job, error) {
	var (
		j       Job
		state   string
		params  sql.NullString
		created string
		updated string
	)
	if err := sc.Scan(&j.ID, &j.Kind, &j.UPN, &j.UserID, &j.KeyPath, &j.AAGUID, &state, &j.Step, &j.Phase,
		&j.Error, &params, &created, &updated, &j.Serial, &j.Model, &j.Firmware, &j.CredentialID, &j.Bench); err != nil {
		return nil, err
	}
	j.State = JobState(state)
	if params.Valid {
		j.Params = json.RawMessage(params.String)
	}
	var err error
	if j.CreatedAt, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("job %s: %w", j.ID, err)
	}
	if j.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, fmt.Errorf("job %s: %w", j.ID, err)
	}
	return &j, nil
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// Step is one journaled step of a job: Name is the workflow step, Phase
// where in it (for example "begin" before the side effect and "done"
// after), Data its non-secret details as JSON.
type Step struct {
	JobID string          `json:"jobId"`
	Seq   int64           `json:"seq"`
	Name  string          `json:"name"`
	Phase string          `json:"phase"`
	Data  json.RawMessage `json:"data"`
	Time  time.Time       `json:"time"`
}

// RecordStep journals a step of job jobID in one transaction: it inserts the
// step with the job's next sequence number, sets the job's Step, Phase and
// UpdatedAt, and appends the audit event "step" with {name, phase, seq}.
// data is encoded as JSON (nil becomes null); data with a secret key
// anywhere is refused with an error wrapping ErrSecretField and nothing is
// written. An unknown job gives an error wrapping ErrNotFound.
func (s *Store) RecordStep(ctx context.Context, jobID, name, phase string, data StepData) error {
	return s.update(ctx, func(t *Tx) error { return t.RecordStep(jobID, name, phase, data) })
}

// RecordStep is Store.RecordStep inside t.
func (t *Tx) RecordStep(jobID, name, phase string, data StepData) error {
	if err := t.recordStep(jobID, name, phase, data); err != nil {
		return fmt.Errorf("store: record step %s/%s for job %s: %w", name, phase, jobID, err)
	}
	return nil
}

// stepEvent is the data of the audit event "step".
type stepEvent struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	Seq   int64  `json:"seq"`
}

func (t *Tx) recordStep(jobID, name, phase string, data StepData) error {
	if name == "" {
		return errors.New("empty step name")
	}
	raw, err := encodeStepData(data)
	if err != nil {
		return err
	}
	now := fmtTime(t.s.nowUTC())
	seq, ok := t.nextSeq[jobID]
	if !ok {
		var known int
		if err := t.queryRow(`SELECT (SELECT COUNT(*) FROM jobs WHERE id = ?), COALESCE(MAX(seq), 0) + 1 FROM steps WHERE job_id = ?`,
			[]any{jobID, jobID}, &known, &seq); err != nil {
			return err
		}
		if known == 0 {
			return ErrNotFound
		}
	}
	if _, err := t.exec(`INSERT INTO steps (job_id, seq, name, phase, data, time) VALUES (?, ?, ?, ?, ?, ?)`,
		jobID, seq, name, phase, string(raw), now); err != nil {
		return err
	}
	if t.nextSeq == nil {
		t.nextSeq = map[string]int64{}
		t.lastStep = map[string]jobPosition{}
	}
	t.nextSeq[jobID] = seq + 1
	t.lastStep[jobID] = jobPosition{step: name, phase: phase, time: now}
	ev, err := marshalData(stepEvent{Name: name, Phase: phase, Seq: seq})
	if err != nil {
		return err
	}
	return t.appendAudit("step", jobID, ev)
}

const stepCols = `job_id, seq, name, phase, data, time`

// Steps returns the steps of job jobID in sequence order (none for an
// unknown job).
func (s *Store) Steps(ctx context.Context, jobID string) ([]Step, error) {
	out, err := queryAll(ctx, s, `SELECT `+stepCols+` FROM steps WHERE job_id = ? ORDER BY seq`, []any{jobID}, scanStep)
	if err != nil {
		return nil, fmt.Errorf("store: steps of job %s: %w", jobID, err)
	}
	return out, nil
}

// LastStep returns the latest recorded step called name of job jobID, or an
// error wrapping ErrNotFound if there is none.
func (s *Store) LastStep(ctx context.Context, jobID, name string) (*Step, error) {
	st, err := scanStep(s.queryRow(ctx,
		`SELECT `+stepCols+` FROM steps WHERE job_id = ? AND name = ? ORDER BY seq DESC LIMIT 1`, jobID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: step %s of job %s: %w", name, jobID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: step %s of job %s: %w", name, jobID, err)
	}
	return st, nil
}

func scanStep(sc scanner) (*Step, error) {
	var (
		st   Step
		data string
		tm   string
	)
	if err := sc.Scan(&st.JobID, &st.Seq, &st.Name, &st.Phase, &data, &tm); err != nil {
		return nil, err
	}
	st.Data = json.RawMessage(data)
	t, err := parseTime(tm)
	if err != nil {
		return nil, fmt.Errorf("step %d of job %s: %w", st.Seq, st.JobID, err)
	}
	st.Time = t
	return &st, nil
}

// Result is the outcome of a finished enrollment: which key (credential,
// AAGUID, model) was registered for whom, and how its PIN was escrowed.
type Result struct {
	JobID        string `json:"jobId"`
	UPN          string `json:"upn"`
	UserID       string `json:"userId"`
	MethodID     string `json:"methodId"`
	CredentialID string `json:"credentialId"` // base64url
	AAGUID       string `json:"aaguid"`
	Model        string `json:"model,omitempty"`
	// Serial is the key's USB serial number string ("" when it reports
	// none or the result predates schema 2); Firmware its getInfo
	// firmwareVersion (0: unknown).
	Serial      string `json:"serial,omitempty"`
	Firmware    int64  `json:"firmware,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	KeyPath     string `json:"keyPath,omitempty"`
	EscrowID    string `json:"escrowId,omitempty"`
	// PINEscrow says how the PIN was escrowed (for example "age", "file"
	// or "none"); never the PIN.
	PINEscrow       string    `json:"pinEscrow,omitempty"`
	Verified        bool      `json:"verified"`
	ForcePINChange  bool      `json:"forcePinChange"`
	Reconciled      bool      `json:"reconciled"`
	CreatedDateTime time.Time `json:"createdDateTime"`
	RecordedAt      time.Time `json:"recordedAt"`
}

// ResultFilter selects results for Results. Zero fields do not filter.
type ResultFilter struct {
	UPN    string // case-insensitive (ASCII) exact match
	UserID string
	JobID  string
	// Serial matches the key's serial number exactly ("" does not filter).
	Serial string
	// CredentialIDs matches any of these credential ids (base64url).
	CredentialIDs []string
	Limit         int // <= 0: no limit
}

const resultCols = `job_id, upn, user_id, method_id, credential_id, aaguid, model, display_name, key_path,
	escrow_id, pin_escrow, verified, force_pin_change, reconciled, created_date_time, recorded_at, serial, firmware`

// RecordResult records the result of job r.JobID in one transaction: it
// stores r (replacing an earlier result of the same job), marks the job
// done and appends the audit event "result". It fills r.RecordedAt if zero.
// An unknown job gives an error wrapping ErrNotFound.
func (s *Store) RecordResult(ctx context.Context, r *Result) error {
	return s.update(ctx, func(t *Tx) error { return t.RecordResult(r) })
}

// resultEvent is the data of the audit event "result".
// Fields are in key order, as the map it replaces encoded them.
type resultEvent struct {
	AAGUID     string `json:"aaguid"`
	EscrowID   string `json:"escrowId"`
	MethodID   string `json:"methodId"`
	Reconciled bool   `json:"reconciled"`
	Replaced   bool   `json:"replaced"`
	UPN        string `json:"upn"`
	UserID     string `json:"userId"`
	Verified   bool   `json:"verified"`
}

// RecordResult is Store.RecordResult inside t.
func (t *Tx) RecordResult(r *Result) error {
	if r == nil {
		return errors.New("store: record result: nil result")
	}
	if r.JobID == "" {
		return errors.New("store: record result: empty job ID")
	}
	if err := t.recordResult(r); err != nil {
		return fmt.Errorf("store: record result of job %s: %w", r.JobID, err)
	}
	return nil
}

func (t *Tx) recordResult(r *Result) error {
	now := t.s.nowUTC()
	if r.RecordedAt.IsZero() {
		r.RecordedAt = now
	}
	r.RecordedAt = r.RecordedAt.UTC().Round(0)
	if !r.CreatedDateTime.IsZero() {
		r.CreatedDateTime = r.CreatedDateTime.UTC().Round(0)
	}
	res, err := t.exec(`UPDATE jobs SET state = ?, updated_at = ? WHERE id = ?`,
		string(JobDone), fmtTime(now), r.JobID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNotFound
	}
	// Delete and insert (rather than an upsert) so that the replacement
	// gets a new rowid and sorts as the newest, on both backends.
	res, err = t.exec(`DELETE FROM results WHERE job_id = ?`, r.JobID)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	replaced := n > 0
	_, err = t.exec(`INSERT INTO results (`+resultCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.JobID, r.UPN, r.UserID, r.MethodID, r.CredentialID, r.AAGUID, r.Model, r.DisplayName, r.KeyPath,
		r.EscrowID, r.PINEscrow, r.Verified, r.ForcePINChange, r.Reconciled,
		fmtTime(r.CreatedDateTime), fmtTime(r.RecordedAt), r.Serial, r.Firmware)
	if err != nil {
		return err
	}
	// The user's row of the shared queue is done with the result, in the
	// same transaction: a bench that loses the database right after it
	// never leaves a recorded user "begun" (docs/architecture.md §3.2).
	if _, err := t.exec(`UPDATE queue SET state = 'done', lease_until = '', error = '', updated_at = ? WHERE job_id = ? AND state = 'begun'`,
		fmtTime(now), r.JobID); err != nil {
		return err
	}
	raw, err := marshalData(resultEvent{UPN: r.UPN, UserID: r.UserID, MethodID: r.MethodID, AAGUID: r.AAGUID,
		EscrowID: r.EscrowID, Verified: r.Verified, Reconciled: r.Reconciled, Replaced: replaced})
	if err != nil {
		return err
	}
	return t.appendAudit("result", r.JobID, raw)
}

// Results returns the results matching f, newest first (by RecordedAt,
// then by insertion order).
func (s *Store) Results(ctx context.Context, f ResultFilter) ([]Result, error) {
	var (
		where []string
		args  []any
	)
	if f.UPN != "" {
		where = append(where, s.d.ciEq("upn"))
		args = append(args, f.UPN)
	}
	if f.UserID != "" {
		where = append(where, "user_id = ?")
		args = append(args, f.UserID)
	}
	if f.JobID != "" {
		where = append(where, "job_id = ?")
		args = append(args, f.JobID)
	}
	if f.Serial != "" {
		where = append(where, "serial = ?")
		args = append(args, f.Serial)
	}
	if len(f.CredentialIDs) > 0 {
		where = append(where, inClause("credential_id", len(f.CredentialIDs)))
		for _, id := range f.CredentialIDs {
			args = append(args, id)
		}
	}
	out, err := queryAll(ctx, s, `SELECT `+resultCols+` FROM results`+whereClause(where)+
		` ORDER BY recorded_at DESC, rowid DESC`+limitClause(f.Limit), args, scanResult)
	if err != nil {
		return nil, fmt.Errorf("store: results: %w", err)
	}
	return out, nil
}

// ResultForMethod returns the newest result that registered the Graph
// fido2AuthenticationMethod methodID for user userID, or an error wrapping
// ErrNotFound.
func (s *Store) ResultForMethod(ctx context.Context, userID, methodID string) (*Result, error) {
	r, err := scanResult(s.queryRow(ctx, `SELECT `+resultCols+` FROM results
		WHERE user_id = ? AND method_id = ? ORDER BY recorded_at DESC, rowid DESC LIMIT 1`, userID, methodID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: result for method %s of user %s: %w", methodID, userID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: result for method %s of user %s: %w", methodID, userID, err)
	}
	return r, nil
}

func scanResult(sc scanner) (*Result, error) {
	var (
		r                 Result
		created, recorded string
	)
	if err := sc.Scan(&r.JobID, &r.UPN, &r.UserID, &r.MethodID, &r.CredentialID, &r.AAGUID, &r.Model,
		&r.DisplayName, &r.KeyPath, &r.EscrowID, &r.PINEscrow, &r.Verified, &r.ForcePINChange, &r.Reconciled,
		&created, &recorded, &r.Serial, &r.Firmware); err != nil {
		return nil, err
	}
	var err error
	if r.CreatedDateTime, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("result of job %s: %w", r.JobID, err)
	}
	if r.RecordedAt, err = parseTime(recorded); err != nil {
		return nil, fmt.Errorf("result of job %s: %w", r.JobID, err)
	}
	return &r, nil
}
