package entrasim

import (
	"strings"
	"testing"
)

const (
	fido2PolicyP = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2"
	tapPolicyP   = "/beta/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass"
)

func TestPolicyDefaults(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do("GET", fido2PolicyP, nil)
	f.want(r, 200)
	m := r.json(t)
	if m["@odata.type"] != fido2ConfigType || m["id"] != "Fido2" || m["state"] != "enabled" ||
		m["isSelfServiceRegistrationAllowed"] != true || m["isAttestationEnforced"] != true ||
		m["defaultPasskeyProfile"] != DefaultPasskeyProfileID {
		t.Errorf("%s", r.body)
	}
	inc := m["includeTargets"].([]any)[0].(map[string]any)
	if inc["id"] != GroupObjectID(PasskeyGroup) || inc["targetType"] != "group" ||
		inc["allowedPasskeyProfiles"].([]any)[0] != DefaultPasskeyProfileID {
		t.Errorf("includeTargets %v", inc)
	}
	pp := m["passkeyProfiles"].([]any)[0].(map[string]any)
	if pp["name"] != "Default passkey profile" || pp["passkeyTypes"] != "deviceBound" || pp["attestationEnforcement"] != "registrationOnly" {
		t.Errorf("profile %v", pp)
	}
	r = f.do("GET", tapPolicyP, nil)
	f.want(r, 200)
	m = r.json(t)
	if m["@odata.type"] != tapConfigType || m["id"] != "TemporaryAccessPass" || m["defaultLifetimeInMinutes"] != 60.0 ||
		m["minimumLifetimeInMinutes"] != 60.0 || m["maximumLifetimeInMinutes"] != 480.0 || m["defaultLength"] != 8.0 ||
		m["isUsableOnce"] != false || m["includeTargets"].([]any)[0].(map[string]any)["id"] != "all_users" {
		t.Errorf("%s", r.body)
	}
}

func TestPolicyPatchValidation(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		msg    string
	}{
		{"no odata type", fido2PolicyP, `{"state":"disabled"}`, 400, "@odata.type"},
		{"wrong odata type", fido2PolicyP, `{"@odata.type":"` + tapConfigType + `","state":"disabled"}`, 400, "@odata.type"},
		{"unknown property", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","bogus":1}`, 400, "Property 'bogus' does not exist"},
		{"bad state", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","state":"on"}`, 400, "Invalid value 'on' for state"},
		{"bad enforcementType", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","keyRestrictions":{"isEnforced":true,"enforcementType":"deny","aaGuids":[]}}`, 400, "enforcementType"},
		{"bad aaguid", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","keyRestrictions":{"isEnforced":true,"enforcementType":"allow","aaGuids":["nope"]}}`, 400, "Invalid AAGUID"},
		{"unknown target", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","includeTargets":[{"id":"00000000-0000-0000-0000-00000000dead","targetType":"group"}]}`, 400, "not an existing group or user"},
		{"unknown profile in target", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","includeTargets":[{"id":"all_users","targetType":"group","allowedPasskeyProfiles":["00000000-0000-0000-0000-000000000009"]}]}`, 400, "allowedPasskeyProfiles"},
		{"default profile deleted", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","passkeyProfiles":[{"id":"00000000-0000-0000-0000-000000000002","name":"x","passkeyTypes":"synced","attestationEnforcement":"disabled"}]}`, 400, "cannot be deleted"},
		{"bad passkeyTypes", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","passkeyProfiles":[{"id":"00000000-0000-0000-0000-000000000001","name":"x","passkeyTypes":"cloud","attestationEnforcement":"disabled"}]}`, 400, "passkeyTypes"},
		{"id change", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","id":"Other"}`, 400, "cannot be changed"},
		{"not json", fido2PolicyP, `[1]`, 400, "JSON object"},
		{"fido2 ok", fido2PolicyP, `{"@odata.type":"` + fido2ConfigType + `","id":"fido2","includeTargets":[{"id":"all_users","targetType":"group","isRegistrationRequired":false}]}`, 204, ""},
		{"tap min too low", tapPolicyP, `{"@odata.type":"` + tapConfigType + `","minimumLifetimeInMinutes":9}`, 400, "minimumLifetimeInMinutes must be between 10 and 43200."},
		{"tap max too high", tapPolicyP, `{"@odata.type":"` + tapConfigType + `","maximumLifetimeInMinutes":43201}`, 400, "maximumLifetimeInMinutes must be between 10 and 43200."},
		{"tap min above max", tapPolicyP, `{"@odata.type":"` + tapConfigType + `","minimumLifetimeInMinutes":600}`, 400, "must not exceed"},
		{"tap default outside", tapPolicyP, `{"@odata.type":"` + tapConfigType + `","defaultLifetimeInMinutes":500}`, 400, "defaultLifetimeInMinutes (500)"},
		{"tap length", tapPolicyP, `{"@odata.type":"` + tapConfigType + `","defaultLength":7}`, 400, "defaultLength must be between 8 and 48."},
		{"tap length 49", tapPolicyP, `{"@odata.type":"` + tapConfigType + `","defaultLength":49}`, 400, "defaultLength"},
		{"tap wrong type", tapPolicyP, `{"@odata.type":"` + fido2ConfigType + `","defaultLength":10}`, 400, "@odata.type"},
		{"tap ok", tapPolicyP, `{"@odata.type":"` + tapConfigType + `","defaultLength":48,"minimumLifetimeInMinutes":10,"maximumLifetimeInMinutes":43200,"defaultLifetimeInMinutes":43200}`, 204, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			before := f.do("GET", tc.path, nil).body
			r := f.do("PATCH", tc.path, tc.body)
			if tc.msg == "" {
				f.want(r, tc.status)
				return
			}
			f.wantErr(r, tc.status, tc.msg)
			if after := f.do("GET", tc.path, nil).body; string(after) != string(before) {
				t.Errorf("refused PATCH changed the policy:\n%s\n%s", before, after)
			}
		})
	}
}

func TestPolicyPatchMergeAndReset(t *testing.T) {
	f := newFixture(t, nil)
	f.patch("temporaryAccessPass", map[string]any{"defaultLength": 20, "isUsableOnce": true})
	m := f.do("GET", tapPolicyP, nil).json(t)
	if m["defaultLength"] != 20.0 || m["isUsableOnce"] != true || m["maximumLifetimeInMinutes"] != 480.0 {
		t.Errorf("merge: %v", m)
	}
	f.want(f.do("DELETE", tapPolicyP, nil), 204)
	m = f.do("GET", tapPolicyP, nil).json(t)
	if m["defaultLength"] != 8.0 || m["isUsableOnce"] != false {
		t.Errorf("reset: %v", m)
	}
	f.want(f.do("DELETE", fido2PolicyP, nil), 405)
	r := f.do("GET", "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/sms", nil)
	f.want(r, 404)
	// Whole-object PATCH as the graph client sends it (read, change, write back).
	cur := f.do("GET", fido2PolicyP, nil).json(t)
	delete(cur, "@odata.context")
	delete(cur, "id")
	cur["isAttestationEnforced"] = false
	f.patch("fido2", cur)
	if m := f.do("GET", fido2PolicyP, nil).json(t); m["isAttestationEnforced"] != false || !strings.Contains(f.do("GET", fido2PolicyP, nil).json(t)["defaultPasskeyProfile"].(string), "0001") {
		t.Errorf("%v", m)
	}
}
