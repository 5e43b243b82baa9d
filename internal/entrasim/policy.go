package entrasim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// OData types of the two method configurations (docs/graph.md).
const (
	fido2ConfigType = "#microsoft.graph.fido2AuthenticationMethodConfiguration"
	tapConfigType   = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
	// DefaultPasskeyProfileID is the baseline passkey profile.
	DefaultPasskeyProfileID = "00000000-0000-0000-0000-000000000001"
	allUsers                = "all_users"
)

// keyRestrictions is fido2KeyRestrictions.
type keyRestrictions struct {
	ODataType       string   `json:"@odata.type,omitempty"`
	IsEnforced      bool     `json:"isEnforced"`
	EnforcementType string   `json:"enforcementType"`
	AAGUIDs         []string `json:"aaGuids"`
}

// passkeyTarget is passkeyAuthenticationMethodTarget.
type passkeyTarget struct {
	ODataType              string   `json:"@odata.type,omitempty"`
	ID                     string   `json:"id"`
	TargetType             string   `json:"targetType"`
	IsRegistrationRequired bool     `json:"isRegistrationRequired"`
	AllowedPasskeyProfiles []string `json:"allowedPasskeyProfiles"`
}

// tapTarget is authenticationMethodTarget.
type tapTarget struct {
	ODataType              string `json:"@odata.type,omitempty"`
	ID                     string `json:"id"`
	TargetType             string `json:"targetType"`
	IsRegistrationRequired bool   `json:"isRegistrationRequired"`
}

// excludeTarget is excludeTarget.
type excludeTarget struct {
	ODataType  string `json:"@odata.type,omitempty"`
	ID         string `json:"id"`
	TargetType string `json:"targetType"`
}

// passkeyProfile is passkeyProfile.
type passkeyProfile struct {
	ODataType              string          `json:"@odata.type,omitempty"`
	ID                     string          `json:"id"`
	Name                   string          `json:"name"`
	PasskeyTypes           string          `json:"passkeyTypes"`
	AttestationEnforcement string          `json:"attestationEnforcement"`
	KeyRestrictions        keyRestrictions `json:"keyRestrictions"`
}

// fido2Policy is fido2AuthenticationMethodConfiguration.
type fido2Policy struct {
	ODataType                        string           `json:"@odata.type"`
	ID                               string           `json:"id"`
	State                            string           `json:"state"`
	IsSelfServiceRegistrationAllowed bool             `json:"isSelfServiceRegistrationAllowed"`
	IsAttestationEnforced            bool             `json:"isAttestationEnforced"`
	KeyRestrictions                  keyRestrictions  `json:"keyRestrictions"`
	DefaultPasskeyProfile            string           `json:"defaultPasskeyProfile"`
	IncludeTargets                   []passkeyTarget  `json:"includeTargets"`
	ExcludeTargets                   []excludeTarget  `json:"excludeTargets"`
	PasskeyProfiles                  []passkeyProfile `json:"passkeyProfiles"`
}

// tapPolicy is temporaryAccessPassAuthenticationMethodConfiguration.
type tapPolicy struct {
	ODataType                string          `json:"@odata.type"`
	ID                       string          `json:"id"`
	State                    string          `json:"state"`
	DefaultLifetimeInMinutes int             `json:"defaultLifetimeInMinutes"`
	MinimumLifetimeInMinutes int             `json:"minimumLifetimeInMinutes"`
	MaximumLifetimeInMinutes int             `json:"maximumLifetimeInMinutes"`
	DefaultLength            int             `json:"defaultLength"`
	IsUsableOnce             bool            `json:"isUsableOnce"`
	IncludeTargets           []tapTarget     `json:"includeTargets"`
	ExcludeTargets           []excludeTarget `json:"excludeTargets"`
}

// TAP bounds (docs/graph.md).
const (
	minTAPLifetime = 10
	maxTAPLifetime = 43200
	minTAPLength   = 8
	maxTAPLength   = 48
)

// defaultFido2Policy: enabled, self-service on, attestation enforced, key
// restrictions off, "Passkey Users" (when the seed has it, else all_users)
// as the include target with the default profile (deviceBound,
// registrationOnly attestation).
func defaultFido2Policy(groups []*groupRec) fido2Policy {
	target := allUsers
	for _, g := range groups {
		if strings.EqualFold(g.DisplayName, PasskeyGroup) {
			target = g.ID
		}
	}
	return fido2Policy{
		ODataType: fido2ConfigType, ID: "Fido2", State: "enabled",
		IsSelfServiceRegistrationAllowed: true, IsAttestationEnforced: true,
		KeyRestrictions:       keyRestrictions{EnforcementType: "block", AAGUIDs: []string{}},
		DefaultPasskeyProfile: DefaultPasskeyProfileID,
		IncludeTargets: []passkeyTarget{{ID: target, TargetType: "group",
			AllowedPasskeyProfiles: []string{DefaultPasskeyProfileID}}},
		ExcludeTargets: []excludeTarget{},
		PasskeyProfiles: []passkeyProfile{{ID: DefaultPasskeyProfileID, Name: "Default passkey profile",
			PasskeyTypes: "deviceBound", AttestationEnforcement: "registrationOnly",
			KeyRestrictions: keyRestrictions{EnforcementType: "block", AAGUIDs: []string{}}}},
	}
}

// defaultTAPPolicy: the portal defaults (1 h default and minimum,
// 8 h maximum, 8 characters, multi-use) targeting all_users.
func defaultTAPPolicy() tapPolicy {
	return tapPolicy{
		ODataType: tapConfigType, ID: "TemporaryAccessPass", State: "enabled",
		DefaultLifetimeInMinutes: 60, MinimumLifetimeInMinutes: 60, MaximumLifetimeInMinutes: 480,
		DefaultLength:  8,
		IncludeTargets: []tapTarget{{ID: allUsers, TargetType: "group"}},
		ExcludeTargets: []excludeTarget{},
	}
}

// normalize replaces nil collections with empty ones and clears nested
// @odata.type annotations a PATCH may have carried.
func (p *fido2Policy) normalize() {
	p.ODataType, p.ID = fido2ConfigType, "Fido2"
	normKR(&p.KeyRestrictions)
	if p.IncludeTargets == nil {
		p.IncludeTargets = []passkeyTarget{}
	}
	for i := range p.IncludeTargets {
		t := &p.IncludeTargets[i]
		t.ODataType = ""
		if t.AllowedPasskeyProfiles == nil {
			t.AllowedPasskeyProfiles = []string{}
		}
		if t.TargetType == "" {
			t.TargetType = "group"
		}
	}
	p.ExcludeTargets = normExclude(p.ExcludeTargets)
	if p.PasskeyProfiles == nil {
		p.PasskeyProfiles = []passkeyProfile{}
	}
	for i := range p.PasskeyProfiles {
		p.PasskeyProfiles[i].ODataType = ""
		normKR(&p.PasskeyProfiles[i].KeyRestrictions)
	}
}

// normExclude gives exclude targets the shape the service returns.
func normExclude(ts []excludeTarget) []excludeTarget {
	if ts == nil {
		ts = []excludeTarget{}
	}
	for i := range ts {
		ts[i].ODataType = ""
		if ts[i].TargetType == "" {
			ts[i].TargetType = "group"
		}
	}
	return ts
}

func normKR(k *keyRestrictions) {
	k.ODataType = ""
	if k.AAGUIDs == nil {
		k.AAGUIDs = []string{}
	}
	if k.EnforcementType == "" {
		k.EnforcementType = "block"
	}
	for i, a := range k.AAGUIDs {
		if u, err := uuid.Parse(strings.TrimSpace(a)); err == nil {
			k.AAGUIDs[i] = u.String()
		}
	}
}

func (p *tapPolicy) normalize() {
	p.ODataType, p.ID = tapConfigType, "TemporaryAccessPass"
	if p.IncludeTargets == nil {
		p.IncludeTargets = []tapTarget{}
	}
	for i := range p.IncludeTargets {
		p.IncludeTargets[i].ODataType = ""
		if p.IncludeTargets[i].TargetType == "" {
			p.IncludeTargets[i].TargetType = "group"
		}
	}
	p.ExcludeTargets = normExclude(p.ExcludeTargets)
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{Status: 400, Code: "badRequest", Message: fmt.Sprintf(format, args...)}
}

func checkEnum(field, v string, allowed ...string) *apiError {
	if slices.Contains(allowed, v) {
		return nil
	}
	return badRequest("Invalid value '%s' for %s; allowed: %s.", truncateForError(v), field, strings.Join(allowed, ", "))
}

func checkKR(field string, k keyRestrictions) *apiError {
	if err := checkEnum(field+".enforcementType", k.EnforcementType, "allow", "block"); err != nil {
		return err
	}
	for _, a := range k.AAGUIDs {
		if _, err := uuid.Parse(a); err != nil {
			return badRequest("Invalid AAGUID '%s' in %s.aaGuids.", truncateForError(a), field)
		}
	}
	return nil
}

// checkTargetID: an include/exclude target is an existing group or user
// object id, or all_users where allowed.
func (s *state) checkTargetID(field, id string, allowAll bool) *apiError {
	if allowAll && id == allUsers {
		return nil
	}
	if s.groupByID(id) != nil || s.userByID(id) != nil {
		return nil
	}
	return badRequest("Invalid target '%s' in %s: not an existing group or user%s.", truncateForError(id), field,
		map[bool]string{true: " or all_users", false: ""}[allowAll])
}

func (s *state) validateFido2(p *fido2Policy) *apiError {
	if err := checkEnum("state", p.State, "enabled", "disabled"); err != nil {
		return err
	}
	if err := checkKR("keyRestrictions", p.KeyRestrictions); err != nil {
		return err
	}
	profiles := map[string]bool{}
	for i, pp := range p.PasskeyProfiles {
		f := fmt.Sprintf("passkeyProfiles[%d]", i)
		if _, err := uuid.Parse(pp.ID); err != nil {
			return badRequest("Invalid id '%s' in %s: want a GUID.", truncateForError(pp.ID), f)
		}
		if profiles[strings.ToLower(pp.ID)] {
			return badRequest("Duplicate passkey profile id '%s'.", pp.ID)
		}
		profiles[strings.ToLower(pp.ID)] = true
		if strings.TrimSpace(pp.Name) == "" {
			return badRequest("%s.name is required.", f)
		}
		types := strings.Split(pp.PasskeyTypes, ",")
		for _, t := range types {
			if err := checkEnum(f+".passkeyTypes", strings.TrimSpace(t), "deviceBound", "synced"); err != nil {
				return err
			}
		}
		if err := checkEnum(f+".attestationEnforcement", pp.AttestationEnforcement, "disabled", "registrationOnly"); err != nil {
			return err
		}
		if err := checkKR(f+".keyRestrictions", pp.KeyRestrictions); err != nil {
			return err
		}
	}
	if len(p.PasskeyProfiles) > 0 && !profiles[strings.ToLower(p.DefaultPasskeyProfile)] {
		return badRequest("defaultPasskeyProfile '%s' must name one of passkeyProfiles; the default passkey profile cannot be deleted.",
			truncateForError(p.DefaultPasskeyProfile))
	}
	for i, t := range p.IncludeTargets {
		f := fmt.Sprintf("includeTargets[%d]", i)
		if err := checkEnum(f+".targetType", t.TargetType, "group", "user"); err != nil {
			return err
		}
		if err := s.checkTargetID(f, t.ID, true); err != nil {
			return err
		}
		for _, ap := range t.AllowedPasskeyProfiles {
			if !profiles[strings.ToLower(ap)] {
				return badRequest("%s.allowedPasskeyProfiles: '%s' is not one of passkeyProfiles.", f, truncateForError(ap))
			}
		}
	}
	for i, t := range p.ExcludeTargets {
		f := fmt.Sprintf("excludeTargets[%d]", i)
		if err := checkEnum(f+".targetType", t.TargetType, "group", "user"); err != nil {
			return err
		}
		if err := s.checkTargetID(f, t.ID, false); err != nil {
			return err
		}
	}
	return nil
}

func (s *state) validateTAP(p *tapPolicy) *apiError {
	if err := checkEnum("state", p.State, "enabled", "disabled"); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"minimumLifetimeInMinutes", p.MinimumLifetimeInMinutes}, {"maximumLifetimeInMinutes", p.MaximumLifetimeInMinutes},
		{"defaultLifetimeInMinutes", p.DefaultLifetimeInMinutes}} {
		if f.v < minTAPLifetime || f.v > maxTAPLifetime {
			return badRequest("%s must be between %d and %d.", f.name, minTAPLifetime, maxTAPLifetime)
		}
	}
	if p.MinimumLifetimeInMinutes > p.MaximumLifetimeInMinutes {
		return badRequest("minimumLifetimeInMinutes (%d) must not exceed maximumLifetimeInMinutes (%d).",
			p.MinimumLifetimeInMinutes, p.MaximumLifetimeInMinutes)
	}
	if p.DefaultLifetimeInMinutes < p.MinimumLifetimeInMinutes || p.DefaultLifetimeInMinutes > p.MaximumLifetimeInMinutes {
		return badRequest("defaultLifetimeInMinutes (%d) must be between minimumLifetimeInMinutes (%d) and maximumLifetimeInMinutes (%d).",
			p.DefaultLifetimeInMinutes, p.MinimumLifetimeInMinutes, p.MaximumLifetimeInMinutes)
	}
	if p.DefaultLength < minTAPLength || p.DefaultLength > maxTAPLength {
		return badRequest("defaultLength must be between %d and %d.", minTAPLength, maxTAPLength)
	}
	for i, t := range p.IncludeTargets {
		f := fmt.Sprintf("includeTargets[%d]", i)
		if err := checkEnum(f+".targetType", t.TargetType, "group", "user"); err != nil {
			return err
		}
		if err := s.checkTargetID(f, t.ID, true); err != nil {
			return err
		}
	}
	for i, t := range p.ExcludeTargets {
		f := fmt.Sprintf("excludeTargets[%d]", i)
		if err := checkEnum(f+".targetType", t.TargetType, "group", "user"); err != nil {
			return err
		}
		if err := s.checkTargetID(f, t.ID, false); err != nil {
			return err
		}
	}
	return nil
}

// jsonMembers lists the JSON member names of a struct type.
func jsonMembers(v any) map[string]bool {
	m := map[string]bool{}
	rt := reflect.TypeOf(v)
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	return m
}

// mergePatch applies a PATCH body to cur (docs/graph.md): the body
// must be a JSON object whose "@odata.type" is odataType; every member it
// carries replaces the current member (complex values and collections
// wholesale); unknown members are refused; "id", when given, must name the
// configuration. The result is decoded into out.
func mergePatch(cur any, body []byte, odataType, id, typeName string, out any) *apiError {
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(body, &patch); err != nil || patch == nil {
		return badRequest("The request body must be a JSON object (%s).", typeName)
	}
	var ot string
	if raw, ok := patch["@odata.type"]; !ok || json.Unmarshal(raw, &ot) != nil || !strings.EqualFold(ot, odataType) {
		return badRequest("The request body must carry \"@odata.type\": \"%s\" matching the configuration type.", odataType)
	}
	known := jsonMembers(reflect.ValueOf(out).Elem().Interface())
	curRaw, err := json.Marshal(cur)
	if err != nil {
		return &apiError{Status: 500, Code: "generalException", Message: "internal error"}
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(curRaw, &merged); err != nil {
		return &apiError{Status: 500, Code: "generalException", Message: "internal error"}
	}
	for k, v := range patch {
		switch {
		case k == "id":
			var got string
			if json.Unmarshal(v, &got) != nil || (got != "" && !strings.EqualFold(got, id)) {
				return badRequest("The id of a method configuration cannot be changed (want '%s').", id)
			}
			continue
		case k == "@odata.type" || strings.HasPrefix(k, "@odata."):
			continue
		case !known[k]:
			return badRequest("Property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type.",
				truncateForError(k), typeName)
		}
		merged[k] = v
	}
	buf, _ := json.Marshal(merged)
	dec := json.NewDecoder(bytes.NewReader(buf))
	if err := dec.Decode(out); err != nil {
		return badRequest("Invalid property value: %s.", truncateForError(err.Error()))
	}
	return nil
}
