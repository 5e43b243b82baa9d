package enroll

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/keycaps"
	"github.com/keyprep/keyprep/internal/store"
	"github.com/keyprep/keyprep/internal/webauthn"
)

type clientData struct {
	json []byte
	hash []byte
}

func webauthnGetClientData(rpID string) (clientData, error) {
	j, err := webauthn.AssertionClientData(rpID)
	if err != nil {
		return clientData{}, err
	}
	h := sha256.Sum256(j)
	return clientData{json: j, hash: h[:]}, nil
}

// credential makes the passkey on the key and registers it with Entra,
// fetching new options when the challenge expired. On resume it first
// reconciles a registration that was in flight.
func (r *run) credential(ctx context.Context) error {
	if d, ok := doneData[store.RegisterDone](r.prev, StepRegister); ok {
		md, _ := doneData[store.MakeCredDone](r.prev, StepMakeCred)
		r.method = &Method{ID: d.MethodID, DisplayName: d.DisplayName, Reconciled: d.Reconciled}
		r.credID, r.coseKey, r.credAAG = b64dec(md.CredentialID), b64dec(md.PublicKey), md.AAGUID
		return nil
	}
	if b, ok := beginData[store.RegisterBegin](r.prev, StepRegister); ok {
		found, err := r.reconcileRegistration(ctx, b)
		if err != nil {
			return err
		}
		if found {
			return nil
		}
	}
	if err := r.listExisting(ctx); err != nil {
		return err
	}
	attempts := r.e.MaxChallengeAttempts
	if attempts <= 0 {
		attempts = 3
	}
	for attempt := 1; ; attempt++ {
		err := r.makeAndRegister(ctx, attempt)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrChallengeExpired) || attempt >= attempts {
			return err
		}
		r.emit(StepOptions, phaseInfo, "the challenge expired before Entra got the registration; fetching new options and creating the passkey again (attempt %d of %d)", attempt+1, attempts)
	}
}

// listExisting reports passkeys for the RP the key already holds (never
// overwritten silently: a credential for the same user is replaced by
// makeCredential only if Entra does not know it — the exclude list stops
// it otherwise).
func (r *run) listExisting(ctx context.Context) error {
	if r.caps.CredMgmt == keycaps.CredMgmtNone {
		return nil
	}
	creds, err := r.dev.Credentials(ctx, r.rpID(), r.pin)
	if err != nil {
		if errors.Is(err, hid.ErrPINInvalid) || errors.Is(err, hid.ErrPINAuthBlocked) || errors.Is(err, hid.ErrPINBlocked) ||
			errors.Is(err, context.Canceled) || hid.CodeOf(err) == hid.CodeTX || hid.CodeOf(err) == hid.CodeRX {
			return stepErr(StepInspect, err, "", "%s: listing the passkeys on the key", r.dev.Path())
		}
		if !errors.Is(err, hid.ErrNotFound) && !errors.Is(err, hid.ErrNoCredentials) {
			r.e.log().Debug("listing resident credentials failed", "key", r.dev.Path(), "err", err)
		}
		return nil
	}
	var users, ids []string
	same := false
	for _, c := range creds {
		users = append(users, c.UserName)
		ids = append(ids, b64.EncodeToString(c.ID))
		if strings.EqualFold(c.UserName, r.user.UPN) {
			same = true
		}
	}
	if len(ids) > 0 {
		// A key keyprep recorded for another user is recognised by the
		// passkeys it holds.
		if rs, err := r.e.Store.Results(ctx, store.ResultFilter{CredentialIDs: ids}); err == nil {
			r.noteKnown(rs, "credential")
		}
	}
	if len(creds) > 0 {
		r.emit(StepInspect, phaseInfo, "the key already holds %d passkey(s) for %s: %s", len(creds), r.rpID(), strings.Join(users, ", "))
	}
	if same {
		r.emit(StepInspect, phaseInfo, "one of them is for %s: if Entra knows it, the key will be refused as already enrolled; if not (left by an interrupted run), it is replaced", r.user.UPN)
	}
	r.journal(StepInspect, phaseInfo, store.InspectInfo{ResidentCredentials: len(creds), SameUser: same})
	return nil
}

// creation is one round of creationOptions: what Graph sent and what the
// key is asked for.
type creation struct {
	attempt int
	opts    *webauthn.CreationOptions
	params  *webauthn.MakeCredentialRequest
	cdj     []byte // clientDataJSON
	cdh     []byte // its SHA-256
}

// makeAndRegister is one attempt at the passkey: fresh options, the
// credential made on the key and checked, then its registration.
func (r *run) makeAndRegister(ctx context.Context, attempt int) error {
	c, err := r.creationOptions(ctx, attempt)
	if err != nil {
		return err
	}
	cred, ad, err := r.makeCredential(ctx, c)
	if err != nil {
		return err
	}
	name, body, err := r.registrationBody(c, cred, ad)
	if err != nil {
		return err
	}
	return r.register(ctx, c, cred.ID, name, body)
}

// creationOptions fetches and checks passkey creation options from Graph.
func (r *run) creationOptions(ctx context.Context, attempt int) (*creation, error) {
	raw, err := r.e.Directory.CreationOptions(ctx, r.user.ID, r.req.ChallengeTimeout)
	if err != nil {
		return nil, stepErr(StepOptions, err, "", "cannot get passkey creation options for %s", r.user.UPN)
	}
	opts, err := webauthn.ParseCreationOptions(raw)
	if err != nil {
		return nil, stepErr(StepOptions, err, "report this with keyprep --log-level debug output", "Graph returned creation options keyprep cannot read")
	}
	c := &creation{attempt: attempt, opts: opts, cdj: webauthn.ClientDataJSON(opts)}
	c.cdh = webauthn.ClientDataHash(c.cdj)
	var allow []webauthn.ParamsOption
	if len(r.e.RPIDs) > 0 {
		allow = append(allow, webauthn.AllowRPID(r.e.RPIDs...))
	}
	if c.params, err = webauthn.MakeCredentialParams(opts, c.cdh, allow...); err != nil {
		return nil, stepErr(StepOptions, err, "", "the creation options cannot be used")
	}
	// Ask only for what the key lists; the checks of its answer follow
	// what was sent.
	if c.params, err = r.fitExtensions(c.params); err != nil {
		return nil, err
	}
	r.journal(StepOptions, phaseDone, store.OptionsDone{Attempt: attempt, ChallengeExpiry: opts.ChallengeExpiry,
		ExcludeCredentials: len(c.params.ExcludeList), RPID: opts.RP.ID})
	if opts.ChallengeExpired(r.e.now()) {
		return nil, stepErr(StepOptions, ErrChallengeExpired, "check this machine's clock", "the challenge Graph issued has already expired")
	}
	return c, nil
}

// makeCredential creates the passkey on the key (journaled around it) and
// checks the key's answer; a credential that fails the checks is removed
// from the key again.
func (r *run) makeCredential(ctx context.Context, c *creation) (*hid.Credential, *webauthn.AuthData, error) {
	p := c.params
	req := hid.MakeCredentialRequest{
		ClientDataHash:     p.ClientDataHash,
		RP:                 hid.RelyingParty{ID: p.RPID, Name: p.RPName},
		User:               hid.User{ID: p.UserID, Name: p.UserName, DisplayName: p.UserDisplayName},
		Algorithm:          r.pickAlgorithm(p.Algorithms),
		ResidentKey:        p.ResidentKey,
		UV:                 p.UV,
		ExcludeList:        p.ExcludeList,
		CredProtect:        hid.CredProtect(p.CredProtect),
		EnforceCredProtect: p.EnforceCredProtect,
		HMACSecret:         p.HMACSecret,
		MinPINLengthExt:    p.MinPINLength,
	}
	if err := r.begin(ctx, StepMakeCred, store.MakeCredBegin{Attempt: c.attempt, UserHandle: b64.EncodeToString(p.UserID)}); err != nil {
		return nil, nil, err
	}
	uvPIN := r.pin
	if r.req.UVFingerprint {
		// Built-in UV: libfido2 gets the token by fingerprint (checked
		// at inspect), and the credential carries UV from the finger.
		uvPIN, req.UV = nil, true
		r.emit(StepMakeCred, EventTouch, "touch the fingerprint sensor of %s with the enrolled finger now: creating the passkey for %s", r.dev.Path(), r.user.UPN)
	} else {
		r.emit(StepMakeCred, EventTouch, "touch the key %s now: creating the passkey for %s", r.dev.Path(), r.user.UPN)
	}
	cred, err := r.dev.MakeCredential(ctx, req, uvPIN)
	if err != nil && cred != nil && len(cred.ID) > 0 {
		// The key created the credential and the binding refused its
		// answer (an enforced credProtect level it did not apply).
		r.cleanup(ctx, cred.ID, "the key's answer failed the binding's checks")
		return nil, nil, stepErr(StepMakeCred, err, "this key does not behave as Entra requires; try another key",
			"%s: the new passkey failed keyprep's checks", r.dev.Path())
	}
	if err != nil {
		if errors.Is(err, hid.ErrCredentialExcluded) {
			return nil, nil, stepErr(StepMakeCred, fmt.Errorf("%w: %w", ErrExcluded, err),
				"use another key, or remove the existing passkey first (keyprep methods list/delete --user "+r.user.UPN+")",
				"this key already holds a passkey for %s", r.user.UPN)
		}
		return nil, nil, stepErr(StepMakeCred, err, "", "%s: creating the passkey", r.dev.Path())
	}
	ad, err := r.checkCredential(ctx, c, cred)
	if err != nil {
		return nil, nil, err
	}
	r.credID, r.coseKey, r.credAAG = cred.ID, ad.PublicKeyCOSE, ad.AAGUID.String()
	cid := b64.EncodeToString(cred.ID)
	r.later(func(tx *store.Tx) error { return tx.UpdateJob(r.job.ID, store.JobUpdate{CredentialID: &cid}) })
	r.done(StepMakeCred, store.MakeCredDone{CredentialID: b64.EncodeToString(cred.ID), PublicKey: b64.EncodeToString(ad.PublicKeyCOSE),
		AAGUID: r.credAAG, Alg: ad.Algorithm, Flags: byte(ad.Flags), CredProtect: ad.Extensions.CredProtect})
	return cred, ad, nil
}

// checkCredential runs keyprep's local checks of a new credential
// (WebAuthn L3 §7.1 as far as a client can) and the policy's attestation
// rule.
func (r *run) checkCredential(ctx context.Context, c *creation, cred *hid.Credential) (*webauthn.AuthData, error) {
	if err := webauthn.CheckRegistration(c.params, c.cdh, cred.Format, cred.AuthData, cred.AttStmt); err != nil {
		r.cleanup(ctx, cred.ID, "the key's answer failed the local checks")
		return nil, stepErr(StepMakeCred, err, "this key does not behave as Entra requires; try another key", "%s: the new passkey failed keyprep's checks", r.dev.Path())
	}
	ad, err := webauthn.ParseAuthData(cred.AuthData)
	if err != nil {
		return nil, stepErr(StepMakeCred, err, "", "authenticator data")
	}
	if r.elig.AttestationEnforced && !webauthn.HasAttestationCertificate(cred.Format, cred.AttStmt) {
		r.cleanup(ctx, cred.ID, "attestation enforced and the key sent no certificate")
		return nil, r.attestationRefused(StepMakeCred, "attests itself without a certificate", true)
	}
	return ad, nil
}

// registrationBody builds the fido2AuthenticationMethod the credential is
// registered as, under its display name.
func (r *run) registrationBody(c *creation, cred *hid.Credential, ad *webauthn.AuthData) (name string, body []byte, err error) {
	name, err = webauthn.DisplayName(r.req.DisplayNameTemplate, r.req.Model, r.req.Serial, r.e.now())
	if err != nil {
		return "", nil, stepErr(StepRegister, err, "shorten --display-name", "display name")
	}
	att, err := webauthn.AttestationObject(cred.Format, cred.AuthData, cred.AttStmt)
	if err != nil {
		return "", nil, stepErr(StepRegister, err, "", "attestation object")
	}
	body, err = webauthn.RegistrationBody(name, cred.ID, c.cdj, att, webauthn.ExtensionResults(c.params, ad, false))
	if err != nil {
		return "", nil, stepErr(StepRegister, err, "", "registration body")
	}
	return name, body, nil
}

// register POSTs the registration (journaled around it) and classifies a
// failure: outcome unknown (resume reconciles), challenge expired (a new
// attempt), or refused (the credential is removed from the key).
func (r *run) register(ctx context.Context, c *creation, credID []byte, name string, body []byte) error {
	if c.opts.ChallengeExpired(r.e.now()) {
		return stepErr(StepRegister, ErrChallengeExpired, "", "the challenge expired while waiting for the key")
	}
	if err := r.begin(ctx, StepRegister, store.RegisterBegin{DisplayName: name, CredentialID: b64.EncodeToString(credID),
		Started: r.e.now().UTC()}); err != nil {
		return err
	}
	m, err := r.e.Directory.Register(ctx, r.user.ID, body)
	if err != nil {
		switch {
		case errors.Is(err, ErrOutcomeUnknown):
			return stepErr(StepRegister, err, "run keyprep journal resume: it checks Entra and finishes or reports the job",
				"the registration for %s may or may not have reached Entra", r.user.UPN)
		case errors.Is(err, ErrChallengeExpired):
			return stepErr(StepRegister, err, "", "Entra refused the registration: the challenge expired")
		case errors.Is(err, context.Canceled):
			return stepErr(StepRegister, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err), "run keyprep journal resume to reconcile with Entra",
				"cancelled while registering %s", r.user.UPN)
		}
		if refused(err) {
			r.cleanup(ctx, credID, "Entra refused the registration")
		}
		return stepErr(StepRegister, err, "", "Entra refused the passkey for %s", r.user.UPN)
	}
	r.method = m
	r.done(StepRegister, store.RegisterDone{MethodID: m.ID, DisplayName: m.DisplayName, Reconciled: m.Reconciled})
	return nil
}

// refused: Graph answered with a definite client error (4xx other than
// 408/429), so the registration did not land.
func refused(err error) bool { return errors.Is(err, ErrRefused) }

// pickAlgorithm prefers ES256 when the key supports it.
func (r *run) pickAlgorithm(offered []int) int {
	supports := func(alg int) bool {
		if len(r.info.Algorithms) == 0 {
			return alg == hid.ES256 // CTAP 2.0 keys: ES256 is mandatory
		}
		for _, a := range r.info.Algorithms {
			if a.COSE == alg {
				return true
			}
		}
		return false
	}
	for _, a := range offered {
		if supports(a) {
			return a
		}
	}
	if len(offered) > 0 {
		return offered[0]
	}
	return hid.ES256
}

// reconcileRegistration decides whether a registration that was in flight
// when the job stopped reached Entra: a method created since it began with
// the same display name that no recorded result claims.
func (r *run) reconcileRegistration(ctx context.Context, begin store.RegisterBegin) (bool, error) {
	name, started := begin.DisplayName, begin.Started
	ms, err := r.e.Directory.Methods(ctx, r.user.ID)
	if err != nil {
		return false, stepErr(StepRegister, err, "", "cannot list %s's passkeys to reconcile the interrupted registration", r.user.UPN)
	}
	var found []Method
	for _, m := range ms {
		if m.DisplayName != name {
			continue
		}
		if !started.IsZero() && !m.CreatedDateTime.IsZero() && m.CreatedDateTime.Before(started.Add(-5*time.Minute)) {
			continue
		}
		if _, err := r.e.Store.ResultForMethod(ctx, r.user.ID, m.ID); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return false, stepErr(StepRegister, err, "", "cannot read results")
		}
		found = append(found, m)
	}
	switch len(found) {
	case 0:
		r.emit(StepRegister, phaseInfo, "the interrupted registration did not reach Entra; creating the passkey again")
		return false, nil
	case 1:
		md, _ := doneData[store.MakeCredDone](r.prev, StepMakeCred)
		cid := b64dec(md.CredentialID)
		if len(cid) == 0 || md.CredentialID != begin.CredentialID {
			return false, stepErr(StepRegister, ErrOutcomeUnknown, "check with keyprep methods list --user "+r.user.UPN,
				"a method named %q appeared but the journal does not hold its credential", name)
		}
		m := found[0]
		m.Reconciled = true
		r.method = &m
		r.credID, r.coseKey, r.credAAG = cid, b64dec(md.PublicKey), md.AAGUID
		r.emit(StepRegister, phaseInfo, "the interrupted registration reached Entra (method %s)", m.ID)
		r.journal(StepRegister, phaseDone, store.RegisterDone{MethodID: m.ID, DisplayName: m.DisplayName, Reconciled: true})
		return true, nil
	default:
		return false, stepErr(StepRegister, ErrOutcomeUnknown, "compare with keyprep methods list --user "+r.user.UPN+" and delete the duplicate",
			"%d passkeys named %q appeared since the interrupted registration", len(found), name)
	}
}

// ---- self-test ---------------------------------------------------------------

// selfTest proves the key works before it leaves the bench: a getAssertion
// for the RP with the new credential and the PIN (user verification, no
// second touch), its signature verified with the attested public key.
func (r *run) selfTest(ctx context.Context) error {
	if r.prev.has(StepForcePIN) && r.info.ForcePINChange {
		// Verified before forcePINChange began (it only starts after).
		d, _ := doneData[store.SelfTestDone](r.prev, StepSelfTest)
		r.verified = d.Verified
		return nil
	}
	// The self-test changes nothing a crash could lose: a getAssertion
	// without user presence moves only the key's signature counter. So its
	// "begin" is queued with the registration's "done" and reaches disk with
	// the next durable row (forcePINChange's begin, or the result), without
	// a disk sync of its own. A crash here leaves the journal as a crash
	// right after the registration does: resume finds the passkey by
	// listing the user's methods and tests it again.
	r.journal(StepSelfTest, phaseBegin, nil)
	r.hook(StepSelfTest, HookBegin)
	cd, err := webauthnGetClientData(r.rpID())
	if err != nil {
		return stepErr(StepSelfTest, err, "", "self-test")
	}
	as, err := r.dev.GetAssertion(ctx, hid.AssertionRequest{RPID: r.rpID(), ClientDataHash: cd.hash,
		AllowList: [][]byte{r.credID}, UV: true, NoUP: true}, r.pin)
	if err != nil {
		return stepErr(StepSelfTest, fmt.Errorf("%w: %w", ErrSelfTest, err), "the passkey is registered but the key did not use it: check the key (keyprep info) and delete the method if the key is faulty",
			"%s: self-test assertion", r.dev.Path())
	}
	if len(as) != 1 || string(as[0].CredentialID) != string(r.credID) {
		return stepErr(StepSelfTest, ErrSelfTest, "", "%s answered the self-test with a different credential", r.dev.Path())
	}
	ad, err := webauthn.VerifyAssertion(r.coseKey, r.rpID(), as[0].AuthData, cd.hash, as[0].Sig, true)
	if err != nil {
		return stepErr(StepSelfTest, fmt.Errorf("%w: %w", ErrSelfTest, err), "the key's signature does not match the registered passkey: delete the method and use another key", "%s: self-test", r.dev.Path())
	}
	r.verified = true
	r.done(StepSelfTest, store.SelfTestDone{Verified: true, SignCount: ad.SignCount})
	return nil
}

// ---- force PIN change -------------------------------------------------------

func (r *run) forcePIN(ctx context.Context) error {
	if !r.req.ForcePINChange {
		return nil
	}
	if r.info.ForcePINChange {
		// Applied before the interruption.
		r.journal(StepForcePIN, phaseSkipped, store.ForcePINSkipped{Reconciled: true})
		return nil
	}
	if err := r.begin(ctx, StepForcePIN, nil); err != nil {
		return err
	}
	if err := r.dev.ForcePINChange(ctx, r.pin); err != nil {
		return stepErr(StepForcePIN, err, "", "%s: force PIN change", r.dev.Path())
	}
	r.done(StepForcePIN, nil)
	return nil
}

// ---- record -----------------------------------------------------------------

func (r *run) record(ctx context.Context) (*Result, error) {
	res := &Result{
		User: r.user.DisplayName, UPN: r.user.UPN, UserID: r.user.ID,
		MethodID: r.method.ID, CredentialID: b64.EncodeToString(r.credID), AAGUID: r.credAAG, Model: r.req.Model,
		DisplayName: r.method.DisplayName, Verified: r.verified, PINEscrow: r.escrow, ForcePINChange: r.req.ForcePINChange,
		CreatedDateTime: r.method.CreatedDateTime, KeyPath: r.dev.Path(), Reconciled: r.method.Reconciled,
		Serial: r.req.Serial, Firmware: int64(r.info.FirmwareVersion), Skipped: r.skipped,
	}
	if res.AAGUID == "" {
		res.AAGUID = r.aaguid
	}
	if r.method.Model != "" {
		res.Model = r.method.Model
	}
	if res.CreatedDateTime.IsZero() {
		res.CreatedDateTime = r.e.now().UTC()
	}
	sr := &store.Result{JobID: r.job.ID, UPN: res.UPN, UserID: res.UserID, MethodID: res.MethodID, CredentialID: res.CredentialID,
		AAGUID: res.AAGUID, Model: res.Model, DisplayName: res.DisplayName, KeyPath: res.KeyPath, Verified: res.Verified,
		ForcePINChange: res.ForcePINChange, Reconciled: res.Reconciled, CreatedDateTime: res.CreatedDateTime,
		Serial: res.Serial, Firmware: res.Firmware}
	if r.escrow != nil {
		sr.EscrowID = r.escrow.ID
		sr.PINEscrow = r.escrow.Kind
		if r.escrow.Location != "" {
			sr.PINEscrow += ":" + r.escrow.Location
		}
	}
	put := func(tx *store.Tx) error { return tx.RecordResult(sr) }
	if err := r.atomicStep(ctx, StepRecord, put); err != nil {
		return nil, stepErr(StepRecord, err, "the passkey is registered: note method "+res.MethodID+" for "+res.UPN, "cannot record the result")
	}
	res.JobID = r.job.ID
	if r.pinSet && r.pin != nil && r.req.PINMode != PINOperator {
		// A generated PIN, shown once; one the person typed is theirs
		// and never echoed.
		res.PIN = append([]byte(nil), r.pin...)
	}
	return res, nil
}
