package entrasim

import (
	"strings"
	"testing"
	"time"
)

func TestTAPRules(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(f *fixture)
		user   string
		body   string
		status int
		msg    string
	}{
		{name: "default", body: `{}`, status: 201},
		{name: "empty body", body: ``, status: 201},
		{name: "below API range", body: `{"lifetimeInMinutes":5}`, status: 400, msg: "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."},
		{name: "above API range", body: `{"lifetimeInMinutes":50000}`, status: 400, msg: "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."},
		{name: "below policy minimum", body: `{"lifetimeInMinutes":30}`, status: 400, msg: "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."},
		{name: "above policy maximum", body: `{"lifetimeInMinutes":481}`, status: 400, msg: "The valid range between 60 and 480."},
		{name: "widened policy", setup: func(f *fixture) {
			f.patch("temporaryAccessPass", map[string]any{"minimumLifetimeInMinutes": 10, "maximumLifetimeInMinutes": 43200})
		}, body: `{"lifetimeInMinutes":30}`, status: 201},
		{name: "one-time forced", setup: func(f *fixture) { f.patch("temporaryAccessPass", map[string]any{"isUsableOnce": true}) },
			body: `{"isUsableOnce":false}`, status: 400, msg: "one-time use is required by policy"},
		{name: "disabled", setup: func(f *fixture) { f.patch("temporaryAccessPass", map[string]any{"state": "disabled"}) },
			body: `{}`, status: 400, msg: "TemporaryAccessPass is disabled by policy"},
		{name: "external guest", user: GuestUPN, body: `{}`, status: 400, msg: "not supported for external guest users"},
		{name: "unknown member", body: `{"bogus":1}`, status: 400, msg: "bogus"},
		{name: "bad start", body: `{"startDateTime":"tomorrow"}`, status: 400, msg: "startDateTime"},
		{name: "unknown user", user: "ghost@contoso.test", body: `{}`, status: 404, msg: "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tc.setup != nil {
				tc.setup(f)
			}
			user := adele
			if tc.user != "" {
				user = tc.user
			}
			r := f.do("POST", tapPath(user), tc.body)
			if tc.msg == "" {
				f.want(r, tc.status)
				return
			}
			f.wantErr(r, tc.status, tc.msg)
		})
	}
}

func TestTAPLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	f.patch("temporaryAccessPass", map[string]any{"defaultLength": 12})
	r := f.do("POST", tapPath(adele), `{"lifetimeInMinutes":120}`)
	f.want(r, 201)
	first := r.json(t)
	code, _ := first["temporaryAccessPass"].(string)
	if len(code) != 12 || strings.Trim(code, tapAlphabet) != "" {
		t.Fatalf("code %q", code)
	}
	if first["isUsable"] != true || first["methodUsabilityReason"] != "EnabledByPolicy" || first["lifetimeInMinutes"] != 120.0 {
		t.Errorf("%v", first)
	}
	// Replace: a second pass replaces the first.
	r = f.do("POST", tapPath(adele), `{}`)
	f.want(r, 201)
	second := r.json(t)
	if second["id"] == first["id"] || second["lifetimeInMinutes"] != 60.0 {
		t.Errorf("%v", second)
	}
	l := f.do("GET", tapPath(adele), nil)
	f.want(l, 200)
	v := l.json(t)["value"].([]any)
	if len(v) != 1 || v[0].(map[string]any)["id"] != second["id"] {
		t.Fatalf("list %s", l.body)
	}
	if p, ok := v[0].(map[string]any)["temporaryAccessPass"]; !ok || p != nil {
		t.Errorf("code on list: %v", p)
	}
	g := f.do("GET", tapPath(adele)+"/"+second["id"].(string), nil)
	f.want(g, 200)
	if g.json(t)["temporaryAccessPass"] != nil || strings.Contains(string(g.body), second["temporaryAccessPass"].(string)) {
		t.Error("code returned by GET")
	}
	f.want(f.do("GET", tapPath(adele)+"/"+first["id"].(string), nil), 404)
	f.want(f.do("DELETE", tapPath(adele)+"/"+second["id"].(string), nil), 204)
	f.want(f.do("DELETE", tapPath(adele)+"/"+second["id"].(string), nil), 404)
}

func TestTAPUsabilityOverTime(t *testing.T) {
	f := newFixture(t, nil)
	reason := func() string {
		t.Helper()
		l := f.do("GET", tapPath(alex), nil)
		f.want(l, 200)
		v := l.json(t)["value"].([]any)
		if len(v) != 1 {
			t.Fatalf("list %s", l.body)
		}
		m := v[0].(map[string]any)
		if (m["methodUsabilityReason"] == "EnabledByPolicy") != (m["isUsable"] == true) {
			t.Errorf("isUsable %v with %v", m["isUsable"], m["methodUsabilityReason"])
		}
		return m["methodUsabilityReason"].(string)
	}
	start := f.clock.Now().Add(time.Hour).Format(time.RFC3339)
	f.want(f.do("POST", tapPath(alex), `{"startDateTime":"`+start+`","lifetimeInMinutes":60,"isUsableOnce":true}`), 201)
	if got := reason(); got != "NotYetValid" {
		t.Errorf("before start: %s", got)
	}
	if err := f.tn.UseTAP(alex); err == nil {
		t.Error("UseTAP before start succeeded")
	}
	f.clock.Add(time.Hour)
	if got := reason(); got != "EnabledByPolicy" {
		t.Errorf("at start: %s", got)
	}
	f.patch("temporaryAccessPass", map[string]any{"state": "disabled"})
	if got := reason(); got != "DisabledByPolicy" {
		t.Errorf("policy off: %s", got)
	}
	f.patch("temporaryAccessPass", map[string]any{"state": "enabled"})
	f.want(f.do("POST", "/_sim/users/"+alex+"/tap/use", nil), 204)
	if got := reason(); got != "OneTimeUsed" {
		t.Errorf("after use: %s", got)
	}
	if err := f.tn.UseTAP(alex); err == nil || !strings.Contains(err.Error(), "OneTimeUsed") {
		t.Errorf("second use: %v", err)
	}

	// Multi-use pass expires.
	f.want(f.do("POST", tapPath(alex), `{}`), 201)
	if err := f.tn.UseTAP(UserObjectID(alex)); err != nil {
		t.Fatal(err)
	}
	if got := reason(); got != "EnabledByPolicy" {
		t.Errorf("multi-use after use: %s", got)
	}
	f.clock.Add(time.Hour)
	if got := reason(); got != "Expired" {
		t.Errorf("after lifetime: %s", got)
	}

	// Out of the policy's targets.
	f.patch("temporaryAccessPass", map[string]any{"includeTargets": []any{map[string]any{"id": GroupObjectID(PasskeyGroup), "targetType": "group"}}})
	f.want(f.do("POST", tapPath(OutsideUPN), `{}`), 201)
	l := f.do("GET", tapPath(OutsideUPN), nil)
	if !strings.Contains(string(l.body), `"DisabledByPolicy"`) {
		t.Errorf("out of scope: %s", l.body)
	}
}

// TestTAPOneTimeSwitchBlocksMultiUse: a multi-use pass issued before the
// policy switched to one-time use stays listed, reads isUsable false
// (DisabledByPolicy), and cannot sign in; switching back makes it usable.
func TestTAPOneTimeSwitchBlocksMultiUse(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do("POST", tapPath(adele), `{"isUsableOnce":false}`)
	f.want(r, 201)
	code, _ := r.json(t)["temporaryAccessPass"].(string)
	f.patch("temporaryAccessPass", map[string]any{"isUsableOnce": true})
	l := f.do("GET", tapPath(adele), nil)
	f.want(l, 200)
	v := l.json(t)["value"].([]any)
	if len(v) != 1 {
		t.Fatalf("list %s", l.body)
	}
	if m := v[0].(map[string]any); m["isUsable"] != false || m["methodUsabilityReason"] != "DisabledByPolicy" {
		t.Fatalf("multi-use pass under a one-time policy: %v", m)
	}
	if _, err := f.tn.SignInWithTAP(adele, code); err == nil || !strings.Contains(err.Error(), "blocked due to User Credential Policy") {
		t.Fatalf("sign-in with a blocked pass: %v", err)
	}
	f.patch("temporaryAccessPass", map[string]any{"isUsableOnce": false})
	why, err := f.tn.SignInWithTAP(adele, code)
	if err != nil || why != "EnabledByPolicy" {
		t.Fatalf("multi-use pass under a multi-use policy: %q %v", why, err)
	}
}

// TestSignInWithTAP: the rehearsal checks the pass typed and uses up a
// one-time pass.
func TestSignInWithTAP(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do("POST", tapPath(adele), `{"isUsableOnce":true}`)
	f.want(r, 201)
	code, _ := r.json(t)["temporaryAccessPass"].(string)
	if _, err := f.tn.SignInWithTAP(adele, code+"x"); err == nil || !strings.Contains(err.Error(), "not right") {
		t.Fatalf("wrong pass: %v", err)
	}
	why, err := f.tn.SignInWithTAP(adele, code)
	if err != nil || why != "OneTimeUsed" {
		t.Fatalf("one-time pass: %q %v", why, err)
	}
	if _, err := f.tn.SignInWithTAP(adele, code); err == nil || !strings.Contains(err.Error(), "OneTimeUsed") {
		t.Fatalf("second use of a one-time pass: %v", err)
	}
}
