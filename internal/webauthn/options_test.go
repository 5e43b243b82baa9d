package webauthn

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtures are the synthetic creationOptions bodies under testdata/.
var fixtures = []string{
	"creationoptions-captured.json",
	"creationoptions-beta-value.json",
	"creationoptions-v1-odata.json",
}

func TestParseFixtures(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			raw := readFixture(t, name)
			o, err := ParseCreationOptions(raw)
			if err != nil {
				t.Fatal(err)
			}
			// Cross-check against a plain decode of the same body.
			var generic map[string]any
			if err := json.Unmarshal(raw, &generic); err != nil {
				t.Fatal(err)
			}
			if v, ok := generic["value"].(map[string]any); ok {
				generic = v
			}
			pk := generic["publicKey"].(map[string]any)
			if o.ChallengeString != pk["challenge"].(string) {
				t.Error("challenge string not kept verbatim")
			}
			if got := b64url.EncodeToString(o.Challenge); got != o.ChallengeString {
				t.Error("challenge does not re-encode to the string Graph sent")
			}
			if !bytes.HasPrefix(o.User.ID, []byte("OF:")) && name != "creationoptions-v1-odata.json" {
				t.Errorf("user.id = %q…", o.User.ID[:3])
			}
			if o.ChallengeExpiry.IsZero() {
				t.Error("challengeTimeoutDateTime not read")
			}
			if len(o.ExcludeCredentials) == 0 {
				t.Error("excludeCredentials empty")
			}
			if o.AuthenticatorSelection.UserVerification != "required" || !o.AuthenticatorSelection.RequireResidentKey {
				t.Errorf("authenticatorSelection = %+v", o.AuthenticatorSelection)
			}
		})
	}
}

func TestParseCapturedDetails(t *testing.T) {
	o, err := ParseCreationOptions(readFixture(t, "creationoptions-captured.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Challenge) < 5000 {
		t.Errorf("challenge is %d bytes, want the large opaque JWE", len(o.Challenge))
	}
	if len(o.User.ID) != 51 {
		t.Errorf("user.id is %d bytes, want 51", len(o.User.ID))
	}
	if o.Timeout != time.Minute {
		t.Errorf("timeout = %v", o.Timeout)
	}
	if want := time.Date(2026, 11, 22, 5, 10, 0, 123456700, time.UTC); !o.ChallengeExpiry.Equal(want) {
		t.Errorf("expiry = %v", o.ChallengeExpiry)
	}
	for i, d := range o.ExcludeCredentials {
		if len(d.ID) != 32 || d.AltID != nil {
			t.Errorf("exclude[%d]: %d bytes, alt %v", i, len(d.ID), d.AltID != nil)
		}
	}
	e := o.Extensions
	if !e.HMACCreateSecret || !e.EnforceCredentialProtectionPolicy || e.CredentialProtectionPolicy != "userVerificationOptional" {
		t.Errorf("extensions = %+v", e)
	}
	if len(o.PubKeyCredParams) != 2 || o.PubKeyCredParams[0].Alg != AlgES256 || o.PubKeyCredParams[1].Alg != AlgRS256 {
		t.Errorf("pubKeyCredParams = %+v", o.PubKeyCredParams)
	}
}

func TestParseBetaDigitSuffix(t *testing.T) {
	o, err := ParseCreationOptions(readFixture(t, "creationoptions-beta-value.json"))
	if err != nil {
		t.Fatal(err)
	}
	if o.Timeout != 0 {
		t.Errorf("timeout = %v, want 0", o.Timeout)
	}
	if n := len(o.ExcludeCredentials[0].ID); n != 33 {
		t.Errorf("digit-suffix '0' id decoded to %d bytes, want 33", n)
	}
	if n := len(o.ExcludeCredentials[1].ID); n != 64 {
		t.Errorf("digit-suffix '2' id decoded to %d bytes, want 64", n)
	}
}

// mkOptions builds a creationOptions body around a publicKey whose members
// can be overridden; nil values delete the member.
func mkOptions(t testing.TB, override map[string]any) map[string]any {
	t.Helper()
	pk := map[string]any{
		"challenge":        b64url.EncodeToString(bytes.Repeat([]byte{0xAB}, 32)),
		"timeout":          60000,
		"attestation":      "direct",
		"rp":               map[string]any{"id": "login.microsoft.com", "name": "Microsoft"},
		"user":             map[string]any{"id": b64url.EncodeToString([]byte("OF:user-handle")), "name": "u@contoso.test", "displayName": "U"},
		"pubKeyCredParams": []any{map[string]any{"type": "public-key", "alg": -7}, map[string]any{"type": "public-key", "alg": -257}},
		"authenticatorSelection": map[string]any{
			"authenticatorAttachment": "cross-platform", "requireResidentKey": true, "userVerification": "required",
		},
		"extensions": map[string]any{
			"hmacCreateSecret": true, "enforceCredentialProtectionPolicy": true, "credentialProtectionPolicy": "userVerificationOptional",
		},
	}
	for k, v := range override {
		if v == nil {
			delete(pk, k)
		} else {
			pk[k] = v
		}
	}
	return pk
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTolerantDecoding(t *testing.T) {
	id := []byte{0xfb, 0xff, 0xbf, 0x01, 0x02, 0x03, 0xfe, 0x10} // has + and / in std base64
	std := base64.StdEncoding.EncodeToString(id)                 // "+/+/AQID/hA="
	big := make([]byte, 6*1024)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		s      string
		digit  bool
		want   []byte
		hasAlt bool
	}{
		{"base64url raw", base64.RawURLEncoding.EncodeToString(id), false, id, false},
		{"base64url padded", base64.URLEncoding.EncodeToString(id), false, id, false},
		{"std base64 padded", std, true, id, false},
		{"std base64 raw", strings.TrimRight(std, "="), true, id, false},
		{"digit suffix 0", base64.RawURLEncoding.EncodeToString(id[:6]) + "0", true, id[:6], false},
		{"digit suffix 1", base64.RawURLEncoding.EncodeToString(id[:5]) + "1", true, nil, true},
		{"digit suffix 2", base64.RawURLEncoding.EncodeToString(id[:7]) + "2", true, id[:7], false},
		{"surrounding space", " " + base64.RawURLEncoding.EncodeToString(id) + "\n", false, id, false},
		{"6 KB", base64.RawURLEncoding.EncodeToString(big), false, big, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, alt, err := decodeTolerant(tc.s, tc.digit)
			if err != nil {
				t.Fatal(err)
			}
			if tc.hasAlt {
				if !bytes.Equal(alt, id[:5]) {
					t.Fatalf("alt = %x, want %x", alt, id[:5])
				}
				return
			}
			if !bytes.Equal(got, tc.want) || alt != nil {
				t.Fatalf("got %x alt %x, want %x", got, alt, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "a", "ab=c", "a$bc", "abc==="} {
		if _, _, err := decodeTolerant(bad, true); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestParseVariants(t *testing.T) {
	bigChallenge := make([]byte, 6*1024)
	for i := range bigChallenge {
		bigChallenge[i] = byte('A' + i%26)
	}
	chal := bytes.Repeat([]byte{0xfb, 0xef, 0xff}, 11) // std base64 has + and /
	for _, tc := range []struct {
		name  string
		body  func(pk map[string]any) any
		pk    map[string]any
		check func(t *testing.T, o *CreationOptions)
	}{
		{name: "bare publicKey object", body: func(pk map[string]any) any { return pk }},
		{name: "top-level envelope", body: func(pk map[string]any) any {
			return map[string]any{"@odata.context": "x", "challengeTimeoutDateTime": "2026-01-01T00:00:00Z", "publicKey": pk}
		}, check: func(t *testing.T, o *CreationOptions) {
			if !o.ChallengeExpiry.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Error(o.ChallengeExpiry)
			}
		}},
		{name: "value wrapper", body: func(pk map[string]any) any {
			return map[string]any{"value": map[string]any{"challengeTimeoutDateTime": "2026-01-01T00:00:00+02:00", "publicKey": pk}}
		}, check: func(t *testing.T, o *CreationOptions) {
			if !o.ChallengeExpiry.Equal(time.Date(2025, 12, 31, 22, 0, 0, 0, time.UTC)) {
				t.Error(o.ChallengeExpiry)
			}
		}},
		{name: "expiry without offset", body: func(pk map[string]any) any {
			return map[string]any{"challengeTimeoutDateTime": "2026-01-01T00:00:00.5", "publicKey": pk}
		}, check: func(t *testing.T, o *CreationOptions) {
			if !o.ChallengeExpiry.Equal(time.Date(2026, 1, 1, 0, 0, 0, 5e8, time.UTC)) {
				t.Error(o.ChallengeExpiry)
			}
		}},
		{name: "timeout 0", pk: map[string]any{"timeout": 0}, check: func(t *testing.T, o *CreationOptions) {
			if o.Timeout != 0 {
				t.Error(o.Timeout)
			}
		}},
		{name: "timeout missing", pk: map[string]any{"timeout": nil}, check: func(t *testing.T, o *CreationOptions) {
			if o.Timeout != 0 {
				t.Error(o.Timeout)
			}
		}},
		{name: "timeout as string", pk: map[string]any{"timeout": "120000"}, check: func(t *testing.T, o *CreationOptions) {
			if o.Timeout != 2*time.Minute {
				t.Error(o.Timeout)
			}
		}},
		{name: "6 KB challenge", pk: map[string]any{"challenge": b64url.EncodeToString(bigChallenge)}, check: func(t *testing.T, o *CreationOptions) {
			if !bytes.Equal(o.Challenge, bigChallenge) {
				t.Error("challenge differs")
			}
		}},
		{name: "padded base64url challenge", pk: map[string]any{"challenge": base64.URLEncoding.EncodeToString(chal[:32])}, check: func(t *testing.T, o *CreationOptions) {
			if !bytes.Equal(o.Challenge, chal[:32]) || !strings.HasSuffix(o.ChallengeString, "=") {
				t.Error("challenge")
			}
			if strings.Contains(string(ClientDataJSON(o)), "=") {
				t.Error("clientDataJSON carries padding")
			}
		}},
		{name: "std base64 challenge and user id", pk: map[string]any{
			"challenge": base64.StdEncoding.EncodeToString(chal),
			"user":      map[string]any{"id": base64.StdEncoding.EncodeToString(chal[:31]), "name": "n"},
		}, check: func(t *testing.T, o *CreationOptions) {
			if !bytes.Equal(o.Challenge, chal) || !bytes.Equal(o.User.ID, chal[:31]) {
				t.Error("decode")
			}
		}},
		{name: "no pubKeyCredParams, no selection, no extensions", pk: map[string]any{
			"pubKeyCredParams": nil, "authenticatorSelection": nil, "extensions": nil, "attestation": nil,
		}, check: func(t *testing.T, o *CreationOptions) {
			if o.AuthenticatorSelection.UserVerification != "preferred" || o.Attestation != "" {
				t.Errorf("%+v", o)
			}
		}},
		{name: "other extensions", pk: map[string]any{"extensions": map[string]any{
			"@odata.type": "#x", "credProps": true, "minPinLength": true, "credBlob": "AAAA", "prf": map[string]any{},
			"credentialProtectionPolicy": "userVerificationOptionalWithCredentialIdList",
		}}, check: func(t *testing.T, o *CreationOptions) {
			e := o.Extensions
			if !e.CredProps || !e.MinPINLength || strings.Join(e.Other, ",") != "credBlob,prf" ||
				e.CredentialProtectionPolicy != "userVerificationOptionalWithCredentialIdList" {
				t.Errorf("%+v", e)
			}
		}},
		{name: "residentKey member", pk: map[string]any{"authenticatorSelection": map[string]any{"residentKey": "required"}},
			check: func(t *testing.T, o *CreationOptions) {
				if o.AuthenticatorSelection.ResidentKey != "required" {
					t.Error("residentKey")
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pk := mkOptions(t, tc.pk)
			var body any = map[string]any{"publicKey": pk}
			if tc.body != nil {
				body = tc.body(pk)
			}
			o, err := ParseCreationOptions(mustJSON(t, body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

func TestParseErrorsNameField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		body  string
		field string
	}{
		{"not JSON", `{"publicKey":`, "(body)"},
		{"array", `[]`, "(body)"},
		{"no publicKey", `{"challengeTimeoutDateTime":"2026-01-01T00:00:00Z"}`, "publicKey"},
		{"value not object", `{"value":[1]}`, "value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCreationOptions([]byte(tc.body))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want field %s", err, tc.field)
			}
		})
	}
	secret := "c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw$$"
	for _, tc := range []struct {
		pk    map[string]any
		field string
	}{
		{map[string]any{"challenge": nil}, "publicKey.challenge"},
		{map[string]any{"challenge": secret}, "publicKey.challenge"},
		{map[string]any{"challenge": "AAAA"}, "publicKey.challenge"}, // too short
		{map[string]any{"challenge": 12}, "publicKey.challenge"},
		{map[string]any{"rp": nil}, "publicKey.rp"},
		{map[string]any{"rp": map[string]any{"name": "Microsoft"}}, "publicKey.rp.id"},
		{map[string]any{"user": map[string]any{"id": secret, "name": "n"}}, "publicKey.user.id"},
		{map[string]any{"user": map[string]any{"id": "AAAA"}}, "publicKey.user.name"},
		{map[string]any{"user": map[string]any{"id": b64url.EncodeToString(make([]byte, 65)), "name": "n"}}, "publicKey.user.id"},
		{map[string]any{"timeout": -1}, "publicKey.timeout"},
		{map[string]any{"timeout": 1.5}, "publicKey.timeout"},
		{map[string]any{"timeout": 1e12}, "publicKey.timeout"},
		{map[string]any{"pubKeyCredParams": "x"}, "publicKey.pubKeyCredParams"},
		{map[string]any{"pubKeyCredParams": []any{map[string]any{"type": "public-key"}}}, "publicKey.pubKeyCredParams[0].alg"},
		{map[string]any{"excludeCredentials": []any{map[string]any{"id": "AAAA"}, map[string]any{"id": secret}}}, "publicKey.excludeCredentials[1].id"},
		{map[string]any{"excludeCredentials": []any{map[string]any{"id": "AAAA", "transports": "usb"}}}, "publicKey.excludeCredentials[0].transports"},
		{map[string]any{"authenticatorSelection": map[string]any{"requireResidentKey": "maybe"}}, "publicKey.authenticatorSelection.requireResidentKey"},
		{map[string]any{"extensions": map[string]any{"credentialProtectionPolicy": "strict"}}, "publicKey.extensions.credentialProtectionPolicy"},
		{map[string]any{"extensions": map[string]any{"hmacCreateSecret": 3}}, "publicKey.extensions.hmacCreateSecret"},
	} {
		t.Run(tc.field, func(t *testing.T) {
			_, err := ParseCreationOptions(mustJSON(t, map[string]any{"publicKey": mkOptions(t, tc.pk)}))
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want field %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") {
				t.Fatalf("error echoes the value: %v", err)
			}
		})
	}
	// Bad expiry names its field.
	_, err := ParseCreationOptions(mustJSON(t, map[string]any{"challengeTimeoutDateTime": "soon", "publicKey": mkOptions(t, nil)}))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "challengeTimeoutDateTime" {
		t.Fatalf("err = %v", err)
	}
}

func TestClientDataJSON(t *testing.T) {
	o := &CreationOptions{RP: RPEntity{ID: "login.microsoft.com"}, Challenge: []byte{1, 2, 3, 4, 5}}
	got := string(ClientDataJSON(o))
	// DSInternals' unit-test expectation (docs/graph.md §3.1).
	want := `{"type":"webauthn.create","challenge":"AQIDBAU","origin":"https://login.microsoft.com","crossOrigin":false}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	h := ClientDataHash([]byte(want))
	if len(h) != 32 {
		t.Fatal(len(h))
	}
	o.RP.ID = "a<b>&c"
	if !strings.Contains(string(ClientDataJSON(o)), `"https://a<b>&c"`) {
		t.Error("HTML escaping applied")
	}
	if !json.Valid(ClientDataJSON(o)) {
		t.Error("invalid JSON")
	}
}

func TestRoundTripParams(t *testing.T) {
	o, err := ParseCreationOptions(readFixture(t, "creationoptions-captured.json"))
	if err != nil {
		t.Fatal(err)
	}
	cdj := ClientDataJSON(o)
	var cd map[string]any
	if err := json.Unmarshal(cdj, &cd); err != nil {
		t.Fatal(err)
	}
	if cd["challenge"] != o.ChallengeString || cd["origin"] != "https://login.microsoft.com" {
		t.Errorf("clientData = %s…", cdj[:80])
	}
	p, err := MakeCredentialParams(o, ClientDataHash(cdj))
	if err != nil {
		t.Fatal(err)
	}
	if p.RPID != "login.microsoft.com" || p.RPName != "Microsoft" || !bytes.Equal(p.UserID, o.User.ID) ||
		p.UserName != "adele.vance@contoso.test" || p.UserDisplayName != "Adele Vance" {
		t.Errorf("entities: %+v", p)
	}
	if len(p.Algorithms) != 2 || p.Algorithms[0] != AlgES256 || p.Algorithms[1] != AlgRS256 {
		t.Errorf("algorithms %v", p.Algorithms)
	}
	if !p.ResidentKey || !p.UV || p.CredProtect != 1 || !p.EnforceCredProtect || !p.HMACSecret || p.MinPINLength {
		t.Errorf("options: %+v", p)
	}
	if len(p.ExcludeList) != 2 || !bytes.Equal(p.ExcludeList[0], o.ExcludeCredentials[0].ID) {
		t.Errorf("exclude list %d", len(p.ExcludeList))
	}
	if p.Attestation != "direct" || p.Timeout != time.Minute {
		t.Errorf("attestation %q timeout %v", p.Attestation, p.Timeout)
	}
	if !o.ChallengeExpired(o.ChallengeExpiry) || o.ChallengeExpired(o.ChallengeExpiry.Add(-time.Second)) {
		t.Error("ChallengeExpired")
	}
	if (&CreationOptions{}).ChallengeExpired(time.Now()) {
		t.Error("no expiry must not expire")
	}
}

func TestMakeCredentialParamsMapping(t *testing.T) {
	cdh := make([]byte, 32)
	parse := func(t *testing.T, pk map[string]any) *CreationOptions {
		o, err := ParseCreationOptions(mustJSON(t, map[string]any{"publicKey": mkOptions(t, pk)}))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	for _, tc := range []struct {
		name  string
		pk    map[string]any
		opts  []ParamsOption
		check func(t *testing.T, p *MakeCredentialRequest)
		err   string
	}{
		{name: "RS256 first on the wire, ES256 preferred", pk: map[string]any{"pubKeyCredParams": []any{
			map[string]any{"type": "public-key", "alg": -257}, map[string]any{"type": "public-key", "alg": -8}, map[string]any{"type": "public-key", "alg": -7}}},
			check: func(t *testing.T, p *MakeCredentialRequest) {
				if len(p.Algorithms) != 2 || p.Algorithms[0] != AlgES256 {
					t.Error(p.Algorithms)
				}
			}},
		{name: "only RS256", pk: map[string]any{"pubKeyCredParams": []any{map[string]any{"type": "public-key", "alg": -257}}},
			check: func(t *testing.T, p *MakeCredentialRequest) {
				if len(p.Algorithms) != 1 || p.Algorithms[0] != AlgRS256 {
					t.Error(p.Algorithms)
				}
			}},
		{name: "empty list means ES256 and RS256", pk: map[string]any{"pubKeyCredParams": []any{}},
			check: func(t *testing.T, p *MakeCredentialRequest) {
				if len(p.Algorithms) != 2 {
					t.Error(p.Algorithms)
				}
			}},
		{name: "no usable algorithm", pk: map[string]any{"pubKeyCredParams": []any{map[string]any{"type": "public-key", "alg": -8}, map[string]any{"type": "other", "alg": -7}}},
			err: "ES256 (-7) or RS256"},
		{name: "other rp.id refused", pk: map[string]any{"rp": map[string]any{"id": "login.microsoftonline.com"}}, err: "rp.id"},
		{name: "other rp.id allowed", pk: map[string]any{"rp": map[string]any{"id": "login.microsoftonline.com"}},
			opts: []ParamsOption{AllowRPID("login.microsoftonline.com")},
			check: func(t *testing.T, p *MakeCredentialRequest) {
				if p.RPID != "login.microsoftonline.com" || p.RPName != "Microsoft" {
					t.Error(p.RPID, p.RPName)
				}
			}},
		{name: "uv discouraged", pk: map[string]any{"authenticatorSelection": map[string]any{"userVerification": "discouraged"}},
			check: func(t *testing.T, p *MakeCredentialRequest) {
				if p.UV || p.ResidentKey {
					t.Error(p.UV, p.ResidentKey)
				}
			}},
		{name: "uv preferred", pk: map[string]any{"authenticatorSelection": map[string]any{"userVerification": "preferred", "residentKey": "preferred"}},
			check: func(t *testing.T, p *MakeCredentialRequest) {
				if !p.UV || !p.ResidentKey {
					t.Error(p.UV, p.ResidentKey)
				}
			}},
		{name: "uv unknown", pk: map[string]any{"authenticatorSelection": map[string]any{"userVerification": "always"}}, err: "userVerification"},
		{name: "residentKey unknown", pk: map[string]any{"authenticatorSelection": map[string]any{"residentKey": "maybe"}}, err: "residentKey"},
		{name: "credProtect 3 not enforced", pk: map[string]any{"extensions": map[string]any{"credentialProtectionPolicy": "userVerificationRequired"}},
			check: func(t *testing.T, p *MakeCredentialRequest) {
				if p.CredProtect != 3 || p.EnforceCredProtect || p.HMACSecret {
					t.Errorf("%+v", p)
				}
			}},
		{name: "ambiguous exclude id keeps both readings", pk: map[string]any{"excludeCredentials": []any{
			map[string]any{"id": b64url.EncodeToString([]byte("abcde")) + "1", "type": "public-key"},
			map[string]any{"id": "AAAA", "type": "other"}}},
			check: func(t *testing.T, p *MakeCredentialRequest) {
				if len(p.ExcludeList) != 2 || !bytes.Equal(p.ExcludeList[1], []byte("abcde")) {
					t.Errorf("%q", p.ExcludeList)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := MakeCredentialParams(parse(t, tc.pk), cdh, tc.opts...)
			if tc.err != "" {
				if !errors.Is(err, ErrUnsupportedOptions) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, p)
		})
	}
	if _, err := MakeCredentialParams(parse(t, nil), cdh[:31]); err == nil {
		t.Error("short clientDataHash accepted")
	}
}
