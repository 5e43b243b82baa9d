package webauthn

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

var testAAGUID = [16]byte{0x6b, 0x65, 0x79, 0x70, 0x72, 0x65, 0x70, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x2d, 0x6b, 0x65, 0x79}

// The in-test authenticator below crafts authData and a packed attestation
// statement the way a CTAP2 key would (WebAuthn L3 §6.1, §8.2).
var (
	testRSAKey  *rsa.PrivateKey
	testAttKey  *ecdsa.PrivateKey
	testAttX5C  [][]byte
	testKeysErr error
)

func init() {
	testRSAKey, testKeysErr = rsa.GenerateKey(rand.Reader, 2048)
	if testKeysErr != nil {
		return
	}
	testAttKey, testAttX5C, testKeysErr = makeAttestationChain()
}

// makeAttestationChain issues a batch attestation certificate meeting
// WebAuthn L3 §8.2.1 under a throwaway root (distinct CNs, docs/ctap.md §9).
func makeAttestationChain() (*ecdsa.PrivateKey, [][]byte, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	root := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keyprep webauthn test root", Organization: []string{"keyprep test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, root, root, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, nil, err
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	aaguidExt, _ := asn1.Marshal(testAAGUID[:])
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"keyprep test"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "keyprep webauthn test batch"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), BasicConstraintsValid: true,
		ExtraExtensions: []pkix.Extension{{Id: oidFIDOGenCEAAGUID, Value: aaguidExt}},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, rootCert, &leafKey.PublicKey, rootKey)
	if err != nil {
		return nil, nil, err
	}
	return leafKey, [][]byte{leafDER}, nil
}

// regSpec describes one crafted makeCredential response.
type regSpec struct {
	rpID       string
	flags      byte
	aaguid     [16]byte
	credID     []byte
	alg        int
	ext        map[string]any // authData extension outputs; nil = none
	format     string
	attest     string // "self", "full", "none"
	attStmt    map[string]any
	corruptSig bool
}

func defaultSpec() regSpec {
	return regSpec{
		rpID: "login.microsoft.com", flags: FlagUP | FlagUV | FlagAT | FlagED, aaguid: testAAGUID,
		credID: bytes.Repeat([]byte{0x5a}, 48), alg: AlgES256,
		ext:    map[string]any{"credProtect": 1, "hmac-secret": true},
		format: "packed", attest: "self",
	}
}

func coseKeyOf(t testing.TB, alg int, ec *ecdsa.PrivateKey) []byte {
	t.Helper()
	var m map[int]any
	switch alg {
	case AlgES256:
		pt, err := ec.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		m = map[int]any{1: 2, 3: AlgES256, -1: 1, -2: pt[1:33], -3: pt[33:]}
	case AlgRS256:
		e := big.NewInt(int64(testRSAKey.E)).Bytes()
		m = map[int]any{1: 3, 3: AlgRS256, -1: testRSAKey.N.Bytes(), -2: e}
	}
	b, err := encMode.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// craft returns authData and attStmt for spec, signed over clientDataHash.
func craft(t testing.TB, s regSpec, clientDataHash []byte) (authData, attStmt []byte) {
	t.Helper()
	if testKeysErr != nil {
		t.Fatal(testKeysErr)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(s.rpID))
	ad := append([]byte(nil), h[:]...)
	ad = append(ad, s.flags)
	ad = binary.BigEndian.AppendUint32(ad, 0)
	if s.flags&FlagAT != 0 {
		ad = append(ad, s.aaguid[:]...)
		ad = binary.BigEndian.AppendUint16(ad, uint16(len(s.credID)))
		ad = append(ad, s.credID...)
		ad = append(ad, coseKeyOf(t, s.alg, ec)...)
	}
	if s.flags&FlagED != 0 {
		e, err := encMode.Marshal(s.ext)
		if err != nil {
			t.Fatal(err)
		}
		ad = append(ad, e...)
	}
	if s.attStmt != nil {
		st, err := encMode.Marshal(s.attStmt)
		if err != nil {
			t.Fatal(err)
		}
		return ad, st
	}
	if s.attest == "none" {
		return ad, []byte{0xa0}
	}
	msg := append(append([]byte(nil), ad...), clientDataHash...)
	digest := sha256.Sum256(msg)
	var sig []byte
	st := map[string]any{"alg": s.alg}
	switch {
	case s.attest == "full":
		sig, err = ecdsa.SignASN1(rand.Reader, testAttKey, digest[:])
		st["alg"] = AlgES256
		st["x5c"] = testAttX5C
	case s.alg == AlgES256:
		sig, err = ecdsa.SignASN1(rand.Reader, ec, digest[:])
	case s.alg == AlgRS256:
		sig, err = rsa.SignPKCS1v15(rand.Reader, testRSAKey, crypto.SHA256, digest[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.corruptSig {
		sig[len(sig)-1] ^= 1
	}
	st["sig"] = sig
	b, err := encMode.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return ad, b
}

func testRequest(cdh []byte) *MakeCredentialRequest {
	return &MakeCredentialRequest{
		ClientDataHash: cdh, RPID: "login.microsoft.com", RPName: "Microsoft", UserID: []byte("OF:x"), UserName: "u",
		Algorithms: []int{AlgES256, AlgRS256}, ResidentKey: true, UV: true,
		CredProtect: 1, EnforceCredProtect: true, HMACSecret: true, Attestation: "direct",
	}
}

// browserJSON turns the Graph POST body into the browser-style
// PublicKeyCredential JSON go-webauthn parses (docs/ctap.md §9).
func browserJSON(t *testing.T, graphBody []byte) []byte {
	t.Helper()
	var body struct {
		DisplayName         string `json:"displayName"`
		PublicKeyCredential struct {
			ID       string `json:"id"`
			Response struct {
				ClientDataJSON    string `json:"clientDataJSON"`
				AttestationObject string `json:"attestationObject"`
			} `json:"response"`
			ClientExtensionResults map[string]any `json:"clientExtensionResults"`
		} `json:"publicKeyCredential"`
	}
	if err := json.Unmarshal(graphBody, &body); err != nil {
		t.Fatal(err)
	}
	pkc := body.PublicKeyCredential
	delete(pkc.ClientExtensionResults, "@odata.type")
	return mustJSON(t, map[string]any{
		"id": pkc.ID, "rawId": pkc.ID, "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    pkc.Response.ClientDataJSON,
			"attestationObject": pkc.Response.AttestationObject,
		},
		"clientExtensionResults": pkc.ClientExtensionResults,
	})
}

// TestRegistrationVerifiesWithGoWebAuthn runs the whole translation on the
// captured-style fixture and has go-webauthn verify the result.
func TestRegistrationVerifiesWithGoWebAuthn(t *testing.T) {
	for _, tc := range []struct {
		name, fixture, attest string
		alg                   int
	}{
		{"captured ES256 self", "creationoptions-captured.json", "self", AlgES256},
		{"captured RS256 self", "creationoptions-captured.json", "self", AlgRS256},
		{"beta ES256 full x5c", "creationoptions-beta-value.json", "full", AlgES256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := ParseCreationOptions(readFixture(t, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			cdj := ClientDataJSON(opts)
			cdh := ClientDataHash(cdj)
			req, err := MakeCredentialParams(opts, cdh)
			if err != nil {
				t.Fatal(err)
			}
			spec := defaultSpec()
			spec.alg, spec.attest = tc.alg, tc.attest
			authData, attStmt := craft(t, spec, cdh)
			if err := CheckRegistration(req, cdh, "packed", authData, attStmt); err != nil {
				t.Fatal(err)
			}
			ad, err := ParseAuthData(authData)
			if err != nil {
				t.Fatal(err)
			}
			attObj, err := AttestationObject("packed", authData, attStmt)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(attObj, []byte("\xa3\x63fmt\x66packed\x67attStmt")) {
				t.Errorf("attestationObject not in CTAP2 canonical order: % x", attObj[:20])
			}
			name, err := DisplayName("", "YubiKey 5 NFC", "", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			body, err := RegistrationBody(name, ad.CredentialID, cdj, attObj, ExtensionResults(req, ad, false))
			if err != nil {
				t.Fatal(err)
			}
			pcc, err := protocol.ParseCredentialCreationResponseBytes(browserJSON(t, body))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			params := []protocol.CredentialParameter{
				{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
				{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256},
			}
			verify := func(challenge string) error {
				_, err := pcc.Verify(challenge, "login.microsoft.com", []string{"https://login.microsoft.com"}, nil, nil,
					protocol.TopOriginExplicitVerificationMode, false, true, true, nil, params,
					protocol.AttestationPolicy{}, protocol.SignaturePolicy{})
				return err
			}
			if err := verify(opts.ChallengeString); err != nil {
				t.Fatalf("verify: %v", err)
			}
			other := "A"
			if strings.HasSuffix(opts.ChallengeString, "A") {
				other = "B"
			}
			if err := verify(opts.ChallengeString[:len(opts.ChallengeString)-1] + other); err == nil {
				t.Fatal("go-webauthn accepted a different challenge")
			}
			if got := pcc.Response.AttestationObject.AuthData.AttData.AAGUID; !bytes.Equal(got, testAAGUID[:]) {
				t.Errorf("AAGUID %x", got)
			}
		})
	}
}

func TestRegistrationBodyShape(t *testing.T) {
	cred := []byte{0xfb, 0xff, 0x01}
	minLen := 8
	body, err := RegistrationBody("YubiKey 5 NFC 2026-11-22", cred, []byte(`{"a":1}`), []byte{0xa0},
		ClientExtensionResults{HMACCreateSecret: true, CredentialProtectionPolicy: "userVerificationOptional", MinPINLength: &minLen})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@odata.type":"#microsoft.graph.fido2AuthenticationMethod","displayName":"YubiKey 5 NFC 2026-11-22",` +
		`"publicKeyCredential":{"@odata.type":"#microsoft.graph.webauthnPublicKeyCredential","id":"-_8B",` +
		`"response":{"@odata.type":"#microsoft.graph.webauthnAuthenticatorAttestationResponse","clientDataJSON":"eyJhIjoxfQ","attestationObject":"oA"},` +
		`"clientExtensionResults":{"@odata.type":"#microsoft.graph.webauthnAuthenticationExtensionsClientOutputs",` +
		`"hmacCreateSecret":true,"credentialProtectionPolicy":"userVerificationOptional","minPinLength":8}}}`
	if string(body) != want {
		t.Fatalf("got  %s\nwant %s", body, want)
	}
	body, err = RegistrationBody("", cred, []byte("x"), []byte{0xa0}, ClientExtensionResults{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(body, []byte("displayName")) || !bytes.Contains(body, []byte(`"clientExtensionResults":{"@odata.type":"#microsoft.graph.webauthnAuthenticationExtensionsClientOutputs"}`)) {
		t.Errorf("body = %s", body)
	}
	for _, bad := range []struct {
		name     string
		cred     []byte
		cdj, att []byte
	}{
		{"1234567890123456789012345678901", cred, []byte("x"), []byte{0xa0}},
		{"", nil, []byte("x"), []byte{0xa0}},
		{"", make([]byte, 1024), []byte("x"), []byte{0xa0}},
		{"", cred, nil, []byte{0xa0}},
		{"", cred, []byte("x"), nil},
	} {
		if _, err := RegistrationBody(bad.name, bad.cred, bad.cdj, bad.att, ClientExtensionResults{}); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func TestAttestationObject(t *testing.T) {
	ad := make([]byte, 37)
	obj, err := AttestationObject("none", ad, nil)
	if err != nil {
		t.Fatal(err)
	}
	var dec map[string]cbor.RawMessage
	if err := decMode.Unmarshal(obj, &dec); err != nil || len(dec) != 3 || !bytes.Equal(dec["attStmt"], []byte{0xa0}) {
		t.Fatalf("decoded %v %v", dec, err)
	}
	for _, tc := range []struct {
		name     string
		fmt      string
		ad, stmt []byte
	}{
		{"empty fmt", "", ad, nil},
		{"short authData", "none", ad[:36], nil},
		{"attStmt not map", "packed", ad, []byte{0x80}},
		{"attStmt trailing", "packed", ad, []byte{0xa0, 0x00}},
		{"attStmt garbage", "packed", ad, []byte{0xff}},
	} {
		if _, err := AttestationObject(tc.fmt, tc.ad, tc.stmt); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
}

func TestParseAuthData(t *testing.T) {
	cdh := make([]byte, 32)
	spec := defaultSpec()
	spec.ext = map[string]any{"credProtect": 2, "hmac-secret": true, "minPinLength": 6, "credBlob": true, "x-unknown": []byte{1}}
	raw, _ := craft(t, spec, cdh)
	ad, err := ParseAuthData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !ad.Flags.UP() || !ad.Flags.UV() || !ad.Flags.AT() || !ad.Flags.ED() || ad.Flags.BE() || ad.Flags.BS() {
		t.Errorf("flags %08b", ad.Flags)
	}
	if ad.AAGUID != testAAGUID || len(ad.CredentialID) != 48 || ad.Algorithm != AlgES256 {
		t.Errorf("attested data %+v", ad)
	}
	if _, ok := ad.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("public key %T", ad.PublicKey)
	}
	e := ad.Extensions
	if e.CredProtect != 2 || !e.HMACSecret || e.MinPINLength != 6 || !e.CredBlob || !e.Has("x-unknown") {
		t.Errorf("extensions %+v", e)
	}
	spec.alg = AlgRS256
	raw, _ = craft(t, spec, cdh)
	if ad, err = ParseAuthData(raw); err != nil {
		t.Fatal(err)
	}
	if k, ok := ad.PublicKey.(*rsa.PublicKey); !ok || k.N.Cmp(testRSAKey.N) != 0 {
		t.Errorf("RSA key %T", ad.PublicKey)
	}
	// Malformed inputs.
	good, _ := craft(t, defaultSpec(), cdh)
	for name, b := range map[string][]byte{
		"short":          good[:36],
		"AT truncated":   good[:37+10],
		"id overruns":    append(append([]byte(nil), good[:37+16]...), 0xff, 0xff),
		"trailing":       append(append([]byte(nil), good...), 0),
		"ED without ext": good[:len(good)-len(mustCBOR(t, defaultSpec().ext))],
		"AT clear with data": func() []byte {
			b := append([]byte(nil), good...)
			b[32] &^= FlagAT
			return b
		}(),
	} {
		if _, err := ParseAuthData(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := encMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheckRegistrationFailures makes each check fail alone.
func TestCheckRegistrationFailures(t *testing.T) {
	cdh := ClientDataHash([]byte("client data"))
	for _, tc := range []struct {
		name   string
		spec   func(s *regSpec)
		req    func(r *MakeCredentialRequest)
		format string
		mutate func(ad []byte) []byte
		want   Check
	}{
		{name: "baseline self", want: ""},
		{name: "baseline full", spec: func(s *regSpec) { s.attest = "full" }, want: ""},
		{name: "baseline RS256", spec: func(s *regSpec) { s.alg = AlgRS256 }, want: ""},
		{name: "baseline none", spec: func(s *regSpec) { s.attest = "none" }, format: "none", want: ""},
		{name: "credProtect 1 enforced, key without credProtect", spec: func(s *regSpec) { s.ext = map[string]any{"hmac-secret": true} }, want: ""},
		{name: "credProtect not enforced, other level", spec: func(s *regSpec) { s.ext["credProtect"] = 2 },
			req: func(r *MakeCredentialRequest) { r.EnforceCredProtect = false }, want: ""},
		{name: "uv discouraged, UV clear", spec: func(s *regSpec) { s.flags &^= FlagUV },
			req: func(r *MakeCredentialRequest) { r.UV = false }, want: ""},
		{name: "format", format: "tpm", want: CheckFormat},
		{name: "authData", mutate: func(ad []byte) []byte { return ad[:40] }, want: CheckAuthData},
		{name: "rpIdHash", spec: func(s *regSpec) { s.rpID = "login.example.com" }, want: CheckRPIDHash},
		{name: "UP", spec: func(s *regSpec) { s.flags &^= FlagUP }, want: CheckUserPresent},
		{name: "UV", spec: func(s *regSpec) { s.flags &^= FlagUV }, want: CheckUserVerified},
		{name: "AT", spec: func(s *regSpec) { s.flags &^= FlagAT; s.attest = "none" }, format: "none", want: CheckAttestedData},
		{name: "AAGUID zero", spec: func(s *regSpec) { s.aaguid = [16]byte{} }, want: CheckAAGUID},
		{name: "credential id empty", spec: func(s *regSpec) { s.credID = nil }, want: CheckCredentialID},
		{name: "credential id 1024", spec: func(s *regSpec) { s.credID = make([]byte, 1024) }, want: CheckCredentialID},
		{name: "algorithm not offered", req: func(r *MakeCredentialRequest) { r.Algorithms = []int{AlgRS256} }, want: CheckAlgorithm},
		{name: "credProtect other level", spec: func(s *regSpec) { s.ext["credProtect"] = 2 }, want: CheckCredProtect},
		{name: "credProtect 3 missing", spec: func(s *regSpec) { s.ext = map[string]any{"hmac-secret": true} },
			req: func(r *MakeCredentialRequest) { r.CredProtect = 3 }, want: CheckCredProtect},
		{name: "hmac-secret missing", spec: func(s *regSpec) { s.ext = map[string]any{"credProtect": 1} }, want: CheckHMACSecret},
		{name: "hmac-secret false", spec: func(s *regSpec) { s.ext["hmac-secret"] = false }, want: CheckHMACSecret},
		{name: "attStmt no alg", spec: func(s *regSpec) { s.attStmt = map[string]any{"sig": []byte{1}} }, want: CheckAttStmt},
		{name: "attStmt no sig", spec: func(s *regSpec) { s.attStmt = map[string]any{"alg": -7} }, want: CheckAttStmt},
		{name: "attStmt self alg mismatch", spec: func(s *regSpec) { s.attStmt = map[string]any{"alg": -257, "sig": []byte{1}} }, want: CheckAttStmt},
		{name: "attStmt x5c garbage", spec: func(s *regSpec) {
			s.attStmt = map[string]any{"alg": -7, "sig": []byte{1}, "x5c": [][]byte{{0x30, 0x00}}}
		}, want: CheckAttStmt},
		{name: "attStmt x5c alg mismatch", spec: func(s *regSpec) {
			s.attStmt = map[string]any{"alg": -257, "sig": []byte{1}, "x5c": testAttX5C}
		}, want: CheckAttStmt},
		{name: "none with statement", spec: func(s *regSpec) { s.attStmt = map[string]any{"alg": -7} }, format: "none", want: CheckAttStmt},
		{name: "signature", spec: func(s *regSpec) { s.corruptSig = true }, want: CheckAttSignature},
		{name: "signature full", spec: func(s *regSpec) { s.attest = "full"; s.corruptSig = true }, want: CheckAttSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := defaultSpec()
			if tc.spec != nil {
				tc.spec(&s)
			}
			ad, st := craft(t, s, cdh)
			if tc.mutate != nil {
				ad = tc.mutate(ad)
			}
			req := testRequest(cdh)
			if tc.req != nil {
				tc.req(req)
			}
			format := tc.format
			if format == "" {
				format = "packed"
			}
			err := CheckRegistration(req, cdh, format, ad, st)
			if got := FailedCheck(err); got != tc.want || (tc.want == "" && err != nil) {
				t.Fatalf("err = %v, want check %q", err, tc.want)
			}
			if tc.want != "" && !errorsIs(err, tc.want) {
				t.Fatalf("errors.Is(%v, %s) false", err, tc.want)
			}
		})
	}
	// A signature over a different clientDataHash fails.
	ad, st := craft(t, defaultSpec(), cdh)
	if err := CheckRegistration(testRequest(cdh), cdh, "packed", ad, []byte{0x80}); FailedCheck(err) != CheckAttStmt {
		t.Fatalf("attStmt array: err = %v", err)
	}
	if err := CheckRegistration(testRequest(cdh), make([]byte, 32), "packed", ad, st); FailedCheck(err) != CheckAttSignature {
		t.Fatalf("err = %v", err)
	}
}

func errorsIs(err error, c Check) bool {
	return errors.Is(err, c) && errors.Is(err, &CheckError{Check: c})
}

func TestParseCOSEKey(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pt, _ := ec.PublicKey.Bytes()
	x, y := pt[1:33], pt[33:]
	ed := bytes.Repeat([]byte{7}, 32)
	e := big.NewInt(int64(testRSAKey.E)).Bytes()
	for _, tc := range []struct {
		name string
		key  map[int]any
		ok   bool
	}{
		{"ES256", map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y}, true},
		{"EdDSA", map[int]any{1: 1, 3: -8, -1: 6, -2: ed}, true},
		{"RS256", map[int]any{1: 3, 3: -257, -1: testRSAKey.N.Bytes(), -2: e}, true},
		{"ES256 off curve", map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: x}, false},
		{"ES256 wrong crv", map[int]any{1: 2, 3: -7, -1: 2, -2: x, -3: y}, false},
		{"ES256 short x", map[int]any{1: 2, 3: -7, -1: 1, -2: x[1:], -3: y}, false},
		{"ES256 missing y", map[int]any{1: 2, 3: -7, -1: 1, -2: x}, false},
		{"RS256 small modulus", map[int]any{1: 3, 3: -257, -1: testRSAKey.N.Bytes()[:128], -2: e}, false},
		{"RS256 even exponent", map[int]any{1: 3, 3: -257, -1: testRSAKey.N.Bytes(), -2: []byte{2}}, false},
		{"EdDSA wrong crv", map[int]any{1: 1, 3: -8, -1: 4, -2: ed}, false},
		{"kty/alg mismatch", map[int]any{1: 3, 3: -7, -1: 1, -2: x, -3: y}, false},
		{"no alg", map[int]any{1: 2, -1: 1, -2: x, -3: y}, false},
		{"no kty", map[int]any{3: -7, -1: 1, -2: x, -3: y}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, _, err := parseCOSEKey(mustCBOR(t, tc.key))
			if (err == nil) != tc.ok || (tc.ok && pub == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
	if _, _, err := parseCOSEKey([]byte{0x80}); err == nil {
		t.Error("array accepted")
	}
}
