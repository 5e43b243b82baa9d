package entrasim

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	kwebauthn "github.com/keyprep/keyprep/internal/webauthn"
)

func FuzzParseSeed(f *testing.F) {
	for _, s := range []string{
		`[{"userPrincipalName":"a@x.test","displayName":"A","userType":"Member","groups":["G"]}]`,
		"upn,displayName,userType,groups\na@x.test,A,Guest,G1;G2\n",
		"upn\n\"a\"\"b@x.test\"\n", "[]", "{", "\xef\xbb\xbf[", "upn,upn\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := ParseSeed(data)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, u := range users {
			if checkUPN(u.UPN) != nil || u.DisplayName == "" || (u.UserType != "Member" && u.UserType != "Guest") {
				t.Fatalf("invalid user accepted: %+v", u)
			}
			if seen[strings.ToLower(u.UPN)] {
				t.Fatalf("duplicate accepted: %s", u.UPN)
			}
			seen[strings.ToLower(u.UPN)] = true
		}
		if _, err := newState(users, newClock().Now()); err != nil {
			t.Fatalf("parsed seed refused by the tenant: %v", err)
		}
	})
}

// FuzzRegistrationBody feeds arbitrary POST fido2Methods bodies and
// challenge strings through the whole handler and the challenge decoder.
// (Such a body can never carry a challenge the tenant issued:
// FuzzRegistration fuzzes what lies behind the challenge check.)
func FuzzRegistrationBody(f *testing.F) {
	tn, err := Open(Options{Tokens: map[string]Identity{testToken: {}}})
	if err != nil {
		f.Fatal(err)
	}
	defer tn.Close()
	f.Add([]byte(`{"displayName":"x","publicKeyCredential":{"id":"AAAA","response":{"clientDataJSON":"e30","attestationObject":"oA"}}}`), "ZXlK")
	f.Add([]byte(`{"publicKeyCredential":{"id":"AAAA","response":{"clientDataJSON":"eyJ0eXBlIjoid2ViYXV0aG4uY3JlYXRlIiwiY2hhbGxlbmdlIjoiWlhsS0xpNHVMaTR1Iiwib3JpZ2luIjoiaHR0cHM6Ly9sb2dpbi5taWNyb3NvZnQuY29tIn0","attestationObject":"o2NmbXRkbm9uZWdhdHRTdG10oGhhdXRoRGF0YUA"}}}`), "ZXlKLi4uLi4u")
	f.Add([]byte(`[]`), "")
	f.Fuzz(func(t *testing.T, body []byte, challenge string) {
		_, _ = openChallenge(make([]byte, 32), challenge)
		_, _ = parseRegistration(body)
		req := httptest.NewRequest("POST", "/v1.0/users/"+adele+"/authentication/fido2Methods", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		tn.ServeHTTP(w, req)
		if w.Code == 201 {
			t.Fatalf("fuzzed body registered: %q", body)
		}
	})
}

// FuzzRegistration fuzzes a registration's clientDataJSON, attestation
// object and credential id behind a genuine challenge: each input gets
// fresh creationOptions, and the placeholder CHALLENGE in its
// clientDataJSON becomes their challenge, so the attestation object is
// parsed and verified (format, authenticator data, packed signature and
// certificate, key restrictions). The tenant must never accept what Entra
// would refuse (the checks in regFuzz.try), nor fail otherwise than with a
// 400.
func FuzzRegistration(f *testing.F) {
	r := newRegFuzz(f)
	for _, s := range regSeeds(f) {
		f.Add(s.cdj, s.attObj, s.credID)
	}
	f.Fuzz(func(t *testing.T, cdj, attObj, credID []byte) {
		r.try(t, cdj, attObj, credID)
	})
}

// TestRegistrationFuzzSeedsReachVerification: FuzzRegistration's seeds get
// past the challenge check: the valid one registers, the packed one fails
// its signature check (its clientDataJSON changed), the others fail for
// what they break.
func TestRegistrationFuzzSeedsReachVerification(t *testing.T) {
	r := newRegFuzz(t)
	for _, s := range regSeeds(t) {
		t.Run(s.name, func(t *testing.T) {
			code, body := r.try(t, s.cdj, s.attObj, s.credID)
			if code != s.status || !strings.Contains(body, s.msg) {
				t.Errorf("%d %s, want %d with %q", code, body, s.status, s.msg)
			}
		})
	}
}

// regFuzz is a tenant whose passkey profile accepts unattested keys (fmt
// none), so that a fuzzed registration can succeed.
type regFuzz struct {
	tn  *Tenant
	mu  sync.Mutex
	uid string
	// challenge is the one issued to adele, reused until a registration
	// consumes it or it is about to expire (a refused registration leaves
	// it unused): one creationOptions per success, not per input.
	challenge string
	issued    time.Time
}

func newRegFuzz(tb testing.TB) *regFuzz {
	tn, err := Open(Options{Tokens: map[string]Identity{testToken: {}}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tn.Close() })
	r := &regFuzz{tn: tn}
	body, _ := json.Marshal(map[string]any{"@odata.type": fido2ConfigType,
		"passkeyProfiles": []any{defaultProfile("disabled", nil)}})
	if code, out := r.call("PATCH", "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2", body); code != 204 {
		tb.Fatalf("policy: %d %s", code, out)
	}
	for _, u := range tn.Users() {
		if strings.EqualFold(u.UPN, adele) {
			r.uid = u.ID
		}
	}
	return r
}

func (r *regFuzz) call(method, path string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	r.tn.ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// try registers one fuzzed credential for adele behind a fresh challenge
// and checks the answer; a registration that succeeded is deleted again.
func (r *regFuzz) try(t testing.TB, cdj, attObj, credID []byte) (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.challenge == "" || time.Since(r.issued) > 4*time.Minute {
		code, out := r.call("GET", "/v1.0/users/"+adele+"/authentication/fido2Methods/creationOptions", nil)
		if code != 200 {
			t.Fatalf("creationOptions: %d %s", code, out)
		}
		var opts struct {
			PublicKey struct {
				Challenge string `json:"challenge"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal(out, &opts); err != nil || opts.PublicKey.Challenge == "" {
			t.Fatalf("creationOptions: %v %s", err, out)
		}
		r.challenge, r.issued = opts.PublicKey.Challenge, time.Now()
	}
	challenge := r.challenge
	cdj = bytes.ReplaceAll(cdj, []byte(challengePlaceholder), []byte(challenge))
	b64 := base64.RawURLEncoding
	body, _ := json.Marshal(map[string]any{"displayName": "fuzz", "publicKeyCredential": map[string]any{
		"id": b64.EncodeToString(credID), "response": map[string]any{
			"clientDataJSON": b64.EncodeToString(cdj), "attestationObject": b64.EncodeToString(attObj)}}})
	code, out := r.call("POST", "/v1.0/users/"+adele+"/authentication/fido2Methods", body)
	switch code {
	case 400:
		return code, string(out)
	case 201:
	default:
		t.Fatalf("registration answered %d: %s", code, out)
	}
	r.challenge = "" // used
	if why := entraWouldRefuse(cdj, attObj, credID, challenge); why != "" {
		t.Fatalf("registered although %s", why)
	}
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &m); err != nil || m.ID == "" {
		t.Fatalf("created: %v %s", err, out)
	}
	if code, del := r.call("DELETE", "/v1.0/users/"+r.uid+"/authentication/fido2Methods/"+m.ID, nil); code != 204 {
		t.Fatalf("delete: %d %s", code, del)
	}
	return 201, string(out)
}

// challengePlaceholder stands for the issued challenge in fuzzed
// clientDataJSON.
const challengePlaceholder = "CHALLENGE"

// entraWouldRefuse checks a registration the emulated tenant accepted
// independently of its code (WebAuthn L3 §7.1): clientDataJSON of type
// webauthn.create for the challenge and the origin, authenticator data for
// the RP ID hash with UP and UV and the credential id, fmt none or packed.
func entraWouldRefuse(cdj, attObj, credID []byte, challenge string) string {
	var cd struct {
		Type, Challenge, Origin string
	}
	if err := json.Unmarshal(cdj, &cd); err != nil {
		return "clientDataJSON is not JSON: " + err.Error()
	}
	if cd.Type != "webauthn.create" || cd.Origin != Origin {
		return fmt.Sprintf("clientDataJSON type %q origin %q", cd.Type, cd.Origin)
	}
	if strings.TrimRight(cd.Challenge, "=") != strings.TrimRight(challenge, "=") {
		return "the challenge is not the one issued"
	}
	var ao struct {
		Fmt      string `cbor:"fmt"`
		AuthData []byte `cbor:"authData"`
	}
	if err := cbor.Unmarshal(attObj, &ao); err != nil {
		return "the attestation object is not CBOR: " + err.Error()
	}
	if ao.Fmt != "none" && ao.Fmt != "packed" {
		return "fmt " + ao.Fmt
	}
	ad := ao.AuthData
	rp := sha256.Sum256([]byte(RPID))
	if len(ad) < 55 || !bytes.Equal(ad[:32], rp[:]) {
		return "the authenticator data is short or for another RP ID"
	}
	if ad[32]&flagUP == 0 || ad[32]&flagUV == 0 || ad[32]&flagAT == 0 {
		return fmt.Sprintf("flags %#02x", ad[32])
	}
	n := int(ad[53])<<8 | int(ad[54])
	if len(ad) < 55+n || !bytes.Equal(ad[55:55+n], credID) {
		return "the credential id differs from the authenticator data's"
	}
	return ""
}

type regSeed struct {
	name                string
	cdj, attObj, credID []byte
	status              int
	msg                 string
}

// regSeeds are registrations made by the test authenticator, their
// clientDataJSON's challenge replaced by the placeholder.
func regSeeds(tb testing.TB) []regSeed {
	var out []regSeed
	mk := func(name string, status int, msg string, change func(a *authenticator)) {
		a := newAuthenticator(tb)
		if change != nil {
			change(a)
		}
		raw := []byte("fuzz-challenge-placeholder")
		body := a.register(tb, &kwebauthn.CreationOptions{Challenge: raw})
		var m struct {
			PublicKeyCredential struct {
				ID       string `json:"id"`
				Response struct {
					ClientDataJSON    string `json:"clientDataJSON"`
					AttestationObject string `json:"attestationObject"`
				} `json:"response"`
			} `json:"publicKeyCredential"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			tb.Fatal(err)
		}
		b64 := base64.RawURLEncoding
		cdj, err1 := b64.DecodeString(m.PublicKeyCredential.Response.ClientDataJSON)
		ao, err2 := b64.DecodeString(m.PublicKeyCredential.Response.AttestationObject)
		if err1 != nil || err2 != nil {
			tb.Fatal(err1, err2)
		}
		cdj = bytes.ReplaceAll(cdj, []byte(b64.EncodeToString(raw)), []byte(challengePlaceholder))
		out = append(out, regSeed{name, cdj, ao, a.credID, status, msg})
	}
	mk("none", 201, `"attestationLevel":"notAttested"`, func(a *authenticator) { a.format = "none" })
	mk("packed", 400, "Attestation verification failed", nil)
	mk("none without UV", 400, msgUV, func(a *authenticator) { a.format = "none"; a.flags &^= flagUV })
	mk("none for another RP", 400, "rpIdHash", func(a *authenticator) { a.format = "none"; a.rpID = "login.microsoftonline.com" })
	return out
}
