package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyprep/keyprep/internal/userlist"
)

// Command-line mistakes: every one is a usage error (exit 2) that names what
// was typed, suggests what was probably meant (a command or flag within two
// edits, as cobra's own suggestions), and carries a hint line. cobra's
// defaults print the parent's help and exit 0 for an unknown subcommand of a
// command group, and accept stray positional words on commands that declare
// no Args; guideUsage closes both.

// groupAnnotation marks a command that only groups subcommands: run bare it
// prints its help, and it needs none of the global setup.
const groupAnnotation = "keyprep/group"

// guideUsage walks the tree under root and installs the argument checks.
func guideUsage(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		c.SuggestionsMinimumDistance = 2
		if c.HasSubCommands() && !c.Runnable() {
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations[groupAnnotation] = "true"
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
			if c.ValidArgsFunction == nil && len(c.ValidArgs) == 0 {
				c.ValidArgsFunction = cobra.NoFileCompletions
			}
		}
		orig := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if isGroup(cmd) {
				if len(args) > 0 {
					return unknownCommand(cmd, args[0])
				}
				return nil
			}
			if orig == nil {
				return nil
			}
			err := orig(cmd, args)
			if err == nil {
				return nil
			}
			var ue *Error
			if errors.As(err, &ue) {
				return ue
			}
			return strayArgument(cmd, args, err)
		}
	}
	walk(root)
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(newHelpCmd(root))
}

// noSetupAnnotation marks a command that needs none of the global setup
// (state directory, store, Graph): help.
const noSetupAnnotation = "keyprep/no-setup"

// newHelpCmd is "keyprep help [command]": cobra's own prints the root's
// help and exits 0 for a topic it does not know; this one is a usage error
// that names the word and suggests the command meant.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:         "help [command]",
		Short:       "Help about any command",
		Long:        "Help for any command or help topic: keyprep help COMMAND [SUBCOMMAND]; keyprep help auth (signing in to Microsoft Graph).",
		Annotations: map[string]string{noSetupAnnotation: "true"},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			parent, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []string
			for _, sub := range parent.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, sub.Name())
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == nil {
				cmd, rest = root, args
			}
			if len(rest) > 0 {
				return unknownTopic(cmd, args, rest[0])
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}

// unknownTopic is a word after "keyprep help" (or after a command there)
// that names no command.
func unknownTopic(parent *cobra.Command, args []string, word string) *Error {
	e := usageErr("unknown help topic %q", strings.Join(args, " "))
	if s := parent.SuggestionsFor(word); len(s) > 0 {
		path := strings.TrimPrefix(parent.CommandPath(), parent.Root().Name())
		e.Hint = fmt.Sprintf("did you mean keyprep help%s %s? keyprep help lists the commands", path, strings.Join(s, " or "))
	} else {
		e.Hint = "keyprep help lists the commands and topics"
	}
	return e
}

func isGroup(c *cobra.Command) bool { return c.Annotations[groupAnnotation] == "true" }

// unknownCommand is a word after a command group that names none of its
// subcommands.
func unknownCommand(cmd *cobra.Command, word string) *Error {
	e := usageErr("unknown command %q for %q", word, cmd.CommandPath())
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		e.Hint = fmt.Sprintf("did you mean %s %s? %s --help lists its commands", cmd.CommandPath(), strings.Join(s, " or "), cmd.CommandPath())
	} else {
		e.Hint = cmd.CommandPath() + " --help lists its commands"
	}
	return e
}

// strayArgument explains a positional word a command does not take: a user
// name given without --user, else the command's own complaint.
func strayArgument(cmd *cobra.Command, args []string, cause error) *Error {
	if cmd.Flags().Lookup("user") != nil && len(args) > 0 {
		return &Error{Code: ExitUsage, Err: cause,
			Msg:  fmt.Sprintf("%s takes the user as --user, not as an argument (%q)", cmd.CommandPath(), args[0]),
			Hint: fmt.Sprintf("use --user: %s --user %s", cmd.CommandPath(), args[0])}
	}
	e := &Error{Code: ExitUsage, Err: cause, Msg: fmt.Sprintf("%s: %v", cmd.CommandPath(), cause)}
	if len(args) > 0 {
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			e.Hint = fmt.Sprintf("did you mean %s %s?", cmd.CommandPath(), strings.Join(s, " or "))
		}
	}
	return e
}

// flagError turns pflag's parse errors into usage errors, suggesting the
// nearest flag for an unknown one.
func flagError(cmd *cobra.Command, err error) error {
	if a := cmd.Flags().Args(); isGroup(cmd) && len(a) > 0 {
		// "keyprep enrol --user U": the word before the flag is the
		// mistake (pflag keeps the words it parsed before failing).
		return unknownCommand(cmd, a[0])
	}
	msg := err.Error()
	e := &Error{Code: ExitUsage, Msg: msg, Err: err}
	name, ok := strings.CutPrefix(msg, "unknown flag: --")
	if !ok {
		return e
	}
	e.Msg = fmt.Sprintf("unknown flag --%s for %q", name, cmd.CommandPath())
	if s := nearestFlags(cmd.Flags(), name); len(s) > 0 {
		e.Hint = fmt.Sprintf("did you mean --%s? %s --help lists its flags", strings.Join(s, " or --"), cmd.CommandPath())
	}
	return e
}

// nearestFlags are the visible flags within two edits of name, or that
// start with it: the nearest ones.
func nearestFlags(fs *pflag.FlagSet, name string) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		d := editDistance(name, f.Name)
		if d <= 2 || (len(name) >= 3 && strings.HasPrefix(f.Name, name)) {
			cs = append(cs, cand{f.Name, d})
		}
	})
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].d < cs[j].d })
	var out []string
	for i, c := range cs {
		if i == 3 || c.d > cs[0].d {
			break // only the nearest
		}
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b (bytes: flag
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// usageHint is the hint a usage error gets when its own code gave none.
func usageHint(cmd *cobra.Command) string {
	if cmd == nil {
		return "keyprep --help lists the commands"
	}
	return cmd.CommandPath() + " --help shows its usage and examples"
}

// checkUserFlag refuses a --user value the directory could never match
// (userlist.CheckUser: a UPN name@domain or an object id) before anything
// signs in, the same way for every command.
func checkUserFlag(v string) error {
	if err := userlist.CheckUser(v); err != nil {
		return &Error{Code: ExitUsage, Err: err,
			Msg:  fmt.Sprintf("--user %q is not a UPN or object id: %v", v, err),
			Hint: "give the user's full sign-in name (name@domain, e.g. adele.vance@contoso.com) or their object id"}
	}
	return nil
}
