package entrasim

import (
	"net/http/httptest"
	"strings"
	"testing"
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

// FuzzRegistration feeds arbitrary POST fido2Methods bodies and challenge
// strings through the whole handler and the challenge decoder.
func FuzzRegistration(f *testing.F) {
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
