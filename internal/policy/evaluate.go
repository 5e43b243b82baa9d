package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Status says what a finding means for the flows it affects.
type Status int

// Finding statuses.
const (
	// Info: context, neither good nor bad.
	Info Status = iota
	// OK: a condition holds.
	OK
	// NotOK: a condition fails; the flows it affects are not possible.
	NotOK
	// Unknown: a condition could not be checked.
	Unknown
)

// Code names what a finding is about.
type Code string

// Finding codes.
const (
	CodeMember             Code = "member"                // a member account
	CodeGuest              Code = "guest"                 // an external guest
	CodePolicyUnreadable   Code = "policy-unreadable"     // a method policy could not be read
	CodeMethodEnabled      Code = "method-enabled"        // the method is enabled
	CodeMethodDisabled     Code = "method-disabled"       // the method is disabled
	CodeInTargets          Code = "in-targets"            // the user is in an include target
	CodeNotInTargets       Code = "not-in-targets"        // the user is in no include target
	CodeMembershipUnknown  Code = "membership-unknown"    // group membership could not be resolved
	CodeExcluded           Code = "excluded"              // the user is in an exclude target
	CodeSelfServiceOn      Code = "self-service-on"       // self-service setup on
	CodeSelfServiceOff     Code = "self-service-off"      // self-service setup off: provisioning refused
	CodeAttestation        Code = "attestation"           // attestation enforced or not
	CodeKeyRestrictions    Code = "key-restrictions"      // key models restricted
	CodeOneTimeOnly        Code = "one-time-only"         // the TAP policy allows one-time passes only
	CodeTAPSettings        Code = "tap-settings"          // the TAP policy's lifetimes, length and use
	CodePermission         Code = "permission"            // the identity holds a permission
	CodePermissionMissing  Code = "permission-missing"    // the identity lacks a permission
	CodeLifetimeFraction   Code = "lifetime-fraction"     // a pass lifetime not in whole minutes
	CodeLifetimeRange      Code = "lifetime-range"        // a pass lifetime outside Entra's bounds
	CodeLifetimeOutside    Code = "lifetime-outside"      // a pass lifetime outside the tenant's policy
	CodeStartInPast        Code = "start-in-past"         // a pass start time in the past
	CodeMultiUseNotAllowed Code = "multi-use-not-allowed" // a multi-use pass asked of a one-time policy
	CodeKeyModel           Code = "key-model"             // the key model asked about is accepted
	CodePassBlocked        Code = "pass-blocked"          // the user's multi-use pass is blocked by the one-time setting
	CodePass               Code = "pass"                  // the user's current pass
	CodeRegistration       Code = "registration"          // where the user registers a key after signing in with a pass
	CodeInternalGuest      Code = "internal-guest"        // an internal guest: no passkey, a pass is fine
)

// Finding is one thing the policies, the user or the identity say about
// the flows in Flows.
type Finding struct {
	Code    Code
	Status  Status
	Message string
	// Fix says what to change; "" when nothing is to be done.
	Fix   string
	Flows []Flow
	// Reason is the message as a workflow that stops on this finding says
	// it (enroll's preflight); "" means Message.
	Reason string
	// Permission names the Graph permission of a permission finding.
	Permission string
}

// Affects reports whether the finding bears on flow f.
func (f Finding) Affects(fl Flow) bool { return slices.Contains(f.Flows, fl) }

func (f Finding) reason() string {
	if f.Reason != "" {
		return f.Reason
	}
	return f.Message
}

// Problem is something the caller could not read, in words.
type Problem struct {
	Msg  string
	Hint string
}

// Membership is the user's membership in the policies' target groups,
// resolved by the caller (Graph checkMemberGroups for GroupsToCheck).
type Membership struct {
	// Groups are the ids of the groups the user is in, directly or
	// transitively.
	Groups []string
	// Problem: the groups could not be resolved.
	Problem *Problem
}

func (m Membership) in(id string) bool {
	return slices.ContainsFunc(m.Groups, func(g string) bool { return strings.EqualFold(g, id) })
}

// GroupsToCheck lists the group ids among the target lists whose
// membership decides something for the user: a list with all_users or
// the user's own id decides without asking.
func GroupsToCheck(userID string, lists ...[]Target) []string {
	var out []string
	for _, ts := range lists {
		if slices.ContainsFunc(ts, func(t Target) bool { return direct(t, userID) }) {
			continue
		}
		for _, t := range ts {
			if !slices.ContainsFunc(out, func(g string) bool { return strings.EqualFold(g, t.ID) }) {
				out = append(out, t.ID)
			}
		}
	}
	return out
}

func direct(t Target, userID string) bool {
	return t.ID == AllUsers || (userID != "" && strings.EqualFold(t.ID, userID))
}

// match returns the target of ts that takes the user in, and how ("all
// users", "the user directly" or the group's name): all_users or the user
// in list order first, then the first group the user is in.
func match(u User, ts []Target, m Membership, names Names) (*Target, string) {
	for i, t := range ts {
		if t.ID == AllUsers {
			return &ts[i], "all users"
		}
		if direct(t, u.ID) {
			return &ts[i], "the user directly"
		}
	}
	for i, t := range ts {
		if m.in(t.ID) {
			return &ts[i], names.Target(t.ID)
		}
	}
	return nil, ""
}

// Input is everything Evaluate looks at. Nil policies with no Problem are
// not evaluated (enroll's preflight reads no TAP policy).
type Input struct {
	User User
	// Fido2 is the Passkey (FIDO2) policy; Fido2Problem says why it could
	// not be read.
	Fido2        *Fido2Policy
	Fido2Problem *Problem
	TAP          *TAPPolicy
	TAPProblem   *Problem
	Membership   Membership
	// Identity is the signed-in identity; nil when its permissions cannot
	// be told (an opaque token).
	Identity *Identity
	// Names are display names of target groups, for messages.
	Names Names
	// Key is a key model to check against the key rules (nil: none).
	Key *Key
	// Passes are the user's Temporary Access Passes when PassesRead (never
	// the code); PassesProblem says why they could not be read.
	Passes        []Pass
	PassesRead    bool
	PassesProblem *Problem
	// Now is the time passes are judged at (zero: time.Now()).
	Now time.Time
}

// Key is a key model to check against the passkey rules: its AAGUID and
// whether it carries an attestation certificate the tenant trusts.
type Key struct {
	AAGUID   string
	Attested bool
}

// Report is what Evaluate found.
type Report struct {
	// Findings about the user and the policies, in order.
	Findings []Finding
	// Permissions are the identity's permission findings (empty when the
	// identity is unknown).
	Permissions []Finding
	// Passkey is the key rules that apply to a passkey for the user (nil
	// without a Passkey (FIDO2) policy).
	Passkey *PasskeyRules

	user User
}

// PasskeyRules are the key rules for the user's passkey: those of the
// passkey profiles that apply, or the policy-wide settings of a tenant
// without profiles.
type PasskeyRules struct {
	// AttestationEnforced and Restrictions are the rules folded into one
	// set a preflight checks (every profile that applies enforces
	// attestation; the key models at least one of them accepts): a key
	// they refuse, every profile refuses.
	AttestationEnforced bool
	// Restrictions are every enforced AAGUID rule; a key must pass all.
	Restrictions []KeyRestrictions
	// Profile names the passkey profile that applies ("" when none;
	// several are listed quoted, comma separated).
	Profile string
	// Profiles are the rules that apply, one per passkey profile; a key
	// must satisfy one of them (Entra evaluates a user's profiles
	// together). Without passkey profiles: one entry, the policy-wide
	// settings, with no name.
	Profiles []ProfileRules
}

// Answer is a flow's verdict.
type Answer int

// Verdicts.
const (
	Yes Answer = iota
	No
	Undetermined
)

// Verdict is whether a flow is possible, and why.
type Verdict struct {
	Answer   Answer
	Findings []Finding
}

// Verdict derives flow f's verdict: its findings, then the permissions it
// lacks. Any NotOK finding makes it No; otherwise any Unknown makes it
// Undetermined.
func (r *Report) Verdict(f Flow) Verdict {
	var v Verdict
	for _, x := range r.Findings {
		if x.Affects(f) {
			v.Findings = append(v.Findings, x)
		}
	}
	for _, x := range r.Permissions {
		if x.Status == NotOK && x.Affects(f) {
			v.Findings = append(v.Findings, x)
		}
	}
	v.Answer = Yes
	for _, x := range v.Findings {
		switch {
		case x.Status == NotOK:
			v.Answer = No
		case x.Status == Unknown && v.Answer == Yes:
			v.Answer = Undetermined
		}
	}
	return v
}

// Eligibility says whether a passkey can be provisioned for the user, and
// under which key rules: the enroll preflight's view of FlowPasskey.
type Eligibility struct {
	Allowed bool
	// Reasons say what stops it; Hint is the first fix.
	Reasons []string
	Hint    string
	PasskeyRules
}

// Eligibility derives the passkey eligibility from the report.
func (r *Report) Eligibility() Eligibility {
	el := Eligibility{Allowed: true}
	if r.Passkey != nil {
		el.PasskeyRules = *r.Passkey
	}
	for _, f := range r.Verdict(FlowPasskey).Findings {
		if f.Status != NotOK && f.Status != Unknown {
			continue
		}
		el.Allowed = false
		el.Reasons = append(el.Reasons, f.reason())
		if el.Hint == "" {
			el.Hint = f.Fix
			if f.Code == CodeNotInTargets {
				el.Hint += " (keyprep policy check --user " + r.user.UPN + " explains)"
			}
		}
	}
	return el
}

// Evaluate applies the policies to the user. It is the one place that
// decides what the Passkey (FIDO2) and Temporary Access Pass policies
// allow.
func Evaluate(in Input) Report {
	r := Report{user: in.User}
	r.Findings = append(r.Findings, accountFindings(in.User)...)
	if in.Fido2 != nil || in.Fido2Problem != nil {
		r.Findings = append(r.Findings, fido2Findings(in, &r)...)
	}
	if in.TAP != nil || in.TAPProblem != nil {
		r.Findings = append(r.Findings, tapFindings(in)...)
	}
	if in.Identity != nil {
		r.Permissions = PermissionFindings(*in.Identity)
	}
	return r
}

// accountFindings: passkeys cannot be provisioned for any guest, internal
// or external; a Temporary Access Pass is refused to external (B2B, #EXT#)
// guests only, whose home tenant issues theirs
// (https://learn.microsoft.com/en-us/entra/identity/authentication/howto-authentication-temporary-access-pass).
func accountFindings(u User) []Finding {
	if !u.Guest {
		return []Finding{{Code: CodeMember, Status: OK, Message: "member account", Flows: passkeyFlows}}
	}
	out := []Finding{
		{Code: CodeGuest, Status: NotOK, Flows: passkeyFlows,
			Message: fmt.Sprintf("%s is a guest (userType %s): passkeys cannot be provisioned for guests", u.UPN, u.UserType),
			Reason:  "guest account: passkeys cannot be provisioned for guests",
			Fix:     "provision the account in the user's home tenant"},
	}
	if u.External {
		return append(out, Finding{Code: CodeGuest, Status: NotOK, Flows: tapFlows,
			Message: "external guests cannot be issued a Temporary Access Pass by this tenant", Fix: "the user's home tenant can issue one"})
	}
	return append(out, Finding{Code: CodeInternalGuest, Status: OK, Flows: tapFlows,
		Message: "internal guest (userType Guest, an account of this tenant): a Temporary Access Pass can be issued"})
}

func unknown(code Code, what string, p *Problem, flows []Flow) Finding {
	return Finding{Code: code, Status: Unknown, Message: "cannot tell whether " + what + ": " + p.Msg, Fix: p.Hint, Flows: flows}
}

func fido2Findings(in Input, r *Report) []Finding {
	if in.Fido2 == nil {
		return []Finding{unknown(CodePolicyUnreadable, "the Passkey (FIDO2) policy allows it", in.Fido2Problem, passkeyFlows)}
	}
	p, u := in.Fido2, in.User
	var out []Finding
	add := func(f Finding) {
		f.Flows = passkeyFlows
		out = append(out, f)
	}
	if p.Enabled() {
		add(Finding{Code: CodeMethodEnabled, Status: OK, Message: "Passkey (FIDO2) method enabled"})
	} else {
		add(Finding{Code: CodeMethodDisabled, Status: NotOK, Message: "the Passkey (FIDO2) method is disabled",
			Fix: "keyprep policy set fido2 --enable --include-group GROUP"})
	}
	target, via := match(u, p.IncludeTargets, in.Membership, in.Names)
	switch {
	case target != nil:
		add(Finding{Code: CodeInTargets, Status: OK, Message: "in the policy's targets (via " + via + ")"})
	case in.Membership.Problem != nil:
		add(unknown(CodeMembershipUnknown, "the user is in the policy's targets", in.Membership.Problem, nil))
	default:
		add(Finding{Code: CodeNotInTargets, Status: NotOK,
			Message: "not in any target of the Passkey (FIDO2) policy (" + in.Names.TargetList(p.IncludeTargets) + ")",
			Reason:  "not in any target group of the Passkey (FIDO2) policy",
			Fix:     "add the user to a target group, or keyprep policy set fido2 --include-group GROUP"})
	}
	if ex, via := match(u, p.ExcludeTargets, in.Membership, in.Names); ex != nil {
		add(Finding{Code: CodeExcluded, Status: NotOK, Message: "excluded from the Passkey (FIDO2) policy (via " + via + ")",
			Reason: "excluded from the Passkey (FIDO2) policy", Fix: "remove the user from the excluded group"})
	}
	if p.IsSelfServiceRegistrationAllowed {
		add(Finding{Code: CodeSelfServiceOn, Status: OK, Message: "self-service setup on (the provisioning API requires it)"})
	} else {
		add(Finding{Code: CodeSelfServiceOff, Status: NotOK,
			Message: "self-service setup is off: the provisioning API refuses to create passkeys until it is on (known Entra prerequisite)",
			Reason:  "self-service setup is off, and Entra's provisioning API refuses passkeys without it",
			Fix:     "keyprep policy set fido2 --self-service on"})
	}
	r.Passkey = passkeyRules(p, u, in.Membership)
	for _, f := range ruleFindings(r.Passkey, p) {
		add(f)
	}
	for _, f := range keyFindings(r.Passkey, in.Key) {
		add(f)
	}
	return out
}

// passkeyRules are the key rules for the user: in a tenant with passkey
// profiles, those of the profiles the include targets that take the user
// in allow (the default profile for a target that names none), else the
// policy-wide isAttestationEnforced and keyRestrictions.
func passkeyRules(p *Fido2Policy, u User, m Membership) *PasskeyRules {
	k := &PasskeyRules{}
	if !p.UsesProfiles() {
		k.Profiles = []ProfileRules{{AttestationEnforced: p.IsAttestationEnforced, Restrictions: enforced(p.KeyRestrictions)}}
	} else {
		var ids []string
		for _, t := range p.IncludeTargets {
			if !direct(t, u.ID) && !m.in(t.ID) {
				continue
			}
			allowed := t.AllowedPasskeyProfiles
			if len(allowed) == 0 {
				allowed = []string{p.DefaultPasskeyProfile}
			}
			for _, id := range allowed {
				if !slices.ContainsFunc(ids, func(x string) bool { return strings.EqualFold(x, id) }) {
					ids = append(ids, id)
				}
			}
		}
		if len(ids) == 0 { // not in the targets: what the default profile would say
			ids = []string{p.DefaultPasskeyProfile}
		}
		var names []string
		for _, id := range ids {
			if prof := p.Profile(id); prof != nil {
				k.Profiles = append(k.Profiles, rulesOf(prof))
				names = append(names, prof.Label())
			}
		}
		if len(names) == 1 {
			k.Profile = names[0]
		} else if len(names) > 1 {
			for i := range names {
				names[i] = fmt.Sprintf("%q", names[i])
			}
			k.Profile = strings.Join(names, ", ")
		}
	}
	var kr *KeyRestrictions
	k.AttestationEnforced, kr = combine(k.Profiles)
	if kr != nil {
		k.Restrictions = []KeyRestrictions{*kr}
	}
	return k
}

// ruleFindings describe the key rules that apply, naming each passkey
// profile and the command that changes it.
func ruleFindings(k *PasskeyRules, p *Fido2Policy) []Finding {
	var out []Finding
	if p.UsesProfiles() && (p.IsAttestationEnforced || (p.KeyRestrictions != nil && p.KeyRestrictions.IsEnforced)) {
		out = append(out, Finding{Code: CodeAttestation, Status: Info,
			Message: "the policy-wide attestation and key restriction settings are deprecated and no longer decide: the passkey profiles below do"})
	}
	for _, pr := range k.Profiles {
		who := strings.ToUpper(pr.Label()[:1]) + pr.Label()[1:]
		if pr.AttestationEnforced {
			out = append(out, Finding{Code: CodeAttestation, Status: Info,
				Message: who + ": attestation enforced: the key must carry a certified (FIDO metadata) attestation; to accept self-attesting keys: " +
					pr.SetCommand("--enforce-attestation off")})
		} else {
			out = append(out, Finding{Code: CodeAttestation, Status: Info,
				Message: who + ": attestation not enforced: any key model that passes key restrictions"})
		}
		if pr.Restrictions != nil {
			out = append(out, Finding{Code: CodeKeyRestrictions, Status: Info,
				Message: who + ": key restrictions: " + RestrictionsText(pr.Restrictions)})
		}
	}
	return out
}

// keyFindings say whether the rules take the key model of in.Key.
func keyFindings(k *PasskeyRules, key *Key) []Finding {
	if key == nil {
		return nil
	}
	what := "the key model " + strings.ToLower(key.AAGUID)
	if !key.Attested {
		what += " (self-attesting)"
	}
	refusals := k.Refusals(key.AAGUID, key.Attested)
	if len(refusals) == 0 {
		return []Finding{{Code: CodeKeyModel, Status: OK, Message: what + " is accepted"}}
	}
	var out []Finding
	for _, r := range refusals {
		out = append(out, Finding{Code: r.Code, Status: NotOK, Message: r.Msg, Fix: r.Fix})
	}
	return out
}

func tapFindings(in Input) []Finding {
	if in.TAP == nil {
		return []Finding{unknown(CodePolicyUnreadable, "the Temporary Access Pass policy allows it", in.TAPProblem, tapFlows)}
	}
	p, u := in.TAP, in.User
	var out []Finding
	add := func(f Finding) {
		if f.Flows == nil {
			f.Flows = tapFlows
		}
		out = append(out, f)
	}
	if p.Enabled() {
		add(Finding{Code: CodeMethodEnabled, Status: OK, Message: "Temporary Access Pass method enabled"})
	} else {
		add(Finding{Code: CodeMethodDisabled, Status: NotOK, Message: "the Temporary Access Pass method is disabled",
			Fix: "keyprep policy set tap --enable --include-group GROUP"})
	}
	target, via := match(u, p.IncludeTargets, in.Membership, in.Names)
	switch {
	case target != nil:
		add(Finding{Code: CodeInTargets, Status: OK, Message: "in the TAP policy's targets (via " + via + ")"})
	case in.Membership.Problem != nil:
		add(unknown(CodeMembershipUnknown, "the user is in the TAP policy's targets", in.Membership.Problem, nil))
	default:
		add(Finding{Code: CodeNotInTargets, Status: NotOK,
			Message: "not in any target of the Temporary Access Pass policy: a pass can be created but not used to sign in",
			Fix:     "add the user to a target group, or keyprep policy set tap --include-group GROUP"})
	}
	if ex, via := match(u, p.ExcludeTargets, in.Membership, in.Names); ex != nil {
		add(Finding{Code: CodeExcluded, Status: NotOK, Message: "excluded from the TAP policy (via " + via + ")",
			Fix: "remove the user from the excluded group"})
	}
	once := "multi-use passes allowed"
	if p.IsUsableOnce {
		once = "one-time passes only (a multi-use request is refused); after signing in the user has 10 minutes to register a key"
		add(Finding{Code: CodeOneTimeOnly, Status: NotOK, Flows: []Flow{FlowMultiUseTAP},
			Message: "a multi-use pass is needed, but the policy allows one-time passes only",
			Fix:     "keyprep policy set tap --one-time off, or issue a one-time pass (the user then has 10 minutes after signing in to register a key)"})
	}
	add(Finding{Code: CodeTAPSettings, Status: Info, Message: fmt.Sprintf("lifetime %s to %s (default %s), %d characters; %s",
		Minutes(p.MinimumLifetimeInMinutes), Minutes(p.MaximumLifetimeInMinutes), Minutes(p.DefaultLifetimeInMinutes), p.DefaultLength, once)})
	for _, f := range passFindings(in) {
		add(f)
	}
	if !u.External {
		add(registrationAdvice())
	}
	return out
}

// passFindings say what the user's current passes mean for signing in.
func passFindings(in Input) []Finding {
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	switch {
	case in.PassesProblem != nil:
		return []Finding{{Code: CodePass, Status: Info, Message: "the user's Temporary Access Pass could not be read: " + in.PassesProblem.Msg}}
	case !in.PassesRead:
		return nil
	case len(in.Passes) == 0:
		return []Finding{{Code: CodePass, Status: Info, Message: "the user has no Temporary Access Pass yet (keyprep tap create --user " + in.User.UPN + ")"}}
	}
	var out []Finding
	for _, ps := range in.Passes {
		kind := "multi-use"
		if ps.Once {
			kind = "one-time"
		}
		until := ps.Expiry.Local().Format("2006-01-02 15:04 MST")
		switch {
		case BlockedByOneTime(in.TAP, ps, now):
			msg, fix := BlockedPassText(in.User.UPN, ps)
			out = append(out, Finding{Code: CodePassBlocked, Status: NotOK, Message: "the user's Temporary Access Pass is " + msg, Fix: fix})
		case !ps.Live(now):
			out = append(out, Finding{Code: CodePass, Status: Info,
				Message: fmt.Sprintf("the user's %s pass is %s: issue a new one to sign in with a pass", kind, map[bool]string{true: "used", false: "expired"}[ps.Reason == "OneTimeUsed"])})
		case ps.Usable:
			out = append(out, Finding{Code: CodePass, Status: Info, Message: fmt.Sprintf("the user holds a usable %s pass, valid until %s", kind, until)})
		case ps.Reason == "NotYetValid":
			out = append(out, Finding{Code: CodePass, Status: Info, Message: fmt.Sprintf("the user holds a %s pass that is not valid yet (until %s)", kind, until)})
		default:
			out = append(out, Finding{Code: CodePass, Status: Info,
				Message: fmt.Sprintf("the user holds a %s pass, valid until %s, that Entra reports not usable (%s)", kind, until, ps.Reason)})
		}
	}
	return out
}

// registrationAdvice: where a user who signs in with a pass registers a
// security key. Registration in the sign-in interrupt ("More information
// required") does not offer a security key to users in scope of
// self-service password reset or an MFA-registration policy; combined
// security-info registration at My Security Info does
// (https://learn.microsoft.com/en-us/entra/identity/authentication/how-to-enable-passkey-fido2,
// https://learn.microsoft.com/en-us/entra/identity/authentication/concept-registration-mfa-sspr-combined).
func registrationAdvice() Finding {
	return Finding{Code: CodeRegistration, Status: Info,
		Message: "after signing in with the pass, register the key at https://aka.ms/mysecurityinfo (combined security-info registration): " +
			"users in scope of self-service password reset or an MFA-registration policy cannot add a security key in the sign-in interrupt (\"More information required\")"}
}
