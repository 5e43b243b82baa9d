package softkey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/keyprep/keyprep/internal/keycaps"
)

// goldenDefaultGetInfo is the keyprep Virtual Key's getInfo answer (status
// byte + CBOR) of a factory key, as it was before models existed.
const goldenDefaultGetInfo = "00af0183684649444f5f325f306c4649444f5f325f315f505245684649444f5f325f3102836b6372656450726f746563746b686d61632d7365637265746c6d696e50696e4c656e677468035065bc18f932a646a3be99a753dc43383604ab62726bf5627570f564706c6174f468616c776179735576f468637265644d676d74f569617574686e72436667f569636c69656e7450696ef46e70696e557641757468546f6b656ef56f7365744d696e50494e4c656e677468f5706d616b654372656455764e6f74527164f57563726564656e7469616c4d676d7450726576696577f5051904b00682020107100818800981637573620a81a263616c672664747970656a7075626c69632d6b65790cf40d040e1a000100001004141819"

func TestDefaultModelGetInfoUnchanged(t *testing.T) {
	for _, m := range []*Model{nil, DefaultModel()} {
		a, _ := newKey(t, Config{Model: m})
		got := hex.EncodeToString(a.HandleCBOR(context.Background(), []byte{CmdGetInfo}, nil))
		if got != goldenDefaultGetInfo {
			t.Fatalf("default getInfo changed:\n got %s\nwant %s", got, goldenDefaultGetInfo)
		}
	}
}

func TestBuiltinModels(t *testing.T) {
	ms := Models()
	if len(ms) < 11 || ms[0].Name != DefaultModelName {
		t.Fatalf("%d models, first %s", len(ms), ms[0].Name)
	}
	if !slices.IsSortedFunc(ms[1:], func(x, y *Model) int { return strings.Compare(x.Name, y.Name) }) {
		t.Fatal("models not sorted by name")
	}
	for _, m := range ms {
		if err := m.Validate(); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		got, err := LookupModel(m.Name)
		if err != nil || got != m {
			t.Fatalf("LookupModel(%s) = %v, %v", m.Name, got, err)
		}
		// JSON round trip: what a profile file holds is what loads.
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseModel(b)
		if err != nil || !reflect.DeepEqual(back, m) {
			t.Fatalf("%s: round trip: %v", m.Name, err)
		}
		// A profile file on disk loads the same.
		p := filepath.Join(t.TempDir(), m.Name+".json")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if f, err := LookupModel(p); err != nil || !reflect.DeepEqual(f, m) {
			t.Fatalf("%s from file: %v", m.Name, err)
		}
	}
	if _, err := LookupModel("no-such-model"); err == nil || !strings.Contains(err.Error(), "yubikey-5.4") {
		t.Fatalf("unknown model: %v", err)
	}
}

func TestValidateRefusesInconsistentProfiles(t *testing.T) {
	base := func() *Model {
		b, _ := json.Marshal(must(LookupModel("yubikey-5.7")))
		var m Model
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return &m
	}
	cases := []struct {
		name, want string
		edit       func(m *Model)
	}{
		{"authnrCfg without config command", "authnrCfg", func(m *Model) { m.Behaviour.Config = false }},
		{"pin protocol 3", "neither 1 nor 2", func(m *Model) { m.GetInfo.PINUVAuthProtocols = []int{3} }},
		{"credMgmt option, preview command", "credMgmt", func(m *Model) { m.Behaviour.CredMgmt = CredMgmtPreview }},
		{"no cred mgmt option, full command", "credMgmt", func(m *Model) {
			delete(m.GetInfo.Options, "credMgmt")
			delete(m.GetInfo.Options, "credentialMgmtPreview")
			m.Behaviour.CredMgmt = CredMgmtFull
		}},
		{"packed without CA", "test CA", func(m *Model) { m.Name = "no-ca-model" }},
		{"selection on 2.0", "selection", func(m *Model) { m.GetInfo.Versions = []string{"FIDO_2_0", "FIDO_2_1_PRE"} }},
		{"slots vs remaining", "remainingDiscoverableCredentials", func(m *Model) { m.Behaviour.Slots = 5 }},
		{"unknown complexity", "pinComplexity", func(m *Model) { m.Behaviour.PINComplexity = "nist" }},
		{"bad reset window", "resetWindow", func(m *Model) { m.Behaviour.ResetWindow = "soon" }},
		{"bad aaguid", "aaguid", func(m *Model) { m.GetInfo.AAGUID = "xyz" }},
		{"uv true", "uv", func(m *Model) { m.GetInfo.Options["uv"] = true }},
		{"uv without a sensor", "only built-in user verification is a fingerprint", func(m *Model) { m.GetInfo.Options["uv"] = false }},
		{"no sources", "sources", func(m *Model) { m.Sources = nil }},
		{"makeCredUvNotRqd equals alwaysUv", "makeCredUvNotRqd", func(m *Model) { m.GetInfo.Options["makeCredUvNotRqd"] = false }},
		{"serial without form", "serial", func(m *Model) { m.USB.Serial = USBSerial{Reported: true} }},
		{"no ES256", "ES256", func(m *Model) { m.GetInfo.Algorithms = []keycaps.Algorithm{{Type: "public-key", Alg: -8}} }},
	}
	for _, tc := range cases {
		m := base()
		tc.edit(m)
		err := m.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	if err := base().Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseModel([]byte(`{"name":"x","typo":1}`)); err == nil {
		t.Fatal("unknown member accepted")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// modelClient returns a factory key of model m and a client that uses the
// PIN protocol libfido2 would (2 when listed, else 1).
func modelClient(t *testing.T, m *Model) (*Authenticator, *fakeClock, *testClient) {
	t.Helper()
	a, clk := newKey(t, Config{Model: m})
	proto := 1
	if slices.Contains(m.GetInfo.PINUVAuthProtocols, 2) {
		proto = 2
	}
	return a, clk, newClient(t, a, proto)
}

// decodeGetInfo reads a getInfo response into keycaps.GetInfo (the profile
// format), through the real CBOR encoding.
func decodeGetInfo(t *testing.T, c *testClient) (keycaps.GetInfo, map[int]cbor.RawMessage) {
	t.Helper()
	st, m := c.do(CmdGetInfo, nil)
	wantStatus(t, "getInfo", st, StatusOK)
	var g keycaps.GetInfo
	var aaguid []byte
	var algs []map[string]any
	var remaining int
	for k, dst := range map[int]any{1: &g.Versions, 2: &g.Extensions, 3: &aaguid, 4: &g.Options, 5: &g.MaxMsgSize,
		6: &g.PINUVAuthProtocols, 7: &g.MaxCredentialCountInList, 8: &g.MaxCredentialIDLength, 9: &g.Transports,
		0x0A: &algs, 0x0B: &g.MaxSerializedLargeBlob, 0x0C: &g.ForcePINChange, 0x0D: &g.MinPINLength,
		0x0E: &g.FirmwareVersion, 0x0F: &g.MaxCredBlobLength, 0x10: &g.MaxRPIDsForSetMinPIN,
		0x11: &g.PreferredPlatformUVTries, 0x12: &g.UVModality, 0x13: &g.Certifications, 0x14: &remaining} {
		raw, ok := m[k]
		if !ok {
			continue
		}
		if err := cbor.Unmarshal(raw, dst); err != nil {
			t.Fatalf("getInfo 0x%02x: %v", k, err)
		}
	}
	for k := range m {
		if k < 1 || k > 0x14 {
			t.Fatalf("getInfo has unexpected key 0x%02x", k)
		}
	}
	g.AAGUID = hex.EncodeToString(aaguid)
	for _, al := range algs {
		alg, _ := al["alg"].(int64)
		typ, _ := al["type"].(string)
		g.Algorithms = append(g.Algorithms, keycaps.Algorithm{Type: typ, Alg: int(alg)})
	}
	if _, ok := m[0x14]; ok {
		g.RemainingDiscoverableCredentials = &remaining
	}
	return g, m
}

func TestModelGetInfoRoundTrip(t *testing.T) {
	for _, m := range Models() {
		t.Run(m.Name, func(t *testing.T) {
			_, _, c := modelClient(t, m)
			got, raw := decodeGetInfo(t, c)
			want := m.GetInfo
			want.AAGUID = strings.ToLower(strings.ReplaceAll(want.AAGUID, "-", ""))
			want.Algorithms = nil
			for _, al := range m.GetInfo.Algorithms {
				want.Algorithms = append(want.Algorithms, keycaps.Algorithm{Type: "public-key", Alg: al.Alg})
			}
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				t.Fatalf("getInfo differs from the profile:\n got %s\nwant %s", gb, wb)
			}
			_, hasSetMin := m.GetInfo.Options["setMinPINLength"]
			if _, ok := raw[0x0C]; ok != hasSetMin {
				t.Fatalf("forcePINChange reported=%v, setMinPINLength=%v", ok, hasSetMin)
			}
		})
	}
}

func TestModelCommands(t *testing.T) {
	cmds := []byte{CmdBioEnrollment, CmdCredentialManagement, CmdSelection, CmdLargeBlobs, CmdConfig, CmdCredentialMgmtPreview, 0x40, 0x42}
	for _, m := range Models() {
		t.Run(m.Name, func(t *testing.T) {
			_, _, c := modelClient(t, m)
			for _, cmd := range cmds {
				resp := c.raw(cmd, map[int]any{1: 1})
				if invalid := Status(resp[0]) == StatusInvalidCommand; invalid == m.commandSupported(cmd) {
					t.Errorf("command 0x%02X: status %v, model supports it: %v", cmd, Status(resp[0]), m.commandSupported(cmd))
				}
			}
			// Preview-only keys: 0x41 exists, 0x0A does not (and vice versa).
			switch m.Behaviour.CredMgmt {
			case CredMgmtPreview:
				if m.commandSupported(CmdCredentialManagement) || !m.commandSupported(CmdCredentialMgmtPreview) {
					t.Fatal("preview model")
				}
			case CredMgmtNone:
				if m.commandSupported(CmdCredentialManagement) || m.commandSupported(CmdCredentialMgmtPreview) {
					t.Fatal("no cred mgmt model")
				}
			}
			if !m.Behaviour.Config && m.commandSupported(CmdConfig) {
				t.Fatal("config")
			}
		})
	}
}

func TestModelPINProtocols(t *testing.T) {
	for _, m := range Models() {
		t.Run(m.Name, func(t *testing.T) {
			a, _, _ := modelClient(t, m)
			for _, v := range []int{1, 2} {
				c := newClient(t, a, v)
				st, _ := c.do(CmdClientPIN, map[int]any{1: v, 2: 2})
				if (st == StatusOK) != slices.Contains(m.GetInfo.PINUVAuthProtocols, v) {
					t.Errorf("getKeyAgreement with protocol %d: %v (profile lists %v)", v, st, m.GetInfo.PINUVAuthProtocols)
				}
			}
		})
	}
}

// goodPIN satisfies every model's rules (length 8, no sequence, no
// palindrome, no runs).
const goodPIN = "83920571"

func TestModelEnrollFlow(t *testing.T) {
	for _, m := range Models() {
		t.Run(m.Name, func(t *testing.T) {
			_, _, c := modelClient(t, m)
			wantStatus(t, "setPIN", c.setPIN(goodPIN), StatusOK)
			legacy := !m.hasPinUvAuthToken()
			var tok []byte
			var st Status
			if legacy {
				_, st = c.token(goodPIN, PermMakeCredential, "login.microsoft.com")
				wantStatus(t, "0x09 without pinUvAuthToken", st, StatusInvalidSubcommand)
				tok, st = c.token(goodPIN, 0, "")
			} else {
				tok, st = c.token(goodPIN, PermMakeCredential, "login.microsoft.com")
			}
			wantStatus(t, "token", st, StatusOK)
			st, res := c.makeCred(mcReq{rpID: "login.microsoft.com", rk: true, token: tok,
				ext: map[string]any{"credProtect": 1, "hmac-secret": true, "credBlob": []byte("x"), "unknownExt": true}})
			wantStatus(t, "makeCredential", st, StatusOK)
			// Extensions: only listed ones answer; credProtect level 1 per switch.
			_, cpOut := res.ext["credProtect"]
			if want := m.GetInfo.HasExtension("credProtect") && !m.Behaviour.OmitCredProtectLevel1; cpOut != want {
				t.Errorf("credProtect output %v, want %v", cpOut, want)
			}
			if _, ok := res.ext["hmac-secret"]; ok != m.GetInfo.HasExtension("hmac-secret") {
				t.Errorf("hmac-secret output %v, listed %v", ok, m.GetInfo.HasExtension("hmac-secret"))
			}
			for k := range res.ext {
				if k != "credProtect" && k != "hmac-secret" {
					t.Errorf("unexpected extension output %s", k)
				}
			}
			id := m.AAGUID()
			if !bytes.Equal(res.authData[37:53], id[:]) {
				t.Fatalf("authData AAGUID %x", res.authData[37:53])
			}
			checkAttestation(t, m, res)

			// Credential management through the model's command.
			var cmCmd byte
			switch m.Behaviour.CredMgmt {
			case CredMgmtFull, CredMgmtBoth:
				cmCmd = CmdCredentialManagement
			case CredMgmtPreview:
				cmCmd = CmdCredentialMgmtPreview
			default:
				return
			}
			if legacy {
				tok, st = c.token(goodPIN, 0, "")
			} else {
				tok, st = c.token(goodPIN, PermCredentialMgmt, "")
			}
			wantStatus(t, "cm token", st, StatusOK)
			st, resp := c.do(cmCmd, map[int]any{1: 1, 3: c.proto, 4: c.authParam(tok, []byte{1})})
			wantStatus(t, "getCredsMetadata", st, StatusOK)
			var n, rem int
			cbor.Unmarshal(resp[1], &n)
			cbor.Unmarshal(resp[2], &rem)
			if n != 1 || rem != m.Behaviour.Slots-1 {
				t.Fatalf("metadata: %d credentials, %d remaining (slots %d)", n, rem, m.Behaviour.Slots)
			}
		})
	}
}

func checkAttestation(t *testing.T, m *Model, res *mcResult) {
	t.Helper()
	signed := append(append([]byte(nil), res.authData...), res.cdh...)
	h := sha256.Sum256(signed)
	sig, _ := res.attStmt["sig"].([]byte)
	switch m.Attestation.Format {
	case AttestationNone:
		if res.fmt != "none" || len(res.attStmt) != 0 {
			t.Fatalf("none attestation: %s %v", res.fmt, res.attStmt)
		}
	case AttestationSelf:
		if res.fmt != "packed" || res.attStmt["x5c"] != nil {
			t.Fatalf("self attestation: %s %v", res.fmt, res.attStmt)
		}
		if !ecdsa.VerifyASN1(credPublicKey(t, res.authData), h[:], sig) {
			t.Fatal("self attestation signature does not verify with the credential key")
		}
	case AttestationPacked:
		x5c, _ := res.attStmt["x5c"].([]any)
		want := 1
		if m.Attestation.Intermediate {
			want = 2
		}
		if res.fmt != "packed" || len(x5c) != want {
			t.Fatalf("packed: fmt %s, %d certificates, want %d", res.fmt, len(x5c), want)
		}
		leaf, err := x509.ParseCertificate(x5c[0].([]byte))
		if err != nil {
			t.Fatal(err)
		}
		inter := x509.NewCertPool()
		for _, c := range x5c[1:] {
			ic, err := x509.ParseCertificate(c.([]byte))
			if err != nil {
				t.Fatal(err)
			}
			inter.AddCert(ic)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: m.Roots(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("x5c does not chain to the model's root: %v", err)
		}
		if !ecdsa.VerifyASN1(leaf.PublicKey.(*ecdsa.PublicKey), h[:], sig) {
			t.Fatal("attestation signature")
		}
	}
}

// TestModelTestCAs: every packed model's batch leaf chains to its own
// root (through its intermediate when it has one), carries the model's
// AAGUID (WebAuthn §8.2.1), and no two models share a root.
func TestModelTestCAs(t *testing.T) {
	oid := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}
	roots := map[string]string{}
	for _, m := range Models() {
		if m.Attestation.Format != AttestationPacked {
			if m.RootCertificate() != nil || m.AttestationChain() != nil {
				t.Fatalf("%s: chain without packed attestation", m.Name)
			}
			continue
		}
		chain := m.AttestationChain()
		root := m.RootCertificate()
		if root == nil || len(chain) == 0 {
			t.Fatalf("%s: no chain", m.Name)
		}
		if prev, dup := roots[string(root.Raw)]; dup {
			t.Fatalf("%s and %s share a root", m.Name, prev)
		}
		roots[string(root.Raw)] = m.Name
		if (len(chain) == 2) != m.Attestation.Intermediate {
			t.Fatalf("%s: chain of %d", m.Name, len(chain))
		}
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := chain[0].Verify(x509.VerifyOptions{Roots: m.Roots(), Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		leaf := chain[0]
		found := false
		for _, e := range leaf.Extensions {
			if e.Id.Equal(oid) {
				var v []byte
				if _, err := asn1.Unmarshal(e.Value, &v); err != nil || e.Critical {
					t.Fatalf("%s: aaguid extension %v", m.Name, err)
				}
				id := m.AAGUID()
				if !bytes.Equal(v, id[:]) {
					t.Fatalf("%s: leaf AAGUID %x, model %x", m.Name, v, id)
				}
				found = true
			}
		}
		if !found || leaf.IsCA || len(leaf.Subject.OrganizationalUnit) != 1 || leaf.Subject.OrganizationalUnit[0] != "Authenticator Attestation" {
			t.Fatalf("%s: leaf does not meet WebAuthn §8.2.1", m.Name)
		}
	}
	if len(roots) < 5 {
		t.Fatalf("only %d packed models", len(roots))
	}
}

func TestZeroCredentialReply(t *testing.T) {
	for _, m := range Models() {
		var cmd byte
		switch m.Behaviour.CredMgmt {
		case CredMgmtFull, CredMgmtBoth:
			cmd = CmdCredentialManagement
		case CredMgmtPreview:
			cmd = CmdCredentialMgmtPreview
		default:
			continue
		}
		t.Run(m.Name, func(t *testing.T) {
			_, _, c := modelClient(t, m)
			c.setPIN(goodPIN)
			var tok []byte
			if m.hasPinUvAuthToken() {
				tok, _ = c.token(goodPIN, PermCredentialMgmt, "")
			} else {
				tok, _ = c.token(goodPIN, 0, "")
			}
			st, resp := c.do(cmd, map[int]any{1: 2, 3: c.proto, 4: c.authParam(tok, []byte{2})})
			switch m.Behaviour.ZeroCredentials {
			case "", ZeroCredsNoCredentials:
				wantStatus(t, "enumerateRPsBegin", st, StatusNoCredentials)
			case ZeroCredsTotalRPsZero:
				wantStatus(t, "enumerateRPsBegin", st, StatusOK)
				var n int = -1
				cbor.Unmarshal(resp[5], &n)
				if len(resp) != 1 || n != 0 {
					t.Fatalf("reply %v", resp)
				}
			case ZeroCredsEmptyMap:
				wantStatus(t, "enumerateRPsBegin", st, StatusOK)
				if len(resp) != 0 {
					t.Fatalf("reply %v", resp)
				}
			}
		})
	}
}

func TestToken2PINComplexity(t *testing.T) {
	m := must(LookupModel("token2-pinplus"))
	_, _, c := modelClient(t, m)
	for _, pin := range []string{"12345", "123456", "654321", "111111", "321123", "1111234", "abcdefghij", "Abc12", "Abcdefgh1", "abcdefghi\u00e9"} {
		wantStatus(t, "setPIN "+pin, c.setPIN(pin), StatusPINPolicyViolation)
	}
	if a := c.a.Status(); a.PINSet {
		t.Fatal("a refused PIN was stored")
	}
	wantStatus(t, "setPIN 1112358", c.setPIN("1112358"), StatusOK) // a run of 3 is allowed
	for _, pin := range []string{"135790", "abcdefghi1"} {
		ok, _, _ := modelClient(t, m)
		if st := newClient(t, ok, 2).setPIN(pin); st != StatusOK {
			t.Fatalf("setPIN %s: %v", pin, st)
		}
	}
	// changePIN to a refused PIN: PIN_POLICY_VIOLATION, no retry lost, old PIN kept.
	wantStatus(t, "changePIN", c.changePIN("1112358", "111111"), StatusPINPolicyViolation)
	if n, _ := c.retries(); n != 8 {
		t.Fatalf("retries %d after a policy refusal", n)
	}
	if _, st := c.token("1112358", PermMakeCredential, "x.example"); st != StatusOK {
		t.Fatalf("old PIN: %v", st)
	}
	// The same PINs are fine on a key without on-key rules.
	_, _, plain := modelClient(t, must(LookupModel("yubikey-5.7")))
	wantStatus(t, "no complexity", plain.setPIN("123456"), StatusOK)
}

func TestYubicoPINComplexityAndMaxLength(t *testing.T) {
	m := *must(LookupModel("yubikey-5.7"))
	m.Name = DefaultModelName // reuse a model name that has a CA
	m.Behaviour.PINComplexity = PINComplexityYubico
	m.Behaviour.MaxPINLength = 8
	m.Attestation = Attestation{Format: AttestationNone}
	_, _, c := modelClient(t, &m)
	for _, pin := range []string{"11111111", "password", "12345678", "123456789"} {
		wantStatus(t, "setPIN "+pin, c.setPIN(pin), StatusPINPolicyViolation)
	}
	wantStatus(t, "setPIN", c.setPIN("pa55word"), StatusOK)
}

func TestModelResetWindow(t *testing.T) {
	reset := func(c *testClient) Status { st, _ := c.do(CmdReset, nil); return st }
	// YubiKey before 5.5.2: 5 s.
	a, clk, c := modelClient(t, must(LookupModel("yubikey-5.4")))
	clk.Advance(6 * time.Second)
	wantStatus(t, "5.4 reset after 6 s", reset(c), StatusNotAllowed)
	if err := a.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Second)
	wantStatus(t, "5.4 reset after 4 s", reset(c), StatusOK)
	// Solo 1: no window.
	_, clk, c = modelClient(t, must(LookupModel("solo-1")))
	clk.Advance(time.Hour)
	wantStatus(t, "solo reset after an hour", reset(c), StatusOK)
	// OpenSK: getInfo keeps the permission, anything else cancels it.
	a, _, c = modelClient(t, must(LookupModel("opensk-2.1")))
	c.do(CmdGetInfo, nil)
	wantStatus(t, "opensk reset after getInfo", reset(c), StatusOK)
	c.setPIN(goodPIN)
	wantStatus(t, "opensk reset after clientPIN", reset(c), StatusNotAllowed)
	if err := a.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "opensk reset after replug", reset(c), StatusOK)
	// Without the switch, another command first does not matter.
	_, _, c = modelClient(t, must(LookupModel("yubikey-5.7")))
	c.setPIN(goodPIN)
	wantStatus(t, "5.7 reset after clientPIN", reset(c), StatusOK)
}

func TestStrictKeyAgreementAlg(t *testing.T) {
	for _, tc := range []struct {
		model string
		want  Status
	}{{"token2-pinplus", StatusUnsupportedAlgorithm}, {"yubikey-5.7", StatusOK}} {
		_, _, c := modelClient(t, must(LookupModel(tc.model)))
		ka, shared := c.keyAgreement()
		ka[3] = -7 // what libfido2 before 1.5 sent
		newPinEnc := c.enc(shared, padPIN(goodPIN))
		st, _ := c.do(CmdClientPIN, map[int]any{1: c.proto, 2: 3, 3: ka, 4: c.proto_().authenticate(shared, newPinEnc), 5: newPinEnc})
		wantStatus(t, tc.model+" setPIN with alg -7", st, tc.want)
	}
}

func TestUVOptionWithToken(t *testing.T) {
	for _, tc := range []struct {
		model string
		want  Status
	}{{"token2-pinplus", StatusOK}, {"yubikey-5.7", StatusInvalidOption}} {
		_, _, c := modelClient(t, must(LookupModel(tc.model)))
		c.setPIN(goodPIN)
		tok, _ := c.token(goodPIN, PermMakeCredential, "x.example")
		req := c.mcRequest(mcReq{rpID: "x.example", token: tok})
		req[7] = map[string]bool{"uv": true}
		st, _ := c.do(CmdMakeCredential, req)
		wantStatus(t, tc.model+" uv:true with a token", st, tc.want)
		req = c.mcRequest(mcReq{rpID: "x.example"})
		req[7] = map[string]bool{"uv": true}
		st, _ = c.do(CmdMakeCredential, req)
		wantStatus(t, tc.model+" uv:true without a token", st, StatusInvalidOption)
	}
}

func TestModelConfigLimits(t *testing.T) {
	// YubiKey 5.7: one RP id for setMinPINLength; more is KEY_STORE_FULL.
	_, _, c := modelClient(t, must(LookupModel("yubikey-5.7")))
	c.setPIN(goodPIN)
	tok, _ := c.token(goodPIN, PermAuthenticatorCfg, "")
	wantStatus(t, "2 RP ids", c.config(tok, 3, map[int]any{1: 8, 2: []string{"a.example", "b.example"}}), StatusKeyStoreFull)
	wantStatus(t, "1 RP id", c.config(tok, 3, map[int]any{1: 8, 2: []string{"a.example"}}), StatusOK)
	// FIPS 5.7: alwaysUv cannot be turned off; factory minPIN 8.
	a, _, c := modelClient(t, must(LookupModel("yubikey-5-fips-5.7")))
	if s := a.Status(); !s.AlwaysUV || s.MinPINLength != 8 {
		t.Fatalf("fips factory state %+v", s)
	}
	wantStatus(t, "short PIN", c.setPIN("1234567"), StatusPINPolicyViolation)
	c.setPIN(goodPIN)
	tok, _ = c.token(goodPIN, PermAuthenticatorCfg, "")
	wantStatus(t, "toggleAlwaysUv", c.config(tok, 2, nil), StatusOperationDenied)
	// Bio: alwaysUv on by default but can be toggled off.
	a, _, c = modelClient(t, must(LookupModel("yubikey-bio-5.5")))
	c.setPIN(goodPIN)
	tok, _ = c.token(goodPIN, PermAuthenticatorCfg, "")
	wantStatus(t, "bio toggleAlwaysUv", c.config(tok, 2, nil), StatusOK)
	if a.Status().AlwaysUV {
		t.Fatal("bio alwaysUv still on")
	}
	st, resp := c.do(CmdBioEnrollment, map[int]any{6: true})
	wantStatus(t, "getModality", st, StatusOK)
	var mod int
	cbor.Unmarshal(resp[1], &mod)
	if mod != 1 {
		t.Fatalf("modality %d", mod)
	}
	st, _ = c.do(CmdBioEnrollment, map[int]any{1: 1, 2: 4})
	wantStatus(t, "enumerate without a token", st, StatusPUATRequired)
	st, _ = c.do(CmdClientPIN, map[int]any{1: 2, 2: 6})
	wantStatus(t, "UV token without a finger", st, StatusNotAllowed)
}

func TestLegacyTokenCTAP20(t *testing.T) {
	// Titan v2: CTAP 2.0, getPinToken only; the token works for several
	// operations and RPs (CTAP 2.0 pinToken), no credential management.
	_, _, c := modelClient(t, must(LookupModel("google-titan-v2")))
	if c.proto != 1 {
		t.Fatal("protocol")
	}
	c.setPIN(goodPIN)
	tok, st := c.token(goodPIN, 0, "")
	wantStatus(t, "getPinToken", st, StatusOK)
	for _, rp := range []string{"a.example", "b.example"} {
		if st, _ := c.makeCred(mcReq{rpID: rp, rk: true, token: tok}); st != StatusOK {
			t.Fatalf("makeCredential %s: %v", rp, st)
		}
	}
}

func TestModelStateFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.json")
	solo := must(LookupModel("solo-1"))
	a, err := Open(p, Config{Model: solo})
	if err != nil {
		t.Fatal(err)
	}
	serial := a.USBSerial()
	if len(serial) != 12 || strings.ToUpper(serial) != serial {
		t.Fatalf("solo serial %q", serial)
	}
	if _, err := hex.DecodeString(serial); err != nil {
		t.Fatalf("solo serial %q: %v", serial, err)
	}
	c := newClient(t, a, 1)
	c.setPIN(goodPIN)
	if st, _ := c.do(CmdReset, nil); st != StatusOK {
		t.Fatal(st)
	}
	if a.USBSerial() != serial {
		t.Fatal("reset changed the USB serial")
	}
	if _, err := Open(p, Config{}); !errors.Is(err, ErrModelMismatch) || !strings.Contains(err.Error(), "solo-1") {
		t.Fatalf("reopening as another model: %v", err)
	}
	b, err := Open(p, Config{Model: solo})
	if err != nil || b.USBSerial() != serial || b.Model() != solo {
		t.Fatalf("reopen: %v", err)
	}
	other, err := Open(filepath.Join(dir, "o.json"), Config{Model: solo})
	if err != nil || other.USBSerial() == serial {
		t.Fatalf("second key: %v %q", err, other.USBSerial())
	}
	// A key whose model reports no serial has none; decimal serials are digits.
	if d, _ := New(Config{}); d.USBSerial() != "" {
		t.Fatal("default model has a serial")
	}
	mini, _ := New(Config{Model: must(LookupModel("minimal-ctap20-self"))})
	if s := mini.USBSerial(); len(s) != 10 || strings.Trim(s, "0123456789") != "" || s[0] == '0' {
		t.Fatalf("decimal serial %q", s)
	}
	// Old state files (no model member) are keyprep-virtual.
	q := filepath.Join(dir, "old.json")
	if _, err := Open(q, Config{}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(q); bytes.Contains(data, []byte(`"model"`)) {
		t.Fatal("default model's state file names a model")
	}
	if _, err := Open(q, Config{Model: solo}); err == nil {
		t.Fatal("old state opened as solo-1")
	}
}

func TestHexID(t *testing.T) {
	var h HexID
	for in, want := range map[string]HexID{`"0x1050"`: 0x1050, `"A2CA"`: 0xa2ca, `4176`: 0x1050} {
		if err := json.Unmarshal([]byte(in), &h); err != nil || h != want {
			t.Fatalf("%s: %v %v", in, h, err)
		}
	}
	for _, in := range []string{`"0x10000"`, `"zz"`, `-1`, `{}`} {
		if err := json.Unmarshal([]byte(in), &h); err == nil {
			t.Fatalf("%s accepted", in)
		}
	}
	if b, _ := json.Marshal(HexID(0x96e)); string(b) != `"0x096e"` {
		t.Fatal(string(b))
	}
}

func FuzzParseModel(f *testing.F) {
	for _, m := range Models() {
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte(`{"name":"x"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseModel(data)
		if err != nil {
			return
		}
		// An accepted profile makes a working key whose getInfo encodes.
		if err := m.Validate(); err != nil {
			t.Fatalf("ParseModel accepted an invalid profile: %v", err)
		}
		a, err := New(Config{Model: m})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if r := a.HandleCBOR(context.Background(), []byte{CmdGetInfo}, nil); r[0] != byte(StatusOK) {
			t.Fatalf("getInfo: %x", r)
		}
	})
}

// TestDocListsModels keeps docs/key-models.md's per-model source list in
// step with the profiles.
func TestDocListsModels(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "key-models.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range Models() {
		for _, want := range append([]string{"### " + m.Name + "\n", "Modeled on **" + m.ModeledOn + "**"}, append(m.Sources, m.Notes...)...) {
			if !bytes.Contains(doc, []byte(want)) {
				t.Errorf("docs/key-models.md lacks %q for model %s", want, m.Name)
			}
		}
	}
}
