package entrasim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/softkey"
	"github.com/keyprep/keyprep/internal/softkey/softkeymds"
)

// oidFIDOAAGUID is the packed attestation certificate's AAGUID extension
// (WebAuthn L3 §8.2.1).
var oidFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// attestationCert mints a packed attestation certificate that meets every
// requirement of WebAuthn L3 §8.2.1 (version 3, subject with OU
// "Authenticator Attestation", not a CA, the AAGUID extension) for aaguid,
// issued by parent (signed with parentKey), or self-signed when parent is
// nil.
func attestationCert(t *testing.T, aaguid uuid.UUID, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := asn1.Marshal(aaguid[:])
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"keyprep"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "keyprep test attestation " + aaguid.String()},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       []pkix.Extension{{Id: oidFIDOAAGUID, Value: ext}},
	}
	signer, issuer := k, tmpl
	if parent != nil {
		signer, issuer = parentKey, parent
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &k.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	return k, der
}

// rogueRoot is a CA that no metadata statement names.
func rogueRoot(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Country: []string{"US"}, Organization: []string{"keyprep"}, CommonName: "keyprep Virtual Key Test Root CA"},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

// testRoot is the virtual key's test root CA, the trust anchor of its
// metadata statement.
func testRoot(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	cp, err := os.ReadFile("../softkey/testca/root-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	kp, err := os.ReadFile("../softkey/testca/root-ca.key.pem")
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(cp)
	kb, _ := pem.Decode(kp)
	if cb == nil || kb == nil {
		t.Fatal("cannot decode the softkey test root")
	}
	c, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c, k.(*ecdsa.PrivateKey)
}

const otherModel = "cb69481e-8ff7-4039-93ec-0a2729a154a8"

// metadataWith is the virtual key's metadata plus an entry for another
// model that has the same trust anchors (the virtual key's test root).
func metadataWith(t *testing.T, aaguid uuid.UUID) metadata.Provider {
	t.Helper()
	e := *softkeymds.Entry()
	e.AaGUID = aaguid
	e.MetadataStatement.AaGUID = aaguid
	e.MetadataStatement.Description = "keyprep test model " + aaguid.String()
	p, err := softkeymds.Provider(&e)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAttestationChain: under attestation enforcement, a packed attestation
// whose signature is good is accepted only when its certificate chains to
// a trust anchor of the metadata statement for the authenticator's model
// (AAGUID). Each refusal has an accepted twin that differs in that one
// respect.
func TestAttestationChain(t *testing.T) {
	virtual := uuid.MustParse(softkey.AAGUIDString)
	other := uuid.MustParse(otherModel)
	root, rootKey := testRoot(t)
	rogue, rogueKey := rogueRoot(t)
	const noChain = "Attestation verification failed: the attestation statement does not chain to a trusted root in the tenant's metadata, and the passkey profile 'Default passkey profile' enforces attestation."
	tests := []struct {
		name     string
		aaguid   uuid.UUID
		issuer   *x509.Certificate // nil: self-signed
		key      *ecdsa.PrivateKey
		metadata func(t *testing.T) metadata.Provider // nil: the default (virtual key model)
		wantMsg  string                               // "" accepted
	}{
		{name: "known model, certificate from its root", aaguid: virtual, issuer: root, key: rootKey},
		{name: "known model, certificate from another root", aaguid: virtual, issuer: rogue, key: rogueKey, wantMsg: noChain},
		{name: "known model, self-signed certificate", aaguid: virtual, wantMsg: noChain},
		{name: "unknown model, certificate from a trusted root", aaguid: other, issuer: root, key: rootKey, wantMsg: noChain},
		{name: "the same model with metadata", aaguid: other, issuer: root, key: rootKey,
			metadata: func(t *testing.T) metadata.Provider { return metadataWith(t, other) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				if tc.metadata != nil {
					o.Metadata = tc.metadata(t)
				}
			})
			a := newAuthenticator(t)
			a.aaguid = tc.aaguid
			a.attKey, a.attCert = attestationCert(t, tc.aaguid, tc.issuer, tc.key)
			o, _ := f.options("v1.0", adele)
			r := f.do("POST", fido2Path("v1.0", adele), a.register(t, o))
			if tc.wantMsg != "" {
				f.wantErr(r, 400, tc.wantMsg)
				return
			}
			f.want(r, 201)
			if m := r.json(t); m["attestationLevel"] != "attested" {
				t.Errorf("attestationLevel %v, want attested", m["attestationLevel"])
			}
		})
	}
}
