package enroll

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/keycaps"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
)

// Request is one enrollment as the operator asked for it. It is stored
// with the job (no secrets in it) so that Resume can finish the same job.
type Request struct {
	UPN     string `json:"upn"`
	KeyPath string `json:"keyPath"`
	// Model is the key's model name for the display name template.
	Model string `json:"model,omitempty"`
	// Serial fills {serial} in the display name template and identifies
	// the key in the job and the result; empty: the Device's
	// (SerialReporter), if it has one.
	Serial  string  `json:"serial,omitempty"`
	PINMode PINMode `json:"pinMode"`
	// PINLength is the generated PIN's length (0: the policy default);
	// never shorter than the key's or MinPINLength.
	PINLength int `json:"pinLength,omitempty"`
	// MinPINLength is applied to the key (CTAP 2.1 setMinPINLength) when
	// above the key's current minimum; MinPINLengthRPID also puts the RP ID
	// on the key's list of RPs that may read it.
	MinPINLength     int  `json:"minPinLength,omitempty"`
	MinPINLengthRPID bool `json:"minPinLengthRpId,omitempty"`
	ForcePINChange   bool `json:"forcePinChange,omitempty"`
	// AlwaysUV turns the key's alwaysUv option on (authenticatorConfig
	// toggleAlwaysUv, CTAP 2.1 §6.11.2); the Device must be an
	// AlwaysUVToggler.
	AlwaysUV bool `json:"alwaysUv,omitempty"`
	// SkipUnsupported lets the enrollment go on without the requested
	// settings the key cannot take (MinPINLength, MinPINLengthRPID,
	// ForcePINChange, AlwaysUV), recording them in Result.Skipped and the
	// journal; without it such a key is refused at inspect.
	SkipUnsupported bool `json:"skipUnsupported,omitempty"`
	Reset           bool `json:"reset,omitempty"`
	// DisplayNameTemplate: {model}, {serial}, {date}; default "{model} {date}".
	DisplayNameTemplate string        `json:"displayNameTemplate,omitempty"`
	ChallengeTimeout    time.Duration `json:"challengeTimeout,omitempty"`
	// PINOut writes the PIN once to this file (0600) instead of the
	// age-encrypted escrow.
	PINOut string `json:"pinOut,omitempty"`
	// Recipients are age recipients (normalised) the PIN is encrypted to;
	// none means the bench identity in the escrow directory.
	Recipients []string `json:"recipients,omitempty"`
	// DryRun resolves the user and inspects the key, then stops.
	DryRun bool `json:"dryRun,omitempty"`
	// UVFingerprint creates the passkey with the key's built-in user
	// verification — the owner's fingerprint enrolled on a bio key
	// (internal/bio) — instead of a PIN token; the PIN still serves every
	// other step. A key without an enrolled fingerprint (getInfo uv not
	// true) or without pinUvAuthToken is refused at inspect.
	UVFingerprint bool `json:"uvFingerprint,omitempty"`
	// SharedKeyOK adds the user to a key that already holds another
	// user's passkey without asking (Enroller.ConfirmShared); the notice
	// (SharedKey.Notice) is still given.
	SharedKeyOK bool `json:"sharedKeyOK,omitempty"`
}

// Result is what an enrollment produced (the --json output).
type Result struct {
	JobID        string `json:"jobId"`
	User         string `json:"user"` // display name
	UPN          string `json:"upn"`
	UserID       string `json:"userId"`
	MethodID     string `json:"methodId"`
	CredentialID string `json:"credentialId"`
	AAGUID       string `json:"aaguid"`
	Model        string `json:"model"`
	// Serial is the key's USB serial number string ("" when none);
	// Firmware its getInfo firmwareVersion (0 when not reported).
	Serial          string     `json:"serial,omitempty"`
	Firmware        int64      `json:"firmware,omitempty"`
	DisplayName     string     `json:"displayName"`
	Verified        bool       `json:"verified"`
	PINEscrow       *EscrowRef `json:"pinEscrow"`
	ForcePINChange  bool       `json:"forcePinChange"`
	CreatedDateTime time.Time  `json:"createdDateTime"`
	KeyPath         string     `json:"keyPath"`
	Reconciled      bool       `json:"reconciled,omitempty"`
	Resumed         bool       `json:"resumed,omitempty"`
	// Skipped are the requested settings the key could not take, skipped
	// under Request.SkipUnsupported ("flag: why").
	Skipped []string `json:"skipped,omitempty"`
	// PIN is the PIN set in this run, for the CLI to show on a terminal
	// only; the caller wipes it. Never serialised.
	PIN []byte `json:"-"`
}

// EscrowRef says where a PIN is escrowed, without the PIN.
type EscrowRef struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"` // store.EscrowAge, store.EscrowFile or EscrowNone
	Location   string   `json:"location"`
	Recipients []string `json:"recipients,omitempty"`
	// Source: SourceSet when this job set the PIN, SourceEarlier when the
	// key's PIN was escrowed by an earlier job, SourceOperator when the
	// operator gave the key's existing PIN (nothing escrowed).
	Source string `json:"source"`
}

// Plan is what a dry run found.
type Plan struct {
	User        *User        `json:"user"`
	Eligibility *Eligibility `json:"eligibility"`
	Key         KeyState     `json:"key"`
	Actions     []string     `json:"actions"`
}

// KeyState summarises the inspected key: what the "inspect" step journals.
type KeyState = store.InspectDone

// Enroller runs enrollments. Its fields are the workflow's ports.
type Enroller struct {
	Directory Directory
	Store     *store.Store
	PINs      PINSource
	// EscrowDir holds the bench identity (the default escrow recipient).
	EscrowDir string
	// Bench is the name of the bench this enroller works for (--bench;
	// "" outside bench mode), as the store records it on the jobs it
	// begins: device paths are a bench's own, so an earlier job at the
	// same path is this key's only if it ran on the same bench.
	Bench string
	// Identities open age escrows when resuming or reusing a key's PIN
	// (the bench identity is always tried too).
	Identities []age.Identity
	// Policy is the PIN policy (generator and validator); zero: pin.Default.
	Policy pin.Policy
	// RPIDs accepted in creationOptions (default login.microsoft.com).
	RPIDs []string
	Now   func() time.Time
	// Events receives progress for the operator.
	Events func(Event)
	// CrashHook, when set, is called at every journal boundary (after
	// "begin" is journaled, and after the side effect before "done"). The
	// crash test kills the process from it.
	CrashHook func(step Step, phase string)
	// JobCreated, when set, runs in the transaction that makes a new job
	// durable (with its first journal row, before the first side effect);
	// an error rolls that transaction back and stops the enrollment with
	// nothing done. The bench binds its queue claim to the job there
	// (store.Tx.BeginClaim).
	JobCreated func(tx *store.Tx, job *store.Job) error
	Log        *slog.Logger
	// MaxChallengeAttempts bounds new-challenge retries (default 3).
	MaxChallengeAttempts int
	// ModelName names a key model from its AAGUID when the request has no
	// Model ("" when unknown).
	ModelName func(aaguid [16]byte) string
	// ConfirmShared, when set, asks the operator whether to add the user
	// to a key that already holds another user's passkey (before anything
	// on the key changes). Unset, or answered no, the enrollment stops
	// with ErrSharedKey unless the request has SharedKeyOK.
	ConfirmShared func(ctx context.Context, s SharedKey) (bool, error)
}

func (e *Enroller) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Enroller) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

// run is one attempt at a job.
type run struct {
	e    *Enroller
	dev  Device
	req  Request
	job  *store.Job
	prev *history // the journal of an earlier attempt (Resume), else empty
	// pending are store writes queued for the next transaction (journal).
	pending []func(*store.Tx) error
	// durable: the job is in the store (its first transaction committed,
	// or it came from the store to be resumed).
	durable bool
	// interrupted: the job stopped because the key left or the run was
	// cancelled after its passkey reached Entra; it stays running, to be
	// finished on its key (see finish).
	interrupted bool

	user     *User
	elig     *Eligibility
	info     *hid.Info
	caps     keycaps.Capabilities
	decision keycaps.Decision
	skipped  []string
	orphans  []string        // credentials left on the key (base64url)
	known    map[string]bool // jobs of other users this key was recognised from
	knownFor []string        // those jobs' users
	aaguid   string
	pin      []byte
	pinSet   bool // this run set the PIN (r.pin is then new)
	pinTries int  // new PINs asked of the operator in this run
	escrow   *EscrowRef

	credID   []byte
	coseKey  []byte
	credAAG  string
	method   *Method
	verified bool
}

func (r *run) emit(step Step, phase, format string, a ...any) {
	if r.e.Events != nil {
		id := ""
		if r.job != nil {
			id = r.job.ID
		}
		r.e.Events(Event{JobID: id, Step: step, Phase: phase, Message: fmt.Sprintf(format, a...)})
	}
}

func (r *run) hook(step Step, phase string) {
	if r.e.CrashHook != nil {
		r.e.CrashHook(step, phase)
	}
}

// journal queues a journal row; it is written with the next "begin" (or
// the next store write, or at the end of the job), in the same transaction.
// Only a "begin" must be durable before anything else happens: it comes
// before a side effect. A row queued after a side effect and lost in a
// crash leaves the journal as a crash just after that side effect would,
// and resume reconciles that case for every step.
func (r *run) journal(step Step, phase string, data store.StepData) {
	r.later(r.row(step, phase, data))
}

// later queues a store write for the next transaction (see journal).
func (r *run) later(op func(*store.Tx) error) {
	if r.job == nil {
		return
	}
	r.pending = append(r.pending, op)
}

// flush writes the queued rows and then ops in one durable transaction; a
// journal that cannot be written stops the job (the invariants depend on
// it).
func (r *run) flush(ctx context.Context, step Step, ops ...func(*store.Tx) error) error {
	if err := r.commit(ctx, ops...); err != nil {
		return stepErr(step, err, "check the state directory (disk full? permissions?)", "cannot write the journal")
	}
	return nil
}

// commit is flush without the step error.
func (r *run) commit(ctx context.Context, ops ...func(*store.Tx) error) error {
	if r.job == nil || len(r.pending)+len(ops) == 0 {
		return nil
	}
	err := r.e.Store.Update(ctx, func(tx *store.Tx) error {
		for _, op := range append(r.pending, ops...) {
			if err := op(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.pending = r.pending[:0]
	r.durable = true
	return nil
}

// begin journals the step's "begin", with the queued rows, durably before
// its side effect (docs/architecture.md §4.2).
func (r *run) begin(ctx context.Context, step Step, data store.StepData) error {
	if err := r.flush(ctx, step, r.row(step, phaseBegin, data)); err != nil {
		return err
	}
	r.hook(step, HookBegin)
	return nil
}

// row is a journal row as a store write.
func (r *run) row(step Step, phase string, data store.StepData) func(*store.Tx) error {
	return func(tx *store.Tx) error { return tx.RecordStep(r.job.ID, string(step), phase, data) }
}

// done queues the step's "done" after its side effect.
func (r *run) done(step Step, data store.StepData) {
	r.hook(step, HookEffect)
	r.journal(step, phaseDone, data)
	r.emit(step, phaseDone, "%s", stepDoneText(step))
}

// atomicStep runs a step whose side effect is itself a store write (the
// result): its "begin", the write and its "done" commit in one transaction
// with the queued rows, so the begin is durable exactly when the effect is.
// The crash hook sees "begin" before that transaction and "effect" after
// it. The error is the store's, unwrapped.
func (r *run) atomicStep(ctx context.Context, step Step, effect func(*store.Tx) error) error {
	r.hook(step, HookBegin)
	if err := r.commit(ctx, r.row(step, phaseBegin, nil), effect, r.row(step, phaseDone, nil)); err != nil {
		return err
	}
	r.hook(step, HookEffect)
	r.emit(step, phaseDone, "%s", stepDoneText(step))
	return nil
}

func stepDoneText(s Step) string {
	switch s {
	case StepReset:
		return "key reset to factory state"
	case StepEscrow:
		return "PIN escrowed"
	case StepPIN:
		return "PIN set"
	case StepMinPIN:
		return "minimum PIN length applied"
	case StepMakeCred:
		return "passkey created on the key"
	case StepRegister:
		return "passkey registered with Entra"
	case StepSelfTest:
		return "self-test passed: the key signs with the new passkey"
	case StepForcePIN:
		return "the key will ask for a new PIN at first use"
	case StepAlwaysUV:
		return "alwaysUv on: the key verifies the user for every use"
	case StepRecord:
		return "result recorded"
	}
	return string(s)
}

// Enroll provisions the key for req.UPN. dev must be the key at
// req.KeyPath. With req.DryRun it returns a Plan and no Result.
func (e *Enroller) Enroll(ctx context.Context, dev Device, req Request) (*Result, *Plan, error) {
	if req.PINMode == "" {
		req.PINMode = PINGenerate
	}
	if req.KeyPath == "" {
		req.KeyPath = dev.Path()
	}
	req.Serial = hid.CleanSerial(req.Serial)
	if sr, ok := dev.(SerialReporter); ok && req.Serial == "" {
		req.Serial = hid.CleanSerial(sr.Serial())
	}
	r := &run{e: e, dev: dev, req: req, prev: &history{}}
	defer r.wipe()
	if req.DryRun {
		plan, err := r.dryRun(ctx)
		return nil, plan, err
	}
	params, err := json.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	// The job is written with the first durable transaction: the first
	// "begin" before a side effect, or the failure of a job that stops
	// before any. A crash before that leaves no job, and nothing on the key
	// or in Entra to reconcile (docs/architecture.md §4.2).
	job := &store.Job{ID: store.NewID(), Kind: JobKind, UPN: req.UPN, KeyPath: req.KeyPath, Serial: req.Serial, Params: params}
	r.job = job
	r.later(func(tx *store.Tx) error {
		if err := tx.CreateJob(job); err != nil {
			return stepErr(StepResolve, err, "check the state directory", "cannot create the job in the store")
		}
		if e.JobCreated != nil {
			return e.JobCreated(tx, job)
		}
		return nil
	})
	res, err := r.execute(ctx)
	return res, nil, r.finish(ctx, r.withOrphans(err))
}

// finish records a failure in the job. A failure whose outcome is unknown
// leaves the job running so journal resume picks it up.
func (r *run) finish(ctx context.Context, err error) error {
	if err == nil || r.job == nil {
		return err
	}
	var ee *Error
	if !errors.As(err, &ee) {
		ee = &Error{Msg: "enrollment failed", Err: err}
		err = ee
	}
	if !r.durable && refusal(err) {
		// Refused before the first side effect (an unknown user, a guest,
		// a user outside the policy): nothing to resume or clean up, so
		// no job is written and journal list stays for unfinished work.
		r.pending = nil
		return err
	}
	ee.JobID = r.job.ID
	msg := ee.Msg
	state := store.JobFailed
	if errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, context.Canceled) || r.interrupted {
		state = store.JobRunning
	}
	// The job row outlives this context (Ctrl-C). The queued rows go
	// first, with the failure; if they cannot be written, the failure is
	// still recorded alone.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var failed []func(*store.Tx) error
	if ee.Step != "" { // an error outside the steps has no journal row
		failed = append(failed, r.row(ee.Step, phaseFailed, store.StepFailed{Error: msg}))
	}
	failed = append(failed, func(tx *store.Tx) error {
		return tx.UpdateJob(r.job.ID, store.JobUpdate{State: &state, Error: &msg})
	})
	if r.flush(wctx, ee.Step, failed...) != nil {
		r.pending = nil
		_ = r.flush(wctx, ee.Step, failed...)
	}
	return err
}

// keyLeft: err is the key leaving mid-command (it stopped answering:
// libfido2's TX or RX) or the run being cancelled, not an answer of the
// key.
func keyLeft(ctx context.Context, err error) bool {
	switch hid.CodeOf(err) {
	case hid.CodeTX, hid.CodeRX, hid.CodeCancelled:
		return true
	}
	return ctx.Err() != nil || errors.Is(err, context.Canceled)
}

// refusal: the directory refused the user outright; the same command
// would be refused again until someone changes the user or the policy.
func refusal(err error) bool {
	return errors.Is(err, ErrIneligible) || errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrSharedKey)
}

func (r *run) wipe() {
	pin.Wipe(r.pin)
	r.pin = nil
}

// execute runs (or, with r.prev filled, continues) the job.
func (r *run) execute(ctx context.Context) (*Result, error) {
	if err := r.resolve(ctx); err != nil {
		return nil, err
	}
	if err := r.inspect(ctx); err != nil {
		return nil, err
	}
	if err := r.reset(ctx); err != nil {
		return nil, err
	}
	if err := r.setupPIN(ctx); err != nil {
		return nil, err
	}
	r.removeOrphans(ctx)
	if err := r.checkShared(ctx); err != nil {
		return nil, err
	}
	if err := r.minPIN(ctx); err != nil {
		return nil, err
	}
	if err := r.alwaysUV(ctx); err != nil {
		return nil, err
	}
	if err := r.credential(ctx); err != nil {
		return nil, err
	}
	if err := r.selfTest(ctx); err != nil {
		if keyLeft(ctx, err) {
			// The self-test did not happen: the key was pulled out (or the
			// run cancelled) before it answered. Nothing is known against
			// the passkey, and recording it now would settle the job (and
			// its queue row) as done while it still waits for its key: the
			// job stays running and is finished on its key (resume tests
			// the passkey again and records the result).
			r.interrupted = true
			return nil, err
		}
		// The key answered and the passkey did not prove itself: it is
		// registered, so record it (unverified) so nothing is lost, then
		// report.
		_, _ = r.record(ctx)
		return nil, err
	}
	if err := r.forcePIN(ctx); err != nil {
		return nil, err
	}
	return r.record(ctx)
}

// ---- resolve ---------------------------------------------------------------

func (r *run) resolve(ctx context.Context) error {
	u, err := r.e.Directory.User(ctx, r.req.UPN)
	if err != nil {
		return stepErr(StepResolve, err, "", "cannot look up %s", r.req.UPN)
	}
	r.user = u
	if r.job != nil && r.job.UserID != u.ID {
		id := u.ID
		r.later(func(tx *store.Tx) error { return tx.UpdateJob(r.job.ID, store.JobUpdate{UserID: &id}) })
		r.job.UserID = id
	}
	el, err := r.e.Directory.Eligibility(ctx, u)
	if err != nil {
		return stepErr(StepResolve, err, "", "cannot read the Passkey (FIDO2) policy for %s", u.UPN)
	}
	r.elig = el
	if u.Guest && el.Allowed {
		el.Allowed = false
		el.Reasons = append(el.Reasons, "guest account: passkeys cannot be provisioned for guests")
		el.Hint = "provision the account in the user's home tenant"
	}
	if !el.Allowed {
		return stepErr(StepResolve, ErrIneligible, el.Hint, "%s cannot get a passkey: %s", u.UPN, strings.Join(el.Reasons, "; "))
	}
	r.emit(StepResolve, phaseDone, "%s (%s) can get a passkey", u.UPN, u.DisplayName)
	r.journal(StepResolve, phaseDone, store.ResolveDone{UserID: u.ID, UPN: u.UPN, Profile: el.Profile,
		AttestationEnforced: el.AttestationEnforced})
	return nil
}

// ---- inspect ---------------------------------------------------------------

func (r *run) readInfo(ctx context.Context) error {
	info, err := r.dev.Info(ctx)
	if err != nil {
		return stepErr(StepInspect, err, "", "%s: cannot read the key", r.dev.Path())
	}
	r.info = info
	g := hid.GetInfoOf(info)
	r.caps = keycaps.Of(&g)
	r.aaguid = uuid.UUID(info.AAGUID).String()
	if r.req.Model == "" && r.e.ModelName != nil {
		r.req.Model = r.e.ModelName(info.AAGUID)
	}
	if r.req.Model == "" {
		r.req.Model = "Security key"
	}
	return nil
}

func (r *run) keyState(ctx context.Context) KeyState {
	ks := KeyState{Path: r.dev.Path(), AAGUID: r.aaguid, MinPINLength: int(r.info.MinPINLength),
		ForcePINChange: r.info.ForcePINChange, Remaining: r.info.RemainingResidentKeys,
		Serial: r.req.Serial, Model: r.req.Model, Firmware: int64(r.info.FirmwareVersion),
		CredMgmt: r.caps.CredMgmt.String(), PINProtocols: r.caps.PINProtocols}
	ks.PINSet, _ = r.info.Option("clientPin")
	if ks.PINSet {
		ks.PINRetries = -1 // unknown
		if r.resetPending() {
			// A reset comes first: the PIN and its retries go with it, and
			// some keys (OpenSK) take a reset only when nothing but getInfo
			// or selection came since power-up (CTAP 2.1 §6.6 lets them
			// refuse it otherwise), so no clientPIN command is sent before.
			return ks
		}
		if n, err := r.dev.PINRetries(ctx); err == nil {
			ks.PINRetries = n
		}
	}
	return ks
}

// resetPending: this run will reset the key before anything else changes
// it (--reset, and no reset journaled yet).
func (r *run) resetPending() bool {
	return r.req.Reset && !r.prev.has(StepReset)
}

func (r *run) inspect(ctx context.Context) error {
	if err := r.readInfo(ctx); err != nil {
		return err
	}
	ks := r.keyState(ctx)
	if err := r.checkJobKey(ctx); err != nil {
		// Another key than the job's: the job is not at fault and
		// stays as it was, waiting for its key.
		r.interrupted = true
		return err
	}
	if err := r.checkKey(ks); err != nil {
		return err
	}
	ks.Skipped = r.skipped
	if r.job != nil && (r.job.AAGUID == "" || r.job.Serial != r.req.Serial || r.job.Model != r.req.Model ||
		r.job.Firmware != ks.Firmware) {
		a, serial, model, fw := r.aaguid, r.req.Serial, r.req.Model, ks.Firmware
		r.later(func(tx *store.Tx) error {
			return tx.UpdateJob(r.job.ID, store.JobUpdate{AAGUID: &a, Serial: &serial, Model: &model, Firmware: &fw})
		})
		r.job.AAGUID, r.job.Serial, r.job.Model, r.job.Firmware = a, serial, model, fw
	}
	r.recogniseBySerial(ctx)
	r.journal(StepInspect, phaseDone, ks)
	return nil
}

// checkKey refuses keys that cannot work before anything is changed.
func (r *run) checkKey(ks KeyState) error {
	path := r.dev.Path()
	// What the key can do at all, and whether it can take every setting
	// asked for: one decision from its getInfo (internal/keycaps).
	if err := r.decide(); err != nil {
		return err
	}
	if err := r.checkSerial(); err != nil {
		return err
	}
	for _, kr := range r.elig.Restrictions {
		if !kr.Allows(r.aaguid) {
			return r.keyModelRefused(kr)
		}
	}
	if r.elig.AttestationEnforced && r.aaguid == "00000000-0000-0000-0000-000000000000" {
		return r.attestationRefused(StepInspect, "has no model identity (zero AAGUID)", false)
	}
	if ks.PINSet && ks.PINRetries == 0 {
		return stepErr(StepInspect, hid.ErrPINBlocked, "no PIN retries left: only a factory reset makes it usable again (--reset, which deletes every credential on the key)",
			"%s: the PIN is blocked", path)
	}
	if ks.PINSet && !r.prev.has(StepPIN) {
		if ks.PINRetries > 0 && ks.PINRetries <= 3 {
			return stepErr(StepInspect, ErrKeyState, "enter the PIN correctly once with keyprep pin change, or reset the key (--reset)",
				"%s has only %d PIN retries left; keyprep will not risk blocking it", path, ks.PINRetries)
		}
	}
	if ks.ForcePINChange && !r.resetPending() && !(r.req.ForcePINChange && r.prev.has(StepForcePIN)) {
		return stepErr(StepInspect, ErrKeyState, "change the PIN first (keyprep pin change --key "+path+"), or reset the key (--reset)",
			"%s requires a PIN change before it can be used", path)
	}
	return nil
}

// ---- refusals caused by the policy or a passkey profile ----------------------

// profileNames says which passkey profile the refusal comes from:
// Eligibility.Profile is one name, or several quoted and comma separated
// ("" without passkey profiles).
func (r *run) profileNames() (names string, several bool) {
	p := r.elig.Profile
	return p, strings.HasPrefix(p, `"`) && strings.Contains(p, `", "`)
}

// keyModelRefused is the refusal of a key model by key restrictions,
// naming the passkey profile and the command that changes it.
func (r *run) keyModelRefused(kr KeyRestrictions) error {
	kind, flag, hint := "is not on the allow list", "--add-aaguid", "use a key model the profile allows, or add it"
	if !kr.Allow {
		kind, flag, hint = "is on the block list", "--remove-aaguid", "use a key model the profile does not block, or unblock it"
	}
	names, several := r.profileNames()
	switch {
	case names == "":
		return stepErr(StepInspect, ErrKeyModel, "use a key model the policy allows (keyprep policy show fido2), or change the key restrictions",
			"the key model %s (AAGUID %s) %s of the Passkey (FIDO2) policy for %s", r.req.Model, r.aaguid, kind, r.user.UPN)
	case several:
		return stepErr(StepInspect, ErrKeyModel,
			fmt.Sprintf("keyprep policy check --user %s --aaguid %s names the profile that refuses it and the command", r.user.UPN, r.aaguid),
			"the key model %s (AAGUID %s) %s of passkey profiles %s (Passkey (FIDO2) policy) for %s", r.req.Model, r.aaguid, kind, names, r.user.UPN)
	}
	return stepErr(StepInspect, ErrKeyModel, fmt.Sprintf("%s: keyprep policy set fido2 --profile %q %s %s", hint, names, flag, r.aaguid),
		"the key model %s (AAGUID %s) %s of passkey profile %q (Passkey (FIDO2) policy) for %s", r.req.Model, r.aaguid, kind, names, r.user.UPN)
}

// attestationRefused is the refusal of a key that cannot satisfy enforced
// attestation (why: what the key lacks; selfAttesting: it sent no
// certificate), naming the passkey profile that enforces it and the
// command that turns it off.
func (r *run) attestationRefused(step Step, why string, selfAttesting bool) error {
	names, several := r.profileNames()
	switch {
	case names == "":
		return stepErr(step, ErrAttestation, "use a certified key model, or turn attestation enforcement off (keyprep policy set fido2 --enforce-attestation off)",
			"attestation is enforced and %s %s", r.dev.Path(), why)
	case several:
		return stepErr(step, ErrAttestation,
			fmt.Sprintf("use a certified key model; keyprep policy check --user %s --aaguid %s%s names the profiles that enforce attestation and the command",
				r.user.UPN, r.aaguid, map[bool]string{true: " --self-attesting"}[selfAttesting]),
			"attestation is enforced by passkey profiles %s and %s %s", names, r.dev.Path(), why)
	}
	return stepErr(step, ErrAttestation,
		fmt.Sprintf("use a certified key model, or turn the profile's attestation enforcement off: keyprep policy set fido2 --profile %q --enforce-attestation off", names),
		"attestation is enforced by passkey profile %q and %s %s", names, r.dev.Path(), why)
}

// ---- reset -----------------------------------------------------------------

func (r *run) reset(ctx context.Context) error {
	if !r.req.Reset {
		return nil
	}
	if r.prev.has(StepReset) && (r.prev.done[StepReset] != nil || r.prev.has(StepEscrow) || r.prev.has(StepPIN)) {
		// Never reset twice once the job went past the reset: a PIN set
		// after it may now be escrowed. A reset that began and has no
		// "done" (the crash came between the reset and that row's sync)
		// may or may not have happened; the key then holds nothing of this
		// job, and resetting it again is what the operator asked for.
		return nil
	}
	if err := r.begin(ctx, StepReset, nil); err != nil {
		return err
	}
	r.emit(StepReset, EventTouch, "touch the key %s now to reset it (keys accept a reset only within about 10 seconds of being plugged in; replug it first if needed)", r.dev.Path())
	if err := r.dev.Reset(ctx); err != nil {
		if errors.Is(err, hid.ErrNotAllowed) || errors.Is(err, hid.ErrPINAuthBlocked) {
			// Keys accept a reset only within a few seconds of power-up
			// (CTAP 2.1 §6.6): nothing was changed.
			return stepErr(StepReset, fmt.Errorf("%w: %w", ErrResetWindow, err),
				"unplug the key, plug it back in and run again within 10 seconds",
				"%s refused the reset: its reset window after power-up has passed", r.dev.Path())
		}
		return stepErr(StepReset, err, "", "%s: reset", r.dev.Path())
	}
	r.done(StepReset, nil)
	// The reset's done is synced at once (a reset is rare and needs the
	// operator's touch): a crash later in the job must not bring a second
	// reset, and resume resets again only when this row is missing.
	if err := r.flush(ctx, StepReset); err != nil {
		return err
	}
	return r.readInfo(ctx)
}

// ---- helpers for the credential record in the journal -----------------------

var b64 = base64.RawURLEncoding

func b64dec(s string) []byte {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}
