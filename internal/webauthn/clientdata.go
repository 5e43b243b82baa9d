package webauthn

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
)

// Origin returns the origin keyprep writes into clientDataJSON: "https://"
// followed by the options' rp.id (docs/graph.md §3.1), in practice
// "https://login.microsoft.com".
func Origin(opts *CreationOptions) string {
	return "https://" + opts.RP.ID
}

// ClientDataJSON returns the CollectedClientData (WebAuthn L3 §5.8.1) for a
// create ceremony, serialised with the member order type, challenge, origin,
// crossOrigin that browsers, python-fido2 and DSInternals use
// (docs/graph.md §3.1), compact, with crossOrigin false and no topOrigin.
//
// challenge is the base64url encoding without padding of the decoded
// challenge (WebAuthn L3 §5.8.1 step "challenge"; DSInternals decodes and
// re-encodes). For the unpadded base64url string Graph documents this is
// byte-for-byte the string Graph sent; for a padded or standard-base64
// challenge it is the canonical form a WebAuthn RP compares against.
func ClientDataJSON(opts *CreationOptions) []byte {
	// json.Marshal of a string escapes <, >, & as \u003c etc.; a browser
	// would not, so encode with HTML escaping off.
	var b []byte
	b = append(b, `{"type":"webauthn.create","challenge":`...)
	b = appendJSONString(b, b64url.EncodeToString(opts.Challenge))
	b = append(b, `,"origin":`...)
	b = appendJSONString(b, Origin(opts))
	b = append(b, `,"crossOrigin":false}`...)
	return b
}

// ClientDataHash returns SHA-256 of clientDataJSON, the clientDataHash
// parameter (0x01) of CTAP 2.1 §6.1 authenticatorMakeCredential.
func ClientDataHash(clientDataJSON []byte) []byte {
	h := sha256.Sum256(clientDataJSON)
	return h[:]
}

func appendJSONString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a Go string always encodes
	out := buf.Bytes()
	if n := len(out); n > 0 && out[n-1] == '\n' {
		out = out[:n-1]
	}
	return append(b, out...)
}
