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

	"github.com/keyprep/keyprep/internal/duration"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/onboard"
	"github.com/keyprep/keyprep/internal/policy"
	"github.com/keyprep/keyprep/internal/safetext"
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
			which := ""
			if len(args) == 1 {
				which = args[0]
			}
			return runPolicyShow(cmd.Context(), g, which)
		},
	}
}

func runPolicyShow(ctx context.Context, g *globals, which string) error {
	c, err := g.graphClient(ctx)
	if err != nil {
		return err
	}
	out := map[string]any{}
	var fp *graph.Fido2Policy
	var tp *graph.TAPPolicy
	var targets [][]graph.Target
	if which != "tap" {
		if fp, err = c.GetFido2Policy(ctx); err != nil {
			return err
		}
		out["fido2"] = fp
		targets = append(targets, fp.IncludeTargets, fp.ExcludeTargets)
	}
	if which != "fido2" {
		if tp, err = c.GetTAPPolicy(ctx); err != nil {
			return err
		}
		out["tap"] = tp
		targets = append(targets, tp.IncludeTargets, tp.ExcludeTargets)
	}
	if g.JSON {
		return g.printJSON(out)
	}
	names := groupNames(ctx, c, targets...)
	var overlaps []string
	if fp != nil {
		overlaps = append(overlaps, policy.Overlaps("fido2", fp.IncludeTargets, fp.ExcludeTargets, names)...)
	}
	if tp != nil {
		overlaps = append(overlaps, policy.Overlaps("tap", tp.IncludeTargets, tp.ExcludeTargets, names)...)
	}
	for _, w := range overlaps {
		fmt.Fprintf(g.io.ErrOut, "warning: %s\n", w)
	}
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
}

// groupNames resolves the target groups' display names, best effort: a
// group that cannot be read is shown by its id.
func groupNames(ctx context.Context, c *graph.Client, lists ...[]graph.Target) policy.Names {
	names := policy.Names{}
	for _, ts := range lists {
		for _, t := range ts {
			if _, seen := names[t.ID]; seen || t.ID == graph.AllUsers {
				continue
			}
			names[t.ID] = ""
			if gr, err := c.FindGroup(ctx, t.ID); err == nil {
				names[t.ID] = gr.DisplayName
			}
		}
	}
	return names
}

// settingLine is one setting as policy show prints it, without the indent.
func settingLine(label, text string) string {
	if len(label) >= 22 {
		return label + "  " + text
	}
	return fmt.Sprintf("%-22s%s", label, text)
}

// printSettings prints settings, those of a passkey profile under its
// heading.
func printSettings(w io.Writer, ss []policy.Setting) {
	group := ""
	for _, s := range ss {
		if s.Group != group {
			group = s.Group
			safetext.Fprintf(w, "  %s\n", group)
		}
		if s.Group != "" {
			safetext.Fprintf(w, "    %s\n", fmt.Sprintf("%-20s%s", s.Label, s.Text))
			continue
		}
		safetext.Fprintf(w, "  %s\n", settingLine(s.Label, s.Text))
	}
}

func printFido2Policy(w io.Writer, p *graph.Fido2Policy, names policy.Names) {
	fmt.Fprintln(w, "Passkey (FIDO2) policy")
	printSettings(w, policy.Fido2Settings(p, names))
}

func printTAPPolicy(w io.Writer, p *graph.TAPPolicy, names policy.Names) {
	fmt.Fprintln(w, "Temporary Access Pass policy")
	printSettings(w, policy.TAPSettings(p, names))
}

// ---- policy set ------------------------------------------------------------

type policySetOptions struct {
	enable, disable            bool
	includeGroups, excludeGrps []string
	removeExclude              []string
	listBlocked                bool
	selfService, enforceAtt    string
	profile                    string
	allowAAGUIDs, blockAAGUIDs []string
	addAAGUIDs, removeAAGUIDs  []string
	enforceRestrictions        string
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
  keyprep policy set fido2 --profile "Default passkey profile" --enforce-attestation off
  keyprep policy set fido2 --profile Admins --allow-aaguid AAGUID --allow-aaguid AAGUID

In a tenant with passkey profiles the profiles decide attestation and key
models; --enforce-attestation and the key-restriction flags change the
passkey profile named by --profile (name or id), and without --profile the
deprecated policy-wide isAttestationEnforced and keyRestrictions, which then
decide nothing (keyprep warns and names the profile to change).

  keyprep policy set tap --enable --include-group Onboarding --one-time --default-lifetime 1h
  keyprep policy set tap --one-time off

Exclusions: --exclude-group replaces them (--exclude-group none clears them),
--remove-exclude-group GROUP drops one. A group both included and excluded is
warned about: the exclusion wins.

Turning --one-time on blocks every existing multi-use pass (Entra refuses it
at sign-in): set counts them in the policy's targets first and says how many;
--list-blocked lists them.`,
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
	f.StringArrayVar(&o.excludeGrps, "exclude-group", nil, "excluded group (name or object id); repeat; replaces the exclude targets (none: exclude no group)")
	f.StringArrayVar(&o.removeExclude, "remove-exclude-group", nil, "stop excluding this group (name or object id); repeat")
	f.BoolVar(&o.listBlocked, "list-blocked", false, "tap --one-time: list the existing multi-use passes the change blocks")
	f.StringVar(&o.selfService, "self-service", "", "fido2: allow self-service setup (on|off); provisioning needs on")
	f.StringVar(&o.profile, "profile", "", "fido2: the passkey profile (name or id) that --enforce-attestation and the key-restriction flags change")
	f.StringVar(&o.enforceAtt, "enforce-attestation", "", "fido2: enforce attestation (on|off)")
	f.StringArrayVar(&o.allowAAGUIDs, "allow-aaguid", nil, "fido2: allow only these key models (AAGUID); repeat; replaces the list")
	f.StringArrayVar(&o.blockAAGUIDs, "block-aaguid", nil, "fido2: block these key models (AAGUID); repeat; replaces the list")
	f.StringArrayVar(&o.addAAGUIDs, "add-aaguid", nil, "fido2: add a key model (AAGUID) to the current allow or block list; repeat")
	f.StringArrayVar(&o.removeAAGUIDs, "remove-aaguid", nil, "fido2: remove a key model (AAGUID) from the current list; repeat")
	f.StringVar(&o.enforceRestrictions, "enforce-key-restrictions", "", "fido2: enforce the key restrictions' list (on|off; off keeps the list)")
	f.BoolVar(&o.noRestrictions, "no-key-restrictions", false, "fido2: remove key restrictions")
	f.StringVar(&o.oneTime, "one-time", "", "tap: every pass one-time (--one-time, or --one-time off)")
	// A bare --one-time means on; "--one-time off" (or =off) turns it off.
	f.Lookup("one-time").NoOptDefVal = "on"
	f.Var(duration.NewValue(&o.defLife), "default-lifetime", "tap: default pass lifetime (e.g. 1h)")
	f.Var(duration.NewValue(&o.minLife), "min-lifetime", "tap: minimum pass lifetime (≥ 10m)")
	f.Var(duration.NewValue(&o.maxLife), "max-lifetime", "tap: maximum pass lifetime (≤ 30d)")
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
		return 0, usageErr("--%s %s: whole minutes only", flag, duration.Format(d))
	}
	n := int(d / time.Minute)
	if n < policy.MinTAPLifetimeMinutes || n > policy.MaxTAPLifetimeMinutes {
		return 0, usageErr("--%s %s out of range: allowed 10m to 30d", flag, duration.Format(d))
	}
	return n, nil
}

// policyEdit is a checked policy set request. Targets are group names
// until resolve turns them into ids.
type policyEdit struct {
	fido2                 policy.Fido2Edit
	tap                   policy.TAPEdit
	includeNames, exNames []string
	removeNames           []string
}

// isNone reports the --exclude-group value that clears the exclusions.
func isNone(name string) bool { return strings.EqualFold(strings.TrimSpace(name), "none") }

func (o policySetOptions) fido2Only() bool {
	return o.selfService != "" || o.profile != "" || o.enforceAtt != "" || o.restrictionEdits()
}

// restrictionEdits reports whether a key-restriction flag was given.
func (o policySetOptions) restrictionEdits() bool {
	return len(o.allowAAGUIDs) > 0 || len(o.blockAAGUIDs) > 0 || o.noRestrictions ||
		len(o.addAAGUIDs) > 0 || len(o.removeAAGUIDs) > 0 || o.enforceRestrictions != ""
}

// restrictionFlags are the key-restriction flags as given, for a warning's
// command line.
func (o policySetOptions) restrictionFlags() string {
	var fs []string
	for _, l := range []struct {
		flag string
		vs   []string
	}{{"--allow-aaguid", o.allowAAGUIDs}, {"--block-aaguid", o.blockAAGUIDs}, {"--add-aaguid", o.addAAGUIDs}, {"--remove-aaguid", o.removeAAGUIDs}} {
		for _, v := range l.vs {
			fs = append(fs, l.flag+" "+v)
		}
	}
	if o.noRestrictions {
		fs = append(fs, "--no-key-restrictions")
	}
	if o.enforceRestrictions != "" {
		fs = append(fs, "--enforce-key-restrictions "+o.enforceRestrictions)
	}
	return strings.Join(fs, " ")
}

func (o policySetOptions) tapOnly() bool {
	return o.oneTime != "" || o.defLife != 0 || o.minLife != 0 || o.maxLife != 0 || o.length != 0
}

// edit checks everything that can be checked offline, before any request.
func (o policySetOptions) edit(which string) (*policyEdit, error) {
	if o.enable && o.disable {
		return nil, usageErr("--enable and --disable exclude each other")
	}
	if which == "fido2" && o.tapOnly() {
		return nil, usageErr("--one-time, --*-lifetime and --length belong to the tap policy")
	}
	if which == "tap" && o.fido2Only() {
		return nil, usageErr("--self-service, --profile, --enforce-attestation and key restrictions belong to the fido2 policy")
	}
	e := &policyEdit{includeNames: o.includeGroups, exNames: o.excludeGrps, removeNames: o.removeExclude}
	var err error
	if e.fido2, err = o.fido2Edit(); err != nil {
		return nil, err
	}
	if e.tap, err = o.tapEdit(); err != nil {
		return nil, err
	}
	if o.listBlocked && (which != "tap" || e.tap.OneTime == nil || !*e.tap.OneTime) {
		return nil, usageErr("--list-blocked lists the multi-use passes that turning one-time use on blocks: give it with policy set tap --one-time")
	}
	state := ""
	if o.enable {
		state = policy.StateEnabled
	} else if o.disable {
		state = policy.StateDisabled
	}
	e.fido2.State, e.tap.State = state, state
	if len(o.excludeGrps) > 1 && slices.ContainsFunc(o.excludeGrps, isNone) {
		return nil, usageErr("--exclude-group none clears the exclusions: give it alone")
	}
	if len(o.excludeGrps) > 0 && len(o.removeExclude) > 0 {
		return nil, usageErr("--exclude-group replaces the exclusions and --remove-exclude-group drops one: give one of them")
	}
	if !o.enable && !o.disable && !o.fido2Only() && !o.tapOnly() && o.includeGroups == nil && o.excludeGrps == nil && o.removeExclude == nil {
		return nil, usageErr("nothing to change: give --enable/--disable, targets or settings (see keyprep policy set --help)")
	}
	return e, nil
}

func (o policySetOptions) fido2Edit() (policy.Fido2Edit, error) {
	var e policy.Fido2Edit
	if len(o.allowAAGUIDs) > 0 && len(o.blockAAGUIDs) > 0 {
		return e, usageErr("--allow-aaguid and --block-aaguid exclude each other (key restrictions are either an allow list or a block list)")
	}
	if o.noRestrictions && (len(o.allowAAGUIDs) > 0 || len(o.blockAAGUIDs) > 0 || len(o.addAAGUIDs) > 0 || o.enforceRestrictions != "") {
		return e, usageErr("--no-key-restrictions and the other key-restriction flags exclude each other")
	}
	if o.profile != "" && o.enforceAtt == "" && !o.restrictionEdits() {
		return e, &Error{Code: ExitUsage, Msg: "--profile selects the passkey profile that --enforce-attestation and the key-restriction flags change; give one of them",
			Hint: "keyprep policy set fido2 --profile " + policy.ShellQuote(o.profile) + " --enforce-attestation off (keyprep policy show fido2 lists the profiles)"}
	}
	if strings.TrimSpace(o.profile) == "" && o.profile != "" {
		return e, usageErr("--profile: empty profile name")
	}
	for _, a := range slices.Concat(o.allowAAGUIDs, o.blockAAGUIDs, o.addAAGUIDs, o.removeAAGUIDs) {
		if !graph.IsGUID(a) {
			return e, usageErr("AAGUID %q: want the 8-4-4-4-12 hexadecimal form", a)
		}
	}
	var err error
	if e.SelfService, err = parseOnOff("self-service", o.selfService); err != nil {
		return e, err
	}
	if e.EnforceAtt, err = parseOnOff("enforce-attestation", o.enforceAtt); err != nil {
		return e, err
	}
	if e.EnforceRestrictions, err = parseOnOff("enforce-key-restrictions", o.enforceRestrictions); err != nil {
		return e, err
	}
	e.Profile = o.profile
	e.AddAAGUIDs, e.RemoveAAGUIDs = o.addAAGUIDs, o.removeAAGUIDs
	switch {
	case o.noRestrictions:
		e.Restrictions = policy.NoRestrictions()
	case len(o.allowAAGUIDs) > 0:
		e.Restrictions = policy.AllowOnly(o.allowAAGUIDs)
	case len(o.blockAAGUIDs) > 0:
		e.Restrictions = policy.BlockList(o.blockAAGUIDs)
	}
	return e, nil
}

func (o policySetOptions) tapEdit() (policy.TAPEdit, error) {
	var e policy.TAPEdit
	var err error
	if e.OneTime, err = parseOnOff("one-time", o.oneTime); err != nil {
		return e, err
	}
	if e.DefaultLifetime, err = lifetimeMinutes("default-lifetime", o.defLife); err != nil {
		return e, err
	}
	if e.MinLifetime, err = lifetimeMinutes("min-lifetime", o.minLife); err != nil {
		return e, err
	}
	if e.MaxLifetime, err = lifetimeMinutes("max-lifetime", o.maxLife); err != nil {
		return e, err
	}
	if o.length != 0 && (o.length < policy.MinTAPLength || o.length > policy.MaxTAPLength) {
		return e, usageErr("--length %d out of range: allowed 8 to 48 characters", o.length)
	}
	e.Length = o.length
	return e, nil
}

// resolveTargets turns group names (or ids, or all_users) into targets;
// nil stays nil (the targets are kept).
func resolveTargets(ctx context.Context, c *graph.Client, names []string) ([]graph.Target, error) {
	if names == nil {
		return nil, nil
	}
	ts := []graph.Target{}
	for _, n := range names {
		if isNone(n) {
			continue // --exclude-group none: no targets
		}
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

// resolve looks the named groups up.
func (e *policyEdit) resolve(ctx context.Context, c *graph.Client) error {
	include, err := resolveTargets(ctx, c, e.includeNames)
	if err != nil {
		return err
	}
	exclude, err := resolveTargets(ctx, c, e.exNames)
	if err != nil {
		return err
	}
	e.fido2.Include, e.tap.Include = include, include
	e.fido2.Exclude, e.tap.Exclude = exclude, exclude
	// A group to stop excluding is looked up by name or id; one that no
	// longer exists can still be dropped by its id.
	for _, n := range e.removeNames {
		id := strings.TrimSpace(n)
		if gr, err := c.FindGroup(ctx, id); err == nil {
			id = gr.ID
		} else if !graph.IsGUID(id) {
			return err
		}
		e.fido2.RemoveExclude = append(e.fido2.RemoveExclude, id)
		e.tap.RemoveExclude = e.fido2.RemoveExclude
	}
	return nil
}

// policyPlan is a change computed against the tenant's policy.
type policyPlan struct {
	changes []policy.Change
	// warnings say what the change will not do (a policy-wide setting that
	// the passkey profiles override).
	warnings []string
	// blocked are the multi-use passes a switch to one-time use blocks.
	blocked []onboard.BlockedPass
	apply   func(context.Context) error
}

func planFido2(ctx context.Context, c *graph.Client, e policy.Fido2Edit, restrictionFlags string) (*policyPlan, error) {
	p, err := c.GetFido2Policy(ctx)
	if err != nil {
		return nil, err
	}
	n, err := e.Apply(p)
	if err != nil {
		return nil, &Error{Code: ExitUsage, Msg: "--profile: " + err.Error(), Hint: "keyprep policy show fido2 lists the passkey profiles", Err: err}
	}
	names := groupNames(ctx, c, p.IncludeTargets, p.ExcludeTargets, n.IncludeTargets, n.ExcludeTargets)
	warnings := append(e.Warnings(p, restrictionFlags), policy.Overlaps("fido2", n.IncludeTargets, n.ExcludeTargets, names)...)
	return &policyPlan{changes: policy.Fido2Changes(p, &n, names), warnings: warnings,
		apply: func(ctx context.Context) error { return c.UpdateFido2Policy(ctx, &n) }}, nil
}

func (g *globals) planTAPPolicy(ctx context.Context, c *graph.Client, e policy.TAPEdit, listBlocked bool) (*policyPlan, error) {
	p, err := c.GetTAPPolicy(ctx)
	if err != nil {
		return nil, err
	}
	n := e.Apply(p)
	if err := n.Validate(); err != nil {
		return nil, usageErr("the resulting TAP policy is invalid: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	names := groupNames(ctx, c, p.IncludeTargets, p.ExcludeTargets, n.IncludeTargets, n.ExcludeTargets)
	plan := &policyPlan{changes: policy.TAPChanges(p, &n, names), warnings: policy.Overlaps("tap", n.IncludeTargets, n.ExcludeTargets, names),
		apply: func(ctx context.Context) error { return c.UpdateTAPPolicy(ctx, &n) }}
	if policy.SwitchesToOneTime(p, &n) {
		blocked, err := g.multiUsePasses(ctx, c, p)
		if err != nil {
			return nil, fmt.Errorf("counting the multi-use passes that one-time use would block: %w", err)
		}
		plan.blocked = blocked
		if len(blocked) > 0 {
			plan.warnings = append(plan.warnings, fmt.Sprintf("%s will be blocked: Entra refuses a multi-use pass at sign-in once the policy allows one-time passes only (issue those users one-time passes: keyprep tap create --user UPN --once --replace)%s",
				plural(len(blocked), "existing multi-use pass", "existing multi-use passes"), map[bool]string{true: "", false: "; --list-blocked lists them"}[listBlocked]))
		}
	}
	return plan, nil
}

// multiUsePasses lists the live multi-use passes of the users in the TAP
// policy's targets (users outside them cannot sign in with a pass anyway).
func (g *globals) multiUsePasses(ctx context.Context, c *graph.Client, p *graph.TAPPolicy) ([]onboard.BlockedPass, error) {
	s := graphOnboard{c}
	ids, upns, err := onboard.TargetUserIDs(ctx, s, p)
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 {
		g.infof("checking the Temporary Access Passes of %s in the policy's targets…", plural(len(ids), "user", "users"))
	}
	out, err := onboard.BlockedByOneTime(ctx, s, p, ids, upns, time.Now())
	if err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].UPN == "" {
			if u, err := c.GetUser(ctx, out[i].UserID); err == nil {
				out[i].UPN = u.UserPrincipalName
			} else {
				out[i].UPN = out[i].UserID
			}
		}
	}
	return out, nil
}

// changeLines renders a change set as "- old" / "+ new" lines.
func changeLines(cs []policy.Change) string {
	var b strings.Builder
	for _, c := range cs {
		safetext.Fprintf(&b, "- %s\n+ %s\n", settingLine(c.Label, c.OldText), settingLine(c.Label, c.NewText))
	}
	return b.String()
}

// confirmChange asks for confirmation unless --yes.
func (g *globals) confirmChange(yes bool) error {
	if yes {
		return nil
	}
	if !g.pinsIn.interactive() {
		return usageErr("confirm the change with --yes")
	}
	answer, err := g.pinsIn.confirm("Apply? [y/N] ")
	if err != nil {
		return err
	}
	if !confirmed(answer) {
		return usageErr("policy change not confirmed")
	}
	return nil
}

func runPolicySet(cmd *cobra.Command, g *globals, which string, o policySetOptions) error {
	ctx := cmd.Context()
	e, err := o.edit(which)
	if err != nil {
		return err
	}
	c, err := g.graphClient(ctx)
	if err != nil {
		return err
	}
	if err := e.resolve(ctx, c); err != nil {
		return err
	}
	var plan *policyPlan
	if which == "fido2" {
		plan, err = planFido2(ctx, c, e.fido2, o.restrictionFlags())
	} else {
		plan, err = g.planTAPPolicy(ctx, c, e.tap, o.listBlocked)
	}
	if err != nil {
		return err
	}
	if !g.JSON || !o.yes {
		for _, w := range plan.warnings {
			safetext.Fprintf(g.io.ErrOut, "warning: %s\n", w)
		}
		list := o.listBlocked
		if !list && !o.yes && len(plan.blocked) > 0 && g.pinsIn.interactive() {
			// Offer the list before asking to apply.
			answer, err := g.pinsIn.confirm(fmt.Sprintf("List the %s? Type 'y' to list: ", plural(len(plan.blocked), "blocked pass", "blocked passes")))
			if err != nil {
				return err
			}
			list = strings.EqualFold(answer, "y") || strings.EqualFold(answer, "yes")
		}
		if list {
			for _, b := range plan.blocked {
				fmt.Fprintf(g.io.ErrOut, "  blocked: %s (multi-use, valid until %s)\n", b.UPN, b.Expiry.Local().Format("2006-01-02 15:04 MST"))
			}
		}
	}
	if len(plan.changes) == 0 {
		return g.done(withWarnings(map[string]any{"policy": which, "changed": false}, plan.warnings), "The %s policy already has these settings; nothing sent.", which)
	}
	if !g.JSON || !o.yes {
		fmt.Fprintf(g.io.ErrOut, "Changes to the %s policy:\n%s", which, changeLines(plan.changes))
	}
	if err := g.confirmChange(o.yes); err != nil {
		return err
	}
	if err := plan.apply(ctx); err != nil {
		return err
	}
	result := map[string]any{"policy": which, "changed": true, "changes": plan.changes}
	if which == "tap" && e.tap.OneTime != nil && *e.tap.OneTime {
		result["blockedPasses"] = len(plan.blocked)
		if o.listBlocked {
			result["blocked"] = append([]onboard.BlockedPass{}, plan.blocked...)
		}
	}
	return g.done(withWarnings(result, plan.warnings),
		"The %s policy was updated (changes take a few minutes to replicate in Entra).", which)
}

// withWarnings adds a "warnings" member to a --json result when there are
// any.
func withWarnings(m map[string]any, ws []string) map[string]any {
	if len(ws) > 0 {
		m["warnings"] = ws
	}
	return m
}

// ---- policy check ----------------------------------------------------------

// finding is one line of a policy check as --json shows it.
type finding struct {
	OK   *bool  `json:"ok"` // nil: informational or unknown
	What string `json:"what"`
	Fix  string `json:"fix,omitempty"`
}

type verdict struct {
	Possible *bool     `json:"possible"` // nil: could not be determined
	Findings []finding `json:"findings"`
}

func findingsJSON(fs []policy.Finding) []finding {
	var out []finding
	for _, f := range fs {
		j := finding{What: f.Message, Fix: f.Fix}
		switch f.Status {
		case policy.OK:
			j.OK = ptrTo(true)
		case policy.NotOK:
			j.OK = ptrTo(false)
		}
		out = append(out, j)
	}
	return out
}

func verdictJSON(v policy.Verdict) verdict {
	j := verdict{Findings: findingsJSON(v.Findings)}
	switch v.Answer {
	case policy.Yes:
		j.Possible = ptrTo(true)
	case policy.No:
		j.Possible = ptrTo(false)
	}
	return j
}

func ptrTo[T any](v T) *T { return &v }

func newPolicyCheckCmd(g *globals) *cobra.Command {
	var user, aaguid string
	var multi, selfAttesting bool
	cmd := &cobra.Command{
		Use:   "check --user UPN [--multi-use] [--aaguid AAGUID [--self-attesting]]",
		Short: "Explain whether a user can get a pre-provisioned passkey and sign in with a TAP, and what to change if not",
		Long: `check reads the user, both method policies, the user's group memberships and the
permissions of the identity keyprep signs in as, and says in plain words whether
(a) keyprep can pre-provision a passkey for the user and (b) the user can sign
in with a Temporary Access Pass — and what to change when not. It names the
passkey profiles that apply to the user and their rules; with --aaguid it
also says whether they take that key model (--self-attesting: a key without
an attestation certificate the tenant trusts), naming the profile that
refuses it and the command that would change it.
Exit status 0 when both are possible, 8 when something is missing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usageErr("policy check needs --user UPN")
			}
			var key *policy.Key
			switch {
			case aaguid != "" && !graph.IsGUID(aaguid):
				return usageErr("--aaguid %q: want the 8-4-4-4-12 hexadecimal form", aaguid)
			case aaguid != "":
				key = &policy.Key{AAGUID: strings.ToLower(aaguid), Attested: !selfAttesting}
			case selfAttesting:
				return usageErr("--self-attesting describes the key model of --aaguid; give --aaguid too")
			}
			return runPolicyCheck(cmd.Context(), g, user, multi, key)
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user principal name or object id")
	cmd.Flags().BoolVar(&multi, "multi-use", false, "the user will need a multi-use Temporary Access Pass (e.g. to set up several devices)")
	cmd.Flags().StringVar(&aaguid, "aaguid", "", "check this key model (AAGUID) against the passkey profiles that apply to the user")
	cmd.Flags().BoolVar(&selfAttesting, "self-attesting", false, "with --aaguid: the key attests itself (no certificate the tenant trusts)")
	return cmd
}

func problemOf(err error) *policy.Problem {
	return &policy.Problem{Msg: plainMessage(err), Hint: graph.Hint(err)}
}

// identity is the signed-in identity's permissions when its token is
// readable, or nil.
func (g *globals) identity(ctx context.Context) *policy.Identity {
	if g.cred == nil {
		return nil
	}
	id, err := graph.TokenIdentity(ctx, g.cred, g.authMethod)
	if err != nil || id.Opaque {
		return nil
	}
	return &policy.Identity{Granted: slices.Concat(id.Roles, id.Scopes), AppOnly: id.AppOnly}
}

// checkInput reads what policy.Evaluate looks at for the user: both
// policies, the memberships that decide something, the target groups'
// names and the identity's permissions. What cannot be read becomes a
// Problem (an "unknown" in the report), not an error.
func (g *globals) checkInput(ctx context.Context, c *graph.Client, u *graph.User) policy.Input {
	in := policy.Input{Identity: g.identity(ctx),
		User: policy.User{ID: u.ID, UPN: u.UserPrincipalName, DisplayName: u.DisplayName, UserType: u.UserType,
			Guest: u.IsGuest(), External: u.IsExternalGuest()}}
	var lists, includes [][]graph.Target
	var err error
	// The user's passes: whether the one they hold can sign in.
	if ts, err := c.ListTAPs(ctx, u.ID); err != nil {
		in.PassesProblem = problemOf(err)
	} else {
		in.PassesRead = true
		for _, t := range ts {
			pass := passFromGraph(t)
			in.Passes = append(in.Passes, pass.Judged())
		}
	}
	if in.Fido2, err = c.GetFido2Policy(ctx); err != nil {
		in.Fido2Problem = problemOf(err)
	} else {
		lists = append(lists, in.Fido2.IncludeTargets, in.Fido2.ExcludeTargets)
		includes = append(includes, in.Fido2.IncludeTargets)
	}
	if in.TAP, err = c.GetTAPPolicy(ctx); err != nil {
		in.TAPProblem = problemOf(err)
	} else {
		lists = append(lists, in.TAP.IncludeTargets, in.TAP.ExcludeTargets)
	}
	if groups := policy.GroupsToCheck(u.ID, lists...); len(groups) > 0 {
		if in.Membership.Groups, err = c.CheckMemberGroups(ctx, u.ID, groups); err != nil {
			in.Membership.Problem = problemOf(err)
		}
	}
	// Names for the messages: the Passkey policy's include targets (listed
	// when the user is in none) and the groups the user is in (the "via" of
	// a match). The TAP policy's messages name no target of their own.
	var member []graph.Target
	for _, id := range in.Membership.Groups {
		member = append(member, graph.Target{ID: id})
	}
	in.Names = groupNames(ctx, c, append(includes, member)...)
	return in
}

func runPolicyCheck(ctx context.Context, g *globals, upn string, multi bool, key *policy.Key) error {
	c, err := g.graphClient(ctx)
	if err != nil {
		return err
	}
	u, err := c.GetUser(ctx, upn)
	if err != nil {
		return err
	}
	in := g.checkInput(ctx, c, u)
	in.Key = key
	rep := policy.Evaluate(in)
	tapFlow := policy.FlowTAP
	if multi {
		tapFlow = policy.FlowMultiUseTAP
	}
	passkey, tap := rep.Verdict(policy.FlowPasskey), rep.Verdict(tapFlow)
	if err := g.printCheck(u, passkey, tap, rep.Permissions); err != nil {
		return err
	}
	if passkey.Answer == policy.No || tap.Answer == policy.No {
		return &Error{Code: ExitDirectory, Msg: fmt.Sprintf("%s: not everything is in place (see above)", u.UserPrincipalName),
			Err: errors.New("policy check failed"), resultPrinted: true}
	}
	return nil
}

func (g *globals) printCheck(u *graph.User, passkey, tap policy.Verdict, perms []policy.Finding) error {
	if g.JSON {
		return g.printJSON(map[string]any{
			"user":        map[string]any{"id": u.ID, "userPrincipalName": u.UserPrincipalName, "displayName": u.DisplayName, "userType": u.UserType},
			"passkey":     verdictJSON(passkey),
			"tap":         verdictJSON(tap),
			"permissions": findingsJSON(perms),
		})
	}
	w := g.io.Out
	safetext.Fprintf(w, "%s (%s, %s)\n\n", u.UserPrincipalName, u.DisplayName, u.UserType)
	printVerdict(w, "Pre-provisioned passkey (keyprep enroll)", passkey)
	fmt.Fprintln(w)
	printVerdict(w, "Temporary Access Pass sign-in", tap)
	if len(perms) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Permissions of the signed-in identity")
		printFindings(w, perms)
	}
	return nil
}

func printVerdict(w io.Writer, title string, v policy.Verdict) {
	ans := "YES"
	switch v.Answer {
	case policy.Undetermined:
		ans = "UNKNOWN"
	case policy.No:
		ans = "NO"
	}
	fmt.Fprintf(w, "%s: %s\n", title, ans)
	printFindings(w, v.Findings)
}

func printFindings(w io.Writer, fs []policy.Finding) {
	for _, f := range fs {
		mark := "·"
		switch f.Status {
		case policy.OK:
			mark = "✓"
		case policy.NotOK:
			mark = "✗"
		}
		safetext.Fprintf(w, "  %s %s\n", mark, f.Message)
		if f.Fix != "" && f.Status != policy.OK {
			safetext.Fprintf(w, "      fix: %s\n", f.Fix)
		}
	}
}
