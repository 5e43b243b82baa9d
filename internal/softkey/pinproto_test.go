package softkey

import (
	"bytes"
	"crypto/ecdh"
	"encoding/hex"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func p256Pub(t *testing.T, x, y string) *ecdh.PublicKey {
	t.Helper()
	pub, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, unhex(t, x)...), unhex(t, y)...))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestPINProtocolOneVectors uses python-fido2's tests/test_ctap2.py
// known-answer values (EC_PRIV, DEV_PUB, SHARED, PIN_HASH_ENC, TOKEN_ENC).
func TestPINProtocolOneVectors(t *testing.T) {
	priv, err := ecdh.P256().NewPrivateKey(unhex(t, "7452e599fee739d8a653f6a507343d12d382249108a651402520b72f24fe7684"))
	if err != nil {
		t.Fatal(err)
	}
	wantPub := append(append([]byte{4}, unhex(t, "44D78D7989B97E62EA993496C9EF6E8FD58B8B00715F9A89153DDD9C4657E47F")...),
		unhex(t, "EC802EE7D22BD4E100F12E48537EB4E7E96ED3A47A0A3BD5F5EEAB65001664F9")...)
	if !bytes.Equal(priv.PublicKey().Bytes(), wantPub) {
		t.Fatal("platform public key mismatch")
	}
	dev := p256Pub(t, "0501D5BC78DA9252560A26CB08FCC60CBE0B6D3B8E1D1FCEE514FAC0AF675168",
		"D551B3ED46F665731F95B4532939C25D91DB7EB844BD96D4ABD4083785F8DF47")
	p := protocolOne{}
	shared, err := ecdhShared(p, priv, dev)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "c42a039d548100dfba521e487debcbbb8b66bb7496f8b1862a7a395ed83e1a1c"); !bytes.Equal(shared, want) {
		t.Fatalf("shared secret %x, want %x", shared, want)
	}
	pinHashEnc, err := p.encrypt(shared, pinHash("1234"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "afe8327ce416da8ee3d057589c2ce1a9"); !bytes.Equal(pinHashEnc, want) {
		t.Fatalf("pinHashEnc %x, want %x", pinHashEnc, want)
	}
	tok, err := p.decrypt(shared, unhex(t, "7A9F98E31B77BE90F9C64D12E9635040"))
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "aff12c6dcfbf9df52f7a09211e8865cd"); !bytes.Equal(tok, want) {
		t.Fatalf("token %x, want %x", tok, want)
	}
	if got := p.authenticate(shared, []byte("x")); len(got) != 16 {
		t.Fatalf("protocol one MAC length %d", len(got))
	}
	if want := unhex(t, "03ac674216f3e15c761ee1a5e255f067"); !bytes.Equal(pinHash("1234"), want) {
		t.Fatal("LEFT(SHA-256(\"1234\"),16) mismatch")
	}
}

// TestPINProtocolTwoVectors uses pokusew/lionkey's
// test/src/ctap_client_pin_test.cpp SetPinV2To1234 case: platform key, the
// authenticator's key-agreement public key, newPinEnc and pinUvAuthParam.
func TestPINProtocolTwoVectors(t *testing.T) {
	priv, err := ecdh.P256().NewPrivateKey(unhex(t, "b6a7164827e98933906aa13b90dd8bf6a15989a3419d90ecc1cde95a80aefb6c"))
	if err != nil {
		t.Fatal(err)
	}
	wantPub := append(append([]byte{4}, unhex(t, "bcfd95db7be64d2dc19d450b87635f9dfc5a4a7c872c3a66cc98e2f724799095")...),
		unhex(t, "d55c3641e99a6ca1ebe9bc6600df3de0f2e3be334359c7422bff873f341f379b")...)
	if !bytes.Equal(priv.PublicKey().Bytes(), wantPub) {
		t.Fatal("platform public key mismatch")
	}
	auth := p256Pub(t, "f09d2dcc4d511c5a3fb5b5810301e34aae76a1d372e2595e6f2843258525d24f",
		"dbb6ce2d43ccded46901977184a23bc66a6c5adf27c522c389e71c09e4c05281")
	p := protocolTwo{}
	shared, err := ecdhShared(p, priv, auth)
	if err != nil {
		t.Fatal(err)
	}
	if len(shared) != 64 {
		t.Fatalf("shared secret length %d", len(shared))
	}
	newPinEnc := unhex(t, "40fda15406e29bef471e92be92a84e6d7bf445644b8c199060334e628c04c1f9"+
		"a44df3d52e2c448fe46825ae833ae3a8dc60d30db85b273bb63fb79a370c9f39"+
		"7803a1079a6f305a75f5601b06e74f32")
	param := unhex(t, "bc8852f6c9b62e9b9d01f648184eea19b73847c0ed4d68cbfe47b3196b475a40")
	if !verifyParam(p, shared, newPinEnc, param) {
		t.Fatal("pinUvAuthParam does not verify")
	}
	if verifyParam(p, shared, newPinEnc, param[:16]) {
		t.Fatal("truncated pinUvAuthParam verified")
	}
	padded, err := p.decrypt(shared, newPinEnc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(padded, padPIN("1234")) {
		t.Fatalf("decrypted PIN block %x", padded)
	}
	// Encrypting with the same IV reproduces the vector.
	again, err := p.encryptIV(shared, newPinEnc[:16], padded)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, newPinEnc) {
		t.Fatal("encryptIV does not reproduce newPinEnc")
	}
	// A pinUvAuthToken (32 bytes) is used whole as the HMAC key.
	tok := bytes.Repeat([]byte{7}, 32)
	if !bytes.Equal(p.authenticate(tok, []byte("m")), hmacSHA256(tok, []byte("m"))) {
		t.Fatal("token MAC mismatch")
	}
}

func TestCOSEKeyAgreementPadding(t *testing.T) {
	a, _ := newKey(t, Config{})
	// Whatever the key, coordinates are 32 bytes.
	for range 20 {
		k, err := a.newECDHKey()
		if err != nil {
			t.Fatal(err)
		}
		m := coseKeyAgreement(k.PublicKey())
		if len(m[-2].([]byte)) != 32 || len(m[-3].([]byte)) != 32 {
			t.Fatal("coordinate not 32 bytes")
		}
		if _, err := parseCOSEKeyAgreement(encode(m)); err != nil {
			t.Fatal(err)
		}
	}
	bad := map[int]any{1: 2, 3: -25, -1: 1, -2: bytes.Repeat([]byte{1}, 32), -3: bytes.Repeat([]byte{2}, 32)}
	if _, err := parseCOSEKeyAgreement(encode(bad)); statusOf(err) != StatusInvalidParameter {
		t.Fatalf("off-curve point: %v", err)
	}
}
