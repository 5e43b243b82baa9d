package softkey

import (
	"slices"

	"github.com/fxamacker/cbor/v2"
)

// makeCredential request keys (CTAP 2.1 §6.1.1).
const (
	mcKeyClientDataHash   = 0x01
	mcKeyRP               = 0x02
	mcKeyUser             = 0x03
	mcKeyPubKeyCredParams = 0x04
	mcKeyExcludeList      = 0x05
	mcKeyExtensions       = 0x06
	mcKeyOptions          = 0x07
	mcKeyPinUvAuthParam   = 0x08
	mcKeyPinUvAuthProto   = 0x09
	mcKeyEnterpriseAtt    = 0x0A
)

// credProtect levels (CTAP 2.1 §12.1).
const (
	credProtectUVOptional       = 1
	credProtectUVOptionalWithID = 2
	credProtectUVRequired       = 3
)

// userEntity is a PublicKeyCredentialUserEntity (WebAuthn §5.4.3).
type userEntity struct {
	ID          []byte
	Name        string
	DisplayName string
}

func parseUser(raw cbor.RawMessage) (userEntity, error) {
	var m textMap
	var u userEntity
	if err := decodeInto(raw, &m); err != nil {
		return u, err
	}
	ok, err := m.get("id", &u.ID)
	if err != nil {
		return u, err
	}
	if !ok {
		return u, fail(StatusMissingParameter)
	}
	if _, err := m.get("name", &u.Name); err != nil {
		return u, err
	}
	if _, err := m.get("displayName", &u.DisplayName); err != nil {
		return u, err
	}
	return u, nil
}

// options reads the "options" map (§6.1.1 key 0x07, §6.2.1 key 0x05).
type ctapOptions struct {
	rk, up, uv          bool
	hasRK, hasUP, hasUV bool
}

func parseOptions(p params, key int) (ctapOptions, error) {
	o := ctapOptions{up: true}
	var m textMap
	ok, err := p.get(key, &m)
	if err != nil || !ok {
		return o, err
	}
	if o.hasRK, err = m.get("rk", &o.rk); err != nil {
		return o, err
	}
	if o.hasUP, err = m.get("up", &o.up); err != nil {
		return o, err
	}
	if o.hasUV, err = m.get("uv", &o.uv); err != nil {
		return o, err
	}
	return o, nil
}

// pinUvAuthPrecheck handles a pinUvAuthParam: a zero-length one is the
// platform's "touch to select" probe (§6.1.2 step 1, §6.2.2 step 1) —
// wait for presence, then answer 0x35 PIN_NOT_SET or 0x31 PIN_INVALID.
// Otherwise it returns the validated pinUvAuthProtocol.
func (a *Authenticator) pinUvAuthPrecheck(x *exchange, p params, paramKey, protoKey int) (param []byte, proto int, err error) {
	ok, err := p.get(paramKey, &param)
	if err != nil || !ok {
		return nil, 0, err
	}
	if len(param) == 0 {
		if s := a.waitPresence(x); s != StatusOK {
			return nil, 0, fail(s)
		}
		if a.st.PINHash == nil {
			return nil, 0, fail(StatusPINNotSet)
		}
		return nil, 0, fail(StatusPINInvalid)
	}
	v, err := a.checkProtocol(p, protoKey)
	if err != nil {
		return nil, 0, err
	}
	return param, v, nil
}

// makeCredential implements authenticatorMakeCredential (0x01, CTAP 2.1
// §6.1.2).
func (a *Authenticator) makeCredential(x *exchange, body []byte) (map[int]any, error) {
	p, err := parseParams(body)
	if err != nil {
		return nil, err
	}
	var cdh []byte
	if err := p.need(mcKeyClientDataHash, &cdh); err != nil {
		return nil, err
	}
	var rp textMap
	if err := p.need(mcKeyRP, &rp); err != nil {
		return nil, err
	}
	var rpID, rpName string
	if ok, err := rp.get("id", &rpID); err != nil {
		return nil, err
	} else if !ok {
		return nil, fail(StatusMissingParameter)
	}
	if _, err := rp.get("name", &rpName); err != nil {
		return nil, err
	}
	if !p.has(mcKeyUser) {
		return nil, fail(StatusMissingParameter)
	}
	user, err := parseUser(p[mcKeyUser])
	if err != nil {
		return nil, err
	}
	var algs []cbor.RawMessage
	if err := p.need(mcKeyPubKeyCredParams, &algs); err != nil {
		return nil, err
	}
	es256 := false
	for _, raw := range algs {
		var m textMap
		if err := decodeInto(raw, &m); err != nil {
			return nil, err
		}
		var typ string
		var alg int64
		okT, err := m.get("type", &typ)
		if err != nil {
			return nil, err
		}
		okA, err := m.get("alg", &alg)
		if err != nil {
			return nil, err
		}
		if !okT || !okA {
			return nil, fail(StatusMissingParameter)
		}
		if typ == "public-key" && alg == coseAlgES256 {
			es256 = true
		}
	}
	var exclude []credDescriptor
	if p.has(mcKeyExcludeList) {
		if exclude, err = parseDescriptorList(p[mcKeyExcludeList], a.cfg.MaxCredentialCountInList); err != nil {
			return nil, err
		}
	}
	var ext textMap
	if _, err := p.get(mcKeyExtensions, &ext); err != nil {
		return nil, err
	}
	opts, err := parseOptions(p, mcKeyOptions)
	if err != nil {
		return nil, err
	}
	if len(cdh) != 32 {
		return nil, fail(StatusInvalidLength)
	}

	// Step 1–2: zero-length pinUvAuthParam, protocol checks.
	param, proto, err := a.pinUvAuthPrecheck(x, p, mcKeyPinUvAuthParam, mcKeyPinUvAuthProto)
	if err != nil {
		return nil, err
	}
	// Step 3: algorithm.
	if !es256 {
		return nil, fail(StatusUnsupportedAlgorithm)
	}
	// Step 4: options. No built-in UV; "up" must not be false.
	if opts.hasUP && !opts.up {
		return nil, fail(StatusInvalidOption)
	}
	builtinUV, err := a.checkUVOption(opts, param != nil)
	if err != nil {
		return nil, err
	}
	// Step 5: enterprise attestation is not supported.
	if p.has(mcKeyEnterpriseAtt) {
		return nil, fail(StatusInvalidParameter)
	}
	// Steps 6–11: user verification through the pinUvAuthToken.
	uv := false
	hash := rpIDHash(rpID)
	if param != nil {
		if err := a.verifyToken(proto, cdh, param); err != nil {
			return nil, err
		}
		if err := a.requirePermission(PermMakeCredential, rpID, true); err != nil {
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
	} else {
		if a.st.AlwaysUV {
			return nil, fail(StatusPUATRequired)
		}
		if a.st.PINHash != nil && opts.rk {
			return nil, fail(StatusPUATRequired)
		}
	}
	// Step 12: exclude list — reveal a match only after a touch.
	for _, d := range exclude {
		if d.Type != "public-key" {
			continue
		}
		c := a.unwrapCredential(hash, d.ID)
		if c == nil {
			continue
		}
		if c.credProtect == credProtectUVRequired && !uv {
			continue
		}
		if s := a.waitPresence(x); s != StatusOK {
			return nil, fail(s)
		}
		return nil, fail(StatusCredentialExcluded)
	}
	// Extensions (§12): outputs only for what was requested, and only for
	// extensions the model lists; the others are ignored (§12: "the
	// authenticator MUST ignore any extensions it does not support").
	outExt := map[string]any{}
	credProtect := credProtectUVOptional
	hmacSecret := false
	g := &a.model.GetInfo
	var cp uint64
	if !g.HasExtension("credProtect") {
		// ignored
	} else if ok, err := ext.get("credProtect", &cp); err != nil {
		return nil, err
	} else if ok {
		if cp < credProtectUVOptional || cp > credProtectUVRequired {
			return nil, fail(StatusInvalidParameter)
		}
		credProtect = int(cp)
		if credProtect != credProtectUVOptional || !a.model.Behaviour.OmitCredProtectLevel1 {
			outExt["credProtect"] = credProtect
		}
	}
	var hs bool
	if !g.HasExtension("hmac-secret") {
		// ignored
	} else if ok, err := ext.get("hmac-secret", &hs); err != nil {
		return nil, err
	} else if ok && hs {
		hmacSecret = true
		outExt["hmac-secret"] = true
	}
	var mpl bool
	if !g.HasExtension("minPinLength") {
		// ignored
	} else if ok, err := ext.get("minPinLength", &mpl); err != nil {
		return nil, err
	} else if ok && mpl && slices.Contains(a.st.MinPINLengthRPIDs, rpID) {
		outExt["minPinLength"] = a.st.MinPINLength
	}
	// Step 14: user presence.
	if s := a.waitPresence(x); s != StatusOK {
		return nil, fail(s)
	}
	// Steps 15–17: key pair and (for rk) storage.
	raw, err := a.newScalar()
	if err != nil {
		return nil, err
	}
	var flags byte
	if opts.rk {
		flags |= credFlagResident
	}
	if hmacSecret {
		flags |= credFlagHMAC
	}
	id, err := a.wrapCredential(hash, raw, credProtect, flags)
	if err != nil {
		return nil, err
	}
	c := a.unwrapCredentialNoStore(hash, id)
	if c == nil {
		return nil, fail(StatusOther)
	}
	if opts.rk {
		sc := storedCred{
			ID: id, RPID: rpID, RPName: rpName,
			UserID: user.ID, UserName: user.Name, UserDisplayName: user.DisplayName,
			PrivateKey: raw, CredProtect: credProtect, HMACSecret: hmacSecret,
			Created: a.cfg.Clock().UTC(), Seq: a.st.NextSeq,
		}
		replaced := false
		for i := range a.st.Credentials {
			s := &a.st.Credentials[i]
			if s.RPID == rpID && string(s.UserID) == string(user.ID) {
				*s = sc
				replaced = true
				break
			}
		}
		if !replaced {
			if len(a.st.Credentials) >= a.cfg.ResidentCapacity {
				return nil, fail(StatusKeyStoreFull)
			}
			a.st.Credentials = append(a.st.Credentials, sc)
		}
		a.st.NextSeq++
	}
	if param != nil {
		a.clearTokenAfterUse()
	}
	flagsAD := byte(flagUP)
	if uv {
		flagsAD |= flagUV
	}
	ad := authData(a.model.AAGUID(), hash, flagsAD, a.nextCounter(), c, outExt)
	fmtName, att, err := a.attestationStatement(c, ad, cdh)
	if err != nil {
		return nil, fail(StatusOther)
	}
	return map[int]any{1: fmtName, 2: ad, 3: att}, nil
}

// unwrapCredentialNoStore opens a freshly wrapped ID before it is stored.
func (a *Authenticator) unwrapCredentialNoStore(hash, id []byte) *credential {
	if len(id) != credIDLength {
		return nil
	}
	pt, err := a.wrapAEAD().Open(nil, id[1:13], id[13:], hash)
	if err != nil {
		return nil
	}
	s := storedCred{ID: id, PrivateKey: pt[:32], CredProtect: int(pt[32]), HMACSecret: pt[33]&credFlagHMAC != 0}
	c := residentCredential(&s)
	if c != nil {
		c.resident = nil
	}
	return c
}

// checkUVOption applies the "uv" option (§6.1.2 step 4, §6.2.2 step 3).
// With uv:true and no pinUvAuthParam, a key whose built-in user
// verification is configured (a bio key with a fingerprint enrolled)
// verifies the user itself (builtinUV); any other uv:true is
// CTAP2_ERR_INVALID_OPTION — except, on models with UVWithToken "ignore",
// when a pinUvAuthParam comes along (the token's UV counts).
func (a *Authenticator) checkUVOption(o ctapOptions, hasParam bool) (builtinUV bool, err error) {
	if !o.uv {
		return false, nil
	}
	if !hasParam && a.uvConfigured() {
		return true, nil
	}
	if hasParam && a.model.Behaviour.UVWithToken == UVWithTokenIgnore {
		return false, nil
	}
	return false, fail(StatusInvalidOption)
}
