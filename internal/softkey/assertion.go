package softkey

import (
	"slices"
	"time"
)

// getAssertion request keys (CTAP 2.1 §6.2.1).
const (
	gaKeyRPID           = 0x01
	gaKeyClientDataHash = 0x02
	gaKeyAllowList      = 0x03
	gaKeyExtensions     = 0x04
	gaKeyOptions        = 0x05
	gaKeyPinUvAuthParam = 0x06
	gaKeyPinUvAuthProto = 0x07
)

// nextAssertionTimeout bounds how long getNextAssertion may follow (§6.3).
const nextAssertionTimeout = 30 * time.Second

// hmacSecretInput is a decrypted hmac-secret request (§12.5).
type hmacSecretInput struct {
	proto  pinProtocol
	shared []byte
	salts  []byte // 32 or 64 bytes
}

// nextAssertionState is the authenticatorGetNextAssertion state (§6.3).
type nextAssertionState struct {
	rpIDHash []byte
	cdh      []byte
	creds    []*credential
	uv, up   bool
	hmac     *hmacSecretInput
	last     time.Time
}

// getAssertion implements authenticatorGetAssertion (0x02, CTAP 2.1 §6.2.2).
func (a *Authenticator) getAssertion(x *exchange, body []byte) (map[int]any, error) {
	p, err := parseParams(body)
	if err != nil {
		return nil, err
	}
	var rpID string
	var cdh []byte
	if err := p.need(gaKeyRPID, &rpID); err != nil {
		return nil, err
	}
	if err := p.need(gaKeyClientDataHash, &cdh); err != nil {
		return nil, err
	}
	var allow []credDescriptor
	hasAllow := p.has(gaKeyAllowList)
	if hasAllow {
		if allow, err = parseDescriptorList(p[gaKeyAllowList], a.cfg.MaxCredentialCountInList); err != nil {
			return nil, err
		}
		hasAllow = len(allow) > 0
	}
	var ext textMap
	if _, err := p.get(gaKeyExtensions, &ext); err != nil {
		return nil, err
	}
	opts, err := parseOptions(p, gaKeyOptions)
	if err != nil {
		return nil, err
	}
	if len(cdh) != 32 {
		return nil, fail(StatusInvalidLength)
	}
	param, proto, err := a.pinUvAuthPrecheck(x, p, gaKeyPinUvAuthParam, gaKeyPinUvAuthProto)
	if err != nil {
		return nil, err
	}
	// Step 3: options. "rk" is not a getAssertion option; no built-in UV.
	if opts.hasRK {
		return nil, fail(StatusUnsupportedOption)
	}
	builtinUV, err := a.checkUVOption(opts, param != nil)
	if err != nil {
		return nil, err
	}
	// Steps 5–8: user verification through the pinUvAuthToken.
	uv := false
	if param != nil {
		if err := a.verifyToken(proto, cdh, param); err != nil {
			return nil, err
		}
		if err := a.requirePermission(PermGetAssertion, rpID, true); err != nil {
			return nil, err
		}
		uv = a.tok.userVerified
		if !uv {
			return nil, fail(StatusPINAuthInvalid)
		}
	} else if builtinUV {
		if err := a.performBuiltInUV(x); err != nil {
			return nil, err
		}
		uv = true
	} else if a.st.AlwaysUV && opts.up {
		return nil, fail(StatusPUATRequired)
	}
	// hmac-secret input (§12.5) is validated before locating credentials.
	var hin *hmacSecretInput
	if _, ok := ext["hmac-secret"]; ok && a.model.GetInfo.HasExtension("hmac-secret") {
		if hin, err = a.hmacSecretIn(ext); err != nil {
			return nil, err
		}
	}

	// Step 7: locate credentials.
	hash := rpIDHash(rpID)
	var creds []*credential
	if hasAllow {
		for _, d := range allow {
			if d.Type != "public-key" {
				continue
			}
			c := a.unwrapCredential(hash, d.ID)
			if c == nil || (c.credProtect == credProtectUVRequired && !uv) {
				continue
			}
			creds = append(creds, c)
			break
		}
	} else {
		var stored []*storedCred
		for i := range a.st.Credentials {
			if a.st.Credentials[i].RPID == rpID {
				stored = append(stored, &a.st.Credentials[i])
			}
		}
		slices.SortFunc(stored, func(x, y *storedCred) int {
			switch {
			case x.Seq > y.Seq:
				return -1
			case x.Seq < y.Seq:
				return 1
			}
			return 0
		})
		for _, s := range stored {
			if !uv && s.CredProtect >= credProtectUVOptionalWithID {
				continue
			}
			if c := residentCredential(s); c != nil {
				creds = append(creds, c)
			}
		}
	}
	if len(creds) == 0 {
		return nil, fail(StatusNoCredentials)
	}
	// Step 9: user presence.
	if opts.up {
		if s := a.waitPresence(x); s != StatusOK {
			return nil, fail(s)
		}
	}
	if param != nil {
		a.clearTokenAfterUse()
	}
	st := &nextAssertionState{rpIDHash: hash, cdh: cdh, creds: creds, uv: uv, up: opts.up, hmac: hin}
	resp, err := a.assertionResponse(st, creds[0], !hasAllow)
	if err != nil {
		return nil, err
	}
	if !hasAllow && len(creds) > 1 {
		resp[5] = len(creds)
		st.creds = creds[1:]
		st.last = a.cfg.Clock()
		a.next = st
	}
	return resp, nil
}

// getNextAssertion implements authenticatorGetNextAssertion (0x08, §6.3).
func (a *Authenticator) getNextAssertion() (map[int]any, error) {
	st := a.next
	if st == nil || len(st.creds) == 0 {
		a.next = nil
		return nil, fail(StatusNotAllowed)
	}
	now := a.cfg.Clock()
	if now.Sub(st.last) > nextAssertionTimeout {
		a.next = nil
		return nil, fail(StatusNotAllowed)
	}
	c := st.creds[0]
	st.creds = st.creds[1:]
	st.last = now
	if len(st.creds) == 0 {
		a.next = nil
	}
	return a.assertionResponse(st, c, true)
}

// assertionResponse signs one assertion (§6.2.2 step 12): credential,
// authData, signature and, for discoverable credentials, the user entity
// (name and displayName only after user verification).
func (a *Authenticator) assertionResponse(st *nextAssertionState, c *credential, discoverable bool) (map[int]any, error) {
	var flags byte
	if st.up {
		flags |= flagUP
	}
	if st.uv {
		flags |= flagUV
	}
	ext := map[string]any{}
	if st.hmac != nil && c.hmacSecret {
		out, err := a.hmacSecretOut(st, c)
		if err != nil {
			return nil, err
		}
		ext["hmac-secret"] = out
	}
	ad := authData(a.model.AAGUID(), st.rpIDHash, flags, a.nextCounter(), nil, ext)
	sig, err := sign(c, ad, st.cdh)
	if err != nil {
		return nil, fail(StatusOther)
	}
	resp := map[int]any{
		1: map[string]any{"id": c.id, "type": "public-key"},
		2: ad,
		3: sig,
	}
	if c.resident != nil {
		u := map[string]any{"id": c.resident.UserID}
		if st.uv && discoverable {
			if c.resident.UserName != "" {
				u["name"] = c.resident.UserName
			}
			if c.resident.UserDisplayName != "" {
				u["displayName"] = c.resident.UserDisplayName
			}
		}
		resp[4] = u
	}
	return resp, nil
}

// hmacSecretIn decodes and authenticates the hmac-secret input
// {1: keyAgreement, 2: saltEnc, 3: saltAuth, 4: pinUvAuthProtocol} (§12.5).
func (a *Authenticator) hmacSecretIn(ext textMap) (*hmacSecretInput, error) {
	var m params
	if _, err := ext.get("hmac-secret", &m); err != nil {
		return nil, err
	}
	var saltEnc, saltAuth []byte
	if !m.has(1) {
		return nil, fail(StatusMissingParameter)
	}
	if err := m.need(2, &saltEnc); err != nil {
		return nil, err
	}
	if err := m.need(3, &saltAuth); err != nil {
		return nil, err
	}
	v := uint64(1)
	if _, err := m.get(4, &v); err != nil {
		return nil, err
	}
	if v > 255 || !a.supportsProtocol(int(v)) {
		return nil, fail(a.cfg.UnsupportedProtocol)
	}
	proto := protocolFor(int(v))
	pub, err := parseCOSEKeyAgreementAlg(m[1], a.model.Behaviour.StrictKeyAgreementAlg)
	if err != nil {
		return nil, err
	}
	shared, err := ecdhShared(proto, a.kaKeys[int(v)], pub)
	if err != nil {
		return nil, err
	}
	if !verifyParam(proto, shared, saltEnc, saltAuth) {
		return nil, fail(StatusPINAuthInvalid)
	}
	salts, err := proto.decrypt(shared, saltEnc)
	if err != nil || (len(salts) != 32 && len(salts) != 64) {
		return nil, fail(StatusInvalidLength)
	}
	return &hmacSecretInput{proto: proto, shared: shared, salts: salts}, nil
}

// hmacSecretOut computes encrypt(shared, HMAC(CredRandom, salt1) ‖
// [HMAC(CredRandom, salt2)]) (§12.5).
func (a *Authenticator) hmacSecretOut(st *nextAssertionState, c *credential) ([]byte, error) {
	key := a.credRandom(c, st.uv)
	var out []byte
	for i := 0; i < len(st.hmac.salts); i += 32 {
		out = append(out, hmacSHA256(key, st.hmac.salts[i:i+32])...)
	}
	enc, err := st.hmac.proto.encrypt(st.hmac.shared, out, a.cfg.Rand)
	if err != nil {
		return nil, fail(StatusOther)
	}
	return enc, nil
}
