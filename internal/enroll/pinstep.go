package enroll

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
)

// setupPIN makes r.pin the key's PIN: a new PIN (escrowed first, then set)
// for a key without one; for a key with one, the PIN escrowed by an
// earlier job (generate mode) or the operator's.
func (r *run) setupPIN(ctx context.Context) error {
	pinSet, _ := r.info.Option("clientPin")
	prevEsc, err := r.jobEscrow(ctx)
	if err != nil {
		return err
	}
	if !pinSet {
		if prevEsc != nil {
			// An earlier attempt escrowed a PIN that never reached the key
			// (or a reset undid it): set that same PIN if it can be
			// recovered, so the escrow stays true.
			if p, err := r.openEscrow(prevEsc); err == nil {
				r.escrow = refOf(prevEsc, SourceSet)
				return r.applyPIN(ctx, p, prevEsc)
			}
			r.setEscrowState(prevEsc.ID, store.EscrowUnused)
		}
		p, err := r.newPIN(ctx)
		if err != nil {
			return err
		}
		esc, err := r.writeEscrow(ctx, p)
		if err != nil {
			pin.Wipe(p)
			return err
		}
		return r.applyPIN(ctx, p, esc)
	}

	// The key has a PIN.
	if prevEsc != nil && r.prev.has(StepPIN) {
		// This job set it before the interruption.
		p, err := r.openEscrow(prevEsc)
		if err != nil {
			return stepErr(StepPIN, fmt.Errorf("%w: %w", ErrEscrow, err),
				"give an age identity that can open it (keyprep journal resume --identity FILE)",
				"this job set the key's PIN and escrowed it (escrow %s), but this bench cannot open the escrow", short(prevEsc.ID))
		}
		r.pin = p
		r.escrow = refOf(prevEsc, SourceSet)
		if prevEsc.State == store.EscrowPending {
			r.setEscrowState(prevEsc.ID, store.EscrowApplied)
		}
		r.journal(StepPIN, phaseSkipped, store.PINSkipped{Source: pinFromEscrow, EscrowID: prevEsc.ID, Reconciled: true})
		return nil
	}
	if prevEsc != nil {
		// Escrowed but the PIN step never began, yet the key has a PIN:
		// it did not come from this job.
		r.setEscrowState(prevEsc.ID, store.EscrowUnused)
	}
	if r.req.PINMode == PINOperator {
		p, err := r.e.PINs.Current(ctx, r.dev.Path())
		if err != nil {
			return stepErr(StepPIN, err, "", "%s: reading the key's PIN", r.dev.Path())
		}
		if len(p) == 0 {
			return stepErr(StepPIN, hid.ErrPINRequired, "", "%s: no PIN given", r.dev.Path())
		}
		r.pin = p
		r.escrow = &EscrowRef{Kind: EscrowNone, Source: SourceOperator}
		r.journal(StepPIN, phaseSkipped, store.PINSkipped{Source: pinFromOperator})
		return nil
	}
	esc, p, err := r.findKeyEscrow(ctx)
	if err != nil {
		return err
	}
	if esc == nil {
		return stepErr(StepPIN, ErrKeyHasPIN, "give the key's PIN with --pin prompt or --pin stdin, or start from a factory-fresh key (--reset)",
			"%s already has a PIN that keyprep did not set on this bench", r.dev.Path())
	}
	r.pin = p
	r.escrow = refOf(esc, SourceEarlier)
	r.emit(StepPIN, phaseInfo, "using the PIN keyprep escrowed for this key on %s (escrow %s)", esc.CreatedAt.Local().Format("2006-01-02 15:04"), short(esc.ID))
	r.journal(StepPIN, phaseSkipped, store.PINSkipped{Source: pinFromEscrow, EscrowID: esc.ID})
	return nil
}

// setEscrowState queues an escrow state change for the next journal
// transaction: resume reconciles a state change lost in a crash from the
// journal (a "pin" begin with a pending escrow).
func (r *run) setEscrowState(id, state string) {
	r.later(func(tx *store.Tx) error { return tx.SetEscrowState(id, state) })
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func refOf(e *store.Escrow, source string) *EscrowRef {
	return &EscrowRef{ID: e.ID, Kind: e.Kind, Location: e.Location, Recipients: e.Recipients, Source: source}
}

// jobEscrow returns this job's live escrow, if any.
func (r *run) jobEscrow(ctx context.Context) (*store.Escrow, error) {
	if r.job == nil || !r.prev.has(StepEscrow) {
		// The escrow step's "begin" is journaled no later than its record
		// is written: without it in the journal, the job has no escrow.
		return nil, nil
	}
	es, err := r.e.Store.Escrows(ctx, store.EscrowFilter{JobID: r.job.ID, States: []string{store.EscrowPending, store.EscrowApplied}})
	if err != nil {
		return nil, stepErr(StepEscrow, err, "", "cannot read the escrow records")
	}
	if len(es) == 0 {
		return nil, nil
	}
	return &es[0], nil
}

// newPIN generates a PIN or takes the operator's new PIN, under the policy,
// the key's minimum length and the key's own rules where known
// (pinPolicy).
func (r *run) newPIN(ctx context.Context) ([]byte, error) {
	pol := r.pinPolicy(false)
	if r.req.PINMode == PINOperator {
		return r.operatorPIN(ctx, pol)
	}
	return r.generatePIN(pol)
}

// operatorPIN asks the person at the bench for the new PIN: the rules
// first, and a PIN the policy refuses is asked again (PINPrompter), never
// shown.
func (r *run) operatorPIN(ctx context.Context, pol pin.Policy) ([]byte, error) {
	path := r.dev.Path()
	pr, _ := r.e.PINs.(PINPrompter)
	if pr != nil && r.pinTries == 0 {
		rules := pol.Describe()
		if kr := r.caps.PINRules(); kr.Known {
			rules = append(rules, "this key model's own rules apply too: "+kr.Source)
		}
		pr.NewPINRules(path, rules)
	}
	for {
		r.pinTries++
		p, err := r.e.PINs.New(ctx, path)
		if err != nil {
			return nil, stepErr(StepPIN, err, "", "%s: reading the new PIN", path)
		}
		verr := pol.Validate(p)
		if verr == nil {
			return p, nil
		}
		pin.Wipe(p)
		if r.askAgain(pr, verr.Error()) {
			continue
		}
		hint := ""
		if rules := r.caps.PINRules(); rules.Known {
			hint = "this key model applies its own PIN rules: " + rules.Source
		}
		return nil, stepErr(StepPIN, verr, hint, "the PIN does not meet the policy")
	}
}

// askAgain: the person at the bench may choose another PIN after a
// refusal (tries left, and a PINPrompter that wants to).
func (r *run) askAgain(pr PINPrompter, why string) bool {
	return pr != nil && r.pinTries < maxPINTries && pr.PINRefused(r.dev.Path(), why, maxPINTries-r.pinTries)
}

func (r *run) generatePIN(pol pin.Policy) ([]byte, error) {
	if err := pol.Check(); err != nil {
		return nil, stepErr(StepPIN, err, "", "PIN policy")
	}
	p, err := pol.Generate()
	if err != nil {
		return nil, stepErr(StepPIN, err, "", "cannot generate a PIN")
	}
	return p, nil
}

// writeEscrow escrows the PIN before it goes on the key (docs/architecture.md
// §4.1 and §4.2). An age escrow is sealed here and its record, with the
// step's "begin" and "done", is queued: it commits with the "pin" step's
// "begin", so it is on disk before the PIN is set, and a crash before that
// leaves neither a record nor a PIN. A --pin-out file is written once, so
// its "begin" is durable before the file is written and its record right
// after.
func (r *run) writeEscrow(ctx context.Context, p []byte) (*store.Escrow, error) {
	esc := &store.Escrow{JobID: r.job.ID, UPN: r.user.UPN, UserID: r.user.ID, KeyPath: r.dev.Path(), AAGUID: r.aaguid}
	put := func(tx *store.Tx) error {
		if err := tx.PutEscrow(esc); err != nil {
			return fmt.Errorf("%w: %w", ErrEscrow, err)
		}
		return nil
	}
	if r.req.PINOut == "" {
		r.hook(StepEscrow, HookBegin)
		recips, names, err := r.recipients()
		if err != nil {
			return nil, err
		}
		ct, err := escrow.Seal(p, recips)
		if err != nil {
			return nil, stepErr(StepEscrow, fmt.Errorf("%w: %w", ErrEscrow, err), "", "cannot encrypt the PIN")
		}
		esc.ID, esc.Kind, esc.Location, esc.Recipients, esc.Ciphertext = store.NewID(), store.EscrowAge, "store", names, ct
		r.journal(StepEscrow, phaseBegin, store.EscrowBegin{Kind: store.EscrowAge})
		r.later(put)
		r.escrow = refOf(esc, SourceSet)
		r.done(StepEscrow, store.EscrowDone{EscrowID: esc.ID, Kind: esc.Kind})
		return esc, nil
	}
	if err := r.begin(ctx, StepEscrow, store.EscrowBegin{Kind: store.EscrowFile}); err != nil {
		return nil, err
	}
	err := escrow.WritePINFile(r.req.PINOut, escrow.PINFileHeader{UPN: r.user.UPN, KeyPath: r.dev.Path(), AAGUID: r.aaguid, Time: r.e.now()}, p)
	if err != nil {
		hint := "choose a new file: a PIN file is written once and never overwritten"
		if !errors.Is(err, escrow.ErrExists) {
			hint = "check the directory of --pin-out"
		}
		return nil, stepErr(StepEscrow, fmt.Errorf("%w: %w", ErrEscrow, err), hint, "cannot write the PIN to %s", r.req.PINOut)
	}
	esc.Kind, esc.Location = store.EscrowFile, r.req.PINOut
	if err := r.commit(ctx, put); err != nil {
		return nil, stepErr(StepEscrow, err, "check the state directory", "cannot store the PIN escrow")
	}
	r.escrow = refOf(esc, SourceSet)
	r.done(StepEscrow, store.EscrowDone{EscrowID: esc.ID, Kind: esc.Kind})
	return esc, nil
}

func (r *run) recipients() ([]age.Recipient, []string, error) {
	if len(r.req.Recipients) > 0 {
		rs, names, err := escrow.ParseRecipients(r.req.Recipients)
		if err != nil {
			return nil, nil, stepErr(StepEscrow, fmt.Errorf("%w: %w", ErrEscrow, err), "give age recipients (age1…) or SSH public keys", "bad --age-recipient")
		}
		return rs, names, nil
	}
	id, rec, created, err := escrow.EnsureBenchIdentity(r.e.EscrowDir)
	if err != nil {
		return nil, nil, stepErr(StepEscrow, fmt.Errorf("%w: %w", ErrEscrow, err), "", "bench escrow identity")
	}
	if created {
		r.emit(StepEscrow, phaseInfo, "created the bench escrow identity %s: PINs escrowed to it are only as safe as that file; give --age-recipient (e.g. a helpdesk key) to encrypt to someone else", r.e.EscrowDir)
	}
	return []age.Recipient{id.Recipient()}, []string{"bench:" + rec}, nil
}

// maxPINTries bounds the PINs tried when the key refuses generated ones
// under its own rules.
const maxPINTries = 3

// applyPIN sets p on the key, journaled around the side effect. A key
// that refuses the PIN under its own rules (CTAP2_ERR_PIN_POLICY_VIOLATION:
// no PIN set, no retry spent) gets another generated PIN under stricter
// rules, escrowed first like the first one (the refused escrow is
// superseded in the same transaction as the new one's "pin" begin, so the
// live escrow always holds the PIN being set, docs/architecture.md §4.1);
// an operator's PIN is not replaced: the job stops with nothing changed.
func (r *run) applyPIN(ctx context.Context, p []byte, esc *store.Escrow) error {
	for attempt := 1; ; attempt++ {
		if err := r.begin(ctx, StepPIN, store.PINBegin{EscrowID: esc.ID}); err != nil {
			pin.Wipe(p)
			return err
		}
		err := r.dev.SetPIN(ctx, p)
		if err == nil {
			break
		}
		pin.Wipe(p)
		if !errors.Is(err, hid.ErrPINPolicyViolation) {
			return stepErr(StepPIN, err, "", "%s: set PIN", r.dev.Path())
		}
		r.journal(StepPIN, phaseInfo, store.PINRefused{EscrowID: esc.ID, Attempt: attempt})
		hint := "choose another PIN"
		if rules := r.caps.PINRules(); rules.Known {
			hint += " (this model's rules: " + rules.Source + ")"
		} else {
			hint += ": longer, with no sequence, repetition or palindrome"
		}
		switch {
		case r.req.PINMode == PINOperator:
			r.setEscrowState(esc.ID, store.EscrowUnused)
			if pr, _ := r.e.PINs.(PINPrompter); r.askAgain(pr, "the key refused it under its own PIN rules; "+hint) {
				if p, err = r.operatorPIN(ctx, r.pinPolicy(false)); err != nil {
					return err
				}
				if esc, err = r.writeEscrow(ctx, p); err != nil {
					pin.Wipe(p)
					return err
				}
				continue
			}
			return stepErr(StepPIN, fmt.Errorf("%w: %w", ErrKeyPINRules, err), hint,
				"%s refused the new PIN under its own PIN rules; nothing was changed on the key", r.dev.Path())
		case r.req.PINOut != "":
			r.setEscrowState(esc.ID, store.EscrowUnused)
			return stepErr(StepPIN, fmt.Errorf("%w: %w", ErrKeyPINRules, err), "run again with a new --pin-out file (it is written once)",
				"%s refused the generated PIN under its own PIN rules; nothing was changed on the key, and %s holds a PIN that was never set", r.dev.Path(), r.req.PINOut)
		case attempt >= maxPINTries:
			r.setEscrowState(esc.ID, store.EscrowUnused)
			return stepErr(StepPIN, fmt.Errorf("%w: %w", ErrKeyPINRules, err), "set the PIN yourself (--pin prompt) following the key vendor's PIN rules",
				"%s refused %d generated PINs under its own PIN rules; nothing was changed on the key", r.dev.Path(), attempt)
		}
		r.emit(StepPIN, phaseInfo, "the key refused the generated PIN under its own PIN rules; generating another under stricter rules")
		r.setEscrowState(esc.ID, store.EscrowSuperseded)
		if p, err = r.generatePIN(r.pinPolicy(true)); err != nil {
			return err
		}
		if esc, err = r.writeEscrow(ctx, p); err != nil {
			pin.Wipe(p)
			return err
		}
	}
	r.pin, r.pinSet = p, true
	r.done(StepPIN, store.PINDone{EscrowID: esc.ID})
	r.setEscrowState(esc.ID, store.EscrowApplied)
	return r.readInfo(ctx)
}

// openEscrow recovers an escrowed PIN for the workflow to set or use
// again (the caller wipes it).
func (r *run) openEscrow(e *store.Escrow) ([]byte, error) {
	return OpenEscrow(e, r.e.AgeIdentities())
}

// findKeyEscrow finds the escrow of the PIN an earlier job set on this
// key. The key is recognised by the passkeys earlier jobs left on it
// (HoldsCredential: a silent assertion, no touch, no PIN; credProtect
// level 1 allows it with an allow list, CTAP 2.1 §12.1). Without such a
// passkey (e.g. an earlier job failed before registering), the newest
// applied escrow for the same key path and model is used.
func (r *run) findKeyEscrow(ctx context.Context) (*store.Escrow, []byte, error) {
	results, err := r.e.Store.Results(ctx, store.ResultFilter{})
	if err != nil {
		return nil, nil, stepErr(StepPIN, err, "", "cannot read results")
	}
	byCred := map[string]string{} // credential id -> escrow id
	var ids [][]byte
	for _, res := range results {
		if res.EscrowID == "" || !strings.EqualFold(res.AAGUID, r.aaguid) {
			continue
		}
		id := b64dec(res.CredentialID)
		if len(id) == 0 {
			continue
		}
		if _, dup := byCred[res.CredentialID]; !dup {
			ids = append(ids, id)
		}
		byCred[res.CredentialID] = res.EscrowID
	}
	tryOpen := func(id string) (*store.Escrow, []byte) {
		e, err := r.e.Store.Escrow(ctx, id)
		if err != nil || e.State != store.EscrowApplied {
			return nil, nil
		}
		p, err := r.openEscrow(e)
		if err != nil {
			return nil, nil
		}
		return e, p
	}
	// A key may hold several earlier jobs' passkeys: when the escrow of
	// the one it answered for cannot be used, the allow lists after that
	// one's are asked too.
	perList := int(r.info.MaxCredCountInList)
	if perList <= 0 {
		perList = defaultMaxInList
	}
	for start := 0; start < len(ids); {
		i, held, _ := HoldsCredential(ctx, r.dev, r.rpID(), ids[start:], uint64(perList))
		if !held {
			break
		}
		if e, p := tryOpen(byCred[b64.EncodeToString(ids[start+i])]); e != nil {
			return e, p, nil
		}
		start += (i/perList + 1) * perList
	}
	// No result names a passkey on the key: an escrow whose job set the
	// PIN and recorded nothing (it failed, or was abandoned, after the
	// PIN). A device path is no identity — paths are reused by the next
	// key plugged in, and every bench of a fleet has its own — so such an
	// escrow is used only when its job is known to be this key's: a wrong
	// PIN would spend one of the key's retries.
	es, err := r.e.Store.Escrows(ctx, store.EscrowFilter{KeyPath: r.dev.Path(), States: []string{store.EscrowApplied}})
	if err != nil {
		return nil, nil, stepErr(StepPIN, err, "", "cannot read the escrow records")
	}
	for i := range es {
		if !strings.EqualFold(es[i].AAGUID, r.aaguid) || es[i].JobID == "" {
			continue
		}
		if r.escrowJobIsThisKey(ctx, &es[i]) {
			if e, p := tryOpen(es[i].ID); e != nil {
				return e, p, nil
			}
		}
		break // only the newest escrow at this path can be this key's PIN
	}
	return nil, nil, nil
}

// escrowJobIsThisKey: the job of escrow e (which set the PIN of a key at
// this key's path and recorded no result: a finished job's passkey would
// have been found on the key) ran on this very key, as far as can be
// known without trying the PIN: the same USB serial number; for keys
// without one, a job of this bench whose passkey is on this key
// (HoldsCredential), or the last job at this path on this bench, so that
// no other key was enrolled there since.
func (r *run) escrowJobIsThisKey(ctx context.Context, e *store.Escrow) bool {
	j, err := r.e.Store.Job(ctx, e.JobID)
	if err != nil || j.ID == r.job.ID || j.State == store.JobDone {
		return false
	}
	if j.Serial != "" || r.req.Serial != "" {
		return j.Serial != "" && j.Serial == r.req.Serial
	}
	if j.Bench != r.e.Bench {
		return false
	}
	if cred := b64dec(j.CredentialID); len(cred) > 0 {
		if _, held, _ := HoldsCredential(ctx, r.dev, r.rpID(), [][]byte{cred}, 0); held {
			return true
		}
	}
	js, err := r.e.Store.Jobs(ctx, store.JobFilter{KeyPath: r.dev.Path()})
	if err != nil {
		return false
	}
	for _, o := range js {
		if o.ID == r.job.ID || o.Bench != r.e.Bench {
			continue
		}
		// The newest other job at this path on this bench: the escrow's
		// own, or one that opened the same escrow and got past the PIN
		// with it (the same key, since then refused for another reason).
		return o.ID == j.ID || r.usedEscrow(ctx, o.ID, e.ID)
	}
	return false
}

// usedEscrow: job id took its PIN from escrow escrowID (the PIN step
// skipped with that escrow) and the key then took the PIN: a later step
// of the job that needs it got done (a wrong PIN fails the step).
func (r *run) usedEscrow(ctx context.Context, id, escrowID string) bool {
	steps, err := r.e.Store.Steps(ctx, id)
	if err != nil {
		return false
	}
	took := false
	for i := range steps {
		st := &steps[i]
		if took && st.Phase == phaseDone && st.Name != string(StepPIN) && st.Name != string(StepResolve) && st.Name != string(StepInspect) {
			return true
		}
		if st.Name == string(StepPIN) && st.Phase == phaseSkipped {
			if d, ok := decodeRow[store.PINSkipped](st); ok && d.EscrowID == escrowID {
				took = true
			}
		}
	}
	return false
}

func (r *run) rpID() string {
	if len(r.e.RPIDs) > 0 {
		return r.e.RPIDs[0]
	}
	return "login.microsoft.com"
}

// ---- minimum PIN length ----------------------------------------------------

func (r *run) minPIN(ctx context.Context) error {
	if _, done := doneData[store.MinPINDone](r.prev, StepMinPIN); done || r.prev.has(StepForcePIN) {
		// Applied in an earlier attempt (the RP list cannot be read back,
		// so it is not sent twice).
		return nil
	}
	want := r.req.MinPINLength
	cur := int(r.info.MinPINLength)
	setLen := want > cur
	setRP := r.req.MinPINLengthRPID && r.info.MaxRPIDsMinPINLength > 0
	if !setLen && !setRP {
		if r.req.MinPINLengthRPID && r.info.MaxRPIDsMinPINLength == 0 {
			r.emit(StepMinPIN, phaseInfo, "the key cannot tell RPs its minimum PIN length (no minPinLength RP list); skipped")
		}
		return nil
	}
	if setLen {
		if n := len([]rune(string(r.pin))); n < want {
			return stepErr(StepMinPIN, hid.ErrPINPolicyViolation, "give a longer PIN or a lower --min-pin-length",
				"the key's PIN has %d characters, shorter than --min-pin-length %d (the key would demand a PIN change)", n, want)
		}
	}
	if err := r.begin(ctx, StepMinPIN, store.MinPINBegin{MinPINLength: want, RPID: setRP}); err != nil {
		return err
	}
	if setLen {
		if err := r.dev.SetMinPINLength(ctx, want, r.pin); err != nil {
			return stepErr(StepMinPIN, err, "", "%s: set minimum PIN length %d", r.dev.Path(), want)
		}
	}
	if setRP {
		if err := r.dev.SetMinPINLengthRPIDs(ctx, []string{r.rpID()}, r.pin); err != nil {
			return stepErr(StepMinPIN, err, "", "%s: set the minimum PIN length RP list", r.dev.Path())
		}
	}
	r.done(StepMinPIN, store.MinPINDone{MinPINLength: want, RPID: setRP})
	return r.readInfo(ctx)
}

// ---- alwaysUv ----------------------------------------------------------------

// alwaysUV turns the key's alwaysUv option on (toggleAlwaysUv, CTAP 2.1
// §6.11.2). The command is a toggle, so it is sent only while getInfo
// says alwaysUv is off: a resumed job whose toggle landed finds it on.
func (r *run) alwaysUV(ctx context.Context) error {
	if !r.req.AlwaysUV {
		return nil
	}
	if on, _ := r.info.Option("alwaysUv"); on {
		if r.prev.has(StepAlwaysUV) {
			r.journal(StepAlwaysUV, phaseSkipped, store.AlwaysUVDone{On: true})
		}
		return nil
	}
	t, ok := r.dev.(AlwaysUVToggler)
	if !ok {
		return stepErr(StepAlwaysUV, fmt.Errorf("%w: %w", ErrUnsupportedSetting, hid.ErrUnsupported), "drop --always-uv",
			"%s: this key connection cannot send toggleAlwaysUv", r.dev.Path())
	}
	if err := r.begin(ctx, StepAlwaysUV, nil); err != nil {
		return err
	}
	if err := t.ToggleAlwaysUV(ctx, r.pin); err != nil {
		return stepErr(StepAlwaysUV, err, "", "%s: turn alwaysUv on", r.dev.Path())
	}
	r.done(StepAlwaysUV, store.AlwaysUVDone{On: true})
	return r.readInfo(ctx)
}

// escrowBenchPath is the bench identity file.
func escrowBenchPath(dir string) string { return filepath.Join(dir, escrow.BenchIdentityFile) }
