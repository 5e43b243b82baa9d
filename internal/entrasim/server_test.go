package entrasim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/fileguard"
)

func TestAuthentication(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Tokens["reader"] = Identity{Name: "reader", Permissions: []string{"User.Read.All"}}
		o.Tokens["passkey"] = Identity{Name: "passkey", Permissions: []string{"UserAuthMethod-Passkey.ReadWrite.All"}}
		o.Tokens["tap"] = Identity{Name: "tap", Permissions: []string{"UserAuthMethod-TAP.ReadWrite.All"}}
	})
	co := "/v1.0/users/" + adele + "/authentication/fido2Methods/creationOptions"
	r := f.doTok("GET", co, "", nil)
	f.want(r, 401)
	if code, msg := r.errMsg(t); code != "InvalidAuthenticationToken" || msg != "Access token is empty." {
		t.Errorf("%s %s", code, msg)
	}
	r = f.doTok("GET", co, "other", nil)
	f.want(r, 401)
	if code, _ := r.errMsg(t); code != "InvalidAuthenticationToken" {
		t.Error(code)
	}
	// 401 even on unknown routes: authentication comes first.
	f.want(f.doTok("GET", "/v1.0/nowhere", "", nil), 401)

	tests := []struct {
		token, method, path string
		status              int
	}{
		{"reader", "GET", "/v1.0/users/" + adele, 200},
		{"reader", "GET", co, 403},
		{"passkey", "GET", co, 200},
		{"passkey", "GET", "/beta/users/" + adele + "/authentication/fido2Methods/creationOptions(challengeTimeoutInMinutes=5)", 403},
		{"passkey", "GET", fido2Path("v1.0", adele), 200},
		{"passkey", "GET", "/v1.0/users/" + adele, 403},
		{"passkey", "POST", tapPath(adele), 403},
		{"tap", "POST", tapPath(adele), 201},
		{"tap", "GET", tapPath(adele), 200},
		{"tap", "GET", fido2PolicyP, 403},
		{"tap", "GET", "/v1.0/groups", 403},
	}
	for _, tc := range tests {
		r := f.doTok(tc.method, tc.path, tc.token, "{}")
		if r.status != tc.status {
			t.Errorf("%s %s %s: %d, want %d: %s", tc.token, tc.method, tc.path, r.status, tc.status, r.body)
			continue
		}
		if tc.status == 403 {
			if code, msg := r.errMsg(t); code != "Authorization_RequestDenied" || msg != "Insufficient privileges to complete the operation." {
				t.Errorf("%s %s", code, msg)
			}
		}
	}
}

func TestRoutingAndDirectory(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		method, path string
		status       int
		msg          string
	}{
		{"GET", "/v1.0/usrs/x", 400, "Resource not found for the segment 'usrs'."},
		{"GET", "/v1.0/users/" + adele + "/authentication/phoneMethods", 400, "Resource not found for the segment 'phoneMethods'."},
		{"GET", "/v2.0/users/" + adele, 400, "Invalid version."},
		{"DELETE", "/v1.0/users/" + adele, 405, "The method is not supported for this URL."},
		{"PUT", fido2Path("v1.0", adele), 405, "The method is not supported for this URL."},
		{"GET", "/v1.0/me/authentication/fido2Methods", 400, "/me request is only valid with delegated authentication flow."},
		{"GET", "/v1.0/groups?$filter=startswith(displayName,'P')", 400, "Unsupported query"},
		{"GET", "/v1.0/groups/" + uuid.NewString(), 404, "does not exist"},
	}
	for _, tc := range tests {
		f.wantErr(f.do(tc.method, tc.path, nil), tc.status, tc.msg)
	}
	r := f.do("GET", "/v1.0/users/"+strings.ToUpper(adele)+"?$select=id,userType", nil)
	f.want(r, 200)
	u := r.json(t)
	if u["id"] != UserObjectID(adele) || u["userPrincipalName"] != adele || u["userType"] != "Member" || u["displayName"] != "Adele Vance" {
		t.Errorf("%v", u)
	}
	r = f.do("GET", "/v1.0/users/"+pathEscape(GuestUPN), nil)
	f.want(r, 200)
	if g := r.json(t); g["userType"] != "Guest" || g["mail"] != "kim@fabrikam.com" {
		t.Errorf("%v", g)
	}
	r = f.do("GET", "/v1.0/groups?$filter=displayName%20eq%20'Passkey%20Users'&$select=id,displayName", nil)
	f.want(r, 200)
	if v := r.json(t)["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != GroupObjectID(PasskeyGroup) {
		t.Errorf("%s", r.body)
	}
	f.want(f.do("GET", "/v1.0/groups/"+GroupObjectID(TAPGroup), nil), 200)
	body := `{"groupIds":["` + GroupObjectID(PasskeyGroup) + `","` + GroupObjectID(TAPGroup) + `"]}`
	r = f.do("POST", "/v1.0/users/"+OutsideUPN+"/checkMemberGroups", body)
	f.want(r, 200)
	if v := r.json(t)["value"].([]any); len(v) != 1 || v[0] != GroupObjectID(TAPGroup) {
		t.Errorf("%s", r.body)
	}
	// client-request-id echoed.
	req := httptest.NewRequest("GET", "/v1.0/users/"+adele, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("client-request-id", "abc-123")
	w := httptest.NewRecorder()
	f.tn.ServeHTTP(w, req)
	if w.Header().Get("client-request-id") != "abc-123" || w.Header().Get("request-id") == "" {
		t.Errorf("headers %v", w.Header())
	}
}

func TestSeedAccessors(t *testing.T) {
	f := newFixture(t, nil)
	users := f.tn.Users()
	if len(users) < 27 {
		t.Fatalf("%d users", len(users))
	}
	byUPN := map[string]User{}
	for _, u := range users {
		byUPN[u.UPN] = u
	}
	for _, upn := range []string{adele, alex, "megan.bowen@contoso.test", "lee.gu@contoso.test", "nestor.wilke@contoso.test"} {
		if u := byUPN[upn]; !u.InFido2Scope || !u.InTAPScope || u.UserType != "Member" || u.ID != UserObjectID(upn) {
			t.Errorf("%+v", u)
		}
	}
	if u := byUPN[OutsideUPN]; u.InFido2Scope || !u.InTAPScope {
		t.Errorf("%+v", u)
	}
	if u := byUPN[GuestUPN]; u.UserType != "Guest" || u.InFido2Scope {
		t.Errorf("%+v", u)
	}
	groups := map[string]Group{}
	for _, g := range f.tn.Groups() {
		groups[g.DisplayName] = g
	}
	if groups[PasskeyGroup].Members != 25 || groups[TAPGroup].Members != 26 || groups[PasskeyGroup].ID != GroupObjectID(PasskeyGroup) {
		t.Errorf("%+v", groups)
	}
	// Deterministic ids (documented): version-5 UUIDs.
	if id := uuid.MustParse(UserObjectID(adele)); id.Version() != 5 || UserObjectID("Adele.Vance@CONTOSO.test") != id.String() {
		t.Error("user ids not deterministic")
	}
}

func TestThrottle(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Throttle = Throttle{Rate: 0.5, Burst: 2} })
	p := "/v1.0/users/" + adele
	f.want(f.do("GET", p, nil), 200)
	f.want(f.do("GET", p, nil), 200)
	r := f.do("GET", p, nil)
	f.want(r, 429)
	if code, _ := r.errMsg(t); code != "TooManyRequests" || r.header.Get("Retry-After") != "2" {
		t.Errorf("%s Retry-After %q", code, r.header.Get("Retry-After"))
	}
	// Even unauthenticated requests are throttled before anything else.
	f.want(f.doTok("GET", p, "", nil), 429)
	f.clock.Add(2 * time.Second)
	f.want(f.do("GET", p, nil), 200)
	f.want(f.do("GET", p, nil), 429)
}

func TestFaults(t *testing.T) {
	f := newFixture(t, nil)
	srv := httptest.NewServer(f.tn)
	defer srv.Close()
	get := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		return srv.Client().Do(req)
	}
	post := func(path, body string) (*http.Response, error) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		return srv.Client().Do(req)
	}
	up := "/v1.0/users/" + adele

	// Status fault for the next request only.
	f.tn.SetFault(EPGetUser, Fault{Status: 503, Count: 1})
	r := f.do("GET", up, nil)
	f.want(r, 503)
	if code, _ := r.errMsg(t); code != "serviceNotAvailable" {
		t.Error(code)
	}
	f.want(f.do("GET", up, nil), 200)

	// Drop: the connection closes without an answer.
	f.tn.SetFault(EPGetUser, Fault{Drop: true})
	if resp, err := get(up); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %d", resp.StatusCode)
	}
	f.tn.ClearFaults()
	resp, err := get(up)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	resp.Body.Close()

	// Latency, bounded by the client's deadline.
	f.tn.SetFault(EPGetUser, Fault{Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond, Count: 1})
	start := time.Now()
	f.want(f.do("GET", up, nil), 200)
	if time.Since(start) < 20*time.Millisecond {
		t.Error("no latency")
	}

	// AfterApply with a 500: the TAP exists although the POST failed.
	f.tn.SetFault(EPCreateTAP, Fault{Status: 500, Code: "generalException", Message: "boom", AfterApply: true, Count: 1})
	r = f.do("POST", tapPath(adele), `{}`)
	f.wantErr(r, 500, "boom")
	if l := f.do("GET", tapPath(adele), nil); !strings.Contains(string(l.body), `"EnabledByPolicy"`) {
		t.Errorf("TAP not applied: %s", l.body)
	}

	// AfterApply drop on registration: the ambiguous case.
	f.tn.SetFault(EPRegisterFido2, Fault{Drop: true, AfterApply: true, Count: 1})
	o, _ := f.options("v1.0", adele)
	if resp, err := post(fido2Path("v1.0", adele), string(newAuthenticator(t).register(t, o))); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped registration answered %d", resp.StatusCode)
	}
	if l := f.do("GET", fido2Path("v1.0", adele), nil); !strings.Contains(string(l.body), `"attested"`) {
		t.Errorf("registration not applied: %s", l.body)
	}

	// A fault without AfterApply changes nothing.
	f.tn.SetFault(EPRegisterFido2, Fault{Status: 504, Count: 1})
	o, _ = f.options("v1.0", alex)
	f.want(f.do("POST", fido2Path("v1.0", alex), newAuthenticator(t).register(t, o)), 504)
	if l := f.do("GET", fido2Path("v1.0", alex), nil); strings.Contains(string(l.body), `"attested"`) {
		t.Errorf("faulted registration applied: %s", l.body)
	}

	recs := f.tn.Requests()
	var dropped, faulted int
	for _, rec := range recs {
		if rec.Endpoint == EPGetUser && rec.Status == 0 {
			dropped++
		}
		if rec.Endpoint == EPRegisterFido2 && rec.Status == 504 {
			faulted++
		}
	}
	if dropped != 1 || faulted != 1 {
		t.Errorf("records: %d dropped, %d faulted: %+v", dropped, faulted, recs)
	}
}

func TestLogHasNoSecrets(t *testing.T) {
	var buf syncBuffer
	f := newFixture(t, func(o *Options) { o.Log = &buf })
	r := f.do("POST", tapPath(adele)+"?secret=hunter2", `{}`)
	f.want(r, 201)
	code := r.json(t)["temporaryAccessPass"].(string)
	log := buf.String()
	if !strings.Contains(log, "POST /v1.0/users/adele.vance%40contoso.test/authentication/temporaryAccessPassMethods 201") ||
		!strings.Contains(log, r.header.Get("request-id")) {
		t.Errorf("log %q", log)
	}
	for _, secret := range []string{code, testToken, "hunter2"} {
		if strings.Contains(log, secret) {
			t.Errorf("log leaks %q: %s", secret, log)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tenant.json")
	clk := newClock()
	opts := Options{StatePath: path, Now: clk.Now, Tokens: map[string]Identity{testToken: {}, betaToken: {AllPermissions: true}}}
	tn, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(opts); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open: %v", err)
	}
	f := &fixture{t: t, tn: tn, clock: clk}
	a := newAuthenticator(t)
	m := f.registerOK(a, adele)
	o, _ := f.options("v1.0", alex)
	tr := f.do("POST", tapPath(alex), `{}`)
	f.want(tr, 201)
	code := tr.json(t)["temporaryAccessPass"].(string)
	f.patch("temporaryAccessPass", map[string]any{"defaultLength": 16})
	if err := tn.Close(); err != nil {
		t.Fatal(err)
	}
	// Private: mode 0600, on Windows a private DACL (fileguard).
	if err := fileguard.CheckPath("state file", path, fileguard.Secret, os.Geteuid()); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", st.Mode(), err)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(code)) {
		t.Error("state file holds the TAP code")
	}

	tn2, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tn2.Close()
	f2 := &fixture{t: t, tn: tn2, clock: clk}
	l := f2.do("GET", fido2Path("v1.0", adele), nil)
	if !strings.Contains(string(l.body), m["id"].(string)) {
		t.Errorf("method lost: %s", l.body)
	}
	if l := f2.do("GET", tapPath(alex), nil); !strings.Contains(string(l.body), tr.json(t)["id"].(string)) {
		t.Errorf("TAP lost: %s", l.body)
	}
	if p := f2.do("GET", tapPolicyP, nil).json(t); p["defaultLength"] != 16.0 {
		t.Errorf("policy lost: %v", p)
	}
	// A challenge issued before the restart is still genuine (key persisted),
	// the used one stays used, and the credential stays excluded.
	f2.want(f2.do("POST", fido2Path("v1.0", alex), newAuthenticator(t).register(t, o)), 201)
	f2.wantErr(f2.do("POST", fido2Path("v1.0", alex), newAuthenticator(t).register(t, o)), 400, msgReplayed)
	o3, _ := f2.options("v1.0", adele)
	if len(o3.ExcludeCredentials) != 1 || !bytes.Equal(o3.ExcludeCredentials[0].ID, a.credID) {
		t.Errorf("%+v", o3.ExcludeCredentials)
	}
	// Corrupt state is a clear error, not a fresh tenant.
	tn2.Close()
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := Open(opts); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt state: %v", err)
	}
}

// TestConcurrentRequests: 16 users' clients at once, each asking for
// creation options and a Temporary Access Pass three times. Every answer is
// a success of its own (a fresh challenge for that user, a new pass), and
// the tenant ends with one pass per user, the last one issued.
func TestConcurrentRequests(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Throttle = Throttle{Rate: 1e6, Burst: 1000} })
	users := f.tn.Users()
	if len(users) < 16 {
		t.Fatalf("%d users, want 16", len(users))
	}
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		challenges = map[string]bool{}
		lastTAP    = map[string]string{} // UPN → id of the last pass issued
	)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(u User) {
			defer wg.Done()
			for j := 0; j < 3; j++ {
				req := httptest.NewRequest("GET", "/v1.0/users/"+u.ID+"/authentication/fido2Methods/creationOptions", nil)
				req.Header.Set("Authorization", "Bearer "+testToken)
				w := httptest.NewRecorder()
				f.tn.ServeHTTP(w, req)
				var opts struct {
					PublicKey struct {
						Challenge string `json:"challenge"`
						User      struct {
							Name string `json:"name"`
						} `json:"user"`
					} `json:"publicKey"`
				}
				if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &opts) != nil || opts.PublicKey.Challenge == "" ||
					!strings.EqualFold(opts.PublicKey.User.Name, u.UPN) {
					t.Errorf("creationOptions %s: %d %.300s", u.UPN, w.Code, w.Body.String())
				}
				req = httptest.NewRequest("POST", tapPath(u.UPN), strings.NewReader(`{}`))
				req.Header.Set("Authorization", "Bearer "+testToken)
				w = httptest.NewRecorder()
				f.tn.ServeHTTP(w, req)
				var tap struct {
					ID   string `json:"id"`
					Pass string `json:"temporaryAccessPass"`
				}
				if w.Code != 201 || json.Unmarshal(w.Body.Bytes(), &tap) != nil || tap.ID == "" || tap.Pass == "" {
					t.Errorf("TAP %s: %d %.300s", u.UPN, w.Code, w.Body.String())
				}
				mu.Lock()
				if challenges[opts.PublicKey.Challenge] {
					t.Errorf("challenge issued twice")
				}
				challenges[opts.PublicKey.Challenge] = true
				lastTAP[u.UPN] = tap.ID
				mu.Unlock()
				_ = f.tn.Users()
				_ = f.tn.Requests()
			}
		}(users[i])
	}
	wg.Wait()
	if len(challenges) != 48 {
		t.Errorf("%d distinct challenges, want 48", len(challenges))
	}
	for upn, id := range lastTAP {
		w := f.do("GET", tapPath(upn), nil)
		var list struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
		}
		if w.status != 200 || json.Unmarshal(w.body, &list) != nil || len(list.Value) != 1 || list.Value[0].ID != id {
			t.Errorf("%s holds %.300s, want the last pass %s only", upn, w.body, id)
		}
	}
}

func TestUntrustedChain(t *testing.T) {
	empty, err := memory.New(memory.WithMetadata(map[uuid.UUID]*metadata.Entry{}), memory.WithValidateEntry(true),
		memory.WithValidateTrustAnchor(true), memory.WithValidateStatus(false))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, func(o *Options) { o.Metadata = empty })
	o, _ := f.options("v1.0", adele)
	f.wantErr(f.do("POST", fido2Path("v1.0", adele), newAuthenticator(t).register(t, o)), 400,
		"Attestation verification failed: the attestation statement does not chain to a trusted root")
	f.patch("fido2", map[string]any{"isAttestationEnforced": false,
		"passkeyProfiles": []any{map[string]any{"id": DefaultPasskeyProfileID, "name": "Default passkey profile",
			"passkeyTypes": "deviceBound", "attestationEnforcement": "disabled"}}})
	m := f.registerOK(newAuthenticator(t), adele)
	if m["attestationLevel"] != "notAttested" || len(m["attestationCertificates"].([]any)) != 1 || m["model"] != defaultModel {
		t.Errorf("%v", m)
	}
}

func TestClosedTenant(t *testing.T) {
	f := newFixture(t, nil)
	f.tn.Close()
	f.want(f.do("GET", "/v1.0/users/"+adele, nil), 503)
}

// TestRouteTable pins how the routing table answers each kind of path,
// including which segment a 400 names.
func TestRouteTable(t *testing.T) {
	const fido2 = "/v1.0/users/x/authentication/fido2Methods"
	const pol = "/beta/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
	tests := []struct {
		method, path string
		endpoint     string // on success
		status       int    // on failure
		seg          string // the segment a 400 names; "" for another message
		want         call   // fields routing fills (version is checked on success)
	}{
		{method: "GET", path: "/V1.0/USERS/x/", endpoint: EPGetUser, want: call{version: "v1.0", userKey: "x"}},
		{method: "POST", path: "/beta/users/x/checkmembergroups", endpoint: EPCheckMemberGroups, want: call{version: "beta", userKey: "x"}},
		{method: "GET", path: fido2, endpoint: EPListFido2, want: call{version: "v1.0", userKey: "x"}},
		{method: "POST", path: fido2, endpoint: EPRegisterFido2, want: call{version: "v1.0", userKey: "x"}},
		{method: "GET", path: fido2 + "/m1", endpoint: EPGetFido2, want: call{version: "v1.0", userKey: "x", methodID: "m1"}},
		{method: "DELETE", path: fido2 + "/m1", endpoint: EPDeleteFido2, want: call{version: "v1.0", userKey: "x", methodID: "m1"}},
		{method: "GET", path: fido2 + "/creationOptions", endpoint: EPCreationOptions, want: call{version: "v1.0", userKey: "x"}},
		{method: "GET", path: fido2 + "/CreationOptions(challengeTimeoutInMinutes=5)", endpoint: EPCreationOptions,
			want: call{version: "v1.0", userKey: "x", param: "(challengeTimeoutInMinutes=5)"}},
		{method: "GET", path: "/v1.0/users/x/authentication/temporaryAccessPassMethods/t1", endpoint: EPGetTAP,
			want: call{version: "v1.0", userKey: "x", methodID: "t1"}},
		{method: "GET", path: "/v1.0/groups", endpoint: EPListGroups, want: call{version: "v1.0"}},
		{method: "GET", path: "/v1.0/groups/g1", endpoint: EPListGroups, want: call{version: "v1.0", methodID: "g1"}},
		{method: "PATCH", path: pol + "/FIDO2", endpoint: EPPatchPolicy, want: call{version: "beta", policyID: "fido2"}},
		{method: "DELETE", path: pol + "/temporaryAccessPass", endpoint: EPPatchPolicy, want: call{version: "beta", policyID: "temporaryAccessPass"}},
		{method: "POST", path: "/_sim/users/x/tap/use", endpoint: EPSimUseTAP, want: call{userKey: "x"}},

		{method: "GET", path: "/", status: 400},
		{method: "GET", path: "/v1.0", status: 400, seg: "v1.0"},
		{method: "GET", path: "/v1.0/users", endpoint: EPListUsers, want: call{version: "v1.0"}},
		{method: "GET", path: "/v1.0/groups/g1/transitiveMembers", endpoint: EPGroupMembers, want: call{version: "v1.0", methodID: "g1"}},
		{method: "GET", path: "/v1.0/groups/g1/TransitiveMembers/microsoft.graph.user", endpoint: EPGroupMembers, want: call{version: "v1.0", methodID: "g1"}},
		{method: "GET", path: "/v1.0/groups/g1/transitiveMembers/microsoft.graph.group", status: 400, seg: "microsoft.graph.group"},
		{method: "POST", path: "/v1.0/users", status: 405},
		{method: "GET", path: "/v1.0/users//authentication", status: 400, seg: "users"},
		{method: "GET", path: "/v1.0/users/x/authentication", status: 400, seg: "authentication"},
		{method: "POST", path: "/v1.0/users/x/checkMemberGroups/more", status: 400, seg: "checkMemberGroups"},
		{method: "GET", path: fido2 + "/m1/more", status: 400, seg: "more"},
		{method: "GET", path: fido2 + "/creationOptionsX", status: 400, seg: "creationOptionsX"},
		{method: "GET", path: "/v1.0/groups/g1/more", status: 400, seg: "more"},
		{method: "GET", path: pol + "/fido2/a/b", status: 400, seg: "b"},
		{method: "GET", path: "/beta/policies/authenticationMethodsPolicy/x/fido2", status: 400, seg: "x"},
		{method: "GET", path: pol + "/email", status: 404},
		{method: "DELETE", path: pol + "/fido2", status: 405},
		{method: "GET", path: fido2 + "/creationOptions?challengeTimeoutInMinutes=5", status: 405},
		{method: "DELETE", path: fido2 + "/creationOptions", status: 405},
		{method: "GET", path: "/_sim/users/x/tap/use", status: 405},
		{method: "POST", path: "/_sim/Users/x/tap/use", status: 400, seg: "use"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, "http://graph.test/", nil)
		u, err := url.Parse(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		r.URL = u
		c := &call{r: r}
		rt, e := routeRequest(r, c)
		if tc.status != 0 {
			if e == nil || e.Status != tc.status {
				t.Errorf("%s %s: got %+v, %+v; want status %d", tc.method, tc.path, rt, e, tc.status)
			} else if tc.seg != "" && e.Message != segmentError(tc.seg).Message {
				t.Errorf("%s %s: %q, want the segment %q named", tc.method, tc.path, e.Message, tc.seg)
			}
			continue
		}
		if e != nil || rt.endpoint != tc.endpoint {
			t.Errorf("%s %s: got %+v, %+v; want %s", tc.method, tc.path, rt, e, tc.endpoint)
			continue
		}
		c.r = nil
		if !reflect.DeepEqual(*c, tc.want) {
			t.Errorf("%s %s: call %+v, want %+v", tc.method, tc.path, *c, tc.want)
		}
	}
}
