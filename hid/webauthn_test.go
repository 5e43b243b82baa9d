//go:build cgo

package hid_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/softkey"
	"github.com/keyprep/keyprep/internal/softkey/softkeymds"
)

// TestAttestationThroughLibfido2VerifiesWithGoWebAuthn is the independent
// check of the whole key path: real libfido2 makes an Entra-shaped credential
// on the virtual key (rk, UV by PIN token, credProtect 1 enforced,
// hmac-secret; docs/graph.md §3), the attestation object is assembled
// from what the binding returns, and go-webauthn — not keyprep's code —
// verifies it as a relying party would (WebAuthn L3 §7.1), including the
// packed x5c chain up to the project's test root (WebAuthn §8.2).
func TestAttestationThroughLibfido2VerifiesWithGoWebAuthn(t *testing.T) {
	ctx := context.Background()
	_, d := openSoftKey(t, softkey.Config{}, testPIN)

	challenge := base64.RawURLEncoding.EncodeToString(cdh("an opaque Graph challenge"))
	clientData, err := json.Marshal(map[string]any{
		"type": "webauthn.create", "challenge": challenge,
		"origin": "https://login.microsoft.com", "crossOrigin": false,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(clientData)
	cred, err := d.MakeCredential(ctx, hid.MakeCredentialRequest{
		ClientDataHash: h[:],
		RP:             hid.RelyingParty{ID: "login.microsoft.com", Name: "Microsoft"},
		User:           hid.User{ID: append([]byte("OF:"), cdh("adele")[:16]...), Name: "adele.vance@contoso.test", DisplayName: "Adele Vance"},
		Algorithm:      hid.ES256,
		ResidentKey:    true,
		UV:             true,
		CredProtect:    hid.CredProtectUVOptional, EnforceCredProtect: true,
		HMACSecret: true,
	}, testPIN)
	if err != nil {
		t.Fatalf("MakeCredential: %v", err)
	}
	if cred.Format != "packed" || len(cred.X5C) == 0 || cred.CredProtect != hid.CredProtectUVOptional {
		t.Fatalf("credential: fmt %q, %d certs, credProtect %d", cred.Format, len(cred.X5C), cred.CredProtect)
	}

	enc, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	// Two ways to the attStmt: the key's own bytes as libfido2 kept them, and
	// one rebuilt from the binding's separate fields (alg, sig, x5c). Both
	// must verify, which checks that every field came through intact.
	rebuilt, err := enc.Marshal(map[string]any{"alg": cred.Algorithm, "sig": cred.Sig, "x5c": cred.X5C})
	if err != nil {
		t.Fatal(err)
	}
	mds, err := softkeymds.Provider()
	if err != nil {
		t.Fatal(err)
	}
	params := []protocol.CredentialParameter{
		{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
		{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
	}
	for _, tc := range []struct {
		name    string
		attStmt []byte
		mutate  func(authData, sig []byte) ([]byte, []byte)
		origin  string
		wantErr bool
	}{
		{name: "key attStmt", attStmt: cred.AttStmt, origin: "https://login.microsoft.com"},
		{name: "rebuilt attStmt", attStmt: rebuilt, origin: "https://login.microsoft.com"},
		{name: "wrong origin", attStmt: cred.AttStmt, origin: "https://evil.example", wantErr: true},
		{name: "tampered authData", origin: "https://login.microsoft.com", wantErr: true,
			mutate: func(ad, sig []byte) ([]byte, []byte) { ad[33] ^= 0x01; return ad, sig }}, // flip the sign-count byte
	} {
		t.Run(tc.name, func(t *testing.T) {
			authData := append([]byte(nil), cred.AuthData...)
			attStmt := tc.attStmt
			if tc.mutate != nil {
				authData, _ = tc.mutate(authData, nil)
				attStmt = rebuilt
			}
			attObj, err := enc.Marshal(map[string]any{"fmt": cred.Format, "authData": authData, "attStmt": cbor.RawMessage(attStmt)})
			if err != nil {
				t.Fatal(err)
			}
			b64 := base64.RawURLEncoding.EncodeToString
			body, _ := json.Marshal(map[string]any{
				"id": b64(cred.ID), "rawId": b64(cred.ID), "type": "public-key",
				"response":               map[string]any{"clientDataJSON": b64(clientData), "attestationObject": b64(attObj)},
				"clientExtensionResults": map[string]any{},
			})
			pcc, err := protocol.ParseCredentialCreationResponseBytes(body)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			_, err = pcc.Verify(challenge, "login.microsoft.com", []string{tc.origin}, nil, nil,
				protocol.TopOriginExplicitVerificationMode, false, true, true, mds, params,
				protocol.AttestationPolicy{}, protocol.SignaturePolicy{})
			if tc.wantErr {
				if err == nil {
					t.Fatal("verified, want failure")
				}
				return
			}
			if err != nil {
				t.Fatalf("go-webauthn: %v", err)
			}
			if !pcc.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
				t.Fatal("UV flag not set")
			}
		})
	}
}
