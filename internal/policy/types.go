package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// KeyRestrictions is fido2KeyRestrictions: an allow or block list of key
// models (AAGUIDs).
// https://learn.microsoft.com/graph/api/resources/fido2keyrestrictions
type KeyRestrictions struct {
	IsEnforced      bool     `json:"isEnforced"`
	EnforcementType string   `json:"enforcementType,omitempty"` // allow, block
	AAGUIDs         []string `json:"aaGuids"`
}

// AllowList reports an allow list (as opposed to a block list).
func (k *KeyRestrictions) AllowList() bool {
	return k != nil && strings.EqualFold(k.EnforcementType, "allow")
}

// Allows reports whether the restrictions accept a key model (AAGUID). Nil
// or unenforced restrictions allow everything.
func (k *KeyRestrictions) Allows(aaguid string) bool {
	if k == nil || !k.IsEnforced {
		return true
	}
	listed := false
	for _, a := range k.AAGUIDs {
		if strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(aaguid)) {
			listed = true
			break
		}
	}
	if k.AllowList() {
		return listed
	}
	return !listed
}

// PasskeyProfile is a passkey profile of the Passkey (FIDO2) policy: which
// passkey types, attestation and key models it accepts.
type PasskeyProfile struct {
	ID                     string           `json:"id"`
	Name                   string           `json:"name,omitempty"`
	PasskeyTypes           string           `json:"passkeyTypes,omitempty"`           // "deviceBound", "deviceBound,synced"
	AttestationEnforcement string           `json:"attestationEnforcement,omitempty"` // disabled, registrationOnly
	KeyRestrictions        *KeyRestrictions `json:"keyRestrictions,omitempty"`
}

// Target is an include or exclude target of a method policy.
type Target struct {
	ID                     string   `json:"id"` // group or user object id, or all_users
	TargetType             string   `json:"targetType,omitempty"`
	IsRegistrationRequired bool     `json:"isRegistrationRequired"`
	AllowedPasskeyProfiles []string `json:"allowedPasskeyProfiles,omitempty"`
}

// AllUsers is the target id meaning every user.
const AllUsers = "all_users"

// Fido2Policy is fido2AuthenticationMethodConfiguration, the Passkey
// (FIDO2) method policy.
// https://learn.microsoft.com/graph/api/resources/fido2authenticationmethodconfiguration
type Fido2Policy struct {
	ID                               string           `json:"id,omitempty"`
	State                            string           `json:"state"` // enabled, disabled
	IsSelfServiceRegistrationAllowed bool             `json:"isSelfServiceRegistrationAllowed"`
	IsAttestationEnforced            bool             `json:"isAttestationEnforced"`
	KeyRestrictions                  *KeyRestrictions `json:"keyRestrictions,omitempty"`
	DefaultPasskeyProfile            string           `json:"defaultPasskeyProfile,omitempty"`
	PasskeyProfiles                  []PasskeyProfile `json:"passkeyProfiles,omitempty"`
	IncludeTargets                   []Target         `json:"includeTargets"`
	ExcludeTargets                   []Target         `json:"excludeTargets"`
}

// Enabled reports state enabled.
func (p *Fido2Policy) Enabled() bool { return strings.EqualFold(p.State, "enabled") }

// Profile returns the passkey profile with the given id, or nil.
func (p *Fido2Policy) Profile(id string) *PasskeyProfile {
	for i := range p.PasskeyProfiles {
		if strings.EqualFold(p.PasskeyProfiles[i].ID, id) {
			return &p.PasskeyProfiles[i]
		}
	}
	return nil
}

// TAP lifetime and length bounds of the API.
// https://learn.microsoft.com/graph/api/resources/temporaryaccesspassauthenticationmethodconfiguration
const (
	MinTAPLifetimeMinutes = 10
	MaxTAPLifetimeMinutes = 43200 // 30 days
	MinTAPLength          = 8
	MaxTAPLength          = 48
)

// MinTAPLifetime and MaxTAPLifetime are the API bounds as durations.
const (
	MinTAPLifetime = MinTAPLifetimeMinutes * time.Minute
	MaxTAPLifetime = MaxTAPLifetimeMinutes * time.Minute
)

// TAPPolicy is temporaryAccessPassAuthenticationMethodConfiguration, the
// Temporary Access Pass method policy.
// https://learn.microsoft.com/graph/api/resources/temporaryaccesspassauthenticationmethodconfiguration
type TAPPolicy struct {
	ID                       string   `json:"id,omitempty"`
	State                    string   `json:"state"`
	DefaultLifetimeInMinutes int      `json:"defaultLifetimeInMinutes"`
	MinimumLifetimeInMinutes int      `json:"minimumLifetimeInMinutes"`
	MaximumLifetimeInMinutes int      `json:"maximumLifetimeInMinutes"`
	DefaultLength            int      `json:"defaultLength"`
	IsUsableOnce             bool     `json:"isUsableOnce"`
	IncludeTargets           []Target `json:"includeTargets"`
	ExcludeTargets           []Target `json:"excludeTargets"`
}

// Enabled reports state enabled.
func (p *TAPPolicy) Enabled() bool { return strings.EqualFold(p.State, "enabled") }

// DefaultLifetime is the lifetime of a pass that asks for none.
func (p *TAPPolicy) DefaultLifetime() time.Duration {
	return time.Duration(p.DefaultLifetimeInMinutes) * time.Minute
}

// MinLifetime is the shortest lifetime the policy allows.
func (p *TAPPolicy) MinLifetime() time.Duration {
	return time.Duration(p.MinimumLifetimeInMinutes) * time.Minute
}

// MaxLifetime is the longest lifetime the policy allows.
func (p *TAPPolicy) MaxLifetime() time.Duration {
	return time.Duration(p.MaximumLifetimeInMinutes) * time.Minute
}

// Validate checks the documented ranges: lifetimes 10–43200 minutes with
// min ≤ default ≤ max, length 8–48, state enabled or disabled.
func (p *TAPPolicy) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"minimum lifetime", p.MinimumLifetimeInMinutes}, {"default lifetime", p.DefaultLifetimeInMinutes}, {"maximum lifetime", p.MaximumLifetimeInMinutes}} {
		if f.v < MinTAPLifetimeMinutes || f.v > MaxTAPLifetimeMinutes {
			errs = append(errs, fmt.Errorf("%s %s out of range: allowed %s to %s", f.name, Minutes(f.v), Minutes(MinTAPLifetimeMinutes), Minutes(MaxTAPLifetimeMinutes)))
		}
	}
	if p.MinimumLifetimeInMinutes > p.DefaultLifetimeInMinutes || p.DefaultLifetimeInMinutes > p.MaximumLifetimeInMinutes {
		errs = append(errs, fmt.Errorf("lifetimes must satisfy minimum ≤ default ≤ maximum (got %s ≤ %s ≤ %s)", Minutes(p.MinimumLifetimeInMinutes), Minutes(p.DefaultLifetimeInMinutes), Minutes(p.MaximumLifetimeInMinutes)))
	}
	if p.DefaultLength < MinTAPLength || p.DefaultLength > MaxTAPLength {
		errs = append(errs, fmt.Errorf("length %d out of range: allowed 8 to 48 characters", p.DefaultLength))
	}
	if !strings.EqualFold(p.State, "enabled") && !strings.EqualFold(p.State, "disabled") {
		errs = append(errs, fmt.Errorf("state %q: want enabled or disabled", p.State))
	}
	return errors.Join(errs...)
}

// User is the person the policies are applied to.
type User struct {
	ID          string
	UPN         string
	DisplayName string
	// UserType is Member or Guest as the directory says.
	UserType string
	// Guest: a guest account, by userType or an #EXT# UPN.
	Guest bool
	// External: an external (B2B) guest, whose UPN carries #EXT#; a guest
	// without it is an internal guest. Entra refuses a Temporary Access
	// Pass to external guests only (their home tenant issues theirs).
	External bool
}
