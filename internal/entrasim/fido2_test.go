package entrasim

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/softkey"
)

func TestRegisterSuccess(t *testing.T) {
	f := newFixture(t, nil)
	o, raw := f.options("v1.0", adele)
	if len(o.ChallengeString) < 6000 || len(o.ChallengeString) > 8000 {
		t.Errorf("challenge is %d characters, want ~6.9k like live", len(o.ChallengeString))
	}
	if !bytes.HasPrefix(o.Challenge, []byte("eyJ")) || bytes.Count(o.Challenge, []byte(".")) != 4 {
		t.Errorf("challenge does not decode to a JWE compact token: %.40q", o.Challenge)
	}
	if len(o.User.ID) != 51 || !bytes.HasPrefix(o.User.ID, []byte("OF:")) {
		t.Errorf("user.id = %d bytes %q…, want 51 starting OF:", len(o.User.ID), o.User.ID[:3])
	}
	if o.RP.ID != RPID || o.User.Name != adele || o.User.DisplayName != "Adele Vance" ||
		o.AuthenticatorSelection.UserVerification != "required" || !o.AuthenticatorSelection.RequireResidentKey ||
		o.Attestation != "direct" || o.Timeout != time.Minute || len(o.PubKeyCredParams) != 2 ||
		!o.Extensions.HMACCreateSecret || o.Extensions.CredentialProtectionPolicy != "userVerificationOptional" {
		t.Errorf("unexpected options: %+v", o)
	}
	if !o.ChallengeExpiry.Equal(f.clock.Now().Add(5 * time.Minute)) {
		t.Errorf("challengeTimeoutDateTime %v", o.ChallengeExpiry)
	}
	if !strings.Contains(string(raw), `"@odata.context"`) {
		t.Error("no @odata.context")
	}
	// Stable user handle.
	o2, _ := f.options("beta", "ADELE.VANCE@contoso.test")
	if !bytes.Equal(o.User.ID, o2.User.ID) {
		t.Error("user handle not stable")
	}

	a := newAuthenticator(t)
	r := f.do("POST", fido2Path("v1.0", adele), a.register(t, o))
	f.want(r, 201)
	m := r.json(t)
	_, cert := loadBatch(t)
	sum := sha1.Sum(cert)
	if _, err := uuid.Parse(m["id"].(string)); err != nil || m["id"] == base64.RawURLEncoding.EncodeToString(a.credID) {
		t.Errorf("id %v", m["id"])
	}
	checks := map[string]any{"displayName": "Test key", "aaGuid": softkey.AAGUIDString, "model": softkey.ModelName,
		"attestationLevel": "attested", "passkeyType": "deviceBound"}
	for k, v := range checks {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if certs, _ := m["attestationCertificates"].([]any); len(certs) != 1 || certs[0] != hex.EncodeToString(sum[:]) {
		t.Errorf("attestationCertificates %v", m["attestationCertificates"])
	}
	if ts, err := time.Parse(time.RFC3339, m["createdDateTime"].(string)); err != nil || !ts.Equal(f.clock.Now()) {
		t.Errorf("createdDateTime %v", m["createdDateTime"])
	}
	if _, ok := m["publicKeyCredential"]; ok {
		t.Error("publicKeyCredential returned")
	}
	if !strings.Contains(m["@odata.context"].(string), "fido2Methods/$entity") {
		t.Errorf("context %v", m["@odata.context"])
	}

	// Listed, readable, then in excludeCredentials, then deletable.
	l := f.do("GET", fido2Path("beta", adele), nil)
	f.want(l, 200)
	if v := l.json(t)["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != m["id"] {
		t.Fatalf("list %s", l.body)
	}
	if bytes.Contains(l.body, []byte("publicKeyCredential")) {
		t.Error("list leaks publicKeyCredential")
	}
	f.want(f.do("GET", fido2Path("v1.0", adele)+"/"+m["id"].(string), nil), 200)
	o3, _ := f.options("v1.0", adele)
	if len(o3.ExcludeCredentials) != 1 || !bytes.Equal(o3.ExcludeCredentials[0].ID, a.credID) ||
		o3.ExcludeCredentials[0].Transports[0] != "usb" {
		t.Errorf("excludeCredentials %+v", o3.ExcludeCredentials)
	}
	f.want(f.do("DELETE", fido2Path("v1.0", adele)+"/"+m["id"].(string), nil), 204)
	r = f.do("DELETE", fido2Path("v1.0", adele)+"/"+m["id"].(string), nil)
	f.want(r, 404)
	if _, msg := r.errMsg(t); strings.Contains(strings.ToLower(msg), "user") {
		t.Errorf("method 404 mentions user: %q", msg)
	}
	r = f.do("GET", fido2Path("v1.0", "nobody@contoso.test"), nil)
	f.want(r, 404)
	if code, msg := r.errMsg(t); code != "Request_ResourceNotFound" ||
		msg != "Resource 'nobody@contoso.test' does not exist or one of its queried reference-property objects are not present." {
		t.Errorf("%s %s", code, msg)
	}
}

func TestRegisterRejects(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(f *fixture, a *authenticator)
		user   string // options for this user (default adele)
		body   func(f *fixture, a *authenticator, b []byte) []byte
		status int
		msg    string
	}{
		{name: "wrong origin", setup: func(f *fixture, a *authenticator) { a.origin = "https://login.microsoftonline.com" },
			status: 400, msg: "The origin 'https://login.microsoftonline.com' in clientDataJSON is not allowed"},
		{name: "wrong rp id", setup: func(f *fixture, a *authenticator) { a.rpID = "login.microsoftonline.com" },
			status: 400, msg: "rpIdHash"},
		{name: "missing UV", setup: func(f *fixture, a *authenticator) { a.flags &^= flagUV }, status: 400, msg: msgUV},
		{name: "missing UP", setup: func(f *fixture, a *authenticator) { a.flags &^= flagUP }, status: 400, msg: "User presence is required."},
		{name: "blocked AAGUID, no profiles", setup: func(f *fixture, a *authenticator) {
			noProfiles(f)
			f.patch("fido2", map[string]any{"keyRestrictions": map[string]any{"isEnforced": true, "enforcementType": "block",
				"aaGuids": []string{strings.ToUpper(softkey.AAGUIDString)}}})
		}, status: 400, msg: "The authenticator model (AAGUID " + softkey.AAGUIDString + ") is not allowed by the tenant's key restrictions."},
		{name: "policy-wide attestation, no profiles", setup: func(f *fixture, a *authenticator) {
			noProfiles(f)
			a.format = "none"
		}, status: 400, msg: "Attestation verification failed: the authenticator returned no attestation (fmt none) and the tenant enforces attestation."},
		{name: "blocked AAGUID by the profile", setup: func(f *fixture, a *authenticator) {
			f.patch("fido2", map[string]any{"passkeyProfiles": []any{defaultProfile("registrationOnly",
				map[string]any{"isEnforced": true, "enforcementType": "block", "aaGuids": []string{strings.ToUpper(softkey.AAGUIDString)}})}})
		}, status: 400, msg: "The authenticator model (AAGUID " + softkey.AAGUIDString + ") is not allowed by the key restrictions of the passkey profile 'Default passkey profile'."},
		{name: "allow list without it", setup: func(f *fixture, a *authenticator) {
			f.patch("fido2", map[string]any{"passkeyProfiles": []any{defaultProfile("registrationOnly",
				map[string]any{"isEnforced": true, "enforcementType": "allow", "aaGuids": []string{"cb69481e-8ff7-4039-93ec-0a2729a154a8"}})}})
		}, status: 400, msg: "is not allowed by the key restrictions of the passkey profile 'Default passkey profile'"},
		{name: "enforced attestation with none", setup: func(f *fixture, a *authenticator) { a.format = "none" },
			status: 400, msg: "Attestation verification failed: the authenticator returned no attestation (fmt none) and the passkey profile 'Default passkey profile' enforces attestation."},
		{name: "profile enforcement alone refuses none", setup: func(f *fixture, a *authenticator) {
			a.format = "none"
			f.patch("fido2", map[string]any{"isAttestationEnforced": false})
		}, status: 400, msg: "Attestation verification failed"},
		{name: "tampered signature", setup: func(f *fixture, a *authenticator) { a.tamper = true },
			status: 400, msg: "Attestation verification failed"},
		{name: "unknown model under enforcement", setup: func(f *fixture, a *authenticator) {
			// A packed attestation, signed by a certificate from the
			// virtual key's trusted root, for a model without metadata
			// (TestAttestationChain accepts it once the model has some).
			a.aaguid = uuid.MustParse(otherModel)
			root, key := testRoot(f.t)
			a.attKey, a.attCert = attestationCert(f.t, a.aaguid, root, key)
		}, status: 400, msg: "Attestation verification failed: the attestation statement does not chain to a trusted root in the tenant's metadata"},
		{name: "challenge of another user", user: alex, status: 400, msg: "The challenge was issued for a different user."},
		{name: "displayName 31 characters", setup: func(f *fixture, a *authenticator) { a.displayName = strings.Repeat("é", 31) },
			status: 400, msg: "displayName must be 30 characters or fewer."},
		{name: "synced credential vs deviceBound profile", setup: func(f *fixture, a *authenticator) { a.flags |= flagBE },
			status: 400, msg: "The passkey profile 'Default passkey profile' allows only device-bound passkeys"},
		{name: "rawId refused", body: func(f *fixture, a *authenticator, b []byte) []byte {
			return bytes.Replace(b, []byte(`"id":`), []byte(`"rawId":"AA","id":`), 1)
		}, status: 400, msg: "Property 'rawId' does not exist"},
		{name: "transports refused", body: func(f *fixture, a *authenticator, b []byte) []byte {
			return bytes.Replace(b, []byte(`"id":`), []byte(`"transports":["usb"],"id":`), 1)
		}, status: 400, msg: "Property 'transports' does not exist"},
		{name: "not JSON", body: func(f *fixture, a *authenticator, b []byte) []byte { return []byte(`"{\"a\":1}"`) },
			status: 400, msg: msgNoEntity},
		{name: "no publicKeyCredential", body: func(f *fixture, a *authenticator, b []byte) []byte { return []byte(`{"displayName":"x"}`) },
			status: 400, msg: msgNoEntity},
		{name: "forged challenge", body: func(f *fixture, a *authenticator, b []byte) []byte {
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			resp := m["publicKeyCredential"].(map[string]any)["response"].(map[string]any)
			resp["clientDataJSON"] = base64.RawURLEncoding.EncodeToString([]byte(`{"type":"webauthn.create","challenge":"ZXlKaGJHY2lPaUpTVTBFdFQwRkZVQzB5TlRZaUxD","origin":"https://login.microsoft.com","crossOrigin":false}`))
			out, _ := json.Marshal(m)
			return out
		}, status: 400, msg: "The challenge is not valid"},
		{name: "guest", user: GuestUPN, status: 400, msg: "guest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			a := newAuthenticator(t)
			if tc.setup != nil {
				tc.setup(f, a)
			}
			user := adele
			if tc.user != "" && tc.user != GuestUPN {
				user = tc.user
			}
			o, _ := f.options("v1.0", user)
			body := a.register(t, o)
			if tc.body != nil {
				body = tc.body(f, a, body)
			}
			target := adele
			if tc.user == GuestUPN {
				target = GuestUPN
			}
			r := f.do("POST", fido2Path("v1.0", target), body)
			f.wantErr(r, tc.status, tc.msg)
			if l := f.do("GET", fido2Path("v1.0", adele), nil); strings.Contains(string(l.body), `"id":"`) {
				t.Errorf("a refused registration was stored: %s", l.body)
			}
		})
	}
}

// noProfiles makes the tenant one that has not moved to passkey profiles:
// the policy-wide settings decide.
func noProfiles(f *fixture) {
	f.patch("fido2", map[string]any{"passkeyProfiles": []any{}, "includeTargets": []any{
		map[string]any{"id": "all_users", "targetType": "group", "isRegistrationRequired": false, "allowedPasskeyProfiles": []string{}}}})
}

// defaultProfile is the default passkey profile with the given attestation
// enforcement and key restrictions (nil: none).
func defaultProfile(enforcement string, kr map[string]any) map[string]any {
	if kr == nil {
		kr = map[string]any{"isEnforced": false, "enforcementType": "block", "aaGuids": []string{}}
	}
	return map[string]any{"id": DefaultPasskeyProfileID, "name": "Default passkey profile", "passkeyTypes": "deviceBound",
		"attestationEnforcement": enforcement, "keyRestrictions": kr}
}

// TestProfilesDecide: with passkey profiles the policy-wide settings no
// longer refuse anything, and of a user's profiles one that accepts is
// enough; without profiles the policy-wide settings decide.
func TestProfilesDecide(t *testing.T) {
	blockVirtual := map[string]any{"isEnforced": true, "enforcementType": "block", "aaGuids": []string{softkey.AAGUIDString}}
	tests := []struct {
		name  string
		patch map[string]any
		none  bool   // the key sends fmt none
		msg   string // "" accepted
	}{
		{name: "policy-wide settings ignored with profiles", none: true,
			patch: map[string]any{"isAttestationEnforced": true, "keyRestrictions": blockVirtual,
				"passkeyProfiles": []any{defaultProfile("disabled", nil)}}},
		{name: "profile attestation off alone suffices", none: true,
			patch: map[string]any{"isAttestationEnforced": true, "passkeyProfiles": []any{defaultProfile("disabled", nil)}}},
		{name: "a second profile of the user accepts", none: true,
			patch: map[string]any{"passkeyProfiles": []any{defaultProfile("registrationOnly", nil),
				map[string]any{"id": "7b0c4d3e-0000-4000-8000-000000000002", "name": "Self-attesting keys", "passkeyTypes": "deviceBound",
					"attestationEnforcement": "disabled", "keyRestrictions": map[string]any{"isEnforced": false, "enforcementType": "block", "aaGuids": []string{}}}},
				"includeTargets": []any{map[string]any{"id": "all_users", "targetType": "group", "isRegistrationRequired": false,
					"allowedPasskeyProfiles": []string{DefaultPasskeyProfileID, "7b0c4d3e-0000-4000-8000-000000000002"}}}}},
		{name: "the first refusal names its profile", none: true,
			patch: map[string]any{"passkeyProfiles": []any{defaultProfile("registrationOnly", nil),
				map[string]any{"id": "7b0c4d3e-0000-4000-8000-000000000002", "name": "Virtual keys blocked", "passkeyTypes": "deviceBound",
					"attestationEnforcement": "disabled", "keyRestrictions": blockVirtual}},
				"includeTargets": []any{map[string]any{"id": "all_users", "targetType": "group", "isRegistrationRequired": false,
					"allowedPasskeyProfiles": []string{DefaultPasskeyProfileID, "7b0c4d3e-0000-4000-8000-000000000002"}}}},
			msg: "and the passkey profile 'Default passkey profile' enforces attestation."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.patch("fido2", tt.patch)
			a := newAuthenticator(t)
			if tt.none {
				a.format = "none"
			}
			if tt.msg == "" {
				f.registerOK(a, adele)
				return
			}
			o, _ := f.options("v1.0", adele)
			f.wantErr(f.do("POST", fido2Path("v1.0", adele), a.register(t, o)), 400, tt.msg)
		})
	}
}

func TestEnforcementOffAcceptsNone(t *testing.T) {
	f := newFixture(t, nil)
	f.patch("fido2", map[string]any{"isAttestationEnforced": false,
		"passkeyProfiles": []any{map[string]any{"id": DefaultPasskeyProfileID, "name": "Default passkey profile",
			"passkeyTypes": "deviceBound,synced", "attestationEnforcement": "disabled",
			"keyRestrictions": map[string]any{"isEnforced": false, "enforcementType": "block", "aaGuids": []string{}}}}})
	a := newAuthenticator(t)
	a.format = "none"
	a.displayName = ""
	m := f.registerOK(a, adele)
	if m["attestationLevel"] != "notAttested" || m["displayName"] != softkey.ModelName || len(m["attestationCertificates"].([]any)) != 0 {
		t.Errorf("%v", m)
	}
	// Software-passkey shape: zero AAGUID, BE set → synced, generic model.
	b := newAuthenticator(t)
	b.format, b.aaguid, b.flags = "none", uuid.Nil, b.flags|flagBE
	m = f.registerOK(b, adele)
	if m["passkeyType"] != "synced" || m["model"] != defaultModel || m["aaGuid"] != uuid.Nil.String() {
		t.Errorf("%v", m)
	}
}

func TestChallengeLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	// Replay: a second credential on a used challenge.
	o, _ := f.options("v1.0", adele)
	f.want(f.do("POST", fido2Path("v1.0", adele), newAuthenticator(t).register(t, o)), 201)
	f.wantErr(f.do("POST", fido2Path("v1.0", adele), newAuthenticator(t).register(t, o)), 400, msgReplayed)

	// Expiry: v1.0 is 5 minutes.
	o, _ = f.options("v1.0", adele)
	f.clock.Add(5*time.Minute + time.Second)
	f.wantErr(f.do("POST", fido2Path("v1.0", adele), newAuthenticator(t).register(t, o)), 400, msgExpired)

	// beta 10 minutes: still valid after 6.
	r := f.do("GET", "/beta/users/"+adele+"/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=10)", nil)
	f.want(r, 200)
	o, err := parseOptions(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if !o.ChallengeExpiry.Equal(f.clock.Now().Add(10 * time.Minute)) {
		t.Errorf("expiry %v", o.ChallengeExpiry)
	}
	f.clock.Add(6 * time.Minute)
	f.want(f.do("POST", fido2Path("beta", adele), newAuthenticator(t).register(t, o)), 201)
}

func TestDuplicateCredential(t *testing.T) {
	f := newFixture(t, nil)
	a := newAuthenticator(t)
	f.registerOK(a, adele)
	o, _ := f.options("v1.0", alex)
	f.wantErr(f.do("POST", fido2Path("v1.0", alex), a.register(t, o)), 409, msgDuplicate)
}

func TestCreationOptionsGates(t *testing.T) {
	base := "/v1.0/users/%s/authentication/fido2Methods/creationOptions"
	tests := []struct {
		name   string
		setup  func(f *fixture)
		path   string
		status int
		msg    string
	}{
		{name: "guest (escaped UPN)", path: strings.Replace(base, "%s", "kim_fabrikam.com%23EXT%23%40contoso.test", 1), status: 400, msg: msgGuest},
		{name: "not in scope", path: strings.Replace(base, "%s", OutsideUPN, 1), status: 400, msg: msgNotInScope},
		{name: "excluded", setup: func(f *fixture) {
			f.patch("fido2", map[string]any{"excludeTargets": []any{map[string]any{"id": UserObjectID(adele), "targetType": "user"}}})
		}, path: strings.Replace(base, "%s", adele, 1), status: 400, msg: msgNotInScope},
		{name: "method disabled", setup: func(f *fixture) { f.patch("fido2", map[string]any{"state": "disabled"}) },
			path: strings.Replace(base, "%s", adele, 1), status: 400, msg: msgDisabled},
		{name: "self-service off", setup: func(f *fixture) { f.patch("fido2", map[string]any{"isSelfServiceRegistrationAllowed": false}) },
			path: strings.Replace(base, "%s", adele, 1), status: 400, msg: msgSelfService},
		{name: "unknown user", path: strings.Replace(base, "%s", "ghost@contoso.test", 1), status: 404, msg: "does not exist"},
		{name: "v1.0 with parameter", path: strings.Replace(base, "%s", adele, 1) + "(challengeTimeoutInMinutes=10)", status: 400, msg: "not supported on v1.0"},
		{name: "v1.0 empty parens", path: strings.Replace(base, "%s", adele, 1) + "()", status: 200},
		{name: "query string form", path: strings.Replace(base, "%s", adele, 1) + "?challengeTimeoutInMinutes=60", status: 405, msg: "The method is not supported for this URL."},
		{name: "beta too short", path: "/beta/users/" + adele + "/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=4)", status: 400, msg: "between 5 and 43200"},
		{name: "beta too long", path: "/beta/users/" + adele + "/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=43201)", status: 400, msg: "between 5 and 43200"},
		{name: "beta max", path: "/beta/users/" + adele + "/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=43200)", status: 200},
		{name: "beta bound alias", path: "/beta/users/" + adele + "/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=@t)?@t=30", status: 200},
		{name: "beta unbound alias", path: "/beta/users/" + adele + "/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=@challengeTimeoutInMinutes)?challengeTimeoutInMinutes=30", status: 400, msg: "not bound"},
		{name: "POST not allowed", path: strings.Replace(base, "%s", adele, 1), status: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tc.setup != nil {
				tc.setup(f)
			}
			method := "GET"
			if strings.HasPrefix(tc.name, "POST") {
				method = "POST"
			}
			r := f.do(method, tc.path, nil)
			if tc.msg == "" {
				f.want(r, tc.status)
				return
			}
			f.wantErr(r, tc.status, tc.msg)
		})
	}
}

func TestExcludeCredentialEncodings(t *testing.T) {
	for _, q := range []Quirks{{}, {ExcludeEncoding: "std"}, {ExcludeEncoding: "digit"},
		{ExcludeEncoding: "std", WrapValue: true}, {ExcludeEncoding: "digit", ODataTypes: true}, {WrapValue: true, ODataTypes: true}} {
		t.Run(q.ExcludeEncoding+map[bool]string{true: "+wrap"}[q.WrapValue]+map[bool]string{true: "+odata"}[q.ODataTypes], func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.Quirks = q })
			var ids [][]byte
			for _, n := range []int{32, 31, 33, 16} {
				a := newAuthenticator(t)
				a.credID = a.credID[:0]
				for i := 0; i < n; i++ {
					a.credID = append(a.credID, byte(0xf8+i)) // + and / in standard base64
				}
				a.credID[0] = byte(n)
				f.registerOK(a, adele)
				ids = append(ids, a.credID)
			}
			o, raw := f.options("v1.0", adele)
			if len(o.ExcludeCredentials) != len(ids) {
				t.Fatalf("%d excludeCredentials", len(o.ExcludeCredentials))
			}
			for i, d := range o.ExcludeCredentials {
				if !bytes.Equal(d.ID, ids[i]) && !bytes.Equal(d.AltID, ids[i]) {
					t.Errorf("id %d: got %x / %x, want %x", i, d.ID, d.AltID, ids[i])
				}
			}
			var top map[string]json.RawMessage
			_ = json.Unmarshal(raw, &top)
			if _, wrapped := top["value"]; wrapped != q.WrapValue {
				t.Errorf("wrapped=%v", wrapped)
			}
			if got := bytes.Contains(raw, []byte("#microsoft.graph.webauthnPublicKeyCredentialDescriptor")); got != q.ODataTypes {
				t.Errorf("odata types=%v", got)
			}
			switch q.ExcludeEncoding {
			case "std":
				if !bytes.Contains(raw, []byte("=\"")) || !bytes.ContainsAny(raw, "+/") {
					t.Error("no standard base64 padding or alphabet")
				}
			case "digit":
				if !bytes.Contains(raw, []byte("1\",\"type\"")) && !bytes.Contains(raw, []byte("2\",\"type\"")) {
					t.Error("no digit suffix")
				}
			}
			// The quirky encodings still register fine afterwards.
			f.registerOK(newAuthenticator(t), adele)
		})
	}
}

func TestGzipBody(t *testing.T) {
	f := newFixture(t, nil)
	o, _ := f.options("v1.0", adele)
	body := newAuthenticator(t).register(t, o)
	r := f.doGzip("POST", fido2Path("v1.0", adele), body)
	f.want(r, 201)
	r = f.doGzip("POST", tapPath(adele), []byte(`{"lifetimeInMinutes":60}`))
	f.want(r, 201)
}
