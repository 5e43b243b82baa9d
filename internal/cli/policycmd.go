package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/graph"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "The Passkey (FIDO2) and Temporary Access Pass method policies: show, check a user, change"}
	cmd.AddCommand(newPolicyShowCmd(g), newPolicyCheckCmd(g), newPolicySetCmd(g))
	return cmd
}

// ---- policy show ---------------------------------------------------------

func newPolicyShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:       "show [fido2|tap]",
		Short:     "Show the Passkey (FIDO2) and/or Temporary Access Pass policy",
		ValidArgs: []string{"fido2", "tap"},
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1 && args[0] != "fido2" && args[0] != "tap") {
				return usageErr("policy show takes fido2, tap or nothing (both)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := g.graphClient(ctx)
			if err != nil {
				return err
			}
			which := ""
			if len(args) == 1 {
				which = args[0]
			}
			out := map[string]any{}
			var fp *graph.Fido2Policy
			var tp *graph.TAPPolicy
			if which != "tap" {
				if fp, err = c.GetFido2Policy(ctx); err != nil {
					return err
				}
				out["fido2"] = fp
			}
			if which != "fido2" {
				if tp, err = c.GetTAPPolicy(ctx); err != nil {
					return err
				}
				out["tap"] = tp
			}
			if g.JSON {
				return g.printJSON(out)
			}
			names := g.groupNamer(ctx, c)
			if fp != nil {
				printFido2Policy(g.io.Out, fp, names)
			}
			if fp != nil && tp != nil {
				fmt.Fprintln(g.io.Out)
			}
			if tp != nil {
				printTAPPolicy(g.io.Out, tp, names)
			}
			return nil
		},
	}
}

// groupNamer resolves target ids to group names for display, best effort.
func (g *globals) groupNamer(ctx context.Context, c *graph.Client) func(string) string {
	cache := map[string]string{}
	return func(id string) string {
		if id == graph.AllUsers {
			return "all users"
		}
		if n, ok := cache[id]; ok {
			return n
		}
		n := id
		if gr, err := c.FindGroup(ctx, id); err == nil && gr.DisplayName != "" {
			n = fmt.Sprintf("%q (%s)", gr.DisplayName, id)
		}
		cache[id] = n
		return n
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func targetList(ts []graph.Target, names func(string) string) string {
	if len(ts) == 0 {
		return "none"
	}
	var s []string
	for _, t := range ts {
		s = append(s, names(t.ID))
	}
	return strings.Join(s, ", ")
}

func restrictionsText(k *graph.KeyRestrictions) string {
	if k == nil || !k.IsEnforced {
		return "none (every key model)"
	}
	verb := "block"
	if strings.EqualFold(k.EnforcementType, "allow") {
		verb = "allow only"
	}
	if len(k.AAGUIDs) == 0 {
		return verb + " (empty list)"
	}
	return verb + " " + strings.Join(k.AAGUIDs, ", ")
}

func printFido2Policy(w io.Writer, p *graph.Fido2Policy, names func(string) string) {
	fmt.Fprintln(w, "Passkey (FIDO2) policy")
	fmt.Fprintf(w, "  state                 %s\n", p.State)
	fmt.Fprintf(w, "  include               %s\n", targetList(p.IncludeTargets, names))
	fmt.Fprintf(w, "  exclude               %s\n", targetList(p.ExcludeTargets, names))
	ss := onOff(p.IsSelfServiceRegistrationAllowed)
	if !p.IsSelfServiceRegistrationAllowed {
		ss += "  (the provisioning API requires it on)"
	}
	fmt.Fprintf(w, "  self-service setup    %s\n", ss)
	fmt.Fprintf(w, "  enforce attestation   %s\n", onOff(p.IsAttestationEnforced))
	fmt.Fprintf(w, "  key restrictions      %s\n", restrictionsText(p.KeyRestrictions))
	for _, pr := range p.PasskeyProfiles {
		def := ""
		if strings.EqualFold(pr.ID, p.DefaultPasskeyProfile) {
			def = " (default)"
		}
		fmt.Fprintf(w, "  passkey profile       %q%s: types %s, attestation %s, restrictions %s\n",
			pr.Name, def, pr.PasskeyTypes, pr.AttestationEnforcement, restrictionsText(pr.KeyRestrictions))
	}
}

func minutes(n int) string {
	d := time.Duration(n) * time.Minute
	switch {
	case n%(24*60) == 0:
		return fmt.Sprintf("%dd", n/(24*60))
	case n%60 == 0:
		return fmt.Sprintf("%dh", n/60)
	}
	return strings.TrimSuffix(d.String(), "0s")
}

func printTAPPolicy(w io.Writer, p *graph.TAPPolicy, names func(string) string) {
	fmt.Fprintln(w, "Temporary Access Pass policy")
	fmt.Fprintf(w, "  state                 %s\n", p.State)
	fmt.Fprintf(w, "  include               %s\n", targetList(p.IncludeTargets, names))
	fmt.Fprintf(w, "  exclude               %s\n", targetList(p.ExcludeTargets, names))
	fmt.Fprintf(w, "  lifetime              default %s, minimum %s, maximum %s\n",
		minutes(p.DefaultLifetimeInMinutes), minutes(p.MinimumLifetimeInMinutes), minutes(p.MaximumLifetimeInMinutes))
	fmt.Fprintf(w, "  length                %d characters\n", p.DefaultLength)
	once := "no (multi-use passes allowed)"
	if p.IsUsableOnce {
		once = "yes (every pass is one-time)"
	}
	fmt.Fprintf(w, "  one-time use          %s\n", once)
}

// ---- policy set ------------------------------------------------------------

type policySetOptions struct {
	enable, disable            bool
	includeGroups, excludeGrps []string
	selfService, enforceAtt    string
	allowAAGUIDs, blockAAGUIDs []string
	noRestrictions             bool
	oneTime                    string
	defLife, minLife, maxLife  time.Duration
	length                     int
	yes                        bool
}

func newPolicySetCmd(g *globals) *cobra.Command {
	var o policySetOptions
	cmd := &cobra.Command{
		Use:   "set fido2|tap [flags]",
		Short: "Change the Passkey (FIDO2) or Temporary Access Pass policy (shows the change first)",
		Long: `set reads the policy, applies the flags, validates the result against the
allowed ranges before any change is sent (TAP lifetimes 10 minutes to 30 days
with minimum ≤ default ≤ maximum, length 8 to 48), shows what changes, and
applies it after confirmation (--yes without a terminal).

  keyprep policy set fido2 --enable --include-group "Passkey Users" --self-service on
  keyprep policy set tap --enable --include-group Onboarding --one-time --default-lifetime 1h
  keyprep policy set tap --one-time off`,
		Args: func(cmd *cobra.Command, args []string) error {
			which, oneTime, err := policySetArgs(args, cmd.Flags().Changed("one-time"))
			if err != nil {
				return err
			}
			args[0] = which
			if oneTime != "" {
				o.oneTime = oneTime
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runPolicySet(cmd, g, args[0], o) },
	}
	f := cmd.Flags()
	f.BoolVar(&o.enable, "enable", false, "enable the method")
	f.BoolVar(&o.disable, "disable", false, "disable the method")
	f.StringArrayVar(&o.includeGroups, "include-group", nil, "target group (name or object id, or all_users); repeat; replaces the include targets")
	f.StringArrayVar(&o.excludeGrps, "exclude-group", nil, "excluded group (name or object id); repeat; replaces the exclude targets")
	f.StringVar(&o.selfService, "self-service", "", "fido2: allow self-service setup (on|off); provisioning needs on")
	f.StringVar(&o.enforceAtt, "enforce-attestation", "", "fido2: enforce attestation (on|off)")
	f.StringArrayVar(&o.allowAAGUIDs, "allow-aaguid", nil, "fido2: allow only these key models (AAGUID); repeat")
	f.StringArrayVar(&o.blockAAGUIDs, "block-aaguid", nil, "fido2: block these key models (AAGUID); repeat")
	f.BoolVar(&o.noRestrictions, "no-key-restrictions", false, "fido2: remove key restrictions")
	f.StringVar(&o.oneTime, "one-time", "", "tap: every pass one-time (--one-time, or --one-time off)")
	// A bare --one-time means on; "--one-time off" (or =off) turns it off.
	f.Lookup("one-time").NoOptDefVal = "on"
	f.DurationVar(&o.defLife, "default-lifetime", 0, "tap: default pass lifetime (e.g. 1h)")
	f.DurationVar(&o.minLife, "min-lifetime", 0, "tap: minimum pass lifetime (≥ 10m)")
	f.DurationVar(&o.maxLife, "max-lifetime", 0, "tap: maximum pass lifetime (≤ 720h)")
	f.IntVar(&o.length, "length", 0, "tap: pass length (8–48)")
	f.BoolVar(&o.yes, "yes", false, "apply without asking")
	return cmd
}

// policySetArgs sorts policy set's arguments: the policy (fido2 or tap) and,
// because a bare --one-time means on, the value of "--one-time off" that
// the flag parser leaves behind as an argument of its own.
func policySetArgs(args []string, oneTimeGiven bool) (which, oneTime string, err error) {
	for _, a := range args {
		switch {
		case (a == "fido2" || a == "tap") && which == "":
			which = a
		case oneTimeGiven && oneTime == "" && a != "fido2" && a != "tap":
			oneTime = a // checked with the other on/off values
		default:
			if isOnOff(a) {
				return "", "", usageErr("%q: an on/off value belongs to a flag (--self-service on, --one-time off)", a)
			}
			return "", "", usageErr("policy set takes one policy, fido2 or tap; unexpected %q", a)
		}
	}
	if which == "" {
		return "", "", usageErr("policy set takes fido2 or tap")
	}
	return which, oneTime, nil
}

// isOnOff reports whether v is one of the values parseOnOff accepts.
func isOnOff(v string) bool {
	b, err := parseOnOff("", v)
	return err == nil && b != nil
}

func parseOnOff(flag, v string) (*bool, error) {
	switch strings.ToLower(v) {
	case "":
		return nil, nil
	case "on", "true", "yes":
		b := true
		return &b, nil
	case "off", "false", "no":
		b := false
		return &b, nil
	}
	return nil, usageErr("--%s %q: want on or off", flag, v)
}

func lifetimeMinutes(flag string, d time.Duration) (int, error) {
	if d == 0 {
		return 0, nil
	}
	if d%time.Minute != 0 {
		return 0, usageErr("--%s %v: whole minutes only", flag, d)
	}
	n := int(d / time.Minute)
	if n < graph.MinTAPLifetimeMinutes || n > graph.MaxTAPLifetimeMinutes {
		return 0, usageErr("--%s %v out of range: allowed 10 minutes to 30 days (10m to 720h)", flag, d)
	}
	return n, nil
}

func runPolicySet(cmd *cobra.Command, g *globals, which string, o policySetOptions) error {
	ctx := cmd.Context()
	// Everything that can be checked offline is checked before any request.
	if o.enable && o.disable {
		return usageErr("--enable and --disable exclude each other")
	}
	fido2Only := o.selfService != "" || o.enforceAtt != "" || len(o.allowAAGUIDs) > 0 || len(o.blockAAGUIDs) > 0 || o.noRestrictions
	tapOnly := o.oneTime != "" || o.defLife != 0 || o.minLife != 0 || o.maxLife != 0 || o.length != 0
	if which == "fido2" && tapOnly {
		return usageErr("--one-time, --*-lifetime and --length belong to the tap policy")
	}
	if which == "tap" && fido2Only {
		return usageErr("--self-service, --enforce-attestation and key restrictions belong to the fido2 policy")
	}
	if len(o.allowAAGUIDs) > 0 && len(o.blockAAGUIDs) > 0 {
		return usageErr("--allow-aaguid and --block-aaguid exclude each other (key restrictions are either an allow list or a block list)")
	}
	if o.noRestrictions && (len(o.allowAAGUIDs) > 0 || len(o.blockAAGUIDs) > 0) {
		return usageErr("--no-key-restrictions and --allow-aaguid/--block-aaguid exclude each other")
	}
	for _, a := range append(slices.Clone(o.allowAAGUIDs), o.blockAAGUIDs...) {
		if !graph.IsGUID(a) {
			return usageErr("AAGUID %q: want the 8-4-4-4-12 hexadecimal form", a)
		}
	}
	selfService, err := parseOnOff("self-service", o.selfService)
	if err != nil {
		return err
	}
	enforce, err := parseOnOff("enforce-attestation", o.enforceAtt)
	if err != nil {
		return err
	}
	oneTime, err := parseOnOff("one-time", o.oneTime)
	if err != nil {
		return err
	}
	defLife, err := lifetimeMinutes("default-lifetime", o.defLife)
	if err != nil {
		return err
	}
	minLife, err := lifetimeMinutes("min-lifetime", o.minLife)
	if err != nil {
		return err
	}
	maxLife, err := lifetimeMinutes("max-lifetime", o.maxLife)
	if err != nil {
		return err
	}
	if o.length != 0 && (o.length < 8 || o.length > 48) {
		return usageErr("--length %d out of range: allowed 8 to 48 characters", o.length)
	}
	if !o.enable && !o.disable && !fido2Only && !tapOnly && o.includeGroups == nil && o.excludeGrps == nil {
		return usageErr("nothing to change: give --enable/--disable, targets or settings (see keyprep policy set --help)")
	}

	c, err := g.graphClient(ctx)
	if err != nil {
		return err
	}
	resolve := func(names []string) ([]graph.Target, error) {
		var ts []graph.Target
		for _, n := range names {
			if strings.EqualFold(n, graph.AllUsers) {
				ts = append(ts, graph.Target{ID: graph.AllUsers, TargetType: "group"})
				continue
			}
			gr, err := c.FindGroup(ctx, n)
			if err != nil {
				return nil, err
			}
			ts = append(ts, graph.Target{ID: gr.ID, TargetType: "group"})
		}
		return ts, nil
	}
	include, err := resolve(o.includeGroups)
	if err != nil {
		return err
	}
	exclude, err := resolve(o.excludeGrps)
	if err != nil {
		return err
	}
	state := ""
	if o.enable {
		state = "enabled"
	} else if o.disable {
		state = "disabled"
	}
	names := g.groupNamer(ctx, c)

	var before, after string
	var apply func() error
	if which == "fido2" {
		p, err := c.GetFido2Policy(ctx)
		if err != nil {
			return err
		}
		before = render(func(w io.Writer) { printFido2Policy(w, p, names) })
		n := *p
		if state != "" {
			n.State = state
		}
		if o.includeGroups != nil {
			// Keep allowed passkey profiles of targets that stay.
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
		if o.excludeGrps != nil {
			n.ExcludeTargets = exclude
		}
		if selfService != nil {
			n.IsSelfServiceRegistrationAllowed = *selfService
		}
		if enforce != nil {
			n.IsAttestationEnforced = *enforce
		}
		switch {
		case o.noRestrictions:
			n.KeyRestrictions = &graph.KeyRestrictions{IsEnforced: false, EnforcementType: "block", AAGUIDs: []string{}}
		case len(o.allowAAGUIDs) > 0:
			n.KeyRestrictions = &graph.KeyRestrictions{IsEnforced: true, EnforcementType: "allow", AAGUIDs: lower(o.allowAAGUIDs)}
		case len(o.blockAAGUIDs) > 0:
			n.KeyRestrictions = &graph.KeyRestrictions{IsEnforced: true, EnforcementType: "block", AAGUIDs: lower(o.blockAAGUIDs)}
		}
		after = render(func(w io.Writer) { printFido2Policy(w, &n, names) })
		apply = func() error { return c.UpdateFido2Policy(ctx, &n) }
	} else {
		p, err := c.GetTAPPolicy(ctx)
		if err != nil {
			return err
		}
		before = render(func(w io.Writer) { printTAPPolicy(w, p, names) })
		n := *p
		if state != "" {
			n.State = state
		}
		if o.includeGroups != nil {
			n.IncludeTargets = include
		}
		if o.excludeGrps != nil {
			n.ExcludeTargets = exclude
		}
		if oneTime != nil {
			n.IsUsableOnce = *oneTime
		}
		if defLife != 0 {
			n.DefaultLifetimeInMinutes = defLife
		}
		if minLife != 0 {
			n.MinimumLifetimeInMinutes = minLife
		}
		if maxLife != 0 {
			n.MaximumLifetimeInMinutes = maxLife
		}
		if o.length != 0 {
			n.DefaultLength = o.length
		}
		if err := n.Validate(); err != nil {
			return usageErr("the resulting TAP policy is invalid: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
		after = render(func(w io.Writer) { printTAPPolicy(w, &n, names) })
		apply = func() error { return c.UpdateTAPPolicy(ctx, &n) }
	}
	diff := lineDiff(before, after)
	if len(diff) == 0 {
		return g.done(map[string]any{"policy": which, "changed": false}, "The %s policy already has these settings; nothing sent.", which)
	}
	if !g.JSON || !o.yes {
		fmt.Fprintf(g.io.ErrOut, "Changes to the %s policy:\n%s", which, strings.Join(diff, ""))
	}
	if !o.yes {
		if !g.pinsIn.interactive() {
			return usageErr("confirm the change with --yes")
		}
		answer, err := g.pinsIn.confirm("Apply? Type 'yes' to continue: ")
		if err != nil {
			return err
		}
		if answer != "yes" {
			return usageErr("policy change not confirmed")
		}
	}
	if err := apply(); err != nil {
		return err
	}
	var changes []string
	for _, d := range diff {
		if strings.HasPrefix(d, "+ ") {
			changes = append(changes, strings.TrimSpace(d[2:]))
		}
	}
	return g.done(map[string]any{"policy": which, "changed": true, "changes": changes}, "The %s policy was updated (changes take a few minutes to replicate in Entra).", which)
}

func render(f func(io.Writer)) string {
	var b strings.Builder
	f(&b)
	return b.String()
}

// lineDiff lists changed lines as "- old" / "+ new".
func lineDiff(a, b string) []string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			if x != "" {
				out = append(out, "- "+strings.TrimSpace(x)+"\n")
			}
			if y != "" {
				out = append(out, "+ "+strings.TrimSpace(y)+"\n")
			}
		}
	}
	return out
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// ---- policy check ----------------------------------------------------------

// finding is one line of a policy check.
type finding struct {
	OK   *bool  `json:"ok"` // nil: informational or unknown
	What string `json:"what"`
	Fix  string `json:"fix,omitempty"`
}

type verdict struct {
	Possible *bool     `json:"possible"` // nil: could not be determined
	Findings []finding `json:"findings"`
}

func (v *verdict) add(ok *bool, what, fix string) {
	v.Findings = append(v.Findings, finding{OK: ok, What: what, Fix: fix})
	if ok != nil && !*ok {
		f := false
		v.Possible = &f
	}
}

var (
	yesP = func() *bool { b := true; return &b }()
	noP  = func() *bool { b := false; return &b }()
)

func newPolicyCheckCmd(g *globals) *cobra.Command {
	var user string
	var multi bool
	cmd := &cobra.Command{
		Use:   "check --user UPN [--multi-use]",
		Short: "Explain whether a user can get a pre-provisioned passkey and sign in with a TAP, and what to change if not",
		Long: `check reads the user, both method policies, the user's group memberships and the
permissions of the identity keyprep signs in as, and says in plain words whether
(a) keyprep can pre-provision a passkey for the user and (b) the user can sign
in with a Temporary Access Pass — and what to change when not.
Exit status 0 when both are possible, 8 when something is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usageErr("policy check needs --user UPN")
			}
			return runPolicyCheck(cmd.Context(), g, user, multi)
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user principal name or object id")
	cmd.Flags().BoolVar(&multi, "multi-use", false, "the user will need a multi-use Temporary Access Pass (e.g. to set up several devices)")
	return cmd
}

// permission needs of the provisioning and TAP flows (docs/graph.md §8):
// the least-privileged permission and the broader ones that also do.
var checkPermissions = []struct {
	need, what string
	alt        []string
}{
	{"User.Read.All", "look users up", []string{"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}},
	{"UserAuthMethod-Passkey.ReadWrite.All", "provision passkeys", []string{"UserAuthenticationMethod.ReadWrite.All"}},
	{"UserAuthMethod-TAP.ReadWrite.All", "issue Temporary Access Passes", []string{"UserAuthenticationMethod.ReadWrite.All"}},
	{"Policy.Read.AuthenticationMethod", "read the method policies", []string{"Policy.ReadWrite.AuthenticationMethod", "Policy.Read.All"}},
	{"GroupMember.Read.All", "check policy group membership", []string{"Group.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"}},
}

func runPolicyCheck(ctx context.Context, g *globals, upn string, multi bool) error {
	c, err := g.graphClient(ctx)
	if err != nil {
		return err
	}
	u, err := c.GetUser(ctx, upn)
	if err != nil {
		return err
	}
	var passkey, tap verdict
	var perms []finding
	passkey.Possible, tap.Possible = yesP, yesP

	// The identity's permissions, when its token is readable.
	if g.cred != nil {
		if id, err := graph.TokenIdentity(ctx, g.cred, g.authMethod); err == nil && !id.Opaque {
			for _, p := range checkPermissions {
				ok := id.Has(p.need) || slices.ContainsFunc(p.alt, id.Has)
				if ok {
					perms = append(perms, finding{OK: yesP, What: fmt.Sprintf("may %s", p.what)})
				} else {
					fix := "grant the application permission " + p.need + " (admin consent)"
					if !id.AppOnly {
						fix = "add the delegated permission " + p.need + " and sign in as Authentication Administrator"
					}
					perms = append(perms, finding{OK: noP, What: fmt.Sprintf("the signed-in identity lacks %s (to %s)", p.need, p.what), Fix: fix})
				}
			}
		}
	}

	if u.IsGuest() {
		passkey.add(noP, fmt.Sprintf("%s is a guest (userType %s): passkeys cannot be provisioned for guests", u.UserPrincipalName, u.UserType),
			"provision the account in the user's home tenant")
		tap.add(noP, "external guests cannot be issued a Temporary Access Pass by this tenant", "the user's home tenant can issue one")
	} else {
		passkey.add(yesP, "member account", "")
	}

	member := func(ts []graph.Target) (bool, string, error) {
		var groups []string
		for _, t := range ts {
			if t.ID == graph.AllUsers {
				return true, "all users", nil
			}
			if strings.EqualFold(t.ID, u.ID) {
				return true, "the user directly", nil
			}
			groups = append(groups, t.ID)
		}
		in, err := c.CheckMemberGroups(ctx, u.ID, groups)
		if err != nil {
			return false, "", err
		}
		if len(in) > 0 {
			return true, g.groupNamer(ctx, c)(in[0]), nil
		}
		return false, "", nil
	}
	unknown := func(v *verdict, what string, err error) {
		v.Findings = append(v.Findings, finding{What: fmt.Sprintf("cannot tell whether %s: %s", what, plainMessage(err)), Fix: graph.Hint(err)})
		if v.Possible != nil && *v.Possible {
			v.Possible = nil
		}
	}

	fp, err := c.GetFido2Policy(ctx)
	if err != nil {
		unknown(&passkey, "the Passkey (FIDO2) policy allows it", err)
	} else {
		if fp.Enabled() {
			passkey.add(yesP, "Passkey (FIDO2) method enabled", "")
		} else {
			passkey.add(noP, "the Passkey (FIDO2) method is disabled", "keyprep policy set fido2 --enable --include-group GROUP")
		}
		if in, via, err := member(fp.IncludeTargets); err != nil {
			unknown(&passkey, "the user is in the policy's targets", err)
		} else if in {
			passkey.add(yesP, "in the policy's targets (via "+via+")", "")
		} else {
			passkey.add(noP, "not in any target of the Passkey (FIDO2) policy ("+targetList(fp.IncludeTargets, g.groupNamer(ctx, c))+")",
				"add the user to a target group, or keyprep policy set fido2 --include-group GROUP")
		}
		if len(fp.ExcludeTargets) > 0 {
			if ex, via, err := member(fp.ExcludeTargets); err == nil && ex {
				passkey.add(noP, "excluded from the Passkey (FIDO2) policy (via "+via+")", "remove the user from the excluded group")
			}
		}
		if fp.IsSelfServiceRegistrationAllowed {
			passkey.add(yesP, "self-service setup on (the provisioning API requires it)", "")
		} else {
			passkey.add(noP, "self-service setup is off: the provisioning API refuses to create passkeys until it is on (known Entra prerequisite)",
				"keyprep policy set fido2 --self-service on")
		}
		att := "attestation not enforced: any key model that passes key restrictions"
		if fp.IsAttestationEnforced {
			att = "attestation enforced: the key must carry a certified (FIDO metadata) attestation"
		}
		passkey.add(nil, att, "")
		if fp.KeyRestrictions != nil && fp.KeyRestrictions.IsEnforced {
			passkey.add(nil, "key restrictions: "+restrictionsText(fp.KeyRestrictions), "")
		}
	}

	tp, err := c.GetTAPPolicy(ctx)
	if err != nil {
		unknown(&tap, "the Temporary Access Pass policy allows it", err)
	} else {
		if tp.Enabled() {
			tap.add(yesP, "Temporary Access Pass method enabled", "")
		} else {
			tap.add(noP, "the Temporary Access Pass method is disabled", "keyprep policy set tap --enable --include-group GROUP")
		}
		if in, via, err := member(tp.IncludeTargets); err != nil {
			unknown(&tap, "the user is in the TAP policy's targets", err)
		} else if in {
			tap.add(yesP, "in the TAP policy's targets (via "+via+")", "")
		} else {
			tap.add(noP, "not in any target of the Temporary Access Pass policy: a pass can be created but not used to sign in",
				"add the user to a target group, or keyprep policy set tap --include-group GROUP")
		}
		if len(tp.ExcludeTargets) > 0 {
			if ex, via, err := member(tp.ExcludeTargets); err == nil && ex {
				tap.add(noP, "excluded from the TAP policy (via "+via+")", "remove the user from the excluded group")
			}
		}
		once := "multi-use passes allowed"
		if tp.IsUsableOnce {
			once = "one-time passes only (a multi-use request is refused); after signing in the user has 10 minutes to register a key"
			if multi {
				tap.add(noP, "a multi-use pass is needed, but the policy allows one-time passes only",
					"keyprep policy set tap --one-time off, or issue a one-time pass (the user then has 10 minutes after signing in to register a key)")
			}
		}
		tap.add(nil, fmt.Sprintf("lifetime %s to %s (default %s), %d characters; %s", minutes(tp.MinimumLifetimeInMinutes),
			minutes(tp.MaximumLifetimeInMinutes), minutes(tp.DefaultLifetimeInMinutes), tp.DefaultLength, once), "")
	}
	for _, p := range perms {
		if p.OK != nil && !*p.OK {
			if strings.Contains(p.What, "Passkey") || strings.Contains(p.What, "User.Read") || strings.Contains(p.What, "Policy.Read") {
				passkey.add(noP, p.What, p.Fix)
			}
			if strings.Contains(p.What, "TAP") || strings.Contains(p.What, "User.Read") {
				tap.add(noP, p.What, p.Fix)
			}
		}
	}

	result := map[string]any{
		"user":        map[string]any{"id": u.ID, "userPrincipalName": u.UserPrincipalName, "displayName": u.DisplayName, "userType": u.UserType},
		"passkey":     passkey,
		"tap":         tap,
		"permissions": perms,
	}
	if g.JSON {
		if err := g.printJSON(result); err != nil {
			return err
		}
	} else {
		w := g.io.Out
		fmt.Fprintf(w, "%s (%s, %s)\n\n", u.UserPrincipalName, u.DisplayName, u.UserType)
		printVerdict(w, "Pre-provisioned passkey (keyprep enroll)", passkey)
		fmt.Fprintln(w)
		printVerdict(w, "Temporary Access Pass sign-in", tap)
		if len(perms) > 0 {
			fmt.Fprintln(w)
			fmt.Fprintln(w, "Permissions of the signed-in identity")
			printFindings(w, perms)
		}
	}
	if (passkey.Possible != nil && !*passkey.Possible) || (tap.Possible != nil && !*tap.Possible) {
		return &Error{Code: ExitDirectory, Msg: fmt.Sprintf("%s: not everything is in place (see above)", u.UserPrincipalName),
			Err: errors.New("policy check failed"), resultPrinted: true}
	}
	return nil
}

func printVerdict(w io.Writer, title string, v verdict) {
	ans := "YES"
	switch {
	case v.Possible == nil:
		ans = "UNKNOWN"
	case !*v.Possible:
		ans = "NO"
	}
	fmt.Fprintf(w, "%s: %s\n", title, ans)
	printFindings(w, v.Findings)
}

func printFindings(w io.Writer, fs []finding) {
	for _, f := range fs {
		mark := "·"
		if f.OK != nil {
			mark = "✓"
			if !*f.OK {
				mark = "✗"
			}
		}
		fmt.Fprintf(w, "  %s %s\n", mark, f.What)
		if f.Fix != "" && (f.OK == nil || !*f.OK) {
			fmt.Fprintf(w, "      fix: %s\n", f.Fix)
		}
	}
}
