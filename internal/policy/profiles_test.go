package policy

import (
	"slices"
	"strings"
	"testing"
)

const third = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

func allow(gs ...string) *KeyRestrictions { return AllowOnly(gs) }
func block(gs ...string) *KeyRestrictions { return BlockList(gs) }

func TestCombine(t *testing.T) {
	tests := []struct {
		name string
		prs  []ProfileRules
		att  bool
		want *KeyRestrictions // nil: none
	}{
		{name: "none", prs: nil},
		{name: "one allow list", prs: []ProfileRules{{AttestationEnforced: true, Restrictions: allow(yubi)}}, att: true, want: allow(yubi)},
		{name: "allow ∪ allow", prs: []ProfileRules{{Restrictions: allow(yubi)}, {Restrictions: allow(other)}}, want: allow(yubi, other)},
		{name: "block ∪ block", prs: []ProfileRules{{Restrictions: block(yubi, other)}, {Restrictions: block(other, third)}}, want: block(other)},
		{name: "allow ∪ block", prs: []ProfileRules{{Restrictions: allow(yubi)}, {Restrictions: block(yubi, other)}}, want: block(other)},
		{name: "block ∪ allow", prs: []ProfileRules{{Restrictions: block(yubi, other)}, {Restrictions: allow(other)}}, want: block(yubi)},
		{name: "one unrestricted profile accepts every model", prs: []ProfileRules{{Restrictions: allow(yubi)}, {}}, want: nil},
		{name: "attestation only when every profile enforces", prs: []ProfileRules{{AttestationEnforced: true}, {}}, att: false},
		{name: "empty allow list accepts nothing", prs: []ProfileRules{{Restrictions: allow()}}, want: allow()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			att, kr := combine(tt.prs)
			if att != tt.att {
				t.Errorf("attestation %v, want %v", att, tt.att)
			}
			if (kr == nil) != (tt.want == nil) {
				t.Fatalf("restrictions %+v, want %+v", kr, tt.want)
			}
			if kr != nil {
				w := slices.Sorted(slices.Values(tt.want.AAGUIDs))
				if kr.AllowList() != tt.want.AllowList() || !slices.Equal(kr.AAGUIDs, w) {
					t.Errorf("restrictions %+v, want %+v", kr, tt.want)
				}
			}
			// The folded rules refuse a model only when every profile does.
			for _, g := range []string{yubi, other, third} {
				for _, attested := range []bool{true, false} {
					k := PasskeyRules{Profiles: tt.prs, AttestationEnforced: att}
					if kr != nil {
						k.Restrictions = []KeyRestrictions{*kr}
					}
					folded := kr.Allows(g) && (!att || attested)
					if !folded && len(tt.prs) > 0 && len(k.Refusals(g, attested)) == 0 {
						t.Errorf("%s attested=%v: the folded rules refuse what a profile accepts", g, attested)
					}
				}
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	def := ProfileRules{ID: "00000000-0000-0000-0000-000000000001", Name: "Default passkey profile", AttestationEnforced: true}
	strict := ProfileRules{ID: "p-strict", Name: "Strict", Restrictions: allow(yubi)}
	blocking := ProfileRules{ID: "p-b", Name: "Blocking", Restrictions: block(other)}
	legacy := ProfileRules{AttestationEnforced: true, Restrictions: block(other)}
	tests := []struct {
		name     string
		prs      []ProfileRules
		aaguid   string
		attested bool
		want     []KeyRefusal
	}{
		{name: "self-attesting key, default profile enforces", prs: []ProfileRules{def}, aaguid: yubi,
			want: []KeyRefusal{{Profile: "Default passkey profile", Code: CodeAttestation,
				Msg: `passkey profile "Default passkey profile" enforces attestation and the key attests itself without a trusted certificate`,
				Fix: `keyprep policy set fido2 --profile "Default passkey profile" --enforce-attestation off`}}},
		{name: "attested key passes", prs: []ProfileRules{def}, aaguid: yubi, attested: true},
		{name: "not on the allow list", prs: []ProfileRules{strict}, aaguid: strings.ToUpper(other), attested: true,
			want: []KeyRefusal{{Profile: "Strict", Code: CodeKeyRestrictions,
				Msg: `the key model (AAGUID ` + other + `) is not on the allow list of passkey profile "Strict"`,
				Fix: `keyprep policy set fido2 --profile Strict --add-aaguid ` + other}}},
		{name: "on the block list", prs: []ProfileRules{blocking}, aaguid: other, attested: true,
			want: []KeyRefusal{{Profile: "Blocking", Code: CodeKeyRestrictions,
				Msg: `the key model (AAGUID ` + other + `) is on the block list of passkey profile "Blocking"`,
				Fix: `keyprep policy set fido2 --profile Blocking --remove-aaguid ` + other}}},
		{name: "one of two profiles accepts", prs: []ProfileRules{def, strict}, aaguid: yubi},
		{name: "both refuse: one refusal each", prs: []ProfileRules{def, strict}, aaguid: other,
			want: []KeyRefusal{{Profile: "Default passkey profile", Code: CodeAttestation}, {Profile: "Strict", Code: CodeKeyRestrictions}}},
		{name: "policy-wide settings", prs: []ProfileRules{legacy}, aaguid: yubi,
			want: []KeyRefusal{{Code: CodeAttestation,
				Msg: "the Passkey (FIDO2) policy enforces attestation and the key attests itself without a trusted certificate",
				Fix: "keyprep policy set fido2 --enforce-attestation off"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &PasskeyRules{Profiles: tt.prs}
			got := k.Refusals(tt.aaguid, tt.attested)
			if len(got) != len(tt.want) {
				t.Fatalf("refusals %+v, want %+v", got, tt.want)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Profile != w.Profile || g.Code != w.Code || (w.Msg != "" && g.Msg != w.Msg) || (w.Fix != "" && g.Fix != w.Fix) {
					t.Errorf("refusal %d\n%+v\nwant\n%+v", i, g, w)
				}
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"Strict":                               "Strict",
		"Default passkey profile":              `"Default passkey profile"`,
		`Bob's "keys"`:                         `'Bob'\''s "keys"'`,
		"":                                     `""`,
		"00000000-0000-0000-0000-000000000001": "00000000-0000-0000-0000-000000000001",
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestEditWarnings(t *testing.T) {
	p := fido2()
	off, on := false, true
	tests := []struct {
		name string
		p    *Fido2Policy
		edit Fido2Edit
		want []string // substrings, one per warning
	}{
		{name: "attestation off, a profile enforces", p: p, edit: Fido2Edit{EnforceAtt: &off},
			want: []string{`passkey profile "Strict" enforces attestation: keyprep policy set fido2 --profile Strict --enforce-attestation off`}},
		{name: "attestation on, a profile does not", p: p, edit: Fido2Edit{EnforceAtt: &on},
			want: []string{`passkey profile "Default" does not enforce attestation: keyprep policy set fido2 --profile Default --enforce-attestation on`}},
		{name: "restrictions", p: p, edit: Fido2Edit{AddAAGUIDs: []string{yubi}},
			want: []string{`keyRestrictions (deprecated) no longer decides, the passkey profiles do (profiles: "Default", "Strict"); to change a profile: keyprep policy set fido2 --profile Default --add-aaguid ` + yubi}},
		{name: "with --profile", p: p, edit: Fido2Edit{Profile: "Strict", EnforceAtt: &off}},
		{name: "no profiles", p: &Fido2Policy{}, edit: Fido2Edit{EnforceAtt: &off}},
		{name: "self-service only", p: p, edit: Fido2Edit{SelfService: &on}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.edit.Warnings(tt.p, "--add-aaguid "+yubi)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings %q, want %q", got, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q, want %q", got[i], w)
				}
			}
		})
	}
}

func TestEvaluateKey(t *testing.T) {
	p := fido2()
	tests := []struct {
		name   string
		member Membership
		key    Key
		answer Answer
		fix    string
	}{
		{name: "strict profile refuses another model", member: in(groupA), key: Key{AAGUID: other, Attested: true}, answer: No,
			fix: "keyprep policy set fido2 --profile Strict --add-aaguid " + other},
		{name: "strict profile refuses self attestation", member: in(groupA), key: Key{AAGUID: yubi}, answer: No,
			fix: "keyprep policy set fido2 --profile Strict --enforce-attestation off"},
		{name: "strict profile takes its model", member: in(groupA), key: Key{AAGUID: yubi, Attested: true}, answer: Yes},
		{name: "default profile takes anything", member: in(groupB), key: Key{AAGUID: other}, answer: Yes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := Evaluate(Input{User: member, Fido2: p, Membership: tt.member, Key: &tt.key})
			v := rep.Verdict(FlowPasskey)
			if v.Answer != tt.answer {
				t.Fatalf("answer %v: %+v", v.Answer, v.Findings)
			}
			el := rep.Eligibility()
			if tt.fix != "" && el.Hint != tt.fix {
				t.Errorf("hint %q, want %q", el.Hint, tt.fix)
			}
			named := false
			for _, f := range v.Findings {
				if f.Status == NotOK && strings.Contains(f.Message, `passkey profile "Strict"`) {
					named = true
				}
			}
			if tt.answer == No && !named {
				t.Errorf("no refusal names the profile: %+v", v.Findings)
			}
		})
	}
	// Without a key the findings name the profile's rules and the command.
	rep := Evaluate(Input{User: member, Fido2: p, Membership: in(groupA)})
	var msgs []string
	for _, f := range rep.Findings {
		msgs = append(msgs, f.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, w := range []string{`Passkey profile "Strict": attestation enforced`, "keyprep policy set fido2 --profile Strict --enforce-attestation off",
		`Passkey profile "Strict": key restrictions: allow only ` + yubi} {
		if !strings.Contains(all, w) {
			t.Errorf("findings lack %q:\n%s", w, all)
		}
	}
}
