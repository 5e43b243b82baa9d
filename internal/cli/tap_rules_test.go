package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/entrasim"
)

// TestGuestTAPRulesAgree: policy check and tap create agree with Entra's
// rule: an internal guest (userType Guest, no #EXT#) can hold a pass, an
// external guest cannot; neither can get a pre-provisioned passkey.
func TestGuestTAPRulesAgree(t *testing.T) {
	t.Parallel()
	const internal = "vendor.contractor@contoso.test"
	w := newWorld(t)
	h := hooks{tenantOptions: func(o *entrasim.Options) {
		o.Users = append(entrasim.DefaultSeed(), entrasim.SeedUser{UPN: internal, DisplayName: "Vendor Contractor",
			UserType: "Guest", Groups: []string{entrasim.TAPGroup}})
	}}
	tests := []struct {
		upn       string
		tapOK     bool
		createErr string // "" when tap create succeeds
	}{
		{upn: internal, tapOK: true},
		{upn: entrasim.GuestUPN, tapOK: false, createErr: "external guest"},
	}
	for _, tc := range tests {
		r := w.cli("", h, "--json", "policy", "check", "--user", tc.upn)
		var rep struct {
			Passkey struct{ Possible *bool }
			TAP     struct{ Possible *bool } `json:"tap"`
		}
		if err := json.Unmarshal([]byte(r.out), &rep); err != nil {
			t.Fatalf("policy check %s: %v\n%s%s", tc.upn, err, r.out, r.errOut)
		}
		if rep.Passkey.Possible == nil || *rep.Passkey.Possible {
			t.Errorf("%s: a passkey for a guest: %s", tc.upn, r.out)
		}
		if rep.TAP.Possible == nil || *rep.TAP.Possible != tc.tapOK {
			t.Errorf("%s: TAP sign-in possible %v, want %v:\n%s", tc.upn, rep.TAP.Possible, tc.tapOK, r.out)
		}
		r = w.tapCLI(h, "--json", "tap", "create", "--user", tc.upn)
		switch {
		case tc.createErr == "" && r.code != 0:
			t.Errorf("tap create %s: %d\n%s", tc.upn, r.code, r.errOut)
		case tc.createErr != "" && (r.code == 0 || !strings.Contains(r.errOut, tc.createErr)):
			t.Errorf("tap create %s: %d, want a refusal naming %q\n%s", tc.upn, r.code, tc.createErr, r.errOut)
		}
		if (r.code == 0) != tc.tapOK {
			t.Errorf("%s: policy check says TAP %v, tap create exit %d", tc.upn, tc.tapOK, r.code)
		}
	}
}
