package cli

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/pin"
)

type configOptions struct {
	key            string
	minPINLength   int
	rpIDs          []string
	forcePINChange bool
	alwaysUV       string
	yes            bool
}

func newConfigCmd(g *globals) *cobra.Command {
	var o configOptions
	cmd := &cobra.Command{
		Use:   "config [--key K] --min-pin-length N [--rp-id ID ...] | --force-pin-change | --always-uv on|off",
		Short: "Apply CTAP 2.1 authenticatorConfig settings (needs the PIN once one is set)",
		Long: `Apply CTAP 2.1 authenticatorConfig settings (CTAP 2.1 §6.11):

  --min-pin-length N   raise the key's minimum PIN length (it can never be lowered
                       again short of a factory reset); with --rp-id, also tell
                       those relying parties the minimum (e.g. login.microsoft.com)
  --force-pin-change   the key refuses its PIN for anything but a PIN change until
                       the PIN is changed
  --always-uv on|off   require user verification for every operation

The PIN is read from a prompt or standard input when the key has one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConfig(cmd.Context(), g, &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.key, "key", "", "key path; default: the only attached key")
	f.IntVar(&o.minPINLength, "min-pin-length", 0, "new minimum PIN length (4-63)")
	f.StringSliceVar(&o.rpIDs, "rp-id", nil, "RP ID allowed to read the minimum PIN length (repeatable)")
	f.BoolVar(&o.forcePINChange, "force-pin-change", false, "require a PIN change before the PIN can be used again")
	f.StringVar(&o.alwaysUV, "always-uv", "", "on or off")
	f.BoolVar(&o.yes, "yes", false, "apply a --min-pin-length above the current PIN's length without asking (the key then requires a PIN change)")
	return cmd
}

// confirmForcedChange says that the new minimum forces a PIN change and
// has it confirmed (a terminal, or --yes).
func (g *globals) confirmForcedChange(key string, have, min int, yes bool) error {
	what := fmt.Sprintf("the PIN of %s has %d characters, fewer than the new minimum %d: the key will then refuse its PIN for anything but a PIN change until it is changed to %d or more characters",
		key, have, min, min)
	if yes {
		g.infof("note: %s", what)
		return nil
	}
	if !g.pinsIn.interactive() {
		return &Error{Code: ExitUsage, Msg: what + "; nothing was changed",
			Hint: fmt.Sprintf("change the PIN first (keyprep pin change --key %s), or add --yes to apply the minimum and change the PIN afterwards", key)}
	}
	g.infof("%s.", what)
	answer, err := g.pinsIn.confirm("Apply? [y/N] ")
	if err != nil {
		return err
	}
	if !confirmed(answer) {
		return usageErr("not applied: nothing was changed on %s", key)
	}
	return nil
}

func runConfig(ctx context.Context, g *globals, o *configOptions) error {
	if o.minPINLength == 0 && len(o.rpIDs) == 0 && !o.forcePINChange && o.alwaysUV == "" {
		return usageErr("nothing to do: give --min-pin-length, --rp-id, --force-pin-change or --always-uv")
	}
	if o.minPINLength != 0 && (o.minPINLength < 4 || o.minPINLength > 63) {
		return usageErr("--min-pin-length %d: want 4 to 63", o.minPINLength)
	}
	var wantUV *bool
	switch strings.ToLower(o.alwaysUV) {
	case "":
	case "on", "true", "yes":
		t := true
		wantUV = &t
	case "off", "false", "no":
		f := false
		wantUV = &f
	default:
		return usageErr("--always-uv %q: want on or off", o.alwaysUV)
	}
	for _, id := range o.rpIDs {
		if id == "" || strings.ContainsAny(id, " /:") {
			return usageErr("--rp-id %q is not an RP ID (a domain such as login.microsoft.com)", id)
		}
	}

	d, err := g.openKey(ctx, o.key)
	if err != nil {
		return err
	}
	defer d.Close()
	info, err := d.Info(ctx)
	if err != nil {
		return fmt.Errorf("read info of %s: %w", d.Path(), err)
	}
	if v, ok := info.Option("authnrCfg"); !ok || !v {
		return &Error{Code: ExitUnsupported, Msg: fmt.Sprintf("%s does not support authenticatorConfig (CTAP 2.1)", d.Path())}
	}
	if o.minPINLength != 0 && uint64(o.minPINLength) < info.MinPINLength {
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("--min-pin-length %d is below the key's current minimum %d; a minimum can only be raised", o.minPINLength, info.MinPINLength),
			Hint: "only a factory reset lowers it"}
	}
	if len(o.rpIDs) > 0 && info.MaxRPIDsMinPINLength > 0 && uint64(len(o.rpIDs)) > info.MaxRPIDsMinPINLength {
		return usageErr("%d RP IDs given; %s accepts at most %d", len(o.rpIDs), d.Path(), info.MaxRPIDsMinPINLength)
	}

	var p []byte
	if _, isSet := pinState(info); isSet {
		p, err = g.pinsIn.read("PIN")
		if err != nil {
			return err
		}
		defer pin.Wipe(p)
	} else if o.forcePINChange {
		return &Error{Code: ExitPIN, Msg: fmt.Sprintf("%s has no PIN, so a PIN change cannot be forced", d.Path()), Hint: "set a PIN first: keyprep pin set"}
	}

	// A minimum above the current PIN's length makes the key force a PIN
	// change (CTAP 2.1 §6.11.4): say so and have it confirmed before
	// anything changes.
	forced := p != nil && o.minPINLength != 0 && utf8.RuneCount(p) < o.minPINLength && !info.ForcePINChange
	if forced {
		if err := g.confirmForcedChange(d.Path(), utf8.RuneCount(p), o.minPINLength, o.yes); err != nil {
			return err
		}
	}

	result := map[string]any{"path": d.Path()}
	var did []string
	// The settings that need a PIN token go first: a minimum above the
	// PIN's length forces a PIN change, after which the key refuses the
	// PIN for anything else.
	if wantUV != nil {
		cur, _ := info.Option("alwaysUv")
		if cur != *wantUV {
			if err := d.ToggleAlwaysUV(ctx, p); err != nil {
				return g.pinFailure(ctx, d, "toggle alwaysUv", err)
			}
		}
		result["alwaysUv"] = *wantUV
		did = append(did, "alwaysUv "+yesNo(*wantUV, "on", "off"))
	}
	if len(o.rpIDs) > 0 {
		if err := d.SetMinPINLengthRPIDs(ctx, o.rpIDs, p); err != nil {
			return g.pinFailure(ctx, d, "set minimum-PIN-length RP IDs", err)
		}
		result["minPINLengthRPIDs"] = o.rpIDs
		did = append(did, "RP IDs "+strings.Join(o.rpIDs, ","))
	}
	if o.minPINLength != 0 {
		if err := d.SetMinPINLength(ctx, o.minPINLength, p); err != nil {
			return g.pinFailure(ctx, d, "set minimum PIN length", err)
		}
		result["minPINLength"] = o.minPINLength
		did = append(did, fmt.Sprintf("minimum PIN length %d", o.minPINLength))
		if forced {
			result["forcePINChange"] = true
			did = append(did, fmt.Sprintf("a PIN change is now required (keyprep pin change --key %s, a PIN of %d or more characters)", d.Path(), o.minPINLength))
		}
	}
	// Forcing a PIN change goes last: afterwards the key refuses PIN tokens.
	if o.forcePINChange && !forced {
		if err := d.ForcePINChange(ctx, p); err != nil {
			return g.pinFailure(ctx, d, "force PIN change", err)
		}
		result["forcePINChange"] = true
		did = append(did, "PIN change forced")
	}
	after, err := d.Info(ctx)
	if err == nil {
		result["info"] = map[string]any{"minPINLength": after.MinPINLength, "forcePINChange": after.ForcePINChange, "options": after.Options}
	}
	return g.done(result, "%s: %s", d.Path(), strings.Join(did, "; "))
}
