package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Change is one setting a `policy set` changes: the Graph property (or
// "lifetime" for the three TAP lifetimes; passkeyProfiles[NAME].member for
// a passkey profile's), its old and new value, and both in words as
// `policy show` prints them.
type Change struct {
	Field   string `json:"field"`
	Old     any    `json:"old"`
	New     any    `json:"new"`
	Label   string `json:"-"`
	OldText string `json:"-"`
	NewText string `json:"-"`
}

// diff compares two setting lists of the same policy kind.
func diff(before, after []Setting) []Change {
	var out []Change
	for i := range min(len(before), len(after)) {
		b, a := before[i], after[i]
		if reflect.DeepEqual(b.Value, a.Value) && b.Text == a.Text {
			continue
		}
		label := b.Label
		if b.Group != "" {
			label = b.Group + " " + b.Label
		}
		out = append(out, Change{Field: b.Field, Old: b.Value, New: a.Value, Label: label, OldText: b.Text, NewText: a.Text})
	}
	return out
}

// Fido2Changes lists what differs between two Passkey (FIDO2) policies.
func Fido2Changes(before, after *Fido2Policy, names Names) []Change {
	return diff(Fido2Settings(before, names), Fido2Settings(after, names))
}

// TAPChanges lists what differs between two Temporary Access Pass policies.
func TAPChanges(before, after *TAPPolicy, names Names) []Change {
	return diff(TAPSettings(before, names), TAPSettings(after, names))
}

// State values of a method policy.
const (
	StateEnabled  = "enabled"
	StateDisabled = "disabled"
)

// Fido2Edit is what a `policy set fido2` asks for; zero fields keep the
// policy's value.
type Fido2Edit struct {
	State string // enabled, disabled or ""
	// Include and Exclude replace the targets when not nil (group ids or
	// all_users); an empty, non-nil Exclude clears the exclusions.
	// RemoveExclude then drops these ids from the exclusions.
	Include, Exclude []Target
	RemoveExclude    []string
	SelfService      *bool
	// Profile names the passkey profile (name or id) that EnforceAtt and
	// the key-restriction edits apply to; "" applies them to the
	// policy-wide (deprecated) isAttestationEnforced and keyRestrictions.
	Profile    string
	EnforceAtt *bool
	// Restrictions replaces the key restrictions when not nil.
	Restrictions *KeyRestrictions
	// AddAAGUIDs and RemoveAAGUIDs edit the current list (allow or block,
	// whichever it is); EnforceRestrictions turns its enforcement on or
	// off. They apply after Restrictions.
	AddAAGUIDs, RemoveAAGUIDs []string
	EnforceRestrictions       *bool
}

// Apply returns p with the edit applied; p is not changed. A target that
// stays keeps its allowed passkey profiles and registration requirement; a
// new one gets the default passkey profile. An unknown Profile is an error
// that lists the policy's profiles.
func (e Fido2Edit) Apply(p *Fido2Policy) (Fido2Policy, error) {
	n := *p
	n.PasskeyProfiles = slices.Clone(p.PasskeyProfiles)
	if e.State != "" {
		n.State = e.State
	}
	if e.Include != nil {
		include := make([]Target, len(e.Include))
		copy(include, e.Include)
		for i := range include {
			for _, old := range p.IncludeTargets {
				if strings.EqualFold(old.ID, include[i].ID) {
					include[i].AllowedPasskeyProfiles = old.AllowedPasskeyProfiles
					include[i].IsRegistrationRequired = old.IsRegistrationRequired
				}
			}
			if include[i].AllowedPasskeyProfiles == nil && n.DefaultPasskeyProfile != "" {
				include[i].AllowedPasskeyProfiles = []string{n.DefaultPasskeyProfile}
			}
		}
		n.IncludeTargets = include
	}
	n.ExcludeTargets = editExclude(p.ExcludeTargets, e.Exclude, e.RemoveExclude)
	if e.SelfService != nil {
		n.IsSelfServiceRegistrationAllowed = *e.SelfService
	}
	att, kr := &n.IsAttestationEnforced, &n.KeyRestrictions
	var enforcement *string
	if e.Profile != "" {
		pp, err := n.FindProfile(e.Profile)
		if err != nil {
			return n, err
		}
		enforcement, kr = &pp.AttestationEnforcement, &pp.KeyRestrictions
		att = nil
	}
	if e.EnforceAtt != nil {
		if att != nil {
			*att = *e.EnforceAtt
		} else if *e.EnforceAtt {
			*enforcement = AttestationRegistrationOnly
		} else {
			*enforcement = AttestationDisabled
		}
	}
	*kr = e.editRestrictions(*kr)
	return n, nil
}

// editRestrictions applies the key-restriction edits to k (not changed);
// with none, k itself is returned.
func (e Fido2Edit) editRestrictions(k *KeyRestrictions) *KeyRestrictions {
	if e.Restrictions == nil && e.AddAAGUIDs == nil && e.RemoveAAGUIDs == nil && e.EnforceRestrictions == nil {
		return k
	}
	n := NoRestrictions()
	if k != nil {
		c := *k
		n = &c
		n.AAGUIDs = slices.Clone(k.AAGUIDs)
	}
	if e.Restrictions != nil {
		c := *e.Restrictions
		n = &c
		n.AAGUIDs = slices.Clone(e.Restrictions.AAGUIDs)
	}
	for _, a := range lower(e.AddAAGUIDs) {
		if !slices.ContainsFunc(n.AAGUIDs, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), a) }) {
			n.AAGUIDs = append(n.AAGUIDs, a)
		}
	}
	for _, a := range lower(e.RemoveAAGUIDs) {
		n.AAGUIDs = slices.DeleteFunc(n.AAGUIDs, func(x string) bool { return strings.EqualFold(strings.TrimSpace(x), a) })
	}
	if n.AAGUIDs == nil {
		n.AAGUIDs = []string{}
	}
	if e.EnforceRestrictions != nil {
		n.IsEnforced = *e.EnforceRestrictions
	}
	return n
}

// NoRestrictions, AllowOnly and BlockList build key restrictions for a
// Fido2Edit; AAGUIDs are kept in lower case.
func NoRestrictions() *KeyRestrictions {
	return &KeyRestrictions{IsEnforced: false, EnforcementType: "block", AAGUIDs: []string{}}
}

// AllowOnly restricts keys to the listed models.
func AllowOnly(aaguids []string) *KeyRestrictions {
	return &KeyRestrictions{IsEnforced: true, EnforcementType: "allow", AAGUIDs: lower(aaguids)}
}

// BlockList refuses the listed models.
func BlockList(aaguids []string) *KeyRestrictions {
	return &KeyRestrictions{IsEnforced: true, EnforcementType: "block", AAGUIDs: lower(aaguids)}
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// TAPEdit is what a `policy set tap` asks for; zero fields keep the
// policy's value.
type TAPEdit struct {
	State            string
	Include, Exclude []Target
	RemoveExclude    []string // ids dropped from the exclusions (after Exclude)
	OneTime          *bool
	// Lifetimes in minutes; 0 keeps the policy's.
	DefaultLifetime, MinLifetime, MaxLifetime int
	Length                                    int
}

// Apply returns p with the edit applied; the caller validates the result
// (TAPPolicy.Validate).
func (e TAPEdit) Apply(p *TAPPolicy) TAPPolicy {
	n := *p
	if e.State != "" {
		n.State = e.State
	}
	if e.Include != nil {
		n.IncludeTargets = e.Include
	}
	n.ExcludeTargets = editExclude(p.ExcludeTargets, e.Exclude, e.RemoveExclude)
	if e.OneTime != nil {
		n.IsUsableOnce = *e.OneTime
	}
	if e.DefaultLifetime != 0 {
		n.DefaultLifetimeInMinutes = e.DefaultLifetime
	}
	if e.MinLifetime != 0 {
		n.MinimumLifetimeInMinutes = e.MinLifetime
	}
	if e.MaxLifetime != 0 {
		n.MaximumLifetimeInMinutes = e.MaxLifetime
	}
	if e.Length != 0 {
		n.DefaultLength = e.Length
	}
	return n
}

// editExclude returns the exclusions cur with set replacing them (when not
// nil) and the ids in remove dropped; cur is not changed.
func editExclude(cur, set []Target, remove []string) []Target {
	out := cur
	if set != nil {
		out = set
	}
	if len(remove) == 0 {
		return out
	}
	kept := []Target{}
	for _, t := range out {
		if !slices.ContainsFunc(remove, func(id string) bool { return strings.EqualFold(id, t.ID) }) {
			kept = append(kept, t)
		}
	}
	return kept
}

// Overlaps warns about targets that are both included and excluded: the
// exclusion wins, so the group's members cannot use the method
// (https://learn.microsoft.com/en-us/entra/identity/authentication/concept-authentication-methods-manage).
func Overlaps(method string, include, exclude []Target, names Names) []string {
	var out []string
	for _, ex := range exclude {
		if slices.ContainsFunc(include, func(in Target) bool { return strings.EqualFold(in.ID, ex.ID) }) {
			out = append(out, fmt.Sprintf("%s is both included in and excluded from the %s policy: the exclusion wins, so its members cannot use the method (remove one: --remove-exclude-group, or --include-group without it)",
				names.Target(ex.ID), method))
		}
	}
	return out
}
