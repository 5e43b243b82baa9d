package cli

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/softkey"
)

// Shell completion of values: cobra completes command and flag names by
// itself (`keyprep completion bash|zsh|fish`, the package's completion
// files); registerCompletions adds the values of the flags that have a
// fixed set of them, and of --key the keys attached right now.

// choice is one completion candidate and its description.
type choice struct{ value, help string }

// flagChoices are the flags whose values are a fixed list, by flag name.
// Each list is the one the flag's check accepts (setup, checkFormat,
// configcmd, enrollcmd); completion_test.go runs every value through the
// command.
var flagChoices = map[string][]choice{
	"log-level":  {{"debug", ""}, {"info", "the default"}, {"warn", ""}, {"error", ""}},
	"log-format": {{"text", "the default"}, {"json", "one JSON object per line"}},
	"format":     {{"text", "plain text slip"}, {"html", "printable HTML slip"}},
	"tap-format": {{"text", "plain text slip"}, {"html", "printable HTML slip"}},
	"always-uv":  {{"on", ""}, {"off", ""}},
	"pin":        {{"generate", "generated and escrowed"}, {"prompt", "typed at the bench, no echo"}, {"stdin", "one line of standard input"}},
}

// policyNames are the policies `policy show|check|set` take.
var policyNames = []choice{{"fido2", "Passkey (FIDO2) policy"}, {"tap", "Temporary Access Pass policy"}}

// keyListTimeout bounds the key listing behind --key completion: a shell
// waits for it at every TAB.
const keyListTimeout = 3 * time.Second

func registerCompletions(root *cobra.Command, g *globals) {
	authChoices := make([]choice, 0, len(graph.AuthMethods))
	for _, m := range graph.AuthMethods {
		authChoices = append(authChoices, choice{m, ""})
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		register := func(f *pflag.Flag) {
			var fn cobra.CompletionFunc
			switch f.Name {
			case "key":
				fn = g.completeKeys
			case "auth":
				fn = fixedChoices(authChoices)
			case "sim-key-model":
				fn = completeModels(false)
			case "sim-key-models":
				fn = completeModels(true)
			default:
				if cs, ok := flagChoices[f.Name]; ok {
					fn = fixedChoices(cs)
				}
			}
			if fn != nil {
				// Only fails for a flag registered twice, which the walk
				// does not do (each flag set is visited once).
				_ = c.RegisterFlagCompletionFunc(f.Name, fn)
			}
		}
		c.LocalNonPersistentFlags().VisitAll(register)
		c.PersistentFlags().VisitAll(register)
		if p := c.Parent(); p != nil && p.Name() == "policy" && c.ValidArgsFunction == nil {
			c.ValidArgs = nil
			c.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return completions(policyNames), cobra.ShellCompDirectiveNoFileComp
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func completions(cs []choice) []cobra.Completion {
	out := make([]cobra.Completion, 0, len(cs))
	for _, c := range cs {
		if c.help == "" {
			out = append(out, c.value)
			continue
		}
		out = append(out, cobra.CompletionWithDesc(c.value, c.help))
	}
	return out
}

func fixedChoices(cs []choice) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completions(cs), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeModels completes built-in key model names; list is for
// --sim-key-models a,b,c, where each element after a comma is completed
// with the ones before it kept. A profile FILE is completed as a file when
// nothing matches.
func completeModels(list bool) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		prefix := ""
		if list {
			if i := strings.LastIndex(toComplete, ","); i >= 0 {
				prefix = toComplete[:i+1]
			}
		}
		var out []cobra.Completion
		for _, m := range softkey.Models() {
			out = append(out, cobra.CompletionWithDesc(prefix+m.Name, m.ModeledOn))
		}
		d := cobra.ShellCompDirectiveDefault
		if list {
			d |= cobra.ShellCompDirectiveNoSpace
		}
		return out, d
	}
}

// completeKeys lists the keys attached now, like `keyprep keys`: with --sim
// or --sim-keys the virtual keys of the state directory (plugging them in
// as those commands would), else the real ones through libfido2.
func (g *globals) completeKeys(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	const fail = cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveError
	if cmd.Context() == nil {
		cmd.SetContext(context.Background())
	}
	// cobra's __complete parses the flags only after the root's
	// PersistentPreRunE ran (on none of them): set up again now that
	// --sim, --state-dir and the rest are known.
	if g.keys == nil {
		if err := g.setup(cmd); err != nil {
			return nil, fail
		}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), keyListTimeout)
	defer cancel()
	devs, err := hid.Enumerate(ctx)
	if err != nil {
		return nil, fail
	}
	out := make([]cobra.Completion, 0, len(devs))
	for _, d := range devs {
		desc := d.Product
		if !strings.HasPrefix(d.Product, d.Manufacturer) {
			desc = strings.TrimSpace(d.Manufacturer + " " + d.Product)
		}
		if d.Serial != "" {
			desc += " (serial " + d.Serial + ")"
		}
		out = append(out, cobra.CompletionWithDesc(d.Path, desc))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
