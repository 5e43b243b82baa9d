package softkey

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// credPublicKey extracts the credential public key from authData.
func credPublicKey(t testing.TB, ad []byte) *ecdsa.PublicKey {
	t.Helper()
	n := int(ad[53])<<8 | int(ad[54])
	var cose map[int]any
	if _, err := cbor.UnmarshalFirst(ad[55+n:], &cose); err != nil {
		t.Fatal(err)
	}
	x, _ := cose[-2].([]byte)
	y, _ := cose[-3].([]byte)
	if alg, _ := cose[3].(int64); alg != -7 {
		t.Fatalf("alg %v", cose[3])
	}
	if len(x) != 32 || len(y) != 32 {
		t.Fatalf("COSE key coordinates of %d and %d bytes, want 32", len(x), len(y))
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func verifySig(pub *ecdsa.PublicKey, ad, cdh, sig []byte) bool {
	h := sha256.New()
	h.Write(ad)
	h.Write(cdh)
	return ecdsa.VerifyASN1(pub, h.Sum(nil), sig)
}

func TestMakeCredentialAndAssertion(t *testing.T) {
	for _, v := range protocols {
		t.Run(fmt.Sprintf("protocol%d", v), func(t *testing.T) {
			a, _ := newKey(t, Config{})
			c := newClient(t, a, v)
			wantStatus(t, "setPIN", c.setPIN("1234"), StatusOK)
			tok, _ := c.token("1234", PermMakeCredential, "login.microsoft.com")
			st, res := c.makeCred(mcReq{rpID: "login.microsoft.com", rk: true, token: tok,
				ext: map[string]any{"credProtect": 1, "hmac-secret": true}})
			wantStatus(t, "mc", st, StatusOK)
			if res.fmt != "packed" {
				t.Fatalf("fmt %q", res.fmt)
			}
			if res.flags != flagUP|flagUV|flagAT|flagED {
				t.Fatalf("flags %02x", res.flags)
			}
			rph := sha256.Sum256([]byte("login.microsoft.com"))
			if !bytes.Equal(res.authData[:32], rph[:]) {
				t.Fatal("rpIdHash")
			}
			id := AAGUID()
			if !bytes.Equal(res.authData[37:53], id[:]) {
				t.Fatal("aaguid in authData")
			}
			if got := fmt.Sprint(res.ext); got != "map[credProtect:1 hmac-secret:true]" {
				t.Fatalf("extensions %s", got)
			}
			// Packed attestation by the batch key, leaf chains to the root.
			x5c, _ := res.attStmt["x5c"].([]any)
			if len(x5c) != 1 {
				t.Fatalf("x5c %v", res.attStmt)
			}
			leaf, err := x509.ParseCertificate(x5c[0].([]byte))
			if err != nil {
				t.Fatal(err)
			}
			if !verifySig(leaf.PublicKey.(*ecdsa.PublicKey), res.authData, res.cdh, res.attStmt["sig"].([]byte)) {
				t.Fatal("attestation signature")
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: AttestationRoots(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Fatalf("chain: %v", err)
			}
			pub := credPublicKey(t, res.authData)

			// Discoverable assertion with UV.
			tok, _ = c.token("1234", PermGetAssertion, "login.microsoft.com")
			st, ga := c.getAssertion("login.microsoft.com", nil, tok, nil)
			wantStatus(t, "ga", st, StatusOK)
			if !bytes.Equal(ga.credID, res.credID) {
				t.Fatal("credential id")
			}
			if ga.authData[32] != flagUP|flagUV {
				t.Fatalf("ga flags %02x", ga.authData[32])
			}
			cdh := sha256.Sum256([]byte("assert login.microsoft.com"))
			if !verifySig(pub, ga.authData, cdh[:], ga.sig) {
				t.Fatal("assertion signature")
			}
			if ga.user["name"] != "alice@contoso.test" || !bytes.Equal(ga.user["id"].([]byte), []byte("user-1")) {
				t.Fatalf("user %v", ga.user)
			}
			c1 := uint32(ga.authData[36]) | uint32(ga.authData[35])<<8
			// Without UV, with allowList: no user details beyond the id, counter grows.
			st, ga2 := c.getAssertion("login.microsoft.com", [][]byte{res.credID}, nil, nil)
			wantStatus(t, "ga allowList", st, StatusOK)
			if ga2.authData[32] != flagUP {
				t.Fatalf("flags %02x", ga2.authData[32])
			}
			if _, ok := ga2.user["name"]; ok {
				t.Fatal("user name without UV")
			}
			if c2 := uint32(ga2.authData[36]) | uint32(ga2.authData[35])<<8; c2 <= c1 {
				t.Fatalf("counter %d after %d", c2, c1)
			}
			// up=false: silent, no UP flag.
			st, ga3 := c.getAssertion("login.microsoft.com", [][]byte{res.credID}, nil, map[int]any{5: map[string]bool{"up": false}})
			wantStatus(t, "ga up=false", st, StatusOK)
			if ga3.authData[32]&flagUP != 0 {
				t.Fatal("UP set with up=false")
			}
			// Wrong RP, unknown credential.
			st, _ = c.getAssertion("evil.example", [][]byte{res.credID}, nil, nil)
			wantStatus(t, "other RP", st, StatusNoCredentials)
			st, _ = c.getAssertion("login.microsoft.com", [][]byte{bytes.Repeat([]byte{1}, 63)}, nil, nil)
			wantStatus(t, "unknown id", st, StatusNoCredentials)
			st, _ = c.getAssertion("login.microsoft.com", nil, nil, map[int]any{5: map[string]bool{"rk": true}})
			wantStatus(t, "rk option", st, StatusUnsupportedOption)
		})
	}
}

func TestNonResidentCredential(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	st, res := c.makeCred(mcReq{rpID: "example.com"})
	wantStatus(t, "mc without PIN", st, StatusOK)
	if res.flags != flagUP|flagAT {
		t.Fatalf("flags %02x", res.flags)
	}
	if a.Status().ResidentCount != 0 {
		t.Fatal("non-resident credential stored")
	}
	st, ga := c.getAssertion("example.com", [][]byte{{1, 2, 3}, res.credID}, nil, nil)
	wantStatus(t, "ga", st, StatusOK)
	if ga.user != nil {
		t.Fatal("user entity for a non-resident credential")
	}
	st, _ = c.getAssertion("example.com", nil, nil, nil)
	wantStatus(t, "discoverable", st, StatusNoCredentials)
}

func TestMakeCredentialChecks(t *testing.T) {
	a, _ := newKey(t, Config{MaxCredentialCountInList: 2})
	c := newClient(t, a, 2)
	base := func() map[int]any { return c.mcRequest(mcReq{rpID: "example.com"}) }
	tests := []struct {
		name   string
		mutate func(m map[int]any)
		want   Status
	}{
		{"ok", func(map[int]any) {}, StatusOK},
		{"no clientDataHash", func(m map[int]any) { delete(m, 1) }, StatusMissingParameter},
		{"no rp", func(m map[int]any) { delete(m, 2) }, StatusMissingParameter},
		{"no rp id", func(m map[int]any) { m[2] = map[string]any{"name": "x"} }, StatusMissingParameter},
		{"no user", func(m map[int]any) { delete(m, 3) }, StatusMissingParameter},
		{"no user id", func(m map[int]any) { m[3] = map[string]any{"name": "x"} }, StatusMissingParameter},
		{"no params", func(m map[int]any) { delete(m, 4) }, StatusMissingParameter},
		{"rp is a string", func(m map[int]any) { m[2] = "example.com" }, StatusCBORUnexpectedType},
		{"RS256 only", func(m map[int]any) { m[4] = []map[string]any{{"type": "public-key", "alg": -257}} }, StatusUnsupportedAlgorithm},
		{"up=false", func(m map[int]any) { m[7] = map[string]bool{"up": false} }, StatusInvalidOption},
		{"uv=true", func(m map[int]any) { m[7] = map[string]bool{"uv": true} }, StatusInvalidOption},
		{"param without protocol", func(m map[int]any) { m[8] = make([]byte, 32) }, StatusMissingParameter},
		{"protocol 3", func(m map[int]any) { m[8] = make([]byte, 32); m[9] = 3 }, StatusInvalidParameter},
		{"param but no token", func(m map[int]any) { m[8] = make([]byte, 32); m[9] = 2 }, StatusPINAuthInvalid},
		{"enterprise attestation", func(m map[int]any) { m[10] = 1 }, StatusInvalidParameter},
		{"exclude list too long", func(m map[int]any) {
			m[5] = []map[string]any{{"type": "public-key", "id": []byte{1}}, {"type": "public-key", "id": []byte{2}}, {"type": "public-key", "id": []byte{3}}}
		}, StatusLimitExceeded},
		{"credProtect 4", func(m map[int]any) { m[6] = map[string]any{"credProtect": 4} }, StatusInvalidParameter},
		{"short clientDataHash", func(m map[int]any) { m[1] = []byte{1, 2} }, StatusInvalidLength},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.mutate(m)
			st, _ := c.do(CmdMakeCredential, m)
			wantStatus(t, tc.name, st, tc.want)
		})
	}
}

func TestZeroLengthPinUvAuthParam(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	st, _ := c.makeCred(mcReq{rpID: "example.com", zeroLenAuth: true})
	wantStatus(t, "no PIN", st, StatusPINNotSet)
	c.setPIN("1234")
	st, _ = c.makeCred(mcReq{rpID: "example.com", zeroLenAuth: true})
	wantStatus(t, "PIN set", st, StatusPINInvalid)
	if a.Status().PresenceRequests != 2 {
		t.Fatalf("presence requests %d", a.Status().PresenceRequests)
	}
	a.SetPresence(Denied())
	st, _ = c.makeCred(mcReq{rpID: "example.com", zeroLenAuth: true})
	wantStatus(t, "denied", st, StatusOperationDenied)
}

func TestExcludeList(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	_, res := c.makeCred(mcReq{rpID: "example.com"})
	before := a.Status().PresenceRequests
	st, _ := c.makeCred(mcReq{rpID: "example.com", exclude: [][]byte{{9, 9}, res.credID}})
	wantStatus(t, "excluded", st, StatusCredentialExcluded)
	if a.Status().PresenceRequests != before+1 {
		t.Fatal("no presence before CREDENTIAL_EXCLUDED")
	}
	st, _ = c.makeCred(mcReq{rpID: "other.example", exclude: [][]byte{res.credID}})
	wantStatus(t, "other RP ignores the id", st, StatusOK)
}

func TestResidentCapacityAndOverwrite(t *testing.T) {
	a, _ := newKey(t, Config{ResidentCapacity: 2})
	c := newClient(t, a, 2)
	mk := func(rp, user string) (Status, *mcResult) {
		return c.makeCred(mcReq{rpID: rp, rk: true, userID: []byte(user), userName: user})
	}
	if st, _ := mk("example.com", "u1"); st != StatusOK {
		t.Fatal(st)
	}
	_, second := mk("example.com", "u2")
	st, _ := mk("example.com", "u3")
	wantStatus(t, "store full", st, StatusKeyStoreFull)
	// Same RP + user id replaces, even when full.
	st, repl := mk("example.com", "u2")
	wantStatus(t, "overwrite", st, StatusOK)
	if a.Status().ResidentCount != 2 {
		t.Fatalf("count %d", a.Status().ResidentCount)
	}
	st, _ = c.getAssertion("example.com", [][]byte{second.credID}, nil, nil)
	wantStatus(t, "replaced credential", st, StatusNoCredentials)
	st, ga := c.getAssertion("example.com", [][]byte{repl.credID}, nil, nil)
	wantStatus(t, "new credential", st, StatusOK)
	if string(ga.user["id"].([]byte)) != "u2" {
		t.Fatalf("user %v", ga.user)
	}
	// Discoverable: newest first, numberOfCredentials, then getNextAssertion.
	st, ga = c.getAssertion("example.com", nil, nil, nil)
	wantStatus(t, "discoverable", st, StatusOK)
	if ga.count != 2 || !bytes.Equal(ga.credID, repl.credID) {
		t.Fatalf("count %d", ga.count)
	}
	st, m := c.do(CmdGetNextAssertion, nil)
	wantStatus(t, "next", st, StatusOK)
	if n := decodeGA(t, m); string(n.user["id"].([]byte)) != "u1" {
		t.Fatalf("next user %v", n.user)
	}
	st, _ = c.do(CmdGetNextAssertion, nil)
	wantStatus(t, "no more", st, StatusNotAllowed)
	// Any other command ends the state.
	c.getAssertion("example.com", nil, nil, nil)
	c.do(CmdGetInfo, nil)
	st, _ = c.do(CmdGetNextAssertion, nil)
	wantStatus(t, "after getInfo", st, StatusNotAllowed)
}

func TestCredProtect(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	c.setPIN("1234")
	ids := map[int][]byte{}
	for lvl := 1; lvl <= 3; lvl++ {
		tok, _ := c.token("1234", PermMakeCredential, "example.com")
		st, res := c.makeCred(mcReq{rpID: "example.com", rk: true, token: tok, userID: []byte{byte(lvl)},
			ext: map[string]any{"credProtect": lvl}})
		wantStatus(t, "mc", st, StatusOK)
		ids[lvl] = res.credID
	}
	st, ga := c.getAssertion("example.com", nil, nil, nil)
	wantStatus(t, "discoverable without UV", st, StatusOK)
	if ga.count != 0 || !bytes.Equal(ga.credID, ids[1]) {
		t.Fatal("only the level-1 credential may be discoverable without UV")
	}
	st, _ = c.getAssertion("example.com", [][]byte{ids[2]}, nil, nil)
	wantStatus(t, "level 2 with allowList", st, StatusOK)
	st, _ = c.getAssertion("example.com", [][]byte{ids[3]}, nil, nil)
	wantStatus(t, "level 3 without UV", st, StatusNoCredentials)
	tok, _ := c.token("1234", PermGetAssertion, "example.com")
	st, ga = c.getAssertion("example.com", nil, tok, nil)
	wantStatus(t, "with UV", st, StatusOK)
	if ga.count != 3 {
		t.Fatalf("count %d", ga.count)
	}
}

func TestHMACSecretAssertion(t *testing.T) {
	for _, v := range protocols {
		a, _ := newKey(t, Config{})
		c := newClient(t, a, v)
		_, res := c.makeCred(mcReq{rpID: "example.com", ext: map[string]any{"hmac-secret": true}})
		salt := bytes.Repeat([]byte{0x42}, 32)
		get := func() []byte {
			ka, shared := c.keyAgreement()
			saltEnc := c.enc(shared, salt)
			ext := map[string]any{"hmac-secret": map[int]any{1: ka, 2: saltEnc, 3: c.proto_().authenticate(shared, saltEnc), 4: v}}
			st, ga := c.getAssertion("example.com", [][]byte{res.credID}, nil, map[int]any{4: ext})
			wantStatus(t, "ga hmac-secret", st, StatusOK)
			var out map[string][]byte
			if _, err := cbor.UnmarshalFirst(ga.authData[37:], &out); err != nil {
				t.Fatal(err)
			}
			plain, err := c.proto_().decrypt(shared, out["hmac-secret"])
			if err != nil || len(plain) != 32 {
				t.Fatalf("output %v %d", err, len(plain))
			}
			return plain
		}
		if !bytes.Equal(get(), get()) {
			t.Fatal("hmac-secret output not stable")
		}
	}
}

func TestPresenceModes(t *testing.T) {
	a, _ := newKey(t, Config{KeepaliveInterval: 5e6})
	c := newClient(t, a, 2)
	a.SetPresence(Denied())
	st, _ := c.makeCred(mcReq{rpID: "example.com"})
	wantStatus(t, "denied", st, StatusOperationDenied)
	a.SetPresence(Timeout(30e6))
	st, _ = c.makeCred(mcReq{rpID: "example.com"})
	wantStatus(t, "timeout", st, StatusUserActionTimeout)
	a.SetPresence(Delayed(30e6))
	var ka []byte
	msg := []byte{CmdSelection}
	resp := a.HandleCBOR(context.Background(), msg, func(s byte) { ka = append(ka, s) })
	if Status(resp[0]) != StatusOK || len(ka) < 2 || ka[0] != 2 {
		t.Fatalf("delayed selection: %x keepalives %v", resp, ka)
	}
	// Cancel while waiting.
	a.SetPresence(Timeout(10e9))
	ctx, cancel := context.WithCancel(context.Background())
	resp = a.HandleCBOR(ctx, []byte{CmdSelection}, func(byte) { cancel() })
	wantStatus(t, "cancelled", Status(resp[0]), StatusKeepaliveCancel)
	a.SetPresence(Instant())
	wantStatus(t, "selection", Status(a.HandleCBOR(context.Background(), []byte{CmdSelection}, nil)[0]), StatusOK)
}
