package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/hid"
)

func newSimCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Work with the built-in simulation (virtual keys)",
	}
	var key string
	replug := &cobra.Command{
		Use:   "replug [--key K]",
		Short: "Unplug and replug virtual keys (a power cycle: clears a PIN soft-lock, opens the reset window)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.keys == nil {
				return usageErr("sim replug works on virtual keys: add --sim or --sim-keys N")
			}
			var names []string
			if key != "" {
				if !hid.IsVirtualPath(key) {
					return usageErr("--key %s is not a virtual key (vkey:NAME)", key)
				}
				names = []string{key}
			} else {
				for _, d := range g.keys.List() {
					names = append(names, d.Path)
				}
			}
			for _, n := range names {
				if err := g.keys.Replug(n); err != nil {
					return fmt.Errorf("replug %s: %w", n, err)
				}
			}
			return g.done(map[string]any{"replugged": names}, "replugged %v", names)
		},
	}
	replug.Flags().StringVar(&key, "key", "", "virtual key path; default: all virtual keys")
	cmd.AddCommand(replug)
	return cmd
}
