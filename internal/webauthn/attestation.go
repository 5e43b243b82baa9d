package webauthn

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// encMode is CTAP2 canonical CBOR (CTAP 2.1 §8): definite lengths, shortest
// forms, map keys sorted length-first.
var encMode = func() cbor.EncMode {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// attestationObject is WebAuthn L3 §6.5.4's attestationObject; with CTAP2
// canonical ordering the members come out fmt, attStmt, authData.
type attestationObject struct {
	Fmt      string          `cbor:"fmt"`
	AttStmt  cbor.RawMessage `cbor:"attStmt"`
	AuthData []byte          `cbor:"authData"`
}

// AttestationObject assembles the attestationObject (WebAuthn L3 §6.5.4) from
// the makeCredential response members fmt (0x01), authData (0x02) and attStmt
// (0x03, raw CBOR as the authenticator sent it, kept byte for byte). An
// empty attStmt is encoded as the empty map (the "none" format, §8.7).
func AttestationObject(format string, authData, attStmt []byte) ([]byte, error) {
	if format == "" {
		return nil, errors.New("webauthn: attestation format is empty")
	}
	if len(authData) < 37 {
		return nil, fmt.Errorf("webauthn: authData is %d bytes, at least 37 needed", len(authData))
	}
	if len(attStmt) == 0 {
		attStmt = []byte{0xa0}
	}
	var m map[string]cbor.RawMessage
	rest, err := decMode.UnmarshalFirst(attStmt, &m)
	if err != nil {
		return nil, fmt.Errorf("webauthn: attStmt is not a CBOR map with text keys: %v", err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("webauthn: attStmt has %d trailing bytes", len(rest))
	}
	return encMode.Marshal(attestationObject{Fmt: format, AttStmt: attStmt, AuthData: authData})
}

// ClientExtensionResults is the clientExtensionResults member of the POST body
// (docs/graph.md §4.1, an open type). Member names follow WebAuthn client
// outputs as DSInternals sends them (docs/graph.md §4.1); zero values are omitted, so the zero
// ClientExtensionResults is the empty object the v1.0 doc example sends.
type ClientExtensionResults struct {
	// HMACCreateSecret is the hmac-secret output (WebAuthn hmacCreateSecret).
	HMACCreateSecret bool
	// CredentialProtectionPolicy is the credProtect level applied, by name.
	CredentialProtectionPolicy string
	// MinPINLength is the minPinLength output; nil when absent.
	MinPINLength *int
	// CredProps is the credProps output (WebAuthn L3 §10.1.3); nil when absent.
	CredProps *CredProps
}

// CredProps is WebAuthn L3 §10.1.3 CredentialPropertiesOutput.
type CredProps struct {
	RK bool `json:"rk"`
}

// ExtensionResults derives the client extension outputs a WebAuthn client
// would report from the request and the authenticator's outputs (CTAP 2.1
// §12; WebAuthn L3 §10.1.3 for credProps, where rk is what keyprep asked
// for since a CTAP2 authenticator that succeeds honours rk).
func ExtensionResults(req *MakeCredentialRequest, ad *AuthData, credPropsRequested bool) ClientExtensionResults {
	var r ClientExtensionResults
	if req.HMACSecret && ad.Extensions.HMACSecret {
		r.HMACCreateSecret = true
	}
	if req.CredProtect != 0 && ad.Extensions.Has("credProtect") {
		for name, lvl := range credProtectLevels {
			if lvl == ad.Extensions.CredProtect && name != "userVerificationOptionalWithCredentialIdList" {
				r.CredentialProtectionPolicy = name
			}
		}
	}
	if req.MinPINLength && ad.Extensions.Has("minPinLength") {
		n := ad.Extensions.MinPINLength
		r.MinPINLength = &n
	}
	if credPropsRequested {
		r.CredProps = &CredProps{RK: req.ResidentKey}
	}
	return r
}

const (
	odataFido2Method     = "#microsoft.graph.fido2AuthenticationMethod"
	odataPublicKeyCred   = "#microsoft.graph.webauthnPublicKeyCredential"
	odataAttestationResp = "#microsoft.graph.webauthnAuthenticatorAttestationResponse"
	odataExtOutputs      = "#microsoft.graph.webauthnAuthenticationExtensionsClientOutputs"
)

// MarshalJSON writes the Graph open type with its @odata.type first.
func (r ClientExtensionResults) MarshalJSON() ([]byte, error) {
	type wire struct {
		ODataType                  string     `json:"@odata.type"`
		HMACCreateSecret           bool       `json:"hmacCreateSecret,omitempty"`
		CredentialProtectionPolicy string     `json:"credentialProtectionPolicy,omitempty"`
		MinPINLength               *int       `json:"minPinLength,omitempty"`
		CredProps                  *CredProps `json:"credProps,omitempty"`
	}
	return json.Marshal(wire{odataExtOutputs, r.HMACCreateSecret, r.CredentialProtectionPolicy, r.MinPINLength, r.CredProps})
}

// MaxDisplayNameLength is the practical displayName limit (docs/graph.md
// §4.1: DSInternals and KeyEnroll cap at 30 characters).
const MaxDisplayNameLength = 30

// RegistrationBody returns the JSON body of
// POST /users/{id}/authentication/fido2Methods (docs/graph.md §4.1):
//
//	{"@odata.type":"#microsoft.graph.fido2AuthenticationMethod",
//	 "displayName":…,
//	 "publicKeyCredential":{"@odata.type":…,"id":<base64url credential id>,
//	   "response":{"@odata.type":…,"clientDataJSON":<base64url>,"attestationObject":<base64url>},
//	   "clientExtensionResults":{"@odata.type":…}}}
//
// Binary members are base64url without padding (RFC 4648 §5). type, rawId,
// authenticatorAttachment and transports are left out: Graph's schema does
// not have them and rejects them (docs/graph.md §4.1). The @odata.type annotations follow
// the v1.0 doc example; Graph also accepts bodies without them on beta.
// displayName is omitted when empty (optional per v1.0).
func RegistrationBody(displayName string, credentialID, clientDataJSON, attestationObject []byte, ext ClientExtensionResults) ([]byte, error) {
	if len(credentialID) == 0 || len(credentialID) > MaxCredentialIDLength {
		return nil, fmt.Errorf("webauthn: credential id is %d bytes, want 1..%d", len(credentialID), MaxCredentialIDLength)
	}
	if len(clientDataJSON) == 0 {
		return nil, errors.New("webauthn: clientDataJSON is empty")
	}
	if len(attestationObject) == 0 {
		return nil, errors.New("webauthn: attestationObject is empty")
	}
	if n := len([]rune(displayName)); n > MaxDisplayNameLength {
		return nil, fmt.Errorf("webauthn: displayName has %d characters, at most %d", n, MaxDisplayNameLength)
	}
	type response struct {
		ODataType         string `json:"@odata.type"`
		ClientDataJSON    string `json:"clientDataJSON"`
		AttestationObject string `json:"attestationObject"`
	}
	type credential struct {
		ODataType              string                 `json:"@odata.type"`
		ID                     string                 `json:"id"`
		Response               response               `json:"response"`
		ClientExtensionResults ClientExtensionResults `json:"clientExtensionResults"`
	}
	type body struct {
		ODataType           string     `json:"@odata.type"`
		DisplayName         string     `json:"displayName,omitempty"`
		PublicKeyCredential credential `json:"publicKeyCredential"`
	}
	return json.Marshal(body{
		ODataType:   odataFido2Method,
		DisplayName: displayName,
		PublicKeyCredential: credential{
			ODataType: odataPublicKeyCred,
			ID:        b64url.EncodeToString(credentialID),
			Response: response{
				ODataType:         odataAttestationResp,
				ClientDataJSON:    b64url.EncodeToString(clientDataJSON),
				AttestationObject: b64url.EncodeToString(attestationObject),
			},
			ClientExtensionResults: ext,
		},
	})
}
