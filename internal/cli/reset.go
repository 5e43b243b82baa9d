package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/hid"
)

func newResetCmd(g *globals) *cobra.Command {
	var key string
	var yes bool
	cmd := &cobra.Command{
		Use:   "reset --key K [--yes]",
		Short: "Factory-reset a key: deletes its PIN and every credential on it",
		Long: `Factory-reset a key (authenticatorReset, CTAP 2.1 §6.6). This deletes the PIN and
every credential on the key. Keys accept it only within about 10 seconds of
being plugged in, and only with a touch: replug the key, run this at once and
touch the key when asked. --key is required: keyprep never guesses which key
to wipe. Without a terminal, --yes confirms.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReset(cmd.Context(), g, key, yes)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "key path (required)")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}

func runReset(ctx context.Context, g *globals, key string, yes bool) error {
	if key == "" {
		devs, err := hid.Enumerate(ctx)
		if err == nil && len(devs) == 1 {
			return &Error{Code: ExitUsage, Msg: "reset needs --key", Hint: fmt.Sprintf("the attached key is %s: keyprep reset --key %s", devs[0].Path, devs[0].Path)}
		}
		return &Error{Code: ExitUsage, Msg: "reset needs --key: keyprep never guesses which key to wipe", Hint: "keyprep keys lists the attached keys"}
	}
	if !yes {
		if !g.pinsIn.interactive() {
			return usageErr("reset deletes every credential on %s: confirm with --yes", key)
		}
		answer, err := g.pinsIn.confirm(fmt.Sprintf("This deletes the PIN and every credential on %s. Type 'reset' to continue: ", key))
		if err != nil {
			return err
		}
		if answer != "reset" {
			return usageErr("reset not confirmed")
		}
	}
	d, err := g.openKey(ctx, key)
	if err != nil {
		return err
	}
	defer d.Close()
	g.infof("Touch %s now to confirm the reset.", d.Path())
	if err := d.Reset(ctx); err != nil {
		if errors.Is(err, hid.ErrNotAllowed) {
			hint := "keys accept a reset only within about 10 seconds of being plugged in: unplug the key, plug it back in and run keyprep reset at once"
			if hid.IsVirtualPath(d.Path()) {
				hint = "a virtual key accepts a reset only within 10 seconds of being plugged in: run keyprep --sim sim replug --key " + d.Path() + " and then keyprep reset at once"
			}
			return &Error{Code: ExitKeyRefused, Msg: fmt.Sprintf("%s refused the reset: it has been plugged in too long", d.Path()), Hint: hint, Err: err}
		}
		return fmt.Errorf("reset %s: %w", d.Path(), err)
	}
	return g.done(map[string]any{"path": d.Path(), "reset": true}, "%s reset to factory state", d.Path())
}
