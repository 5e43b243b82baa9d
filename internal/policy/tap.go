package policy

import (
	"fmt"
	"strings"
	"time"
)

// OneTimeRegistrationWindow is how long a user has, after signing in with
// a one-time pass, to register a passwordless method.
// https://learn.microsoft.com/entra/identity/authentication/howto-authentication-temporary-access-pass
const OneTimeRegistrationWindow = 10 * time.Minute

// StartSkew is how far in the past a pass's start time may be (clock
// skew, the time a person takes to type the command).
const StartSkew = 5 * time.Minute

// TAPRequest is a Temporary Access Pass asked for; zero values leave the
// choice to the tenant's policy.
type TAPRequest struct {
	Lifetime time.Duration // 0: the policy's default
	Once     *bool         // nil: the policy decides; false: multi-use
	Start    time.Time     // zero: usable at once
}

// Duration renders a lifetime the way operators write it: 1h, 90m, 2d, 1d12h.
func Duration(d time.Duration) string {
	if d <= 0 {
		return "0m"
	}
	m := int(d / time.Minute)
	days, hours, mins := m/(24*60), m/60%24, m%60
	var b strings.Builder
	if days > 0 {
		fmt.Fprintf(&b, "%dd", days)
	}
	if hours > 0 {
		fmt.Fprintf(&b, "%dh", hours)
	}
	if mins > 0 {
		fmt.Fprintf(&b, "%dm", mins)
	}
	return b.String()
}

// CheckTAPRequest checks what holds whatever the tenant's policy says:
// Entra's lifetime bounds, whole minutes, a start not in the past. It
// returns the first problem as a NotOK finding, or nil.
func CheckTAPRequest(r TAPRequest, now time.Time) *Finding {
	if r.Lifetime != 0 {
		if r.Lifetime%time.Minute != 0 {
			return &Finding{Code: CodeLifetimeFraction, Status: NotOK, Flows: tapFlows,
				Message: fmt.Sprintf("lifetime %s: whole minutes only", r.Lifetime),
				Fix:     "Entra counts pass lifetimes in minutes: give e.g. 90m or 2h"}
		}
		if r.Lifetime < MinTAPLifetime || r.Lifetime > MaxTAPLifetime {
			return &Finding{Code: CodeLifetimeRange, Status: NotOK, Flows: tapFlows,
				Message: fmt.Sprintf("lifetime %s out of range: Entra allows 10m to 30d", Duration(r.Lifetime)),
				Fix:     "give --lifetime between 10m and 30d, within the tenant's policy (keyprep policy show tap)"}
		}
	}
	if !r.Start.IsZero() && r.Start.Before(now.Add(-StartSkew)) {
		return &Finding{Code: CodeStartInPast, Status: NotOK, Flows: tapFlows,
			Message: fmt.Sprintf("start %s is in the past", r.Start.Format(time.RFC3339)),
			Fix:     "leave --start out to make the pass usable at once, or give a future time"}
	}
	return nil
}

// CheckTAPIssue checks a request against the tenant's TAP policy (state,
// lifetime range, one-time use). It returns the first problem as a NotOK
// finding, or nil.
func CheckTAPIssue(p *TAPPolicy, r TAPRequest) *Finding {
	if !p.Enabled() {
		return &Finding{Code: CodeMethodDisabled, Status: NotOK, Flows: tapFlows,
			Message: "the Temporary Access Pass method is disabled in this tenant",
			Fix:     "keyprep policy set tap --enable --include-group GROUP"}
	}
	if r.Lifetime != 0 && (r.Lifetime < p.MinLifetime() || r.Lifetime > p.MaxLifetime()) {
		return &Finding{Code: CodeLifetimeOutside, Status: NotOK, Flows: tapFlows,
			Message: fmt.Sprintf("lifetime %s is outside the tenant's Temporary Access Pass policy: allowed %s to %s (default %s)",
				Duration(r.Lifetime), Duration(p.MinLifetime()), Duration(p.MaxLifetime()), Duration(p.DefaultLifetime())),
			Fix: fmt.Sprintf("choose --lifetime between %s and %s, or widen the policy: keyprep policy set tap --min-lifetime … --max-lifetime …",
				Duration(p.MinLifetime()), Duration(p.MaxLifetime()))}
	}
	if r.Once != nil && !*r.Once && p.IsUsableOnce {
		return &Finding{Code: CodeMultiUseNotAllowed, Status: NotOK, Flows: []Flow{FlowMultiUseTAP},
			Message: "a multi-use pass was asked for, but the tenant's Temporary Access Pass policy allows one-time passes only",
			Fix:     "leave out --multi (the pass will be one-time), or allow multi-use passes: keyprep policy set tap --one-time off"}
	}
	return nil
}

// Pass is one of a user's Temporary Access Passes as the directory lists
// it (never the code).
type Pass struct {
	Once   bool
	Usable bool
	// Reason is methodUsabilityReason: EnabledByPolicy, DisabledByPolicy,
	// Expired, NotYetValid, OneTimeUsed.
	Reason string
	Expiry time.Time
}

// Live reports a pass that is not expired and not used up.
func (p Pass) Live(now time.Time) bool {
	if p.Reason == "Expired" || p.Reason == "OneTimeUsed" {
		return false
	}
	return p.Expiry.IsZero() || now.Before(p.Expiry)
}

// BlockedByOneTime reports a live multi-use pass under a policy that
// allows one-time passes only. Entra keeps listing it, but refuses it at
// sign-in ("TAP sign in was blocked due to User Credential Policy"): the
// one-time setting applies to every pass in the tenant, including those
// issued before it was turned on
// (https://learn.microsoft.com/en-us/entra/identity/authentication/howto-authentication-temporary-access-pass).
func BlockedByOneTime(p *TAPPolicy, pass Pass, now time.Time) bool {
	return p != nil && p.IsUsableOnce && !pass.Once && pass.Live(now)
}

// SwitchesToOneTime reports a policy change that turns one-time use on:
// it blocks every live multi-use pass.
func SwitchesToOneTime(before, after *TAPPolicy) bool {
	return !before.IsUsableOnce && after.IsUsableOnce
}

// BlockedPassText says why a pass is blocked by the one-time setting, and
// the way on, for a user (UPN).
func BlockedPassText(upn string, pass Pass) (msg, fix string) {
	until := ""
	if !pass.Expiry.IsZero() {
		until = ", valid until " + pass.Expiry.Local().Format("2006-01-02 15:04 MST")
	}
	msg = fmt.Sprintf("blocked: the pass is multi-use%s, and the tenant's Temporary Access Pass policy allows one-time passes only, so Entra refuses it at sign-in (\"TAP sign in was blocked due to User Credential Policy\")", until)
	fix = "issue a one-time pass: keyprep tap create --user " + upn + " --once --replace (or allow multi-use passes again: keyprep policy set tap --one-time off)"
	return msg, fix
}
