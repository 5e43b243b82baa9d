package softkey

import "time"

// Permission bits of a pinUvAuthToken (CTAP 2.1 §6.5.5.7 "permissions").
const (
	PermMakeCredential    byte = 0x01
	PermGetAssertion      byte = 0x02
	PermCredentialMgmt    byte = 0x04
	PermBioEnrollment     byte = 0x08
	PermLargeBlobWrite    byte = 0x10
	PermAuthenticatorCfg  byte = 0x20
	permSupportedByDevice      = PermMakeCredential | PermGetAssertion | PermCredentialMgmt | PermAuthenticatorCfg
)

// Token timing (CTAP 2.1 §6.5.2.1 "pinUvAuthToken state"): a token not used
// within the initial usage time limit expires, and no token lives longer than
// the maximum usage time period.
const (
	tokenInitialUsageLimit = 30 * time.Second
	tokenMaxUsagePeriod    = 10 * time.Minute
)

// tokenState is the pinUvAuthToken state shared by all protocols (§6.5.2.1).
type tokenState struct {
	inUse        bool
	permissions  byte
	rpID         string
	hasRPID      bool
	issued       time.Time
	used         bool
	userVerified bool
	// legacy: a pinToken of a key without the pinUvAuthToken option
	// (getPinToken on a CTAP 2.0 / 2.1_PRE key): it carries every
	// permission, binds to no RP and stays usable after a makeCredential
	// or getAssertion, as CTAP 2.0 pinTokens do (CTAP 2.0 §5.5.8.2).
	legacy bool
}

// resetTokens is resetPinUvAuthToken() for every protocol: fresh random
// tokens, nothing in use (§6.5.5.1).
func (a *Authenticator) resetTokens() error {
	a.tokens = map[int][]byte{}
	for _, v := range a.cfg.PINProtocols {
		t, err := a.randBytes(32)
		if err != nil {
			return err
		}
		a.tokens[v] = t
	}
	a.tok = tokenState{}
	return nil
}

// beginUsingToken is beginUsingPinUvAuthToken(userIsPresent=false) followed
// by setting permissions and the optional permissions RP ID (§6.5.5.7.2).
func (a *Authenticator) beginUsingToken(perms byte, rpID string, hasRPID bool) {
	a.tok = tokenState{
		inUse:        true,
		permissions:  perms,
		rpID:         rpID,
		hasRPID:      hasRPID,
		issued:       a.cfg.Clock(),
		userVerified: true,
	}
}

// tokenActive reports whether the token is in use and not expired; an
// expired token is stopped (stopUsingPinUvAuthToken).
func (a *Authenticator) tokenActive() bool {
	if !a.tok.inUse {
		return false
	}
	age := a.cfg.Clock().Sub(a.tok.issued)
	if age < 0 || age > tokenMaxUsagePeriod || (!a.tok.used && age > tokenInitialUsageLimit) {
		a.tok = tokenState{}
		return false
	}
	return true
}

// verifyToken checks pinUvAuthParam = authenticate(pinUvAuthToken, msg) for
// protocol v (§6.5.4 "verify"); failure is 0x33 PIN_AUTH_INVALID.
func (a *Authenticator) verifyToken(v int, msg, param []byte) error {
	p := protocolFor(v)
	if p == nil || !a.tokenActive() {
		return fail(StatusPINAuthInvalid)
	}
	if !verifyParam(p, a.tokens[v], msg, param) {
		return fail(StatusPINAuthInvalid)
	}
	a.tok.used = true
	return nil
}

// requirePermission checks a permission and, when rpID is given, the
// permissions RP ID, binding an unbound token to it (§6.1.2 step 11,
// §6.2.2 step 8). Failures are 0x33 (OpenSK).
func (a *Authenticator) requirePermission(perm byte, rpID string, bind bool) error {
	if a.tok.legacy {
		return nil
	}
	if a.tok.permissions&perm == 0 {
		return fail(StatusPINAuthInvalid)
	}
	if bind {
		if a.tok.hasRPID && a.tok.rpID != rpID {
			return fail(StatusPINAuthInvalid)
		}
		if !a.tok.hasRPID {
			a.tok.rpID, a.tok.hasRPID = rpID, true
		}
	}
	return nil
}

// clearTokenAfterUse clears the UV/UP flags and every permission except lbw
// after a makeCredential/getAssertion that used the token (§6.1.2 step 16,
// §6.2.2 step 11).
func (a *Authenticator) clearTokenAfterUse() {
	if a.tok.legacy {
		return
	}
	if a.tok.inUse {
		a.tok.permissions &= PermLargeBlobWrite
		a.tok.userVerified = false
	}
}

// checkProtocol validates a pinUvAuthProtocol value for a request that
// carries a pinUvAuthParam: absent → 0x14, unsupported → Config switch.
func (a *Authenticator) checkProtocol(p params, key int) (int, error) {
	var v uint64
	if err := p.need(key, &v); err != nil {
		return 0, err
	}
	if v > 255 || !a.supportsProtocol(int(v)) {
		return 0, fail(a.cfg.UnsupportedProtocol)
	}
	return int(v), nil
}
