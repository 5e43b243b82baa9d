package softkey

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/google/uuid"
)

// registration runs the Entra-style makeCredential (rk, UV by PIN token,
// credProtect 1, hmac-secret) and returns the browser-style JSON.
func registration(t *testing.T, challenge string) ([]byte, *mcResult) {
	t.Helper()
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	c.setPIN("1234")
	tok := mustToken(t, c, "1234", PermMakeCredential, "login.microsoft.com")
	clientData, _ := json.Marshal(map[string]any{
		"type":        "webauthn.create",
		"challenge":   challenge,
		"origin":      "https://login.microsoft.com",
		"crossOrigin": false,
	})
	cdh := sha256.Sum256(clientData)
	st, res := c.makeCred(mcReq{rpID: "login.microsoft.com", rk: true, token: tok, cdh: cdh[:],
		ext: map[string]any{"credProtect": 1, "hmac-secret": true}})
	wantStatus(t, "mc", st, StatusOK)
	attObj, err := encMode.Marshal(map[string]any{"fmt": res.fmt, "authData": res.authData, "attStmt": res.attStmt})
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	body, _ := json.Marshal(map[string]any{
		"id":    b64(res.credID),
		"rawId": b64(res.credID),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64(clientData),
			"attestationObject": b64(attObj),
		},
		"clientExtensionResults": map[string]any{},
	})
	return body, res
}

func TestGoWebAuthnVerifiesRegistration(t *testing.T) {
	challenge := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xC4}, 32))
	body, res := registration(t, challenge)
	pcc, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	params := []protocol.CredentialParameter{{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256}}
	verify := func(mds metadata.Provider) error {
		_, err := pcc.Verify(challenge, "login.microsoft.com", []string{"https://login.microsoft.com"}, nil, nil,
			protocol.TopOriginExplicitVerificationMode, false, true, true, mds, params,
			protocol.AttestationPolicy{}, protocol.SignaturePolicy{})
		return err
	}
	if err := verify(nil); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if pcc.Response.AttestationObject.Format != "packed" {
		t.Fatal("format")
	}
	if !pcc.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
		t.Fatal("UV flag")
	}
	// Wrong challenge fails.
	if _, err := pcc.Verify("other", "login.microsoft.com", []string{"https://login.microsoft.com"}, nil, nil,
		protocol.TopOriginExplicitVerificationMode, false, true, true, nil, params,
		protocol.AttestationPolicy{}, protocol.SignaturePolicy{}); err == nil {
		t.Fatal("wrong challenge verified")
	}

	// With a private metadata entry holding our test root ("attestation
	// enforced"): the x5c chain must lead to the root.
	id := uuid.MustParse(AAGUIDString)
	entry := &metadata.Entry{
		AaGUID: id,
		MetadataStatement: metadata.Statement{
			Description:                 ModelName,
			AaGUID:                      id,
			AttestationTypes:            metadata.AuthenticatorAttestationTypes{metadata.BasicFull},
			AttestationRootCertificates: []*x509.Certificate{RootCertificate()},
		},
		StatusReports: []metadata.StatusReport{{Status: metadata.FidoCertifiedL1}},
	}
	mds, err := memory.New(memory.WithMetadata(map[uuid.UUID]*metadata.Entry{id: entry}),
		memory.WithValidateEntry(true), memory.WithValidateTrustAnchor(true),
		memory.WithValidateStatus(false), memory.WithValidateAttestationTypes(true))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(mds); err != nil {
		t.Fatalf("verify with metadata: %v", err)
	}
	_ = res
}

func TestAttestationCertificate(t *testing.T) {
	leaf, root := BatchCertificate(), RootCertificate()
	if leaf == nil || root == nil {
		t.Fatal("embedded CA missing")
	}
	if leaf.Subject.CommonName == root.Subject.CommonName {
		t.Fatal("leaf and root CN must differ (go-webauthn trust-anchor check)")
	}
	if leaf.Version != 3 || leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Fatal("leaf must be v3 with CA=false")
	}
	if len(leaf.Subject.OrganizationalUnit) != 1 || leaf.Subject.OrganizationalUnit[0] != "Authenticator Attestation" {
		t.Fatalf("OU %v", leaf.Subject.OrganizationalUnit)
	}
	var found bool
	for _, e := range leaf.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}) {
			found = true
			var v []byte
			if _, err := asn1.Unmarshal(e.Value, &v); err != nil {
				t.Fatal(err)
			}
			id := AAGUID()
			if e.Critical || !bytes.Equal(v, id[:]) {
				t.Fatal("AAGUID extension must be non-critical and equal the AAGUID")
			}
		}
	}
	if !found {
		t.Fatal("no AAGUID extension")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: AttestationRoots(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatal(err)
	}
	if uuid.MustParse(AAGUIDString) != uuid.UUID(AAGUID()) || uuid.UUID(AAGUID()).Version() != 4 {
		t.Fatal("AAGUID constant mismatch")
	}
	var _ = cbor.RawMessage{}
}
