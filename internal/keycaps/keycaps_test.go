package keycaps

import (
	"encoding/json"
	"strings"
	"testing"
)

func intp(n int) *int { return &n }

// yk54 is a YubiKey 5 NFC at firmware 5.4.3 as `fido2-token -I` shows it
// (libfido2 issue 686): FIDO_2_1_PRE, no authenticatorConfig.
func yk54() GetInfo {
	return GetInfo{Versions: []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE"}, Extensions: []string{"credProtect", "hmac-secret"},
		AAGUID: "2fc0579f811347eab116bb5a8db9202a", Options: map[string]bool{"rk": true, "up": true, "plat": false, "clientPin": true, "credentialMgmtPreview": true},
		PINUVAuthProtocols: []int{2, 1}, MinPINLength: 4, FirmwareVersion: 0x050403,
		Algorithms: []Algorithm{{Type: "public-key", Alg: -7}, {Type: "public-key", Alg: -8}}}
}

// yk57 is a YubiKey 5 NFC at 5.7.1 as its metadata statement declares it.
func yk57() GetInfo {
	return GetInfo{Versions: []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"},
		Extensions: []string{"credProtect", "hmac-secret", "largeBlobKey", "credBlob", "minPinLength"}, AAGUID: "a25342c03cdc44148e46f4807fca511c",
		Options: map[string]bool{"plat": false, "rk": true, "clientPin": false, "up": true, "pinUvAuthToken": true, "largeBlobs": true,
			"authnrCfg": true, "credMgmt": true, "credentialMgmtPreview": true, "setMinPINLength": true, "makeCredUvNotRqd": true, "alwaysUv": false},
		PINUVAuthProtocols: []int{2, 1}, MinPINLength: 4, MaxRPIDsForSetMinPIN: 1, RemainingDiscoverableCredentials: intp(100)}
}

// titan is a Google Titan v2 as its metadata statement declares it: CTAP
// 2.0 only, no credential management.
func titan() GetInfo {
	return GetInfo{Versions: []string{"FIDO_2_0", "U2F_V2"}, Extensions: []string{"credProtect", "hmac-secret"},
		AAGUID: "42b4fb4a286643b29bf76c6669c2e5d3", Options: map[string]bool{"rk": true, "clientPin": false}, PINUVAuthProtocols: []int{1}}
}

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		gi   GetInfo
		want func(Capabilities) bool
	}{
		{"5.4 preview cred mgmt", yk54(), func(c Capabilities) bool { return c.CredMgmt == CredMgmtPreview && !c.Config && !c.CTAP21 && c.PINSet }},
		{"5.7 full", yk57(), func(c Capabilities) bool {
			return c.CredMgmt == CredMgmtFull && c.Config && c.SetMinPINLength && c.AlwaysUVKnown && !c.AlwaysUV && c.Remaining == 100 && c.MaxRPIDs == 1 && c.MinPINLengthExt
		}},
		{"titan", titan(), func(c Capabilities) bool {
			return c.CredMgmt == CredMgmtNone && c.ClientPIN && !c.PINSet && c.Remaining == -1 && c.MinPINLength == DefaultMinPINLength
		}},
		{"no protocols listed means protocol one", GetInfo{Versions: []string{"FIDO_2_0"}, Options: map[string]bool{"rk": true, "clientPin": true}},
			func(c Capabilities) bool { return len(c.PINProtocols) == 1 && c.PINProtocols[0] == 1 }},
		{"setMinPINLength without authnrCfg is not usable", GetInfo{Versions: []string{"FIDO_2_1"}, Options: map[string]bool{"setMinPINLength": true}},
			func(c Capabilities) bool { return !c.SetMinPINLength }},
		{"credMgmt false falls back to the preview", GetInfo{Versions: []string{"FIDO_2_1"}, Options: map[string]bool{"credMgmt": false, "credentialMgmtPreview": true}},
			func(c Capabilities) bool { return c.CredMgmt == CredMgmtPreview }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Of(&tc.gi)
			if !tc.want(c) {
				t.Errorf("Of = %+v", c)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	mpl := Want{MinPINLength: 8, ForcePINChange: true}
	for _, tc := range []struct {
		name       string
		gi         GetInfo
		want       Want
		skip       bool
		enrollable bool
		refused    []string // flags (or missing capability) refused, in order
		skipped    []string
		msg        string // substring of the first refusal or skip
	}{
		{"5.4 defaults", yk54(), Want{}, false, true, nil, nil, ""},
		{"5.4 min PIN length refused", yk54(), mpl, false, false, []string{FlagMinPINLength, FlagForcePINChange}, nil,
			"no authenticatorConfig (CTAP 2.1 §6.11): --min-pin-length cannot be applied"},
		{"5.4 min PIN length skipped", yk54(), mpl, true, true, nil, []string{FlagMinPINLength, FlagForcePINChange}, "--min-pin-length cannot be applied"},
		{"5.4 always UV refused", yk54(), Want{AlwaysUV: true}, false, false, []string{FlagAlwaysUV}, nil, "no authenticatorConfig"},
		{"5.7 everything", yk57(), Want{MinPINLength: 8, ForcePINChange: true, MinPINLengthRPID: true, AlwaysUV: true}, false, true, nil, nil, ""},
		{"5.7 min PIN not above current", yk57(), Want{MinPINLength: 4}, false, true, nil, nil, ""},
		{"no RP IDs", func() GetInfo { g := yk57(); g.MaxRPIDsForSetMinPIN = 0; return g }(), Want{MinPINLengthRPID: true}, false, false,
			[]string{FlagMinPINLengthRP}, nil, "maxRPIDsForSetMinPINLength 0"},
		{"authnrCfg without alwaysUv", func() GetInfo { g := yk57(); delete(g.Options, "alwaysUv"); return g }(), Want{AlwaysUV: true}, false, false,
			[]string{FlagAlwaysUV}, nil, "no alwaysUv option"},
		{"titan defaults", titan(), Want{}, false, true, nil, nil, ""},
		{"full key", func() GetInfo { g := yk57(); g.RemainingDiscoverableCredentials = intp(0); return g }(), Want{}, true, false,
			[]string{"a free discoverable-credential slot"}, nil, "no free slot"},
		{"full key with reset", func() GetInfo { g := yk57(); g.RemainingDiscoverableCredentials = intp(0); return g }(), Want{Reset: true}, false, true, nil, nil, ""},
		{"U2F only", GetInfo{Versions: []string{"U2F_V2"}}, Want{}, false, false, []string{"CTAP2"}, nil, "not a FIDO2 key (versions U2F_V2)"},
		{"no rk", GetInfo{Versions: []string{"FIDO_2_0"}, Options: map[string]bool{"clientPin": true}}, Want{}, false, false,
			[]string{"discoverable credentials (rk)"}, nil, "cannot store discoverable credentials"},
		{"no PIN", GetInfo{Versions: []string{"FIDO_2_0"}, Options: map[string]bool{"rk": true, "uv": true}}, Want{}, true, false,
			[]string{"clientPin"}, nil, "does not support a PIN"},
		{"EdDSA only", GetInfo{Versions: []string{"FIDO_2_0"}, Options: map[string]bool{"rk": true, "clientPin": false}, Algorithms: []Algorithm{{Alg: -8}}},
			Want{}, false, false, []string{"ES256 or RS256"}, nil, "none of the algorithms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(Of(&tc.gi), tc.want, tc.skip)
			if d.Enrollable != tc.enrollable {
				t.Errorf("Enrollable = %v, want %v (%+v)", d.Enrollable, tc.enrollable, d)
			}
			if got := keys(d.Refusals); strings.Join(got, "|") != strings.Join(tc.refused, "|") {
				t.Errorf("refused %q, want %q", got, tc.refused)
			}
			if got := keys(d.Skipped); strings.Join(got, "|") != strings.Join(tc.skipped, "|") {
				t.Errorf("skipped %q, want %q", got, tc.skipped)
			}
			if tc.msg != "" {
				all := append(append([]Refusal{}, d.Refusals...), d.Skipped...)
				if len(all) == 0 || !strings.Contains(all[0].Msg, tc.msg) || all[0].Hint == "" {
					t.Errorf("first refusal %+v, want message containing %q and a hint", all, tc.msg)
				}
			}
		})
	}
}

func keys(rs []Refusal) []string {
	var out []string
	for _, r := range rs {
		k := r.Flag
		if k == "" {
			k = r.Missing
		}
		out = append(out, k)
	}
	return out
}

func TestSendExtensions(t *testing.T) {
	c := Of(&GetInfo{Versions: []string{"FIDO_2_0"}, Extensions: []string{"credProtect"}})
	got := c.SendExtensions(ExtHMACSecret, ExtCredProtect, ExtMinPINLength)
	if strings.Join(got, ",") != ExtCredProtect {
		t.Errorf("SendExtensions = %v, want only credProtect", got)
	}
}

func TestUnavailable(t *testing.T) {
	g := yk54()
	if got, want := Of(&g).Unavailable(), "no authenticatorConfig: --min-pin-length, --force-pin-change, --min-pin-length-rp and --always-uv unavailable"; got != want {
		t.Errorf("Unavailable = %q, want %q", got, want)
	}
	g = yk57()
	if got := Of(&g).Unavailable(); got != "" {
		t.Errorf("Unavailable on a 5.7 = %q", got)
	}
}

func TestPINRules(t *testing.T) {
	g := GetInfo{Versions: []string{"FIDO_2_1"}, AAGUID: "eabb46cc-e241-80bf-ae9e-96fa6d2975cf", MinPINLength: 6}
	r := Of(&g).PINRules()
	if !r.Known || r.MinLength != 6 || !r.NoPalindrome || !r.NoArithmeticSequence || r.MaxIdenticalRun != 3 || r.AlphanumericMinLength != 10 {
		t.Errorf("Token2 PIN+ rules = %+v", r)
	}
	g = yk57()
	if r := Of(&g).PINRules(); r.Known || r.MinLength != 4 {
		t.Errorf("YubiKey rules = %+v", r)
	}
}

func TestGetInfoJSON(t *testing.T) {
	var g GetInfo
	if err := json.Unmarshal([]byte(`{"versions":["FIDO_2_0"],"aaguid":"2fc0579f-8113-47ea-b116-bb5a8db9202a","remainingDiscoverableCredentials":0}`), &g); err != nil {
		t.Fatal(err)
	}
	a, err := g.AAGUIDBytes()
	if err != nil || a[0] != 0x2f || a[15] != 0x2a {
		t.Errorf("AAGUIDBytes = %x, %v", a, err)
	}
	if g.RemainingDiscoverableCredentials == nil || *g.RemainingDiscoverableCredentials != 0 {
		t.Error("a reported 0 must stay distinguishable from absent")
	}
	if _, err := (&GetInfo{AAGUID: "not hex"}).AAGUIDBytes(); err == nil {
		t.Error("AAGUIDBytes accepted garbage")
	}
}
