package webauthn

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
)

// ParseCOSEKey decodes a COSE_Key credential public key (RFC 9052 §7) as
// found in attested credential data (WebAuthn L3 §6.5.2), returning the
// key and its COSE algorithm.
func ParseCOSEKey(raw []byte) (crypto.PublicKey, int, error) {
	return parseCOSEKey(raw)
}

// ErrAssertion is wrapped by every failure of VerifyAssertion.
var ErrAssertion = errors.New("webauthn: assertion does not verify")

// AssertionClientData returns a clientDataJSON for a local get ceremony
// (WebAuthn L3 §5.8.1, type "webauthn.get") with a fresh random challenge,
// used by keyprep's self-test of a new credential.
func AssertionClientData(rpID string) ([]byte, error) {
	ch := make([]byte, 32)
	if _, err := rand.Read(ch); err != nil {
		return nil, err
	}
	var b []byte
	b = append(b, `{"type":"webauthn.get","challenge":`...)
	b = appendJSONString(b, b64url.EncodeToString(ch))
	b = append(b, `,"origin":`...)
	b = appendJSONString(b, "https://"+rpID)
	b = append(b, `,"crossOrigin":false}`...)
	return b, nil
}

// VerifyAssertion checks an authenticatorGetAssertion response the way an
// RP does (WebAuthn L3 §7.2 steps 15, 17, 21): rpIdHash is SHA-256(rpID),
// UV is set when requireUV, and sig verifies over authData ‖ clientDataHash
// with the credential public key from the registration (coseKey). It
// returns the parsed authenticator data.
func VerifyAssertion(coseKey []byte, rpID string, authData, clientDataHash, sig []byte, requireUV bool) (*AuthData, error) {
	pub, alg, err := parseCOSEKey(coseKey)
	if err != nil {
		return nil, fmt.Errorf("%w: credential public key: %v", ErrAssertion, err)
	}
	ad, err := ParseAuthData(authData)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAssertion, err)
	}
	if want := sha256.Sum256([]byte(rpID)); ad.RPIDHash != want {
		return nil, fmt.Errorf("%w: rpIdHash is not SHA-256(%q)", ErrAssertion, rpID)
	}
	if requireUV && !ad.Flags.UV() {
		return nil, fmt.Errorf("%w: UV flag clear (flags 0x%02x)", ErrAssertion, byte(ad.Flags))
	}
	if len(clientDataHash) != 32 {
		return nil, fmt.Errorf("%w: clientDataHash is %d bytes", ErrAssertion, len(clientDataHash))
	}
	msg := append(slices.Clip(ad.Raw), clientDataHash...)
	if err := verifySig(alg, pub, msg, sig); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAssertion, err)
	}
	return ad, nil
}

// HasAttestationCertificate reports whether an attestation statement
// carries a certificate chain (packed "full" attestation, WebAuthn L3
// §8.2). Self attestation and "none" cannot satisfy an RP that enforces
// attestation, so keyprep refuses to POST them in that case.
func HasAttestationCertificate(format string, attStmt []byte) bool {
	if format != "packed" {
		return false
	}
	var st packedAttStmt
	if err := decMode.Unmarshal(attStmt, &st); err != nil {
		return false
	}
	return len(st.X5C) > 0 && len(st.X5C[0]) > 0
}
