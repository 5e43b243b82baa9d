package softkey

import (
	"fmt"
	"strings"
	"testing"
)

var protocols = []int{1, 2}

func TestPINSetChangeToken(t *testing.T) {
	for _, v := range protocols {
		t.Run(fmt.Sprintf("protocol%d", v), func(t *testing.T) {
			a, _ := newKey(t, Config{})
			c := newClient(t, a, v)
			_, st := c.retries()
			wantStatus(t, "getPINRetries without PIN", st, StatusPINNotSet)
			_, st = c.token("1234", 0, "")
			wantStatus(t, "token without PIN", st, StatusPINNotSet)
			wantStatus(t, "changePIN without PIN", c.changePIN("1234", "5678"), StatusPINNotSet)
			wantStatus(t, "setPIN", c.setPIN("1234"), StatusOK)
			wantStatus(t, "setPIN again", c.setPIN("9999"), StatusPINAuthInvalid)
			n, st := c.retries()
			wantStatus(t, "retries", st, StatusOK)
			if n != 8 {
				t.Fatalf("retries %d", n)
			}
			if _, st := c.token("1234", 0, ""); st != StatusOK {
				t.Fatalf("getPinToken: %v", st)
			}
			if _, st := c.token("1234", PermMakeCredential, "example.com"); st != StatusOK {
				t.Fatalf("getPinUvAuthTokenUsingPinWithPermissions: %v", st)
			}
			wantStatus(t, "changePIN", c.changePIN("1234", "abcdef"), StatusOK)
			_, st = c.token("1234", 0, "")
			wantStatus(t, "old PIN", st, StatusPINInvalid)
			_, st = c.token("abcdef", PermCredentialMgmt, "")
			wantStatus(t, "new PIN", st, StatusOK)
			if s := a.Status(); !s.PINSet || s.PINRetries != 8 {
				t.Fatalf("state %+v", s)
			}
		})
	}
}

func TestPINProtocolSwitch(t *testing.T) {
	a, _ := newKey(t, Config{PINProtocols: []int{2}})
	c := newClient(t, a, 1)
	st, _ := c.do(CmdClientPIN, map[int]any{1: 1, 2: 2})
	wantStatus(t, "unsupported protocol", st, StatusInvalidParameter)
	a2, _ := newKey(t, Config{PINProtocols: []int{2}, UnsupportedProtocol: StatusPINAuthInvalid})
	st, _ = newClient(t, a2, 1).do(CmdClientPIN, map[int]any{1: 1, 2: 2})
	wantStatus(t, "unsupported protocol (Chromium)", st, StatusPINAuthInvalid)
	st, _ = c.do(CmdClientPIN, map[int]any{2: 2})
	wantStatus(t, "missing protocol", st, StatusMissingParameter)
	st, _ = c.do(CmdClientPIN, map[int]any{1: 2, 2: 7})
	wantStatus(t, "getUVRetries", st, StatusInvalidSubcommand)
	a3, _ := newKey(t, Config{GetRetriesReportsCounter: true})
	n, st := newClient(t, a3, 2).retries()
	if st != StatusOK || n != 8 {
		t.Fatalf("retries without PIN (OpenSK mode): %d %v", n, st)
	}
}

// TestPINLockout follows python-fido2's test_pin_validation sequence.
func TestPINLockout(t *testing.T) {
	for _, v := range protocols {
		t.Run(fmt.Sprintf("protocol%d", v), func(t *testing.T) {
			a, _ := newKey(t, Config{})
			c := newClient(t, a, v)
			wantStatus(t, "setPIN", c.setPIN("1234"), StatusOK)
			for i, want := range []Status{StatusPINInvalid, StatusPINInvalid, StatusPINAuthBlocked} {
				_, st := c.token("0000", 0, "")
				wantStatus(t, fmt.Sprintf("wrong PIN #%d", i+1), st, want)
				n, _ := c.retries()
				if n != 7-i {
					t.Fatalf("after wrong PIN #%d retries %d, want %d", i+1, n, 7-i)
				}
			}
			if !a.Status().PowerCycleRequired {
				t.Fatal("soft lock not reported")
			}
			for _, pin := range []string{"1234", "0000"} {
				_, st := c.token(pin, 0, "")
				wantStatus(t, "soft-locked", st, StatusPINAuthBlocked)
				wantStatus(t, "soft-locked changePIN", c.changePIN(pin, "5555"), StatusPINAuthBlocked)
			}
			if n, _ := c.retries(); n != 5 {
				t.Fatalf("retries changed while soft-locked: %d", n)
			}
			if err := a.PowerCycle(); err != nil {
				t.Fatal(err)
			}
			_, st := c.token("0000", 0, "")
			wantStatus(t, "wrong after power cycle", st, StatusPINInvalid)
			if n, _ := c.retries(); n != 4 {
				t.Fatalf("retries %d, want 4", n)
			}
			_, st = c.token("1234", PermGetAssertion, "example.com")
			wantStatus(t, "right PIN", st, StatusOK)
			if n, _ := c.retries(); n != 8 {
				t.Fatalf("retries %d, want 8", n)
			}
			// Wrong PIN through changePIN counts too.
			wantStatus(t, "changePIN wrong", c.changePIN("0000", "5555"), StatusPINInvalid)
			if n, _ := c.retries(); n != 7 {
				t.Fatalf("retries %d, want 7", n)
			}
		})
	}
}

func TestPINBlocked(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	wantStatus(t, "setPIN", c.setPIN("1234"), StatusOK)
	last := StatusOK
	for i := 0; i < 8; i++ {
		if i > 0 && i%3 == 0 {
			if err := a.PowerCycle(); err != nil {
				t.Fatal(err)
			}
		}
		_, last = c.token("9999", 0, "")
	}
	wantStatus(t, "eighth wrong PIN", last, StatusPINBlocked)
	if n, _ := c.retries(); n != 0 {
		t.Fatalf("retries %d", n)
	}
	if err := a.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	_, st := c.token("1234", 0, "")
	wantStatus(t, "right PIN when blocked", st, StatusPINBlocked)
	wantStatus(t, "changePIN when blocked", c.changePIN("1234", "5678"), StatusPINBlocked)
}

func TestPINPolicy(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		pin  string
		want Status
	}{
		{"3 digits", Config{}, "123", StatusPINPolicyViolation},
		{"4 digits", Config{}, "1234", StatusOK},
		{"63 bytes", Config{}, strings.Repeat("x", 63), StatusOK},
		{"64 bytes", Config{}, strings.Repeat("x", 64), StatusPINPolicyViolation},
		{"4 code points, 16 bytes", Config{}, "😀😀😀😀", StatusOK},
		{"3 code points, 12 bytes", Config{}, "😀😀😀", StatusPINPolicyViolation},
		{"3 code points, counted as bytes", Config{PINLengthUnit: Bytes}, "😀😀😀", StatusOK},
		{"min 6", Config{DefaultMinPINLength: 6}, "12345", StatusPINPolicyViolation},
	}
	for _, tc := range tests {
		for _, v := range protocols {
			t.Run(fmt.Sprintf("%s/p%d", tc.name, v), func(t *testing.T) {
				a, _ := newKey(t, tc.cfg)
				c := newClient(t, a, v)
				wantStatus(t, "setPIN", c.setPIN(tc.pin), tc.want)
				if tc.want == StatusOK {
					wantStatus(t, "changePIN to short", c.changePIN(tc.pin, "12"), StatusPINPolicyViolation)
					// The old PIN still works and the counter was restored.
					if n, st := c.retries(); st != StatusOK || n != 8 {
						t.Fatalf("retries after rejected change: %d %v, want 8", n, st)
					}
					if _, st := c.token(tc.pin, 0, ""); st != StatusOK {
						t.Fatalf("token after rejected change: %v", st)
					}
				}
			})
		}
	}
}

func TestSetPINBadAuth(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	ka, shared := c.keyAgreement()
	newPinEnc := c.enc(shared, padPIN("1234"))
	param := c.proto_().authenticate(shared, newPinEnc)
	param[0] ^= 1
	st, _ := c.do(CmdClientPIN, map[int]any{1: 2, 2: 3, 3: ka, 4: param, 5: newPinEnc})
	wantStatus(t, "bad pinUvAuthParam", st, StatusPINAuthInvalid)
	st, _ = c.do(CmdClientPIN, map[int]any{1: 2, 2: 3, 3: ka, 5: newPinEnc})
	wantStatus(t, "missing pinUvAuthParam", st, StatusMissingParameter)
	short := c.enc(shared, make([]byte, 32))
	st, _ = c.do(CmdClientPIN, map[int]any{1: 2, 2: 3, 3: ka, 4: c.proto_().authenticate(shared, short), 5: short})
	wantStatus(t, "32-byte padded PIN", st, StatusInvalidParameter)
}

func TestTokenPermissions(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	wantStatus(t, "setPIN", c.setPIN("1234"), StatusOK)
	tests := []struct {
		name  string
		perms byte
		rpID  string
		want  Status
	}{
		{"mc without rpId", PermMakeCredential, "", StatusInvalidParameter},
		{"be unsupported", PermBioEnrollment, "", StatusUnauthorizedPermission},
		{"lbw unsupported", PermLargeBlobWrite, "", StatusUnauthorizedPermission},
		{"cm+acfg", PermCredentialMgmt | PermAuthenticatorCfg, "", StatusOK},
		{"mc with rpId", PermMakeCredential, "example.com", StatusOK},
	}
	for _, tc := range tests {
		_, st := c.token("1234", tc.perms, tc.rpID)
		wantStatus(t, tc.name, st, tc.want)
	}
	st, _ := c.do(CmdClientPIN, map[int]any{1: 2, 2: 9, 3: map[int]any{}, 6: make([]byte, 32), 9: 0})
	wantStatus(t, "zero permissions", st, StatusInvalidParameter)
	ka, shared := c.keyAgreement()
	st, _ = c.do(CmdClientPIN, map[int]any{1: 2, 2: 5, 3: ka, 6: c.enc(shared, pinHash("1234")), 9: 1})
	wantStatus(t, "getPinToken with permissions", st, StatusInvalidParameter)
	a2, _ := newKey(t, Config{PermissionWithoutRPID: StatusMissingParameter})
	c2 := newClient(t, a2, 1)
	c2.setPIN("1234")
	_, st = c2.token("1234", PermGetAssertion, "")
	wantStatus(t, "ga without rpId (Chromium)", st, StatusMissingParameter)

	// Token use: wrong RP, missing permission, one mc per token.
	tok, _ := c.token("1234", PermMakeCredential, "example.com")
	st, _ = c.makeCred(mcReq{rpID: "other.example", token: tok})
	wantStatus(t, "wrong RP", st, StatusPINAuthInvalid)
	st, _ = c.getAssertion("example.com", nil, tok, nil)
	wantStatus(t, "ga with mc-only token", st, StatusPINAuthInvalid)
	st, res := c.makeCred(mcReq{rpID: "example.com", token: tok, rk: true})
	wantStatus(t, "mc", st, StatusOK)
	if res.flags&flagUV == 0 || res.flags&flagUP == 0 {
		t.Fatalf("flags %02x", res.flags)
	}
	st, _ = c.makeCred(mcReq{rpID: "example.com", token: tok})
	wantStatus(t, "token reuse", st, StatusPINAuthInvalid)
	// Legacy token: mc+ga, bound to the first RP it is used with.
	tok, _ = c.token("1234", 0, "")
	st, _ = c.makeCred(mcReq{rpID: "first.example", token: tok})
	wantStatus(t, "legacy token mc", st, StatusOK)
	st, _ = c.getAssertion("second.example", nil, tok, nil)
	wantStatus(t, "legacy token ga, another RP", st, StatusPINAuthInvalid)
	// Expiry: unused for more than 30 s; 29 s is still in time.
	clk := newFakeClock()
	a3, _ := newKey(t, Config{Clock: clk.Now})
	c3 := newClient(t, a3, 2)
	wantStatus(t, "setPIN", c3.setPIN("1234"), StatusOK)
	tok, _ = c3.token("1234", PermMakeCredential, "example.com")
	clk.Advance(29e9)
	st, _ = c3.makeCred(mcReq{rpID: "example.com", token: tok})
	wantStatus(t, "token used after 29 s", st, StatusOK)
	tok, _ = c3.token("1234", PermMakeCredential, "example.com")
	clk.Advance(31e9)
	st, _ = c3.makeCred(mcReq{rpID: "example.com", token: tok})
	wantStatus(t, "expired token", st, StatusPINAuthInvalid)
}

func TestForcePINChange(t *testing.T) {
	for _, v := range protocols {
		t.Run(fmt.Sprintf("protocol%d", v), func(t *testing.T) {
			a, _ := newKey(t, Config{})
			c := newClient(t, a, v)
			wantStatus(t, "setPIN", c.setPIN("1234"), StatusOK)
			tok, st := c.token("1234", PermAuthenticatorCfg, "")
			wantStatus(t, "acfg token", st, StatusOK)
			wantStatus(t, "forceChangePin", c.config(tok, 3, map[int]any{3: true}), StatusOK)
			if !a.Status().ForcePINChange {
				t.Fatal("forcePINChange not set")
			}
			_, st = c.token("1234", PermMakeCredential, "example.com")
			wantStatus(t, "0x09 while forced", st, StatusPINPolicyViolation)
			_, st = c.token("1234", 0, "")
			wantStatus(t, "0x05 while forced", st, StatusPINInvalid)
			if n, _ := c.retries(); n != 8 {
				t.Fatalf("retries %d after correct PINs", n)
			}
			// The earlier token was not invalidated by setMinPINLength (the
			// forceChangePin above) ...
			wantStatus(t, "second setMinPINLength with the same token", c.config(tok, 3, map[int]any{1: 5}), StatusOK)
			wantStatus(t, "changePIN", c.changePIN("1234", "123456"), StatusOK)
			if a.Status().ForcePINChange {
				t.Fatal("forcePINChange still set")
			}
			// ... but changePIN invalidates every token.
			wantStatus(t, "config with old token", c.config(tok, 3, map[int]any{1: 6}), StatusPINAuthInvalid)
			_, st = c.token("123456", PermMakeCredential, "example.com")
			wantStatus(t, "0x09 after change", st, StatusOK)
		})
	}
	a, _ := newKey(t, Config{ForcePINChangeOn09: StatusPINInvalid})
	c := newClient(t, a, 2)
	wantStatus(t, "setPIN", c.setPIN("1234"), StatusOK)
	wantStatus(t, "config without auth", c.config(nil, 3, nil), StatusPUATRequired)
	tok, _ := c.token("1234", PermAuthenticatorCfg, "")
	wantStatus(t, "forceChangePin", c.config(tok, 3, map[int]any{3: true}), StatusOK)
	_, st := c.token("1234", PermAuthenticatorCfg, "")
	wantStatus(t, "OpenSK-style 0x09", st, StatusPINInvalid)
}

func TestSetMinPINLength(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	// No PIN, alwaysUv off: accepted without pinUvAuthParam.
	wantStatus(t, "min 6 without PIN", c.config(nil, 3, map[int]any{1: 6, 2: []string{"example.com"}}), StatusOK)
	wantStatus(t, "shorter", c.config(nil, 3, map[int]any{1: 5}), StatusPINPolicyViolation)
	wantStatus(t, "force without PIN", c.config(nil, 3, map[int]any{3: true}), StatusPINNotSet)
	wantStatus(t, "too many RP IDs", c.config(nil, 3, map[int]any{2: []string{"a", "b", "c", "d", "e"}}), StatusKeyStoreFull)
	wantStatus(t, "PIN below new min", c.setPIN("12345"), StatusPINPolicyViolation)
	wantStatus(t, "setPIN", c.setPIN("123456"), StatusOK)
	// PIN set: auth required.
	wantStatus(t, "no auth", c.config(nil, 3, map[int]any{1: 8}), StatusPUATRequired)
	tok, _ := c.token("123456", PermCredentialMgmt, "")
	wantStatus(t, "without acfg", c.config(tok, 3, map[int]any{1: 8}), StatusPINAuthInvalid)
	tok, _ = c.token("123456", PermAuthenticatorCfg, "")
	bad := append([]byte(nil), tok...)
	bad[0] ^= 1
	wantStatus(t, "bad param", c.config(bad, 3, map[int]any{1: 8}), StatusPINAuthInvalid)
	// New minimum above the PIN's length turns forcePINChange on.
	wantStatus(t, "min 8", c.config(tok, 3, map[int]any{1: 8}), StatusOK)
	s := a.Status()
	if s.MinPINLength != 8 || !s.ForcePINChange || len(s.MinPINLengthRPIDs) != 1 {
		t.Fatalf("state %+v", s)
	}
	wantStatus(t, "unknown subcommand", c.config(tok, 0x10, nil), StatusInvalidSubcommand)
	wantStatus(t, "enterprise attestation", c.config(tok, 1, nil), StatusInvalidParameter)
	// getInfo reflects the settings.
	info := getInfo(t, c)
	if info.minPIN != 8 || !info.forcePIN {
		t.Fatalf("getInfo %+v", info)
	}
	// minPinLength extension: only for listed RP IDs.
	wantStatus(t, "changePIN", c.changePIN("123456", "12345678"), StatusOK)
	tok, _ = c.token("12345678", PermMakeCredential, "example.com")
	st, res := c.makeCred(mcReq{rpID: "example.com", token: tok, ext: map[string]any{"minPinLength": true}})
	wantStatus(t, "mc", st, StatusOK)
	if got, _ := res.ext["minPinLength"].(uint64); got != 8 {
		t.Fatalf("minPinLength output %v", res.ext)
	}
	tok, _ = c.token("12345678", PermMakeCredential, "other.example")
	st, res = c.makeCred(mcReq{rpID: "other.example", token: tok, ext: map[string]any{"minPinLength": true}})
	wantStatus(t, "mc other", st, StatusOK)
	if res.ext != nil {
		t.Fatalf("unexpected extension output %v", res.ext)
	}
}

func TestAlwaysUV(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	wantStatus(t, "toggle on", c.config(nil, 2, nil), StatusOK)
	if info := getInfo(t, c); !info.options["alwaysUv"] || info.options["makeCredUvNotRqd"] {
		t.Fatalf("options %v", info.options)
	}
	st, _ := c.makeCred(mcReq{rpID: "example.com"})
	wantStatus(t, "mc without UV", st, StatusPUATRequired)
	wantStatus(t, "config needs auth now", c.config(nil, 2, nil), StatusPUATRequired)
	wantStatus(t, "setPIN", c.setPIN("1234"), StatusOK)
	tok, _ := c.token("1234", PermAuthenticatorCfg, "")
	wantStatus(t, "toggle off", c.config(tok, 2, nil), StatusOK)
	st, _ = c.makeCred(mcReq{rpID: "example.com"})
	wantStatus(t, "non-rk mc without UV, PIN set", st, StatusOK)
	st, _ = c.makeCred(mcReq{rpID: "example.com", rk: true})
	wantStatus(t, "rk mc without UV, PIN set", st, StatusPUATRequired)
}
