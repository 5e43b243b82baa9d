package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.test-token-SECRET"

// fakeGraph fakes the Graph endpoints the client uses, with the shapes of
// docs/graph.md §2 and §4.
type fakeGraph struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	users    map[string]*User          // by id and by UPN (lower case)
	methods  map[string][]*fido2Stored // by user id
	requests []recorded
	// fault, when set, may answer a request itself (return true).
	fault func(w http.ResponseWriter, r *http.Request, n int) bool
}

type fido2Stored struct {
	wire map[string]any
}

type recorded struct {
	Method, URI, Auth, ContentType, ContentEncoding string
	Body                                            []byte
}

func newFakeGraph(t *testing.T) *fakeGraph {
	t.Helper()
	f := &fakeGraph{t: t, users: map[string]*User{}, methods: map[string][]*fido2Stored{}}
	f.addUser(&User{ID: "99a1915f-70a7-4b67-9dca-64095b41be73", UserPrincipalName: "adele.vance@contoso.test", DisplayName: "Adele Vance", UserType: "Member"})
	f.addUser(&User{ID: "5b2d8a0c-1111-4c1e-9c58-0f0e0d0c0b0a", UserPrincipalName: "o'brien@contoso.test", DisplayName: "Pat O'Brien", UserType: "Member"})
	f.addUser(&User{ID: "0f6b4d2e-2222-4b8a-8f1f-9e9d9c9b9a99", UserPrincipalName: "kim_fabrikam.com#EXT#@contoso.onmicrosoft.com", DisplayName: "Kim (Fabrikam)", UserType: "Guest"})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGraph) addUser(u *User) {
	f.users[u.ID] = u
	f.users[strings.ToLower(u.UserPrincipalName)] = u
}

func (f *fakeGraph) count(method, substr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r.Method == method && strings.Contains(r.URI, substr) {
			n++
		}
	}
	return n
}

func (f *fakeGraph) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

func graphError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", "hdr-request-id")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"innerError":{"date":"2026-11-02T10:00:00","request-id":"6f1c0e8e-0000-4000-8000-000000000001","client-request-id":"6f1c0e8e-0000-4000-8000-000000000002"}}}`, code, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

const optionsJSON = `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.webauthnCredentialCreationOptions","challengeTimeoutDateTime":"2026-11-02T10:05:00Z","publicKey":{"challenge":"ZXlKaGJHY2lPaUpTVTBFdFQwRkZVQzB5TlRZaUxDSmxibU1pT2lKQk1qVTJSME5OSW4w","timeout":60000,"attestation":"direct","rp":{"id":"login.microsoft.com","name":"Microsoft"},"user":{"id":"T0Y6mho3","name":"%s","displayName":"%s"},"pubKeyCredParams":[{"type":"public-key","alg":-7},{"type":"public-key","alg":-257}],"excludeCredentials":[{"id":"TZ2KrDEawbrIGQsnheGZ/BG9Nfnb7blSGwQYMGyJIhM=","type":"public-key","transports":["usb"]}],"authenticatorSelection":{"authenticatorAttachment":"cross-platform","requireResidentKey":true,"userVerification":"required"},"extensions":{"hmacCreateSecret":true,"enforceCredentialProtectionPolicy":true,"credentialProtectionPolicy":"userVerificationOptional"}}}`

func (f *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, recorded{Method: r.Method, URI: r.RequestURI, Auth: r.Header.Get("Authorization"),
		ContentType: r.Header.Get("Content-Type"), ContentEncoding: r.Header.Get("Content-Encoding"), Body: body})
	n := len(f.requests)
	fault := f.fault
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		graphError(w, 401, "InvalidAuthenticationToken", "Access token is empty.")
		return
	}
	if fault != nil && fault(w, r, n) {
		return
	}
	path := r.URL.EscapedPath()
	var version string
	switch {
	case strings.HasPrefix(path, "/v1.0/users/"):
		version, path = "v1.0", strings.TrimPrefix(path, "/v1.0/users/")
	case strings.HasPrefix(path, "/beta/users/"):
		version, path = "beta", strings.TrimPrefix(path, "/beta/users/")
	default:
		graphError(w, 400, "BadRequest", "Invalid version.")
		return
	}
	parts := strings.Split(path, "/")
	uid, err := url.PathUnescape(parts[0])
	if err != nil {
		graphError(w, 400, "BadRequest", "bad escape")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[strings.ToLower(uid)]
	if u == nil {
		graphError(w, 404, "Request_ResourceNotFound", fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", uid))
		return
	}
	rest := strings.Join(parts[1:], "/")
	switch {
	case rest == "" && r.Method == "GET" && version == "v1.0":
		writeJSON(w, 200, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,displayName,userType,mail)/$entity",
			"id": u.ID, "userPrincipalName": u.UserPrincipalName, "displayName": u.DisplayName, "userType": u.UserType, "mail": nil})
	case rest == "authentication/fido2Methods/creationOptions" && r.Method == "GET" && version == "v1.0":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, optionsJSON, u.UserPrincipalName, u.DisplayName)
	case strings.HasPrefix(rest, "authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=") && r.Method == "GET" && version == "beta":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"value":`+optionsJSON+`}`, u.UserPrincipalName, u.DisplayName)
	case rest == "authentication/fido2Methods" && r.Method == "POST" && version == "v1.0":
		var in struct {
			DisplayName         string `json:"displayName"`
			PublicKeyCredential *struct {
				ID string `json:"id"`
			} `json:"publicKeyCredential"`
		}
		if json.Unmarshal(body, &in) != nil || in.PublicKeyCredential == nil {
			graphError(w, 400, "invalidRequest", "The request is missing a fido2AuthenticationMethod entity")
			return
		}
		m := map[string]any{
			"@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
			"id":          fmt.Sprintf("method-%d", len(f.methods[u.ID])+1), "displayName": in.DisplayName,
			"createdDateTime": time.Now().UTC().Format(time.RFC3339), "aaGuid": "ee882879-721c-4913-9775-3dfcce97072a",
			"model": "YubiKey 5 NFC", "attestationCertificates": []string{"dbe793efdf1945e2df65c3ba8c3e6bd1e8fd2ac2"},
			"attestationLevel": "attested", "passkeyType": "deviceBound",
		}
		f.methods[u.ID] = append(f.methods[u.ID], &fido2Stored{wire: m})
		writeJSON(w, 201, m)
	case rest == "authentication/fido2Methods" && r.Method == "GET" && version == "v1.0":
		v := []map[string]any{}
		for _, m := range f.methods[u.ID] {
			v = append(v, m.wire)
		}
		writeJSON(w, 200, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/authentication/fido2Methods", "value": v})
	case strings.HasPrefix(rest, "authentication/fido2Methods/") && version == "v1.0":
		mid, _ := url.PathUnescape(strings.TrimPrefix(rest, "authentication/fido2Methods/"))
		for i, m := range f.methods[u.ID] {
			if m.wire["id"] == mid {
				switch r.Method {
				case "GET":
					writeJSON(w, 200, m.wire)
				case "DELETE":
					f.methods[u.ID] = append(f.methods[u.ID][:i], f.methods[u.ID][i+1:]...)
					w.WriteHeader(204)
				default:
					graphError(w, 405, "methodNotAllowed", "The method is not supported for this URL.")
				}
				return
			}
		}
		graphError(w, 404, "itemNotFound", "The requested authentication method was not found.")
	default:
		graphError(w, 405, "methodNotAllowed", "The method is not supported for this URL.")
	}
}
