package softkey

import (
	"bytes"
	"time"
)

// authenticatorBioEnrollment (CTAP 2.1 §6.7) parameters, subcommands and
// response members.
const (
	bioKeyModality    = 0x01
	bioKeySubCommand  = 0x02
	bioKeySubParams   = 0x03
	bioKeyProtocol    = 0x04
	bioKeyParam       = 0x05
	bioKeyGetModality = 0x06

	bioSubEnrollBegin       = 0x01
	bioSubEnrollNextSample  = 0x02
	bioSubCancelEnrollment  = 0x03
	bioSubEnumerate         = 0x04
	bioSubSetFriendlyName   = 0x05
	bioSubRemoveEnrollment  = 0x06
	bioSubGetSensorInfo     = 0x07
	bioSubParamTemplateID   = 0x01
	bioSubParamFriendlyName = 0x02
	bioSubParamTimeoutMs    = 0x03

	bioRespModality        = 0x01
	bioRespFingerprintKind = 0x02
	bioRespMaxSamples      = 0x03
	bioRespTemplateID      = 0x04
	bioRespLastStatus      = 0x05
	bioRespRemaining       = 0x06
	bioRespTemplateInfos   = 0x07
	bioRespMaxNameLength   = 0x08
)

// Sensor facts of the virtual bio key. The YubiKey Bio's values are not
// published in a source this project could cite; these are chosen
// (docs/ctap.md "Fingerprint keys").
const (
	// BioModalityFingerprint is the only modality (CTAP 2.1 §6.7.2).
	BioModalityFingerprint = 1
	// bioFingerprintKindTouch: a touch sensor (fingerprintKind 1).
	bioFingerprintKindTouch = 1
	// BioSamplesPerEnrollment is maxCaptureSamplesRequiredForEnroll: good
	// samples an enrollment needs.
	BioSamplesPerEnrollment = 5
	// BioMaxTemplates is how many fingerprints the key holds; one more is
	// CTAP2_ERR_FP_DATABASE_FULL.
	BioMaxTemplates = 5
	// BioMaxFriendlyName is maxTemplateFriendlyName in bytes.
	BioMaxFriendlyName = 64
	// maxUVRetries is the built-in user verification retry maximum
	// (uvRetries, CTAP 2.1 §6.5.2.3); then the PIN is needed.
	maxUVRetries = 3
)

// Enrollment sample feedback, lastEnrollSampleStatus (CTAP 2.1 §6.7.1).
const (
	BioFeedbackGood        byte = 0x00
	BioFeedbackPoorQuality byte = 0x07
)

// bioEnrollState is an enrollment in progress.
type bioEnrollState struct {
	id        []byte
	remaining int
}

// bioRequest is a decoded authenticatorBioEnrollment request.
type bioRequest struct {
	getModality bool
	hasModality bool
	modality    uint64
	hasSub      bool
	sub         uint64
	// rawSub is subCommandParams as sent (the authenticated bytes).
	rawSub    []byte
	sub1      []byte // templateId
	hasID     bool
	name      string
	hasName   bool
	timeoutMs uint64
	hasParam  bool
	param     []byte
}

// parseBioRequest decodes the parameter map and the subCommandParams map
// of an authenticatorBioEnrollment request (CTAP 2.1 §6.7.2). It checks
// types only; what is required depends on the subcommand.
func parseBioRequest(body []byte) (bioRequest, error) {
	var r bioRequest
	p, err := parseParams(body)
	if err != nil {
		return r, err
	}
	if _, err := p.get(bioKeyGetModality, &r.getModality); err != nil {
		return r, err
	}
	if r.hasModality, err = p.get(bioKeyModality, &r.modality); err != nil {
		return r, err
	}
	if r.hasSub, err = p.get(bioKeySubCommand, &r.sub); err != nil {
		return r, err
	}
	if r.hasParam, err = p.get(bioKeyParam, &r.param); err != nil {
		return r, err
	}
	if raw, ok := p[bioKeySubParams]; ok {
		r.rawSub = raw
		var sp params
		if err := decodeInto(raw, &sp); err != nil {
			return r, err
		}
		if sp == nil {
			return r, fail(StatusCBORUnexpectedType)
		}
		if r.hasID, err = sp.get(bioSubParamTemplateID, &r.sub1); err != nil {
			return r, err
		}
		if r.hasName, err = sp.get(bioSubParamFriendlyName, &r.name); err != nil {
			return r, err
		}
		if _, err = sp.get(bioSubParamTimeoutMs, &r.timeoutMs); err != nil {
			return r, err
		}
	}
	return r, nil
}

// bioEnrollment implements authenticatorBioEnrollment (0x09, CTAP 2.1
// §6.7) and its FIDO_2_1_PRE alias 0x40 for models that have the command.
// getModality and getFingerprintSensorInfo need no authentication;
// cancelCurrentEnrollment neither. Every other subcommand needs
// pinUvAuthParam = authenticate(pinUvAuthToken, modality ‖ subCommand ‖
// subCommandParams) with the be permission (0x08). Samples come from the
// simulated finger (Config.Finger, SetFinger).
func (a *Authenticator) bioEnrollment(x *exchange, body []byte) (map[int]any, error) {
	r, err := parseBioRequest(body)
	if err != nil {
		return nil, err
	}
	if r.getModality {
		return map[int]any{bioRespModality: BioModalityFingerprint}, nil
	}
	if !r.hasSub || !r.hasModality {
		return nil, fail(StatusMissingParameter)
	}
	if r.modality != BioModalityFingerprint {
		return nil, fail(StatusInvalidParameter)
	}
	switch r.sub {
	case bioSubGetSensorInfo:
		return map[int]any{
			bioRespModality:        BioModalityFingerprint,
			bioRespFingerprintKind: bioFingerprintKindTouch,
			bioRespMaxSamples:      BioSamplesPerEnrollment,
			bioRespMaxNameLength:   BioMaxFriendlyName,
		}, nil
	case bioSubCancelEnrollment:
		a.enroll = nil
		return nil, nil
	case bioSubEnrollBegin, bioSubEnrollNextSample, bioSubEnumerate, bioSubSetFriendlyName, bioSubRemoveEnrollment:
	default:
		return nil, fail(StatusInvalidSubcommand)
	}
	if !r.hasParam {
		return nil, fail(StatusPUATRequired)
	}
	p, _ := parseParams(body) // decoded once already
	v, err := a.checkProtocol(p, bioKeyProtocol)
	if err != nil {
		return nil, err
	}
	msg := append([]byte{byte(r.modality), byte(r.sub)}, r.rawSub...)
	if err := a.verifyToken(v, msg, r.param); err != nil {
		return nil, err
	}
	if err := a.requirePermission(PermBioEnrollment, "", false); err != nil {
		return nil, err
	}
	switch r.sub {
	case bioSubEnrollBegin:
		return a.enrollBegin(x, r)
	case bioSubEnrollNextSample:
		return a.enrollNextSample(x, r)
	case bioSubEnumerate:
		if len(a.st.Templates) == 0 {
			return nil, fail(StatusInvalidOption)
		}
		infos := make([]map[int]any, 0, len(a.st.Templates))
		for _, t := range a.st.Templates {
			info := map[int]any{1: t.ID}
			if t.Name != "" {
				info[2] = t.Name
			}
			infos = append(infos, info)
		}
		return map[int]any{bioRespTemplateInfos: infos}, nil
	case bioSubSetFriendlyName:
		if !r.hasID || !r.hasName {
			return nil, fail(StatusMissingParameter)
		}
		if len(r.name) > BioMaxFriendlyName {
			return nil, fail(StatusInvalidParameter)
		}
		i := a.templateIndex(r.sub1)
		if i < 0 {
			return nil, fail(StatusInvalidOption)
		}
		a.st.Templates[i].Name = r.name
		return nil, nil
	default: // bioSubRemoveEnrollment
		if !r.hasID {
			return nil, fail(StatusMissingParameter)
		}
		i := a.templateIndex(r.sub1)
		if i < 0 {
			return nil, fail(StatusInvalidOption)
		}
		a.st.Templates = append(a.st.Templates[:i], a.st.Templates[i+1:]...)
		if len(a.st.Templates) == 0 {
			a.st.UVFailures = 0
		}
		return nil, nil
	}
}

// enrollBegin starts an enrollment (§6.7.4): a new template id, then the
// first sample.
func (a *Authenticator) enrollBegin(x *exchange, r bioRequest) (map[int]any, error) {
	if len(a.st.Templates) >= BioMaxTemplates {
		return nil, fail(StatusFPDatabaseFull)
	}
	var id []byte
	for {
		b, err := a.randBytes(2)
		if err != nil {
			return nil, err
		}
		if a.templateIndex(b) < 0 {
			id = b
			break
		}
	}
	a.enroll = &bioEnrollState{id: id, remaining: BioSamplesPerEnrollment}
	out, err := a.captureEnrollSample(x, r.timeoutMs)
	if err != nil {
		return nil, err
	}
	out[bioRespTemplateID] = id
	return out, nil
}

// enrollNextSample captures one more sample of the enrollment in
// progress (§6.7.5); the last good one stores the template.
func (a *Authenticator) enrollNextSample(x *exchange, r bioRequest) (map[int]any, error) {
	if !r.hasID {
		return nil, fail(StatusMissingParameter)
	}
	if a.enroll == nil || !bytes.Equal(a.enroll.id, r.sub1) {
		return nil, fail(StatusInvalidParameter)
	}
	return a.captureEnrollSample(x, r.timeoutMs)
}

// captureEnrollSample takes one sample from the simulated finger: a good
// one counts (and completes the enrollment when it is the last), a poor
// one is reported as such, a timeout fails the request with the
// enrollment still in progress (the platform cancels it, §6.7.7).
func (a *Authenticator) captureEnrollSample(x *exchange, timeoutMs uint64) (map[int]any, error) {
	s, err := a.capture(x, timeoutMs)
	if err != nil {
		return nil, err
	}
	e := a.enroll
	status := BioFeedbackGood
	if s == FingerPoor {
		status = BioFeedbackPoorQuality
	} else {
		e.remaining--
	}
	if e.remaining == 0 {
		a.st.Templates = append(a.st.Templates, storedTemplate{ID: e.id})
		a.enroll = nil
	}
	return map[int]any{bioRespLastStatus: int(status), bioRespRemaining: e.remaining}, nil
}

// capture waits for the simulated finger's next sample, sending
// keepalive(UPNEEDED). A FingerTimeout sample waits Finger.Delay (at most
// timeoutMs when given) and fails with CTAP2_ERR_USER_ACTION_TIMEOUT; a
// cancel (CTAPHID_CANCEL) fails with CTAP2_ERR_KEEPALIVE_CANCEL.
func (a *Authenticator) capture(x *exchange, timeoutMs uint64) (FingerSample, error) {
	if x.ctx.Err() != nil {
		return 0, fail(StatusKeepaliveCancel)
	}
	const upNeeded = 2
	x.keepalive(upNeeded)
	s, d := a.nextSample()
	if s != FingerTimeout {
		return s, nil
	}
	if timeoutMs > 0 && timeoutMs < uint64(time.Hour/time.Millisecond) {
		d = min(d, time.Duration(timeoutMs)*time.Millisecond)
	}
	if d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		tick := time.NewTicker(a.cfg.KeepaliveInterval)
		defer tick.Stop()
	wait:
		for {
			select {
			case <-x.ctx.Done():
				return 0, fail(StatusKeepaliveCancel)
			case <-timer.C:
				break wait
			case <-tick.C:
				x.keepalive(upNeeded)
			}
		}
	}
	return 0, fail(StatusUserActionTimeout)
}

func (a *Authenticator) templateIndex(id []byte) int {
	for i, t := range a.st.Templates {
		if bytes.Equal(t.ID, id) {
			return i
		}
	}
	return -1
}

func (a *Authenticator) templateNames() []string {
	var out []string
	for _, t := range a.st.Templates {
		out = append(out, t.Name)
	}
	return out
}

// hasBuiltInUV reports whether the model has built-in user verification
// (a bio key: getInfo option "uv" present).
func (a *Authenticator) hasBuiltInUV() bool {
	_, ok := a.model.GetInfo.Option("uv")
	return ok && a.model.Behaviour.BioEnrollment
}

// uvConfigured reports whether built-in user verification is configured:
// a fingerprint is enrolled (getInfo uv true, CTAP 2.1 §6.4).
func (a *Authenticator) uvConfigured() bool {
	return a.hasBuiltInUV() && len(a.st.Templates) > 0
}

// uvRetries is the remaining built-in UV attempts (0 without built-in UV).
func (a *Authenticator) uvRetries() int {
	if !a.hasBuiltInUV() {
		return 0
	}
	return max(maxUVRetries-a.st.UVFailures, 0)
}

// performBuiltInUV matches the simulated finger against the enrolled ones
// (CTAP 2.1 §6.5.5.7.3 performBuiltInUv): a good sample matches and
// restores uvRetries; a poor one uses one attempt (CTAP2_ERR_UV_INVALID,
// CTAP2_ERR_UV_BLOCKED when none is left); a timeout is
// CTAP2_ERR_USER_ACTION_TIMEOUT.
func (a *Authenticator) performBuiltInUV(x *exchange) error {
	if !a.uvConfigured() {
		return fail(StatusNotAllowed)
	}
	if a.uvRetries() == 0 {
		return fail(StatusUVBlocked)
	}
	s, err := a.capture(x, 0)
	if err != nil {
		return err
	}
	if s == FingerGood {
		a.st.UVFailures = 0
		return nil
	}
	a.st.UVFailures++
	if a.uvRetries() == 0 {
		return fail(StatusUVBlocked)
	}
	return fail(StatusUVInvalid)
}
