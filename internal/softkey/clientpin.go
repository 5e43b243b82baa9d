package softkey

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"unicode/utf8"
)

// clientPIN subcommands (CTAP 2.1 §6.5.5).
const (
	pinSubGetRetries          = 0x01
	pinSubGetKeyAgreement     = 0x02
	pinSubSetPIN              = 0x03
	pinSubChangePIN           = 0x04
	pinSubGetPinToken         = 0x05
	pinSubGetTokenUsingUV     = 0x06
	pinSubGetUVRetries        = 0x07
	pinSubGetTokenUsingPinPrm = 0x09
)

// clientPIN request keys (§6.5.5 "authenticatorClientPIN" parameters).
const (
	pinKeyProtocol     = 0x01
	pinKeySubCommand   = 0x02
	pinKeyKeyAgreement = 0x03
	pinKeyParam        = 0x04
	pinKeyNewPinEnc    = 0x05
	pinKeyPinHashEnc   = 0x06
	pinKeyPermissions  = 0x09
	pinKeyRPID         = 0x0A
)

// clientPIN handles authenticatorClientPIN (0x06, CTAP 2.1 §6.5.5).
func (a *Authenticator) clientPIN(x *exchange, body []byte) (map[int]any, error) {
	p, err := parseParams(body)
	if err != nil {
		return nil, err
	}
	var sub uint64
	if err := p.need(pinKeySubCommand, &sub); err != nil {
		return nil, err
	}
	switch sub {
	case pinSubGetRetries:
		return a.getPINRetries()
	case pinSubGetTokenUsingUV, pinSubGetUVRetries:
		// Built-in user verification exists on bio models (option "uv"
		// present); it is configured once a fingerprint is enrolled.
		if !a.hasBuiltInUV() {
			return nil, fail(StatusInvalidSubcommand)
		}
		if sub == pinSubGetUVRetries {
			// §6.5.5.3 getUVRetries: {uvRetries}.
			return map[int]any{5: a.uvRetries()}, nil
		}
		if !a.uvConfigured() {
			return nil, fail(StatusNotAllowed)
		}
	case pinSubGetTokenUsingPinPrm:
		if !a.model.hasPinUvAuthToken() {
			// Only keys with the pinUvAuthToken option know 0x09 (§6.5.5.7.2).
			return nil, fail(StatusInvalidSubcommand)
		}
	case pinSubGetKeyAgreement, pinSubSetPIN, pinSubChangePIN, pinSubGetPinToken:
	default:
		return nil, fail(StatusInvalidSubcommand)
	}
	v, err := a.checkProtocol(p, pinKeyProtocol)
	if err != nil {
		return nil, err
	}
	proto := protocolFor(v)
	switch sub {
	case pinSubGetKeyAgreement:
		// §6.5.5.4: return the protocol's key-agreement public key.
		return map[int]any{1: coseKeyAgreement(a.kaKeys[v].PublicKey())}, nil
	case pinSubSetPIN:
		return nil, a.setPIN(p, v, proto)
	case pinSubChangePIN:
		return nil, a.changePIN(p, v, proto)
	case pinSubGetTokenUsingUV:
		return a.getUVToken(x, p, v, proto)
	default:
		return a.getPINToken(p, v, proto, sub)
	}
}

// getPINRetries implements §6.5.5.3: {pinRetries, powerCycleState}.
func (a *Authenticator) getPINRetries() (map[int]any, error) {
	if a.st.PINHash == nil && !a.cfg.GetRetriesReportsCounter {
		return nil, fail(a.cfg.GetRetriesWithoutPIN)
	}
	return map[int]any{
		3: a.st.PINRetries,
		4: a.st.ConsecutiveMismatches >= softLockAttempts,
	}, nil
}

// sharedSecret decapsulates the platform's keyAgreement (§6.5.4).
func (a *Authenticator) sharedSecret(p params, v int, proto pinProtocol) ([]byte, error) {
	raw := p[pinKeyKeyAgreement]
	pub, err := parseCOSEKeyAgreementAlg(raw, a.model.Behaviour.StrictKeyAgreementAlg)
	if err != nil {
		return nil, err
	}
	return ecdhShared(proto, a.kaKeys[v], pub)
}

// pinLength measures a PIN in the configured unit (§6.5.1: code points).
func (a *Authenticator) pinLength(pin []byte) int {
	if a.cfg.PINLengthUnit == Bytes {
		return len(pin)
	}
	return utf8.RuneCount(pin)
}

// decryptNewPIN decrypts newPinEnc and applies the PIN policy (§6.5.1,
// §6.5.5.5 steps 5–8): the padded PIN is 64 bytes, the PIN itself at most
// 63 bytes and at least minPINLength long.
func (a *Authenticator) decryptNewPIN(proto pinProtocol, shared, newPinEnc []byte) ([]byte, error) {
	padded, err := proto.decrypt(shared, newPinEnc)
	if err != nil || len(padded) != 64 {
		return nil, fail(StatusInvalidParameter)
	}
	end := bytes.IndexByte(padded, 0)
	if end < 0 { // a 64-byte PIN: no room for the terminating padding
		return nil, fail(StatusPINPolicyViolation)
	}
	pin := padded[:end]
	if a.pinLength(pin) < a.st.MinPINLength {
		return nil, fail(StatusPINPolicyViolation)
	}
	if n := a.model.Behaviour.MaxPINLength; n > 0 && a.pinLength(pin) > n {
		return nil, fail(StatusPINPolicyViolation)
	}
	if !pinComplexityOK(a.model.Behaviour.PINComplexity, pin, a.st.MinPINLength) {
		return nil, fail(StatusPINPolicyViolation)
	}
	return pin, nil
}

func (a *Authenticator) storePIN(pin []byte) {
	h := sha256.Sum256(pin)
	a.st.PINHash = append([]byte(nil), h[:16]...)
	a.st.PINLength = a.pinLength(pin)
	a.st.PINRetries = a.maxRetries()
	clear(h[:])
}

// setPIN implements §6.5.5.5.
func (a *Authenticator) setPIN(p params, v int, proto pinProtocol) error {
	var param, newPinEnc []byte
	if !p.has(pinKeyKeyAgreement) {
		return fail(StatusMissingParameter)
	}
	if err := p.need(pinKeyParam, &param); err != nil {
		return err
	}
	if err := p.need(pinKeyNewPinEnc, &newPinEnc); err != nil {
		return err
	}
	if a.st.PINHash != nil {
		return fail(StatusPINAuthInvalid)
	}
	shared, err := a.sharedSecret(p, v, proto)
	if err != nil {
		return err
	}
	if !verifyParam(proto, shared, newPinEnc, param) {
		return fail(StatusPINAuthInvalid)
	}
	pin, err := a.decryptNewPIN(proto, shared, newPinEnc)
	if err != nil {
		return err
	}
	a.storePIN(pin)
	clear(pin)
	return nil
}

// checkPINHashEnc is the common PIN verification of changePIN and the
// token subcommands (§6.5.5.6 steps 5–8, §6.5.5.7.2 steps 5–9): refuse when
// blocked or soft-locked, decrement pinRetries BEFORE comparing, and on a
// mismatch regenerate the key-agreement key and report 0x31, 0x34 (third
// consecutive mismatch since power-up) or 0x32 (no retries left).
func (a *Authenticator) checkPINHashEnc(proto pinProtocol, shared, pinHashEnc []byte) error {
	if a.st.PINRetries == 0 {
		return fail(StatusPINBlocked)
	}
	if a.st.ConsecutiveMismatches >= softLockAttempts {
		return fail(StatusPINAuthBlocked)
	}
	want := 16
	if proto.version() == 2 {
		want = 32
	}
	if len(pinHashEnc) != want {
		return fail(StatusInvalidParameter)
	}
	a.st.PINRetries--
	got, err := proto.decrypt(shared, pinHashEnc)
	if err != nil || len(got) != 16 || subtle.ConstantTimeCompare(got, a.st.PINHash) != 1 {
		a.st.ConsecutiveMismatches++
		for v := range a.kaKeys {
			if k, err := a.newECDHKey(); err == nil {
				a.kaKeys[v] = k
			}
		}
		switch {
		case a.st.PINRetries == 0:
			return fail(StatusPINBlocked)
		case a.st.ConsecutiveMismatches >= softLockAttempts:
			return fail(StatusPINAuthBlocked)
		}
		return fail(StatusPINInvalid)
	}
	a.st.PINRetries = a.maxRetries()
	a.st.ConsecutiveMismatches = 0
	a.st.UVFailures = 0 // a correct PIN restores uvRetries (§6.5.5.7.2)
	return nil
}

// changePIN implements §6.5.5.6.
func (a *Authenticator) changePIN(p params, v int, proto pinProtocol) error {
	var param, newPinEnc, pinHashEnc []byte
	if !p.has(pinKeyKeyAgreement) {
		return fail(StatusMissingParameter)
	}
	if err := p.need(pinKeyParam, &param); err != nil {
		return err
	}
	if err := p.need(pinKeyNewPinEnc, &newPinEnc); err != nil {
		return err
	}
	if err := p.need(pinKeyPinHashEnc, &pinHashEnc); err != nil {
		return err
	}
	if a.st.PINHash == nil {
		return fail(StatusPINNotSet)
	}
	if a.st.PINRetries == 0 {
		return fail(StatusPINBlocked)
	}
	if a.st.ConsecutiveMismatches >= softLockAttempts {
		return fail(StatusPINAuthBlocked)
	}
	shared, err := a.sharedSecret(p, v, proto)
	if err != nil {
		return err
	}
	msg := append(append([]byte(nil), newPinEnc...), pinHashEnc...)
	if !verifyParam(proto, shared, msg, param) {
		return fail(StatusPINAuthInvalid)
	}
	if err := a.checkPINHashEnc(proto, shared, pinHashEnc); err != nil {
		return err
	}
	pin, err := a.decryptNewPIN(proto, shared, newPinEnc)
	if err != nil {
		return err
	}
	a.storePIN(pin)
	clear(pin)
	a.st.ForcePINChange = false
	// Every pinUvAuthToken is invalidated (§6.5.5.6 step 11).
	return a.resetTokens()
}

// getPINToken implements getPinToken (0x05, §6.5.5.7.1) and
// getPinUvAuthTokenUsingPinWithPermissions (0x09, §6.5.5.7.2).
func (a *Authenticator) getPINToken(p params, v int, proto pinProtocol, sub uint64) (map[int]any, error) {
	var pinHashEnc []byte
	if !p.has(pinKeyKeyAgreement) {
		return nil, fail(StatusMissingParameter)
	}
	if err := p.need(pinKeyPinHashEnc, &pinHashEnc); err != nil {
		return nil, err
	}
	var perms uint64
	var rpID string
	hasRPID := false
	if sub == pinSubGetPinToken {
		// Legacy: permissions and rpId must be absent; grants mc+ga.
		if p.has(pinKeyPermissions) || p.has(pinKeyRPID) {
			return nil, fail(StatusInvalidParameter)
		}
		perms = uint64(PermMakeCredential | PermGetAssertion)
	} else {
		var err error
		if perms, rpID, hasRPID, err = a.tokenPermissions(p); err != nil {
			return nil, err
		}
	}
	if a.st.PINHash == nil {
		return nil, fail(StatusPINNotSet)
	}
	if a.st.PINRetries == 0 {
		return nil, fail(StatusPINBlocked)
	}
	if a.st.ConsecutiveMismatches >= softLockAttempts {
		return nil, fail(StatusPINAuthBlocked)
	}
	shared, err := a.sharedSecret(p, v, proto)
	if err != nil {
		return nil, err
	}
	if err := a.checkPINHashEnc(proto, shared, pinHashEnc); err != nil {
		return nil, err
	}
	if a.st.ForcePINChange {
		if sub == pinSubGetPinToken {
			return nil, fail(a.cfg.ForcePINChangeOn05)
		}
		return nil, fail(a.cfg.ForcePINChangeOn09)
	}
	if err := a.resetTokens(); err != nil {
		return nil, err
	}
	a.beginUsingToken(byte(perms), rpID, hasRPID)
	a.tok.legacy = sub == pinSubGetPinToken && !a.model.hasPinUvAuthToken()
	enc, err := proto.encrypt(shared, a.tokens[v], a.cfg.Rand)
	if err != nil {
		return nil, fail(StatusOther)
	}
	return map[int]any{2: enc}, nil
}

// tokenPermissions reads and checks the permissions and the optional
// permissions RP ID of getPinUvAuthTokenUsingPinWithPermissions and
// getPinUvAuthTokenUsingUvWithPermissions (§6.5.5.7.2 steps 1–4).
func (a *Authenticator) tokenPermissions(p params) (perms uint64, rpID string, hasRPID bool, err error) {
	if err := p.need(pinKeyPermissions, &perms); err != nil {
		return 0, "", false, err
	}
	if hasRPID, err = p.get(pinKeyRPID, &rpID); err != nil {
		return 0, "", false, err
	}
	if perms == 0 || perms > 0xFF {
		return 0, "", false, fail(StatusInvalidParameter)
	}
	if perms&uint64(PermMakeCredential|PermGetAssertion) != 0 && !hasRPID {
		return 0, "", false, fail(a.cfg.PermissionWithoutRPID)
	}
	supported := permSupportedByDevice
	if a.model.Behaviour.BioEnrollment {
		supported |= PermBioEnrollment
	}
	if byte(perms)&^supported != 0 {
		return 0, "", false, fail(StatusUnauthorizedPermission)
	}
	return perms, rpID, hasRPID, nil
}

// getUVToken implements getPinUvAuthTokenUsingUvWithPermissions (0x06,
// §6.5.5.7.3): built-in user verification with the simulated finger, then
// a fresh token with the permissions asked for.
func (a *Authenticator) getUVToken(x *exchange, p params, v int, proto pinProtocol) (map[int]any, error) {
	if !p.has(pinKeyKeyAgreement) {
		return nil, fail(StatusMissingParameter)
	}
	perms, rpID, hasRPID, err := a.tokenPermissions(p)
	if err != nil {
		return nil, err
	}
	shared, err := a.sharedSecret(p, v, proto)
	if err != nil {
		return nil, err
	}
	if err := a.performBuiltInUV(x); err != nil {
		return nil, err
	}
	if err := a.resetTokens(); err != nil {
		return nil, err
	}
	a.beginUsingToken(byte(perms), rpID, hasRPID)
	enc, err := proto.encrypt(shared, a.tokens[v], a.cfg.Rand)
	if err != nil {
		return nil, fail(StatusOther)
	}
	return map[int]any{2: enc}, nil
}
