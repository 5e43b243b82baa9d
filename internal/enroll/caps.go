package enroll

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/keycaps"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
	"github.com/keyprep/keyprep/internal/webauthn"
)

// want is what the request asks of the key beyond a PIN and a passkey.
func (r *run) want() keycaps.Want {
	return keycaps.Want{MinPINLength: r.req.MinPINLength, MinPINLengthRPID: r.req.MinPINLengthRPID,
		ForcePINChange: r.req.ForcePINChange, AlwaysUV: r.req.AlwaysUV, Reset: r.req.Reset}
}

// decide is the one capability decision, taken from the key's getInfo
// before any side effect (internal/keycaps.Decide): a refusal stops the
// job at inspect; a setting skipped (Request.SkipUnsupported) is dropped
// from this run's request and recorded.
func (r *run) decide() error {
	w := r.want()
	if r.req.AlwaysUV {
		if _, ok := r.dev.(AlwaysUVToggler); !ok && !(r.caps.AlwaysUVKnown && r.caps.AlwaysUV) {
			// The key may have it; this Device cannot send it.
			return stepErr(StepInspect, fmt.Errorf("%w: %w", ErrUnsupportedSetting, hid.ErrUnsupported),
				"drop --always-uv", "%s: this key connection cannot send toggleAlwaysUv", r.dev.Path())
		}
	}
	if r.req.UVFingerprint {
		if err := r.checkBuiltInUV(); err != nil {
			return err
		}
	}
	d := keycaps.Decide(r.caps, w, r.req.SkipUnsupported)
	r.decision = d
	for _, n := range d.Notes {
		r.emit(StepInspect, phaseInfo, "%s", n)
	}
	if !d.Enrollable {
		return r.refusal(d.Refusals)
	}
	r.skipped = r.skipped[:0]
	for _, s := range d.Skipped {
		r.skipped = append(r.skipped, s.Flag+": "+s.Msg)
		r.emit(StepInspect, phaseInfo, "skipped %s: %s (--skip-unsupported)", s.Flag, s.Msg)
		switch s.Flag {
		case keycaps.FlagMinPINLength:
			r.req.MinPINLength = 0
		case keycaps.FlagMinPINLengthRP:
			r.req.MinPINLengthRPID = false
		case keycaps.FlagForcePINChange:
			r.req.ForcePINChange = false
		case keycaps.FlagAlwaysUV:
			r.req.AlwaysUV = false
		}
	}
	return nil
}

// refusal turns the decision's refusals into the workflow's error: a
// setting the key cannot take is ErrUnsupportedSetting; a key that cannot
// be enrolled at all keeps the class it always had (no free slot:
// hid.ErrKeyStoreFull; otherwise hid.ErrUnsupported).
func (r *run) refusal(rs []keycaps.Refusal) error {
	msgs := make([]string, 0, len(rs))
	for _, x := range rs {
		msgs = append(msgs, x.Msg)
	}
	first := rs[0]
	var cause error = hid.ErrUnsupported
	switch {
	case first.Flag != "":
		cause = fmt.Errorf("%w: %w", ErrUnsupportedSetting, hid.ErrUnsupported)
	case r.caps.Remaining == 0 && strings.Contains(first.Missing, "slot"):
		cause = hid.ErrKeyStoreFull
	}
	return stepErr(StepInspect, cause, first.Hint, "%s: %s", r.dev.Path(), strings.Join(msgs, "; "))
}

// checkSerial refuses, before any side effect, a display name template
// that asks for {serial} on a key that reports none: a passkey name never
// gets an empty placeholder.
func (r *run) checkSerial() error {
	if strings.Contains(r.req.DisplayNameTemplate, "{serial}") && r.req.Serial == "" {
		return stepErr(StepInspect, ErrNoSerial, "use a display name template without {serial} (e.g. --display-name \"{model} {date}\")",
			"%s reports no USB serial number, and the display name template %q asks for {serial}", r.dev.Path(), r.req.DisplayNameTemplate)
	}
	return nil
}

// fitExtensions is the request as it will be sent: only what the key
// lists, as browsers do (WebAuthn L3 §9; keycaps.SendExtensions). An
// unenforced credProtect the key does not list is dropped (level 1 is
// every credential's baseline, CTAP 2.1 §12.1); an enforced level above 1
// the key cannot give is refused here, before the touch. The checks of the
// key's answer (webauthn.CheckRegistration) then follow what was sent.
func (r *run) fitExtensions(p *webauthn.MakeCredentialRequest) (*webauthn.MakeCredentialRequest, error) {
	sent := *p
	var want []string
	if p.HMACSecret {
		want = append(want, keycaps.ExtHMACSecret)
	}
	if p.CredProtect != 0 {
		want = append(want, keycaps.ExtCredProtect)
	}
	if p.MinPINLength {
		want = append(want, keycaps.ExtMinPINLength)
	}
	send := r.caps.SendExtensions(want...)
	has := func(x string) bool {
		for _, s := range send {
			if s == x {
				return true
			}
		}
		return false
	}
	var dropped []string
	if p.HMACSecret && !has(keycaps.ExtHMACSecret) {
		sent.HMACSecret = false
		dropped = append(dropped, "hmac-secret")
	}
	if p.MinPINLength && !has(keycaps.ExtMinPINLength) {
		sent.MinPINLength = false
		dropped = append(dropped, "minPinLength")
	}
	if p.CredProtect != 0 && !has(keycaps.ExtCredProtect) {
		if p.EnforceCredProtect && p.CredProtect > int(hid.CredProtectUVOptional) {
			return nil, stepErr(StepOptions, fmt.Errorf("%w: %w", ErrUnsupportedSetting, hid.ErrUnsupported),
				"use a key that lists the credProtect extension (keyprep keys shows what a key supports)",
				"Entra enforces credential protection level %d and %s does not list credProtect (CTAP 2.1 §12.1)", p.CredProtect, r.dev.Path())
		}
		sent.CredProtect, sent.EnforceCredProtect = 0, false
		dropped = append(dropped, "credProtect")
	}
	if len(dropped) > 0 {
		r.emit(StepOptions, phaseInfo, "not requesting %s: the key does not list it", strings.Join(dropped, ", "))
	}
	return &sent, nil
}

// pinPolicy is the PIN policy for a new PIN on this key: keyprep's, the
// key's minimum length, and the key's own complexity rules where the
// model's are known (keycaps.PINRules). strict adds every rule such keys
// are known to apply (after the key refused a PIN whose rules were not
// known) and two more characters.
func (r *run) pinPolicy(strict bool) pin.Policy {
	pol := r.e.Policy
	if pol.Length == 0 {
		pol = pin.Default()
	}
	if r.req.PINLength > 0 {
		pol.Length = r.req.PINLength
		if pol.MinLength > pol.Length {
			pol.MinLength = pol.Length
		}
	}
	rules := r.caps.PINRules()
	pol.KeyMinPINLength = max(int(r.info.MinPINLength), r.req.MinPINLength, rules.MinLength)
	if rules.Known || strict {
		pol.NoPalindrome = pol.NoPalindrome || rules.NoPalindrome || strict
		pol.NoArithmeticSequence = pol.NoArithmeticSequence || rules.NoArithmeticSequence || strict
		if rules.MaxIdenticalRun > 0 && (pol.MaxRepeat == 0 || rules.MaxIdenticalRun < pol.MaxRepeat) {
			pol.MaxRepeat = rules.MaxIdenticalRun
		}
		pol.NonNumericMinLength = max(pol.NonNumericMinLength, rules.AlphanumericMinLength)
		pol.NonNumericMinClasses = max(pol.NonNumericMinClasses, rules.AlphanumericClasses)
		pol.KeyMinPINLength = max(pol.KeyMinPINLength, rules.NumericMinLength)
	}
	if strict {
		pol.NoRepeat, pol.NoSequence = true, true
		pol.MinDistinct = max(pol.MinDistinct, pin.DefaultMinDistinct)
		pol.Length = min(pol.GeneratedLength()+2, pin.MaxPINBytes)
		if pol.Blocklist == nil {
			pol.Blocklist = pin.DefaultBlocklist()
		}
	}
	if pol.Alphabet == pin.Alphanumeric {
		pol.Length = max(pol.Length, pol.NonNumericMinLength)
	}
	return pol
}

// ---- credentials left on the key ----------------------------------------------

// cleanup deletes a credential Entra will not know from the key, so the
// key does not carry an orphan: through credential management (0x0A, or
// the preview command 0x41 that libfido2 picks for a key listing only
// credentialMgmtPreview). A key without credential management, or a
// deletion that fails, leaves it: the journal records it as orphaned (with
// why), the failure names it, and journal resume removes it where the key
// can.
func (r *run) cleanup(ctx context.Context, credID []byte, why string) {
	id := b64.EncodeToString(credID)
	data := store.CleanupDone{CredentialID: id, Why: why}
	switch {
	case r.caps.CredMgmt == keycaps.CredMgmtNone:
		data.Error, data.Orphaned = "the key has no credential management (CTAP 2.1 §6.8): only a reset removes it", true
	case r.pin == nil:
		data.Error, data.Orphaned = "no PIN to authorise the deletion", true
	default:
		if err := r.dev.DeleteCredential(ctx, credID, r.pin); err != nil && !errors.Is(err, hid.ErrNoCredentials) {
			data.Error, data.Orphaned = err.Error(), true
			r.e.log().Warn("could not remove the unregistered passkey from the key", "key", r.dev.Path(), "err", err)
		}
	}
	if data.Orphaned {
		r.orphans = append(r.orphans, id)
		r.emit(StepCleanup, phaseInfo, "the unregistered passkey %s stays on the key (%s): %s", id, why, data.Error)
	} else {
		r.emit(StepCleanup, phaseInfo, "removed the unregistered passkey from the key (%s)", why)
	}
	r.journal(StepCleanup, phaseDone, data)
}

// withOrphans names the credentials this run left on the key in a
// failure (Error.Orphans), so the operator learns exactly what stays there
// and what to do about it (the CLI words it).
func (r *run) withOrphans(err error) error {
	var ee *Error
	if len(r.orphans) == 0 || !errors.As(err, &ee) {
		return err
	}
	ee.Orphans = append(ee.Orphans[:0], r.orphans...)
	return err
}

// removeOrphans retries, once the PIN is known, the deletion of
// credentials an earlier attempt of this job left on the key.
func (r *run) removeOrphans(ctx context.Context) {
	if r.caps.CredMgmt == keycaps.CredMgmtNone || r.pin == nil {
		r.orphans = append(r.orphans, r.prev.orphans()...)
		return
	}
	for _, id := range r.prev.orphans() {
		data := store.CleanupDone{CredentialID: id, Why: "left by an earlier attempt of this job"}
		err := r.dev.DeleteCredential(ctx, b64dec(id), r.pin)
		if err != nil && !errors.Is(err, hid.ErrNoCredentials) {
			data.Error, data.Orphaned = err.Error(), true
			r.orphans = append(r.orphans, id)
		} else {
			r.emit(StepCleanup, phaseInfo, "removed the passkey %s an earlier attempt left on the key", id)
		}
		r.journal(StepCleanup, phaseDone, data)
	}
}

// ---- key identity --------------------------------------------------------------

// recogniseBySerial looks the key's serial number up in the recorded
// results: a key recorded for another user is reported (info event and
// journal note), not refused.
func (r *run) recogniseBySerial(ctx context.Context) {
	if r.req.Serial == "" || r.job == nil {
		return
	}
	rs, err := r.e.Store.Results(ctx, store.ResultFilter{Serial: r.req.Serial})
	if err != nil {
		return
	}
	r.noteKnown(rs, "serial")
}

func (r *run) noteKnown(rs []store.Result, by string) {
	for _, res := range rs {
		if strings.EqualFold(res.UPN, r.user.UPN) || res.JobID == r.job.ID || r.known[res.JobID] {
			continue
		}
		if r.known == nil {
			r.known = map[string]bool{}
		}
		r.known[res.JobID] = true
		r.knownFor = append(r.knownFor, res.UPN)
		r.emit(StepInspect, phaseInfo, "this key was enrolled for %s on %s (job %s)", res.UPN,
			res.RecordedAt.Local().Format("2006-01-02"), short(res.JobID))
		r.journal(StepInspect, phaseInfo, store.InspectInfo{EnrolledFor: res.UPN, EnrolledJob: res.JobID,
			EnrolledAt: res.RecordedAt, By: by})
	}
}

// checkBuiltInUV refuses Request.UVFingerprint, before any side effect,
// on a key that cannot verify its user by fingerprint now: built-in UV
// configured (getInfo uv true: a fingerprint is enrolled) and a
// pinUvAuthToken to get by it (getPinUvAuthTokenUsingUvWithPermissions,
// CTAP 2.1 §6.5.5.7.3, which libfido2 uses for uv without a PIN).
func (r *run) checkBuiltInUV() error {
	uv, uvOK := r.info.Option("uv")
	tok, _ := r.info.Option("pinUvAuthToken")
	switch {
	case !uvOK:
		return stepErr(StepInspect, fmt.Errorf("%w: %w", ErrUnsupportedSetting, hid.ErrUnsupported),
			"drop --uv-fingerprint: this key verifies its user by PIN only",
			"%s has no built-in user verification (no fingerprint sensor)", r.dev.Path())
	case !uv:
		return stepErr(StepInspect, fmt.Errorf("%w: %w", ErrUnsupportedSetting, hid.ErrUnsupported),
			"enroll the owner's fingerprint first: keyprep bio enroll --key "+r.dev.Path(),
			"%s has no enrolled fingerprint (getInfo uv is false)", r.dev.Path())
	case !tok:
		return stepErr(StepInspect, fmt.Errorf("%w: %w", ErrUnsupportedSetting, hid.ErrUnsupported),
			"drop --uv-fingerprint",
			"%s cannot issue a token by fingerprint (no pinUvAuthToken option)", r.dev.Path())
	}
	return nil
}

// checkJobKey refuses, before anything is changed, to continue a job on a
// key that is not the one it began on: another model (AAGUID), another
// USB serial number, or — for a key without a serial number, once the
// job's passkey is made — a key that does not hold that passkey. The last
// is asked with HoldsCredential (a silent assertion: no touch, no PIN
// retry): a key answers CTAP2_ERR_NO_CREDENTIALS for a credential it does
// not hold. Any other answer (a key that wants user verification even
// for this) leaves the question to the self-test.
func (r *run) checkJobKey(ctx context.Context) error {
	if r.job == nil {
		return nil
	}
	const hint = "plug in the key this job began on, or abandon the job (keyprep journal abandon %s)"
	if r.job.AAGUID != "" && !strings.EqualFold(r.job.AAGUID, r.aaguid) {
		return stepErr(StepInspect, ErrJob, fmt.Sprintf(hint, short(r.job.ID)),
			"%s is a different key model (AAGUID %s) than this job's key (%s)", r.dev.Path(), r.aaguid, r.job.AAGUID)
	}
	serial := ""
	if sr, ok := r.dev.(SerialReporter); ok {
		serial = hid.CleanSerial(sr.Serial())
	}
	if r.job.Serial != "" && serial != "" && r.job.Serial != serial {
		return stepErr(StepInspect, ErrJob, fmt.Sprintf(hint, short(r.job.ID)),
			"%s is another key (serial %s) than this job's key (serial %s)", r.dev.Path(), serial, r.job.Serial)
	}
	md, ok := doneData[store.MakeCredDone](r.prev, StepMakeCred)
	cred := b64dec(md.CredentialID)
	if !ok || len(cred) == 0 || r.job.Serial != "" || r.resetPending() {
		return nil
	}
	_, held, err := HoldsCredential(ctx, r.dev, r.rpID(), [][]byte{cred}, 0)
	if !held && err == nil {
		return stepErr(StepInspect, ErrJob,
			fmt.Sprintf("plug in the key this job began on; if its passkey was deleted, abandon the job (keyprep journal abandon %s) and enroll again", short(r.job.ID)),
			"%s does not hold this job's passkey: it is not the key the job began on", r.dev.Path())
	}
	if err != nil && keyLeft(ctx, err) {
		return stepErr(StepInspect, err, "", "%s: asking the key for this job's passkey", r.dev.Path())
	}
	return nil
}
