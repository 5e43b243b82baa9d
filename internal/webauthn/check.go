package webauthn

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
)

// Check names one local registration check of CheckRegistration.
type Check string

// The checks CheckRegistration runs, in order.
const (
	CheckFormat       Check = "attestation-format"    // fmt is packed or none (docs/graph.md §3.2)
	CheckAuthData     Check = "authdata-parse"        // WebAuthn L3 §6.1 layout
	CheckRPIDHash     Check = "rpid-hash"             // §7.1 step 13
	CheckUserPresent  Check = "user-present"          // §7.1 step 14
	CheckUserVerified Check = "user-verified"         // §7.1 step 15
	CheckAttestedData Check = "attested-credential"   // AT flag and data present
	CheckAAGUID       Check = "aaguid"                // non-zero AAGUID (a security key has a model)
	CheckCredentialID Check = "credential-id"         // present, ≤ 1023 bytes (§5.8.3)
	CheckAlgorithm    Check = "algorithm"             // §7.1 step 16: alg was offered
	CheckCredProtect  Check = "cred-protect"          // CTAP 2.1 §12.1 output matches the enforced level
	CheckHMACSecret   Check = "hmac-secret"           // CTAP 2.1 §12.5 output true when requested
	CheckAttStmt      Check = "attestation-statement" // §8.2 packed / §8.7 none well-formed
	CheckAttSignature Check = "attestation-signature" // §8.2 verification procedure: sig verifies
)

// CheckError reports a failed local check. errors.Is(err, CheckUserVerified)
// style matching works through Is.
type CheckError struct {
	Check  Check
	Detail string
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("webauthn: registration check %s failed: %s", e.Check, e.Detail)
}

// Is matches the Check itself (errors.Is(err, CheckAAGUID)) and any
// *CheckError with the same Check, Detail ignored.
func (e *CheckError) Is(target error) bool {
	switch t := target.(type) {
	case Check:
		return t == e.Check
	case *CheckError:
		return t.Check == e.Check
	}
	return false
}

// Error makes a Check usable as an errors.Is target directly.
func (c Check) Error() string { return "webauthn: registration check " + string(c) }

// FailedCheck returns the Check an error from CheckRegistration names, or
// "" when err is not a check failure.
func FailedCheck(err error) Check {
	var ce *CheckError
	if errors.As(err, &ce) {
		return ce.Check
	}
	return ""
}

func fail(c Check, format string, args ...any) error {
	return &CheckError{Check: c, Detail: fmt.Sprintf(format, args...)}
}

// CheckRegistration runs the local checks keyprep does on an
// authenticatorMakeCredential response before POSTing it to Graph. They
// follow WebAuthn L3 §7.1 steps 13–16 and §8.2 (packed) as go-webauthn does,
// plus what go-webauthn leaves out (docs/ctap.md §9): non-zero AAGUID,
// credProtect and hmac-secret outputs, credential id bound. fmt and attStmt
// are the makeCredential response members 0x01 and 0x03 (attStmt as raw
// CBOR); authData is member 0x02. The first failure is returned as a
// *CheckError.
func CheckRegistration(req *MakeCredentialRequest, clientDataHash []byte, format string, authData, attStmt []byte) error {
	if format != "packed" && format != "none" {
		return fail(CheckFormat, "format %q; Graph accepts packed or none", truncate(format, 32))
	}
	ad, err := ParseAuthData(authData)
	if err != nil {
		return fail(CheckAuthData, "%v", err)
	}
	if want := sha256.Sum256([]byte(req.RPID)); ad.RPIDHash != want {
		return fail(CheckRPIDHash, "rpIdHash is not SHA-256(%q)", req.RPID)
	}
	if !ad.Flags.UP() {
		return fail(CheckUserPresent, "UP flag clear (flags 0x%02x)", byte(ad.Flags))
	}
	if req.UV && !ad.Flags.UV() {
		return fail(CheckUserVerified, "UV flag clear though user verification is required (flags 0x%02x)", byte(ad.Flags))
	}
	if !ad.Flags.AT() {
		return fail(CheckAttestedData, "AT flag clear: no attested credential data")
	}
	if ad.AAGUID == uuid.Nil {
		return fail(CheckAAGUID, "AAGUID is all zero")
	}
	if n := len(ad.CredentialID); n == 0 || n > MaxCredentialIDLength {
		return fail(CheckCredentialID, "credential id is %d bytes, want 1..%d", n, MaxCredentialIDLength)
	}
	if !slices.Contains(req.Algorithms, ad.Algorithm) {
		return fail(CheckAlgorithm, "credential algorithm %d was not requested %v", ad.Algorithm, req.Algorithms)
	}
	if req.CredProtect != 0 && req.EnforceCredProtect {
		got := ad.Extensions.CredProtect
		switch {
		case ad.Extensions.Has("credProtect") && got != req.CredProtect:
			return fail(CheckCredProtect, "credProtect output %d, requested %d", got, req.CredProtect)
		case !ad.Extensions.Has("credProtect") && req.CredProtect > 1:
			// Level 1 is what a credential without credProtect behaves
			// as (CTAP 2.1 §12.1), so only a higher level needs the output.
			return fail(CheckCredProtect, "no credProtect output, requested level %d enforced", req.CredProtect)
		}
	}
	if req.HMACSecret && !ad.Extensions.HMACSecret {
		return fail(CheckHMACSecret, "hmac-secret requested, output absent or false")
	}
	return checkAttStmt(format, ad, clientDataHash, attStmt)
}

// packedAttStmt is WebAuthn L3 §8.2 packed attestation statement syntax.
type packedAttStmt struct {
	Alg *int     `cbor:"alg"`
	Sig []byte   `cbor:"sig"`
	X5C [][]byte `cbor:"x5c"`
	// ECDAA (ecdaaKeyId) was removed in L2; rejected if present.
	ECDAAKeyID []byte `cbor:"ecdaaKeyId"`
}

func checkAttStmt(format string, ad *AuthData, clientDataHash, attStmt []byte) error {
	if format == "none" {
		var m map[string]cbor.RawMessage
		if err := decMode.Unmarshal(attStmt, &m); err != nil || len(m) != 0 {
			return fail(CheckAttStmt, "none attestation needs an empty attStmt map")
		}
		return nil
	}
	var st packedAttStmt
	if err := decMode.Unmarshal(attStmt, &st); err != nil {
		return fail(CheckAttStmt, "packed attStmt is not a CBOR map: %v", err)
	}
	if st.Alg == nil {
		return fail(CheckAttStmt, "packed attStmt has no alg")
	}
	if len(st.Sig) == 0 {
		return fail(CheckAttStmt, "packed attStmt has no sig")
	}
	if st.ECDAAKeyID != nil {
		return fail(CheckAttStmt, "ECDAA attestation is not supported")
	}
	signed := append(slices.Clip(ad.Raw), clientDataHash...)
	var pub crypto.PublicKey
	if len(st.X5C) == 0 {
		// Self attestation: alg must equal the credential key's alg.
		if *st.Alg != ad.Algorithm {
			return fail(CheckAttStmt, "self attestation alg %d differs from credential alg %d", *st.Alg, ad.Algorithm)
		}
		pub = ad.PublicKey
	} else {
		leaf, err := x509.ParseCertificate(st.X5C[0])
		if err != nil {
			return fail(CheckAttStmt, "x5c leaf does not parse: %v", err)
		}
		if leaf.Version != 3 {
			return fail(CheckAttStmt, "x5c leaf is X.509 v%d, want v3", leaf.Version)
		}
		if !algMatchesKey(*st.Alg, leaf.PublicKey) {
			return fail(CheckAttStmt, "alg %d does not match the x5c leaf key %T", *st.Alg, leaf.PublicKey)
		}
		for i, c := range st.X5C[1:] {
			if _, err := x509.ParseCertificate(c); err != nil {
				return fail(CheckAttStmt, "x5c[%d] does not parse: %v", i+1, err)
			}
		}
		if err := checkAAGUIDExtension(leaf, ad.AAGUID); err != nil {
			return fail(CheckAttStmt, "%v", err)
		}
		pub = leaf.PublicKey
	}
	if err := verifySig(*st.Alg, pub, signed, st.Sig); err != nil {
		return fail(CheckAttSignature, "%v", err)
	}
	return nil
}

func algMatchesKey(alg int, pub crypto.PublicKey) bool {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return alg == AlgES256
	case *rsa.PublicKey:
		return alg == AlgRS256
	case ed25519.PublicKey:
		return alg == AlgEdDSA
	}
	return false
}

func verifySig(alg int, pub crypto.PublicKey, msg, sig []byte) error {
	if !algMatchesKey(alg, pub) {
		return fmt.Errorf("alg %d does not match key %T", alg, pub)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(msg)
		if !ecdsa.VerifyASN1(k, h[:], sig) {
			return errors.New("ES256 signature does not verify")
		}
	case *rsa.PublicKey:
		h := sha256.Sum256(msg)
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, h[:], sig); err != nil {
			return fmt.Errorf("RS256 signature does not verify: %v", err)
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(k, msg, sig) {
			return errors.New("EdDSA signature does not verify")
		}
	}
	return nil
}

// oidFIDOGenCEAAGUID is id-fido-gen-ce-aaguid (WebAuthn L3 §8.2.1).
var oidFIDOGenCEAAGUID = []int{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// checkAAGUIDExtension applies WebAuthn L3 §8.2.1: when the leaf carries
// id-fido-gen-ce-aaguid it is non-critical and equals the authData AAGUID.
func checkAAGUIDExtension(leaf *x509.Certificate, aaguid uuid.UUID) error {
	for _, ext := range leaf.Extensions {
		if !ext.Id.Equal(oidFIDOGenCEAAGUID) {
			continue
		}
		if ext.Critical {
			return errors.New("x5c leaf id-fido-gen-ce-aaguid extension is critical")
		}
		// The value is an OCTET STRING wrapping the 16-byte AAGUID.
		v := ext.Value
		if len(v) != 18 || v[0] != 0x04 || v[1] != 16 || !bytes.Equal(v[2:], aaguid[:]) {
			return errors.New("x5c leaf AAGUID extension differs from the authData AAGUID")
		}
	}
	return nil
}
