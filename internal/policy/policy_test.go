package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	groupA  = "11111111-1111-1111-1111-111111111111"
	groupB  = "22222222-2222-2222-2222-222222222222"
	groupEx = "33333333-3333-3333-3333-333333333333"
	userID  = "99999999-9999-9999-9999-999999999999"
	yubi    = "ee882879-721c-4913-9775-3dfcce97072a"
	other   = "90a3ccdf-635c-4729-a248-9b709135078f"
)

var member = User{ID: userID, UPN: "adele@contoso.test", DisplayName: "Adele", UserType: "Member"}

// fido2 is an enabled policy that takes groupA in with the "strict"
// profile and groupB with the default one, and excludes groupEx.
func fido2() *Fido2Policy {
	return &Fido2Policy{State: "enabled", IsSelfServiceRegistrationAllowed: true, DefaultPasskeyProfile: "p-default",
		PasskeyProfiles: []PasskeyProfile{
			{ID: "p-default", Name: "Default", AttestationEnforcement: "disabled"},
			{ID: "p-strict", Name: "Strict", AttestationEnforcement: "registrationOnly",
				KeyRestrictions: &KeyRestrictions{IsEnforced: true, EnforcementType: "allow", AAGUIDs: []string{yubi}}},
		},
		IncludeTargets: []Target{{ID: groupA, AllowedPasskeyProfiles: []string{"p-strict"}}, {ID: groupB}},
		ExcludeTargets: []Target{{ID: groupEx}}}
}

func tap() *TAPPolicy {
	return &TAPPolicy{State: "enabled", DefaultLifetimeInMinutes: 60, MinimumLifetimeInMinutes: 60, MaximumLifetimeInMinutes: 480,
		DefaultLength: 8, IncludeTargets: []Target{{ID: AllUsers}}}
}

func in(groups ...string) Membership { return Membership{Groups: groups} }

func codes(fs []Finding, st Status) []Code {
	var out []Code
	for _, f := range fs {
		if f.Status == st {
			out = append(out, f.Code)
		}
	}
	return out
}

func TestEvaluatePasskey(t *testing.T) {
	tests := []struct {
		name   string
		user   User
		edit   func(*Fido2Policy)
		member Membership
		answer Answer
		failed []Code // NotOK findings, in order
		reason string // in the eligibility's reasons
		hint   string // in its hint
		rules  PasskeyRules
	}{
		{name: "member in group B, default profile", user: member, member: in(groupB), answer: Yes,
			rules: PasskeyRules{Profile: "Default"}},
		{name: "profile chosen by the target", user: member, member: in(groupA), answer: Yes,
			rules: PasskeyRules{Profile: "Strict", AttestationEnforced: true,
				Restrictions: []KeyRestrictions{{IsEnforced: true, EnforcementType: "allow", AAGUIDs: []string{yubi}}}}},
		{name: "guest", user: User{ID: userID, UPN: "kim#EXT#@contoso.test", UserType: "Guest", Guest: true}, member: in(groupB),
			answer: No, failed: []Code{CodeGuest}, reason: "guest account", hint: "home tenant", rules: PasskeyRules{Profile: "Default"}},
		{name: "disabled", user: member, member: in(groupB), edit: func(p *Fido2Policy) { p.State = "disabled" },
			answer: No, failed: []Code{CodeMethodDisabled}, reason: "method is disabled", hint: "--enable", rules: PasskeyRules{Profile: "Default"}},
		{name: "not in targets", user: member, answer: No, failed: []Code{CodeNotInTargets},
			reason: "not in any target group", hint: "policy check --user adele@contoso.test explains", rules: PasskeyRules{Profile: "Default"}},
		{name: "all users", user: member, edit: func(p *Fido2Policy) { p.IncludeTargets = []Target{{ID: AllUsers}} }, answer: Yes,
			rules: PasskeyRules{Profile: "Default"}},
		{name: "the user directly", user: member, edit: func(p *Fido2Policy) { p.IncludeTargets = []Target{{ID: strings.ToUpper(userID)}} },
			answer: Yes, rules: PasskeyRules{Profile: "Default"}},
		{name: "excluded", user: member, member: in(groupB, groupEx), answer: No, failed: []Code{CodeExcluded},
			reason: "excluded from", hint: "remove the user", rules: PasskeyRules{Profile: "Default"}},
		{name: "self-service off", user: member, member: in(groupB), edit: func(p *Fido2Policy) { p.IsSelfServiceRegistrationAllowed = false },
			answer: No, failed: []Code{CodeSelfServiceOff}, reason: "self-service setup is off", hint: "--self-service on", rules: PasskeyRules{Profile: "Default"}},
		{name: "policy-wide attestation does not decide with profiles", user: member, member: in(groupB), edit: func(p *Fido2Policy) { p.IsAttestationEnforced = true },
			answer: Yes, rules: PasskeyRules{Profile: "Default"}},
		{name: "policy-wide block list does not decide with profiles", user: member, member: in(groupB),
			edit: func(p *Fido2Policy) {
				p.KeyRestrictions = &KeyRestrictions{IsEnforced: true, EnforcementType: "block", AAGUIDs: []string{other}}
			},
			answer: Yes, rules: PasskeyRules{Profile: "Default"}},
		{name: "without profiles the policy-wide settings decide", user: member, member: in(groupB),
			edit: func(p *Fido2Policy) {
				p.PasskeyProfiles, p.DefaultPasskeyProfile, p.IsAttestationEnforced = nil, "", true
				p.KeyRestrictions = &KeyRestrictions{IsEnforced: true, EnforcementType: "block", AAGUIDs: []string{other}}
			},
			answer: Yes, rules: PasskeyRules{AttestationEnforced: true, Restrictions: []KeyRestrictions{{IsEnforced: true, EnforcementType: "block", AAGUIDs: []string{other}}}}},
		{name: "two targets, two profiles: a key one of them accepts passes", user: member, member: in(groupA, groupB), answer: Yes,
			rules: PasskeyRules{Profile: `"Strict", "Default"`}},
		{name: "unenforced restrictions do not count", user: member, member: in(groupB),
			edit: func(p *Fido2Policy) {
				p.KeyRestrictions = &KeyRestrictions{EnforcementType: "block", AAGUIDs: []string{yubi}}
			},
			answer: Yes, rules: PasskeyRules{Profile: "Default"}},
		{name: "several problems, first hint", user: member, member: in(groupEx),
			edit: func(p *Fido2Policy) { p.State, p.IsSelfServiceRegistrationAllowed = "disabled", false }, answer: No,
			failed: []Code{CodeMethodDisabled, CodeNotInTargets, CodeExcluded, CodeSelfServiceOff}, reason: "excluded", hint: "--enable",
			rules: PasskeyRules{Profile: "Default"}},
		{name: "membership unknown", user: member, member: Membership{Problem: &Problem{Msg: "permission missing", Hint: "grant GroupMember.Read.All"}},
			answer: Undetermined, reason: "cannot tell whether the user is in the policy's targets: permission missing", hint: "GroupMember.Read.All",
			rules: PasskeyRules{Profile: "Default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fido2()
			if tt.edit != nil {
				tt.edit(p)
			}
			rep := Evaluate(Input{User: tt.user, Fido2: p, Membership: tt.member})
			v := rep.Verdict(FlowPasskey)
			if v.Answer != tt.answer {
				t.Errorf("answer %v, want %v: %+v", v.Answer, tt.answer, v.Findings)
			}
			if got := codes(v.Findings, NotOK); !slices.Equal(got, tt.failed) {
				t.Errorf("failed %v, want %v", got, tt.failed)
			}
			el := rep.Eligibility()
			if el.Allowed != (tt.answer == Yes) {
				t.Errorf("eligibility allowed %v for answer %v", el.Allowed, tt.answer)
			}
			if tt.reason != "" && !strings.Contains(strings.Join(el.Reasons, "; "), tt.reason) {
				t.Errorf("reasons %q, want %q", el.Reasons, tt.reason)
			}
			if !strings.Contains(el.Hint, tt.hint) || (tt.answer == Yes) != (el.Hint == "") {
				t.Errorf("hint %q, want %q", el.Hint, tt.hint)
			}
			if el.Profile != tt.rules.Profile || el.AttestationEnforced != tt.rules.AttestationEnforced ||
				len(el.Restrictions) != len(tt.rules.Restrictions) {
				t.Fatalf("rules %+v, want %+v", el.PasskeyRules, tt.rules)
			}
			for i, kr := range el.Restrictions {
				w := tt.rules.Restrictions[i]
				if kr.IsEnforced != w.IsEnforced || kr.AllowList() != w.AllowList() || !slices.Equal(kr.AAGUIDs, w.AAGUIDs) {
					t.Errorf("restriction %d %+v, want %+v", i, kr, w)
				}
			}
			// No TAP policy given: no TAP finding.
			if f := rep.Verdict(FlowTAP).Findings; tt.user.Guest != (len(f) > 0) {
				t.Errorf("TAP findings without a TAP policy: %+v", f)
			}
		})
	}
}

func TestKeyRestrictionsAllows(t *testing.T) {
	tests := []struct {
		k      *KeyRestrictions
		aaguid string
		want   bool
	}{
		{nil, yubi, true},
		{&KeyRestrictions{IsEnforced: false, EnforcementType: "allow", AAGUIDs: []string{other}}, yubi, true},
		{&KeyRestrictions{IsEnforced: true, EnforcementType: "allow", AAGUIDs: []string{yubi}}, strings.ToUpper(yubi), true},
		{&KeyRestrictions{IsEnforced: true, EnforcementType: "allow", AAGUIDs: []string{yubi}}, other, false},
		{&KeyRestrictions{IsEnforced: true, EnforcementType: "Allow", AAGUIDs: nil}, yubi, false},
		{&KeyRestrictions{IsEnforced: true, EnforcementType: "block", AAGUIDs: []string{" " + yubi}}, yubi, false},
		{&KeyRestrictions{IsEnforced: true, EnforcementType: "block", AAGUIDs: []string{yubi}}, other, true},
	}
	for i, tt := range tests {
		if got := tt.k.Allows(tt.aaguid); got != tt.want {
			t.Errorf("%d: %+v Allows(%s) = %v", i, tt.k, tt.aaguid, got)
		}
	}
}

func TestEvaluateTAP(t *testing.T) {
	tests := []struct {
		name          string
		user          User
		edit          func(*TAPPolicy)
		member        Membership
		passes        []Pass
		tapAns, multi Answer
		failed        []Code // NotOK findings of the multi-use flow
	}{
		{name: "multi-use allowed", user: member, tapAns: Yes, multi: Yes},
		{name: "one-time only", user: member, edit: func(p *TAPPolicy) { p.IsUsableOnce = true }, tapAns: Yes, multi: No,
			failed: []Code{CodeOneTimeOnly}},
		{name: "disabled", user: member, edit: func(p *TAPPolicy) { p.State = "disabled" }, tapAns: No, multi: No,
			failed: []Code{CodeMethodDisabled}},
		{name: "not in targets", user: member, edit: func(p *TAPPolicy) { p.IncludeTargets = []Target{{ID: groupA}} }, tapAns: No, multi: No,
			failed: []Code{CodeNotInTargets}},
		{name: "in target group", user: member, member: in(groupA), edit: func(p *TAPPolicy) { p.IncludeTargets = []Target{{ID: groupA}} },
			tapAns: Yes, multi: Yes},
		{name: "excluded", user: member, member: in(groupEx), edit: func(p *TAPPolicy) { p.ExcludeTargets = []Target{{ID: groupEx}} },
			tapAns: No, multi: No, failed: []Code{CodeExcluded}},
		{name: "external guest", user: User{UPN: "kim#EXT#@contoso.test", Guest: true, External: true}, tapAns: No, multi: No, failed: []Code{CodeGuest}},
		// Entra refuses a pass to external guests only.
		{name: "internal guest", user: User{UPN: "vendor@contoso.test", UserType: "Guest", Guest: true}, tapAns: Yes, multi: Yes},
		{name: "usable multi-use pass", user: member, passes: []Pass{{Usable: true, Reason: "EnabledByPolicy", Expiry: soon}}, tapAns: Yes, multi: Yes},
		// A multi-use pass issued before the switch to one-time use is blocked.
		{name: "multi-use pass under one-time policy", user: member, edit: func(p *TAPPolicy) { p.IsUsableOnce = true },
			passes: []Pass{{Reason: "DisabledByPolicy", Expiry: soon}}, tapAns: No, multi: No,
			failed: []Code{CodeOneTimeOnly, CodePassBlocked}},
		{name: "expired multi-use pass under one-time policy", user: member, edit: func(p *TAPPolicy) { p.IsUsableOnce = true },
			passes: []Pass{{Reason: "Expired", Expiry: soon.Add(-2 * time.Hour)}}, tapAns: Yes, multi: No, failed: []Code{CodeOneTimeOnly}},
		{name: "one-time pass under one-time policy", user: member, edit: func(p *TAPPolicy) { p.IsUsableOnce = true },
			passes: []Pass{{Once: true, Usable: true, Reason: "EnabledByPolicy", Expiry: soon}}, tapAns: Yes, multi: No, failed: []Code{CodeOneTimeOnly}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tap()
			if tt.edit != nil {
				tt.edit(p)
			}
			rep := Evaluate(Input{User: tt.user, TAP: p, Membership: tt.member, Passes: tt.passes, PassesRead: true, Now: now})
			if v := rep.Verdict(FlowTAP); v.Answer != tt.tapAns {
				t.Errorf("TAP answer %v, want %v: %+v", v.Answer, tt.tapAns, v.Findings)
			}
			v := rep.Verdict(FlowMultiUseTAP)
			if v.Answer != tt.multi {
				t.Errorf("multi-use answer %v, want %v", v.Answer, tt.multi)
			}
			if got := codes(v.Findings, NotOK); !slices.Equal(got, tt.failed) {
				t.Errorf("failed %v, want %v", got, tt.failed)
			}
			i := slices.IndexFunc(v.Findings, func(f Finding) bool { return f.Code == CodeTAPSettings })
			if i < 0 || !strings.Contains(v.Findings[i].Message, "lifetime 1h to 8h (default 1h), 8 characters") {
				t.Errorf("settings finding missing: %+v", v.Findings)
			}
			// Where to register the key, for everyone who can get a pass here.
			advice := slices.ContainsFunc(v.Findings, func(f Finding) bool {
				return f.Code == CodeRegistration && strings.Contains(f.Message, "https://aka.ms/mysecurityinfo") && strings.Contains(f.Message, "interrupt")
			})
			if advice == tt.user.External {
				t.Errorf("registration advice %v for external=%v", advice, tt.user.External)
			}
			// The TAP policy says nothing about passkeys but the account.
			for _, f := range rep.Verdict(FlowPasskey).Findings {
				if f.Code != CodeMember && f.Code != CodeGuest && f.Code != CodeInternalGuest {
					t.Errorf("passkey finding from the TAP policy: %+v", f)
				}
			}
		})
	}
}

var (
	now  = time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	soon = now.Add(time.Hour)
)

func TestEvaluateUnreadable(t *testing.T) {
	rep := Evaluate(Input{User: member, Fido2Problem: &Problem{Msg: "HTTP 403", Hint: "grant Policy.Read.AuthenticationMethod"},
		TAPProblem: &Problem{Msg: "HTTP 503"}})
	for _, f := range []Flow{FlowPasskey, FlowTAP, FlowMultiUseTAP} {
		if v := rep.Verdict(f); v.Answer != Undetermined {
			t.Errorf("%v: %v, want undetermined", f, v.Answer)
		}
	}
	v := rep.Verdict(FlowPasskey)
	if f := v.Findings[len(v.Findings)-1]; f.Code != CodePolicyUnreadable || f.Fix == "" || !strings.Contains(f.Message, "cannot tell whether the Passkey (FIDO2) policy allows it: HTTP 403") {
		t.Errorf("finding %+v", f)
	}
	if rep.Eligibility().Allowed {
		t.Error("eligible with an unreadable policy")
	}
}

func TestPermissions(t *testing.T) {
	all := []string{"User.Read.All", "UserAuthMethod-Passkey.ReadWrite.All", "UserAuthMethod-TAP.ReadWrite.All",
		"Policy.Read.AuthenticationMethod", "GroupMember.Read.All"}
	without := func(p string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == p })
	}
	tests := []struct {
		name                 string
		granted              []string
		appOnly              bool
		passkey, tapA, multi Answer
		fix                  string
	}{
		{name: "all granted", granted: all, passkey: Yes, tapA: Yes, multi: Yes},
		{name: "broader ones do", granted: []string{"directory.read.all", "UserAuthenticationMethod.ReadWrite.All", "Policy.Read.All"},
			passkey: Yes, tapA: Yes, multi: Yes},
		{name: "no User.Read.All", granted: without("User.Read.All"), appOnly: true, passkey: No, tapA: No, multi: No,
			fix: "grant the application permission User.Read.All (admin consent)"},
		{name: "no passkey write", granted: without("UserAuthMethod-Passkey.ReadWrite.All"), passkey: No, tapA: Yes, multi: Yes,
			fix: "add the delegated permission UserAuthMethod-Passkey.ReadWrite.All and sign in as Authentication Administrator"},
		{name: "no TAP write", granted: without("UserAuthMethod-TAP.ReadWrite.All"), passkey: Yes, tapA: No, multi: No},
		{name: "no policy read", granted: without("Policy.Read.AuthenticationMethod"), passkey: No, tapA: Yes, multi: Yes},
		{name: "no group read", granted: without("GroupMember.Read.All"), passkey: Yes, tapA: Yes, multi: Yes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Evaluate(Input{User: member, Identity: &Identity{Granted: tt.granted, AppOnly: tt.appOnly}})
			for f, want := range map[Flow]Answer{FlowPasskey: tt.passkey, FlowTAP: tt.tapA, FlowMultiUseTAP: tt.multi} {
				if v := rep.Verdict(f); v.Answer != want {
					t.Errorf("%v: %v, want %v", f, v.Answer, want)
				}
			}
			if len(rep.Permissions) != len(CheckedPermissions) {
				t.Fatalf("%d permission findings", len(rep.Permissions))
			}
			missing := codes(rep.Permissions, NotOK)
			if n := len(all) - len(tt.granted); tt.name != "broader ones do" && len(missing) != n {
				t.Errorf("missing %v", missing)
			}
			if tt.fix != "" && !slices.ContainsFunc(rep.Permissions, func(f Finding) bool { return f.Fix == tt.fix }) {
				t.Errorf("no fix %q in %+v", tt.fix, rep.Permissions)
			}
		})
	}
	// The verdicts of a run without an identity name no permission.
	if rep := Evaluate(Input{User: member}); rep.Permissions != nil {
		t.Errorf("permissions without an identity: %+v", rep.Permissions)
	}
}

func TestGroupsToCheck(t *testing.T) {
	tests := []struct {
		lists [][]Target
		want  []string
	}{
		{[][]Target{{{ID: groupA}, {ID: groupB}}, {{ID: groupEx}}}, []string{groupA, groupB, groupEx}},
		{[][]Target{{{ID: groupA}, {ID: AllUsers}}, {{ID: groupEx}}}, []string{groupEx}},
		{[][]Target{{{ID: userID}}, {}}, nil},
		{[][]Target{{{ID: groupA}}, {{ID: strings.ToUpper(groupA)}}}, []string{groupA}},
	}
	for i, tt := range tests {
		if got := GroupsToCheck(userID, tt.lists...); !slices.Equal(got, tt.want) {
			t.Errorf("%d: %v, want %v", i, got, tt.want)
		}
	}
}

func ptr(b bool) *bool { return &b }

func TestCheckTAP(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	once := tap()
	once.IsUsableOnce = true
	off := tap()
	off.State = "disabled"
	tests := []struct {
		name string
		p    *TAPPolicy
		r    TAPRequest
		code Code
		msg  string
	}{
		{name: "defaults", p: tap()},
		{name: "in range", p: tap(), r: TAPRequest{Lifetime: 8 * time.Hour, Once: ptr(false)}},
		{name: "below the tenant's minimum", p: tap(), r: TAPRequest{Lifetime: 30 * time.Minute}, code: CodeLifetimeOutside, msg: "allowed 1h to 8h (default 1h)"},
		{name: "above the tenant's maximum", p: tap(), r: TAPRequest{Lifetime: 9 * time.Hour}, code: CodeLifetimeOutside, msg: "lifetime 9h is outside"},
		{name: "below Entra's minimum", p: tap(), r: TAPRequest{Lifetime: 5 * time.Minute}, code: CodeLifetimeRange, msg: "Entra allows 10m to 30d"},
		{name: "above Entra's maximum", p: tap(), r: TAPRequest{Lifetime: 31 * 24 * time.Hour}, code: CodeLifetimeRange, msg: "31d out of range"},
		{name: "seconds", p: tap(), r: TAPRequest{Lifetime: time.Hour + time.Second}, code: CodeLifetimeFraction, msg: "whole minutes"},
		{name: "multi-use against one-time", p: once, r: TAPRequest{Once: ptr(false)}, code: CodeMultiUseNotAllowed, msg: "one-time passes only"},
		{name: "one-time under one-time", p: once, r: TAPRequest{Once: ptr(true)}},
		{name: "policy decides under one-time", p: once},
		{name: "disabled", p: off, code: CodeMethodDisabled, msg: "disabled in this tenant"},
		{name: "start in the past", p: tap(), r: TAPRequest{Start: now.Add(-time.Hour)}, code: CodeStartInPast, msg: "in the past"},
		{name: "start within skew", p: tap(), r: TAPRequest{Start: now.Add(-time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := CheckTAPRequest(tt.r, now)
			if f == nil {
				f = CheckTAPIssue(tt.p, tt.r)
			}
			if tt.code == "" {
				if f != nil {
					t.Fatalf("refused: %+v", f)
				}
				return
			}
			if f == nil || f.Code != tt.code || f.Status != NotOK || !strings.Contains(f.Message, tt.msg) || f.Fix == "" {
				t.Fatalf("finding %+v, want %s with %q and a fix", f, tt.code, tt.msg)
			}
		})
	}
}

func TestTAPValidate(t *testing.T) {
	tests := []struct {
		edit func(*TAPPolicy)
		msg  string
	}{
		{func(*TAPPolicy) {}, ""},
		{func(p *TAPPolicy) { p.MinimumLifetimeInMinutes = 5 }, "minimum lifetime 5m out of range: allowed 10m to 30d"},
		{func(p *TAPPolicy) { p.DefaultLifetimeInMinutes = 600 }, "minimum ≤ default ≤ maximum"},
		{func(p *TAPPolicy) { p.MaximumLifetimeInMinutes = 43201 }, "maximum lifetime 30d1m out of range"},
		{func(p *TAPPolicy) { p.DefaultLength = 49 }, "allowed 8 to 48"},
		{func(p *TAPPolicy) { p.State = "on" }, `state "on"`},
	}
	for i, tt := range tests {
		p := tap()
		tt.edit(p)
		err := p.Validate()
		if (tt.msg == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.msg)) {
			t.Errorf("%d: %v, want %q", i, err, tt.msg)
		}
	}
}

func TestFido2Changes(t *testing.T) {
	names := Names{groupA: "Passkey Users"}
	p := fido2()
	on, off := true, false
	tests := []struct {
		name  string
		edit  Fido2Edit
		want  []string // field: old text → new text
		check func(*testing.T, Fido2Policy)
	}{
		{name: "nothing", edit: Fido2Edit{State: "enabled", SelfService: &on}},
		{name: "self-service off", edit: Fido2Edit{SelfService: &off},
			want: []string{"isSelfServiceRegistrationAllowed: on → off  (the provisioning API requires it on)"}},
		{name: "allow list", edit: Fido2Edit{Restrictions: AllowOnly([]string{strings.ToUpper(yubi)})},
			want: []string{"keyRestrictions: none (every key model)  (deprecated: the passkey profiles decide) → allow only " + yubi + "  (deprecated: the passkey profiles decide)"}},
		{name: "no restrictions on none", edit: Fido2Edit{Restrictions: NoRestrictions()}},
		{name: "profile attestation off, by name", edit: Fido2Edit{Profile: "strict", EnforceAtt: &off},
			want: []string{`passkeyProfiles[Strict].attestationEnforcement: enforced (registrationOnly) → off (disabled)`},
			check: func(t *testing.T, n Fido2Policy) {
				if n.IsAttestationEnforced || n.PasskeyProfiles[0].AttestationEnforcement != "disabled" {
					t.Errorf("%+v", n)
				}
			}},
		{name: "profile attestation on, by id", edit: Fido2Edit{Profile: "P-DEFAULT", EnforceAtt: &on},
			want: []string{`passkeyProfiles[Default].attestationEnforcement: off (disabled) → enforced (registrationOnly)`}},
		{name: "profile allow list grows and shrinks", edit: Fido2Edit{Profile: "Strict", AddAAGUIDs: []string{strings.ToUpper(other), yubi}, RemoveAAGUIDs: []string{yubi}},
			want: []string{`passkeyProfiles[Strict].keyRestrictions: allow only ` + yubi + ` → allow only ` + other}},
		{name: "profile restrictions off keep the list", edit: Fido2Edit{Profile: "Strict", EnforceRestrictions: &off},
			want: []string{`passkeyProfiles[Strict].keyRestrictions: allow only ` + yubi + ` → none (every key model; not enforced: allow only ` + yubi + `)`}},
		{name: "profile block list replaces", edit: Fido2Edit{Profile: "Default", Restrictions: BlockList([]string{other})},
			want: []string{`passkeyProfiles[Default].keyRestrictions: none (every key model) → block ` + other},
			check: func(t *testing.T, n Fido2Policy) {
				if n.KeyRestrictions != nil {
					t.Errorf("the policy-wide restrictions changed: %+v", n.KeyRestrictions)
				}
			}},
		{name: "policy-wide add to an empty list", edit: Fido2Edit{AddAAGUIDs: []string{other}, EnforceRestrictions: &on},
			want: []string{"keyRestrictions: none (every key model)  (deprecated: the passkey profiles decide) → block " + other + "  (deprecated: the passkey profiles decide)"}},
		{name: "include replaced, profiles kept", edit: Fido2Edit{Include: []Target{{ID: groupA}, {ID: AllUsers}}, State: "disabled"},
			want: []string{"state: enabled → disabled",
				`includeTargets: "Passkey Users" (` + groupA + `), ` + groupB + ` → "Passkey Users" (` + groupA + `), all users`},
			check: func(t *testing.T, n Fido2Policy) {
				if !slices.Equal(n.IncludeTargets[0].AllowedPasskeyProfiles, []string{"p-strict"}) ||
					!slices.Equal(n.IncludeTargets[1].AllowedPasskeyProfiles, []string{"p-default"}) {
					t.Errorf("profiles %+v", n.IncludeTargets)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := tt.edit.Apply(p)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range Fido2Changes(p, &n, names) {
				got = append(got, c.Field+": "+c.OldText+" → "+c.NewText)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("changes\n%q\nwant\n%q", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, n)
			}
		})
	}
	if p.State != "enabled" || len(p.IncludeTargets) != 2 || p.IncludeTargets[1].AllowedPasskeyProfiles != nil ||
		p.PasskeyProfiles[1].AttestationEnforcement != "registrationOnly" || !slices.Equal(p.PasskeyProfiles[1].KeyRestrictions.AAGUIDs, []string{yubi}) {
		t.Errorf("Apply changed its input: %+v", p)
	}
	if _, err := (Fido2Edit{Profile: "Nope", EnforceAtt: &off}).Apply(p); err == nil ||
		!strings.Contains(err.Error(), `no passkey profile "Nope"`) || !strings.Contains(err.Error(), `"Strict" (p-strict)`) {
		t.Errorf("unknown profile: %v", err)
	}
	if _, err := (Fido2Edit{Profile: "Default", EnforceAtt: &off}).Apply(&Fido2Policy{}); err == nil || !strings.Contains(err.Error(), "has no passkey profiles") {
		t.Errorf("no profiles: %v", err)
	}
}

func TestTAPChanges(t *testing.T) {
	p := tap()
	on := true
	n := TAPEdit{OneTime: &on, MaxLifetime: 1440, Length: 12}.Apply(p)
	cs := TAPChanges(p, &n, nil)
	want := []Change{
		{Field: "lifetime", Old: TAPLifetimes{60, 60, 480}, New: TAPLifetimes{60, 60, 1440}},
		{Field: "defaultLength", Old: 8, New: 12},
		{Field: "isUsableOnce", Old: false, New: true},
	}
	if len(cs) != len(want) {
		t.Fatalf("changes %+v", cs)
	}
	for i, c := range cs {
		if c.Field != want[i].Field || c.Old != want[i].Old || c.New != want[i].New {
			t.Errorf("change %d %+v, want %+v", i, c, want[i])
		}
	}
	if cs[0].NewText != "default 1h, minimum 1h, maximum 1d" || cs[2].NewText != "yes (every pass is one-time)" || cs[1].Label != "length" {
		t.Errorf("texts %+v", cs)
	}
	if same := (TAPEdit{OneTime: new(bool), Length: 8}).Apply(p); len(TAPChanges(p, &same, nil)) != 0 {
		t.Error("a no-op edit changes something")
	}
}

// TestExcludeEdits: exclusions can be replaced, cleared (an empty, non-nil
// list) and removed one by one, in both policies; a group both included
// and excluded is warned about.
func TestExcludeEdits(t *testing.T) {
	tests := []struct {
		name   string
		set    []Target
		remove []string
		want   []string
	}{
		{name: "kept", want: []string{groupEx}},
		{name: "replaced", set: []Target{{ID: groupB}}, want: []string{groupB}},
		{name: "cleared", set: []Target{}, want: []string{}},
		{name: "one removed", remove: []string{strings.ToUpper(groupEx)}, want: []string{}},
		{name: "replaced then one removed", set: []Target{{ID: groupA}, {ID: groupB}}, remove: []string{groupA}, want: []string{groupB}},
		{name: "removing an absent one", remove: []string{groupA}, want: []string{groupEx}},
	}
	ids := func(ts []Target) []string {
		out := []string{}
		for _, t := range ts {
			out = append(out, t.ID)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := tap()
			tp.ExcludeTargets = []Target{{ID: groupEx}}
			got := TAPEdit{Exclude: tt.set, RemoveExclude: tt.remove}.Apply(tp)
			if !slices.Equal(ids(got.ExcludeTargets), tt.want) {
				t.Errorf("tap exclusions %v, want %v", ids(got.ExcludeTargets), tt.want)
			}
			if len(tp.ExcludeTargets) != 1 {
				t.Errorf("the policy itself changed: %v", tp.ExcludeTargets)
			}
			fp, err := Fido2Edit{Exclude: tt.set, RemoveExclude: tt.remove}.Apply(fido2())
			if err != nil || !slices.Equal(ids(fp.ExcludeTargets), tt.want) {
				t.Errorf("fido2 exclusions %v (%v), want %v", ids(fp.ExcludeTargets), err, tt.want)
			}
		})
	}
	names := Names{groupA: "Onboarding"}
	if w := Overlaps("tap", []Target{{ID: groupA}, {ID: groupB}}, []Target{{ID: groupA}}, names); len(w) != 1 ||
		!strings.Contains(w[0], `"Onboarding"`) || !strings.Contains(w[0], "exclusion wins") {
		t.Errorf("overlap warning %q", w)
	}
	if w := Overlaps("tap", []Target{{ID: AllUsers}}, []Target{{ID: groupA}}, names); len(w) != 0 {
		t.Errorf("no overlap, warned %q", w)
	}
}

func TestBlockedByOneTime(t *testing.T) {
	once := tap()
	once.IsUsableOnce = true
	tests := []struct {
		name string
		p    *TAPPolicy
		pass Pass
		want bool
	}{
		{name: "multi-use pass, one-time policy", p: once, pass: Pass{Reason: "DisabledByPolicy", Expiry: soon}, want: true},
		{name: "not yet valid multi-use pass", p: once, pass: Pass{Reason: "NotYetValid", Expiry: soon}, want: true},
		{name: "multi-use pass, multi-use policy", p: tap(), pass: Pass{Usable: true, Reason: "EnabledByPolicy", Expiry: soon}},
		{name: "one-time pass", p: once, pass: Pass{Once: true, Usable: true, Reason: "EnabledByPolicy", Expiry: soon}},
		{name: "expired", p: once, pass: Pass{Reason: "Expired", Expiry: now.Add(-time.Minute)}},
		{name: "past expiry", p: once, pass: Pass{Reason: "DisabledByPolicy", Expiry: now}},
	}
	for _, tt := range tests {
		if got := BlockedByOneTime(tt.p, tt.pass, now); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if !SwitchesToOneTime(tap(), once) || SwitchesToOneTime(once, once) || SwitchesToOneTime(once, tap()) {
		t.Error("SwitchesToOneTime")
	}
}
