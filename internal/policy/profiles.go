package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Attestation enforcement values of a passkey profile
// (https://learn.microsoft.com/graph/api/resources/passkeyprofile).
const (
	AttestationDisabled         = "disabled"
	AttestationRegistrationOnly = "registrationOnly"
)

// Enforces reports whether the profile enforces attestation at
// registration.
func (pp *PasskeyProfile) Enforces() bool {
	return strings.EqualFold(pp.AttestationEnforcement, AttestationRegistrationOnly)
}

// Label is the profile's name, or its id when it has none.
func (pp *PasskeyProfile) Label() string {
	if pp.Name != "" {
		return pp.Name
	}
	return pp.ID
}

// FindProfile returns the passkey profile named (case-insensitive) or
// with the id nameOrID, or an error that lists the policy's profiles.
func (p *Fido2Policy) FindProfile(nameOrID string) (*PasskeyProfile, error) {
	want := strings.TrimSpace(nameOrID)
	for i := range p.PasskeyProfiles {
		if strings.EqualFold(p.PasskeyProfiles[i].ID, want) {
			return &p.PasskeyProfiles[i], nil
		}
	}
	var found *PasskeyProfile
	for i := range p.PasskeyProfiles {
		if strings.EqualFold(p.PasskeyProfiles[i].Name, want) {
			if found != nil {
				return nil, fmt.Errorf("several passkey profiles are named %q: give the profile's id (%s, %s)", want, found.ID, p.PasskeyProfiles[i].ID)
			}
			found = &p.PasskeyProfiles[i]
		}
	}
	if found != nil {
		return found, nil
	}
	if len(p.PasskeyProfiles) == 0 {
		return nil, fmt.Errorf("the Passkey (FIDO2) policy has no passkey profiles (the tenant has not moved to passkey profiles): leave out --profile")
	}
	names := make([]string, len(p.PasskeyProfiles))
	for i, pp := range p.PasskeyProfiles {
		names[i] = fmt.Sprintf("%q (%s)", pp.Label(), pp.ID)
	}
	return nil, fmt.Errorf("no passkey profile %q in the Passkey (FIDO2) policy; its profiles: %s", want, strings.Join(names, ", "))
}

// UsesProfiles reports whether the tenant has moved to passkey profiles.
// Then the profiles decide attestation and key models, and the
// policy-wide isAttestationEnforced and keyRestrictions (deprecated, to be
// removed in October 2027) no longer do: the migration moved them into
// the default passkey profile (docs/graph.md §6.1).
func (p *Fido2Policy) UsesProfiles() bool { return len(p.PasskeyProfiles) > 0 }

// ProfileRules are the key rules of one passkey profile, or of the
// policy-wide settings of a tenant without profiles (Name "").
type ProfileRules struct {
	ID, Name            string
	AttestationEnforced bool
	// Restrictions are the enforced AAGUID rule, nil when none.
	Restrictions *KeyRestrictions
}

// Label names the rules for people: `passkey profile "NAME"`, or the
// Passkey (FIDO2) policy for the policy-wide settings.
func (pr ProfileRules) Label() string {
	if pr.Name == "" && pr.ID == "" {
		return "the Passkey (FIDO2) policy"
	}
	return fmt.Sprintf("passkey profile %q", pr.label())
}

func (pr ProfileRules) label() string {
	if pr.Name != "" {
		return pr.Name
	}
	return pr.ID
}

// SetCommand is the keyprep command that changes these rules with flags
// (e.g. "--enforce-attestation off").
func (pr ProfileRules) SetCommand(flags string) string {
	if pr.Name == "" && pr.ID == "" {
		return "keyprep policy set fido2 " + flags
	}
	return ProfileSetCommand(pr.label(), flags)
}

// ProfileSetCommand is `keyprep policy set fido2 --profile NAME FLAGS`
// with the name quoted for a POSIX shell when it needs it.
func ProfileSetCommand(profile, flags string) string {
	return "keyprep policy set fido2 --profile " + ShellQuote(profile) + " " + flags
}

// ShellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_.:/@%+=, (a profile name such as "Default passkey
// profile").
func ShellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@%+=,", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	if !strings.ContainsAny(s, `"\$`+"`!") {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// KeyRefusal is why one set of rules refuses a key model: Msg names the
// rules (the passkey profile) and what it refuses, Fix is the command that
// would accept the key.
type KeyRefusal struct {
	Profile string // the profile's name ("" for the policy-wide settings)
	Code    Code   // CodeAttestation or CodeKeyRestrictions
	Msg     string
	Fix     string
}

// refusal says why pr refuses a key model (AAGUID; attested: it carries an
// attestation certificate the tenant trusts), or nil.
func (pr ProfileRules) refusal(aaguid string, attested bool) *KeyRefusal {
	aaguid = strings.ToLower(strings.TrimSpace(aaguid))
	if kr := pr.Restrictions; kr != nil && !kr.Allows(aaguid) {
		if kr.AllowList() {
			return &KeyRefusal{Profile: pr.Name, Code: CodeKeyRestrictions,
				Msg: fmt.Sprintf("the key model (AAGUID %s) is not on the allow list of %s", aaguid, pr.Label()),
				Fix: pr.SetCommand("--add-aaguid " + aaguid)}
		}
		return &KeyRefusal{Profile: pr.Name, Code: CodeKeyRestrictions,
			Msg: fmt.Sprintf("the key model (AAGUID %s) is on the block list of %s", aaguid, pr.Label()),
			Fix: pr.SetCommand("--remove-aaguid " + aaguid)}
	}
	if pr.AttestationEnforced && !attested {
		return &KeyRefusal{Profile: pr.Name, Code: CodeAttestation,
			Msg: fmt.Sprintf("%s enforces attestation and the key attests itself without a trusted certificate", pr.Label()),
			Fix: pr.SetCommand("--enforce-attestation off")}
	}
	return nil
}

// Refusals says whether the rules take a key model: nil when one of the
// profiles that apply (or the policy-wide settings) accepts it, else one
// refusal per profile (Entra accepts a passkey that satisfies any one of
// the user's profiles).
func (k *PasskeyRules) Refusals(aaguid string, attested bool) []KeyRefusal {
	if k == nil {
		return nil
	}
	var out []KeyRefusal
	for _, pr := range k.Profiles {
		r := pr.refusal(aaguid, attested)
		if r == nil {
			return nil
		}
		out = append(out, *r)
	}
	return out
}

// combine folds the rules of the profiles that apply into the single rule
// set a preflight checks: attestation enforced when every profile enforces
// it, and the union of what their key restrictions accept. A key the
// combined rules refuse is refused by every profile; the converse is not
// guaranteed (a key may pass one profile's attestation rule and another's
// key restrictions), and Entra then refuses it at registration.
func combine(prs []ProfileRules) (attestation bool, restrictions *KeyRestrictions) {
	if len(prs) == 0 {
		return false, nil
	}
	attestation = true
	// allow: accepted = set; !allow: accepted = everything but set.
	allow, set := prs[0].Restrictions.AllowList(), aaguidSet(prs[0].Restrictions)
	for i, pr := range prs {
		attestation = attestation && pr.AttestationEnforced
		if i == 0 {
			continue
		}
		a, s := pr.Restrictions.AllowList(), aaguidSet(pr.Restrictions)
		switch {
		case allow && a: // A ∪ B
			for g := range s {
				set[g] = true
			}
		case !allow && !a: // not A ∪ not B = not (A ∩ B)
			for g := range set {
				if !s[g] {
					delete(set, g)
				}
			}
		case allow && !a: // A ∪ not B = not (B \ A)
			for g := range set {
				delete(s, g)
			}
			allow, set = false, s
		default: // not A ∪ B = not (A \ B)
			for g := range s {
				delete(set, g)
			}
		}
	}
	if !allow && len(set) == 0 {
		return attestation, nil
	}
	kr := &KeyRestrictions{IsEnforced: true, EnforcementType: "block", AAGUIDs: []string{}}
	if allow {
		kr.EnforcementType = "allow"
	}
	for g := range set {
		kr.AAGUIDs = append(kr.AAGUIDs, g)
	}
	slices.Sort(kr.AAGUIDs)
	return attestation, kr
}

// aaguidSet is the AAGUIDs of enforced restrictions, lower case; an empty
// set for none (an unenforced block list accepts everything).
func aaguidSet(k *KeyRestrictions) map[string]bool {
	m := map[string]bool{}
	if k == nil || !k.IsEnforced {
		return m
	}
	for _, a := range k.AAGUIDs {
		m[strings.ToLower(strings.TrimSpace(a))] = true
	}
	return m
}

func enforced(kr *KeyRestrictions) *KeyRestrictions {
	if kr == nil || !kr.IsEnforced {
		return nil
	}
	c := *kr
	c.AAGUIDs = lower(kr.AAGUIDs)
	return &c
}

// rulesOf are the key rules of one passkey profile.
func rulesOf(pp *PasskeyProfile) ProfileRules {
	return ProfileRules{ID: pp.ID, Name: pp.Label(), AttestationEnforced: pp.Enforces(), Restrictions: enforced(pp.KeyRestrictions)}
}

// Warnings says what an edit of the policy-wide attestation or key
// restriction settings does not do in a tenant with passkey profiles, and
// the command for each profile that decides instead; restrictionFlags are
// the key-restriction flags as given, for that command.
func (e Fido2Edit) Warnings(p *Fido2Policy, restrictionFlags string) []string {
	if e.Profile != "" || !p.UsesProfiles() {
		return nil
	}
	var out []string
	const deprecated = "the tenant uses passkey profiles: the policy-wide %s (deprecated) no longer decides, the passkey profiles do"
	if e.EnforceAtt != nil {
		var cmds []string
		for i := range p.PasskeyProfiles {
			pp := &p.PasskeyProfiles[i]
			if pp.Enforces() != *e.EnforceAtt {
				state := "does not enforce"
				if pp.Enforces() {
					state = "enforces"
				}
				cmds = append(cmds, fmt.Sprintf("passkey profile %q %s attestation: %s", pp.Label(), state,
					ProfileSetCommand(pp.Label(), "--enforce-attestation "+OnOff(*e.EnforceAtt))))
			}
		}
		if len(cmds) > 0 {
			out = append(out, fmt.Sprintf(deprecated, "isAttestationEnforced")+"; "+strings.Join(cmds, "; "))
		}
	}
	if e.Restrictions != nil || e.AddAAGUIDs != nil || e.RemoveAAGUIDs != nil || e.EnforceRestrictions != nil {
		names := make([]string, len(p.PasskeyProfiles))
		for i := range p.PasskeyProfiles {
			names[i] = fmt.Sprintf("%q", p.PasskeyProfiles[i].Label())
		}
		def := p.PasskeyProfiles[0].Label()
		if d := p.Profile(p.DefaultPasskeyProfile); d != nil {
			def = d.Label()
		}
		out = append(out, fmt.Sprintf(deprecated, "keyRestrictions")+" (profiles: "+strings.Join(names, ", ")+
			"); to change a profile: "+ProfileSetCommand(def, restrictionFlags))
	}
	return out
}
