package policy

import (
	"fmt"
	"strings"
	"time"
)

// Names maps group object ids to display names, for messages. An id
// without a name is shown as the id.
type Names map[string]string

// Target names a target for people: "all users", "Name" (id), or the id.
func (n Names) Target(id string) string {
	if id == AllUsers {
		return "all users"
	}
	for k, v := range n {
		if v != "" && strings.EqualFold(k, id) {
			return fmt.Sprintf("%q (%s)", v, id)
		}
	}
	return id
}

// TargetList names targets for people, "none" when there are none.
func (n Names) TargetList(ts []Target) string {
	if len(ts) == 0 {
		return "none"
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = n.Target(t.ID)
	}
	return strings.Join(s, ", ")
}

// OnOff is a setting in words.
func OnOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// RestrictionsText describes key restrictions in words.
func RestrictionsText(k *KeyRestrictions) string {
	if k == nil || (!k.IsEnforced && len(k.AAGUIDs) == 0) {
		return "none (every key model)"
	}
	verb := "block"
	if k.AllowList() {
		verb = "allow only"
	}
	list := verb + " (empty list)"
	if len(k.AAGUIDs) > 0 {
		list = verb + " " + strings.Join(k.AAGUIDs, ", ")
	}
	if !k.IsEnforced {
		return "none (every key model; not enforced: " + list + ")"
	}
	return list
}

// Minutes renders a lifetime in minutes the short way, in keyprep's
// duration grammar (docs/architecture.md): 1d, 8h, 1h30m, 30d1m.
func Minutes(n int) string {
	if n <= 0 {
		return fmt.Sprintf("%dm", n)
	}
	return Duration(time.Duration(n) * time.Minute)
}

// Setting is one line of a policy as `policy show` lists it: the Graph
// property (or group of properties), its label, its value and the value in
// words.
type Setting struct {
	Field string
	Label string
	Value any
	Text  string
	// Group names the passkey profile a setting belongs to, for a heading
	// (`passkey profile "NAME" (default)`); "" for the policy's own.
	Group string
}

// targetIDs are a target list's ids, the part a person sets.
func targetIDs(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = strings.ToLower(t.ID)
	}
	return out
}

// Fido2Settings lists the Passkey (FIDO2) policy's settings in the order
// `policy show` prints them, the passkey profiles' last (attestation
// enforcement and key restrictions, fields named
// passkeyProfiles[NAME].attestationEnforcement and
// passkeyProfiles[NAME].keyRestrictions).
func Fido2Settings(p *Fido2Policy, names Names) []Setting {
	ss := OnOff(p.IsSelfServiceRegistrationAllowed)
	if !p.IsSelfServiceRegistrationAllowed {
		ss += "  (the provisioning API requires it on)"
	}
	// With passkey profiles the policy-wide settings no longer decide.
	deprecated := ""
	if p.UsesProfiles() {
		deprecated = "  (deprecated: the passkey profiles decide)"
	}
	out := []Setting{
		{"state", "state", p.State, p.State, ""},
		{"includeTargets", "include", targetIDs(p.IncludeTargets), names.TargetList(p.IncludeTargets), ""},
		{"excludeTargets", "exclude", targetIDs(p.ExcludeTargets), names.TargetList(p.ExcludeTargets), ""},
		{"isSelfServiceRegistrationAllowed", "self-service setup", p.IsSelfServiceRegistrationAllowed, ss, ""},
		{"isAttestationEnforced", "enforce attestation", p.IsAttestationEnforced, OnOff(p.IsAttestationEnforced) + deprecated, ""},
		{"keyRestrictions", "key restrictions", restrictionsValue(p.KeyRestrictions), RestrictionsText(p.KeyRestrictions) + deprecated, ""},
	}
	for i := range p.PasskeyProfiles {
		pp := &p.PasskeyProfiles[i]
		field := "passkeyProfiles[" + pp.Label() + "]."
		group := fmt.Sprintf("passkey profile %q", pp.Label())
		if strings.EqualFold(pp.ID, p.DefaultPasskeyProfile) {
			group += " (default)"
		}
		out = append(out,
			Setting{field + "passkeyTypes", "passkey types", pp.PasskeyTypes, pp.PasskeyTypes, group},
			Setting{field + "attestationEnforcement", "attestation", pp.AttestationEnforcement, AttestationText(pp), group},
			Setting{field + "keyRestrictions", "key restrictions", restrictionsValue(pp.KeyRestrictions), RestrictionsText(pp.KeyRestrictions), group})
	}
	return out
}

// AttestationText is a profile's attestation enforcement in words.
func AttestationText(pp *PasskeyProfile) string {
	if pp.Enforces() {
		return "enforced (" + pp.AttestationEnforcement + ")"
	}
	return "off (" + pp.AttestationEnforcement + ")"
}

// restrictionsValue is key restrictions as a change set shows them: nil
// when not enforced and empty, else a copy.
func restrictionsValue(k *KeyRestrictions) *KeyRestrictions {
	if k == nil || (!k.IsEnforced && len(k.AAGUIDs) == 0) {
		return nil
	}
	c := *k
	return &c
}

// TAPLifetimes are the TAP policy's three lifetimes, which are set and
// validated together.
type TAPLifetimes struct {
	Default int `json:"defaultLifetimeInMinutes"`
	Minimum int `json:"minimumLifetimeInMinutes"`
	Maximum int `json:"maximumLifetimeInMinutes"`
}

// TAPSettings lists the Temporary Access Pass policy's settings in the
// order `policy show` prints them.
func TAPSettings(p *TAPPolicy, names Names) []Setting {
	once := "no (multi-use passes allowed)"
	if p.IsUsableOnce {
		once = "yes (every pass is one-time)"
	}
	return []Setting{
		{"state", "state", p.State, p.State, ""},
		{"includeTargets", "include", targetIDs(p.IncludeTargets), names.TargetList(p.IncludeTargets), ""},
		{"excludeTargets", "exclude", targetIDs(p.ExcludeTargets), names.TargetList(p.ExcludeTargets), ""},
		{"lifetime", "lifetime", TAPLifetimes{p.DefaultLifetimeInMinutes, p.MinimumLifetimeInMinutes, p.MaximumLifetimeInMinutes},
			fmt.Sprintf("default %s, minimum %s, maximum %s", Minutes(p.DefaultLifetimeInMinutes), Minutes(p.MinimumLifetimeInMinutes), Minutes(p.MaximumLifetimeInMinutes)), ""},
		{"defaultLength", "length", p.DefaultLength, fmt.Sprintf("%d characters", p.DefaultLength), ""},
		{"isUsableOnce", "one-time use", p.IsUsableOnce, once, ""},
	}
}
