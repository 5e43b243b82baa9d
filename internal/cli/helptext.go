package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Help: examples where people look first, enroll's many flags in groups,
// and the global flags shown in full only under the root (the Graph
// sign-in ones also in `keyprep help auth`), with a pointer elsewhere.

// examples by command path.
var examples = map[string]string{
	"keyprep": `  # Try it without a tenant or a key: the emulated tenant and a virtual key
  keyprep --sim enroll --user adele.vance@contoso.test

  # Sign in to Microsoft Graph once, then provision a key for a user
  keyprep login --auth device-code --tenant contoso.onmicrosoft.com --client-id APP_ID
  keyprep policy check --user alice@contoso.com
  keyprep enroll --user alice@contoso.com --age-recipient age1helpdesk…

  # A bench: every user of a list on the attached keys, in parallel
  keyprep enroll --csv users.csv --age-recipient age1helpdesk…

  # Onboarding with a Temporary Access Pass: the user registers their own key
  keyprep tap create --user alice@contoso.com --once --out alice-slip.txt`,
	"keyprep enroll": `  # One user on the only attached key; the generated PIN is escrowed to a helpdesk key
  keyprep enroll --user alice@contoso.com --age-recipient age1helpdesk…

  # Check first, change nothing
  keyprep enroll --user alice@contoso.com --dry-run

  # The person at the bench chooses the PIN; the key asks for a new one at first use
  keyprep enroll --user alice@contoso.com --pin prompt --min-pin-length 8 --force-pin-change

  # With a Temporary Access Pass as a backup, the slip written to a file
  keyprep enroll --user alice@contoso.com --with-tap --tap-out alice-slip.txt

  # A bench run over a list, four keys at a time
  keyprep enroll --csv users.csv --max-parallel 4`,
	"keyprep policy check": `  # Can keyprep provision Alice a passkey, and can she sign in with a pass?
  keyprep policy check --user alice@contoso.com

  # Would a given key model be accepted (AAGUID), as the script reads it
  keyprep policy check --user alice@contoso.com --aaguid cb69481e-8ff7-4039-93ec-0a2729a154a8 --json`,
	"keyprep tap show": `  # Is Alice's pass usable, from when, until when (the code is never shown)
  keyprep tap show --user alice@contoso.com
  keyprep tap show --user alice@contoso.com --json`,
	"keyprep service install": `  # On Windows, from an elevated prompt: the bench daemon as a service, started with Windows
  keyprep service install --listen 127.0.0.1:8765 --config C:\ProgramData\keyprep\config.json --age-recipient age1helpdesk…
  sc.exe start keyprep

  # Started by hand only
  keyprep service install --start manual`,
	"keyprep tap delete": `  # Asks before deleting on a terminal
  keyprep tap delete --user alice@contoso.com

  # In a script
  keyprep tap delete --user alice@contoso.com --yes`,
}

// graphFlagNames are the global flags about Graph and signing in to it.
var graphFlagNames = []string{"auth", "tenant", "client-id", "certificate", "config", "graph-url", "sim-tenant"}

// commonGlobals are the global flags shown in full under every command.
var commonGlobals = []string{"json", "sim", "timeout", "log-level"}

// flagGroupAnnotation names a flag's group in its command's help.
const flagGroupAnnotation = "keyprep/flag-group"

// Enroll's flag groups, in the order shown.
const (
	groupOneUser = "One user"
	groupKey     = "Key settings: PIN, escrow, CTAP 2.1 options"
	groupTAP     = "Temporary Access Pass (--with-tap)"
	groupBench   = "Bench run (--csv)"
)

var enrollGroups = []string{groupOneUser, groupKey, groupTAP, groupBench}

// enrollFlagGroup sorts one of enroll's flags into its group by name.
func enrollFlagGroup(f *pflag.Flag) string {
	n := f.Name
	switch {
	case strings.Contains(n, "tap"):
		return groupTAP
	case n == "csv" || strings.HasPrefix(f.Usage, "bench"):
		return groupBench
	case strings.HasPrefix(n, "pin") || strings.HasPrefix(n, "min-pin") || n == "force-pin-change" || n == "always-uv" ||
		n == "skip-unsupported" || n == "reset" || n == "age-recipient" || n == "identity" || n == "uv-fingerprint" || n == "shared-key":
		return groupKey
	}
	return groupOneUser
}

// helpTopicAuth is `keyprep help auth`.
func newAuthTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "auth",
		Short: "Signing in to Microsoft Graph: methods, flags, environment",
		Long: `keyprep talks to Microsoft Graph as an application (app-only) or as a signed-in
administrator (delegated). Sign in once with keyprep login; it saves the
non-secret set-up (method, tenant, client id) in the config file, and later
commands use it without prompting. Secrets never come from flags: they are
read from the environment.

  --auth certificate        benches, automation: --certificate FILE or
                            AZURE_CLIENT_CERTIFICATE_PATH (password in
                            AZURE_CLIENT_CERTIFICATE_PASSWORD)
  --auth client-secret      app-only: AZURE_CLIENT_SECRET
  --auth managed-identity   Azure VMs (--client-id for a user-assigned identity)
  --auth workload-identity  Kubernetes, CI federation: AZURE_FEDERATED_TOKEN_FILE
  --auth azure-cli          the account signed in with az login
  --auth device-code        administrators, a browser anywhere (the default)
  --auth browser            administrators, a browser on this machine
  --auth token              a token obtained elsewhere: KEYPREP_ACCESS_TOKEN or
                            KEYPREP_ACCESS_TOKEN_FILE

Without --auth, keyprep picks token, client-secret, certificate or
workload-identity when their variables are set, else device-code. A delegated
method (device-code, browser) prompts only in keyprep login.

--sim (or --sim-tenant) uses the built-in emulated tenant instead: no sign-in.`,
		Example: `  keyprep login --auth device-code --tenant contoso.onmicrosoft.com --client-id APP_ID
  AZURE_CLIENT_SECRET=… keyprep --auth client-secret --tenant T --client-id C user show alice@contoso.com`,
	}
}

// usage prints a command's usage: its synopsis, examples, commands, its
// flags (in groups where it has them), and the global flags — in full
// under the root, elsewhere the common ones and a pointer to the rest.
func usage(cmd *cobra.Command) error {
	w := cmd.OutOrStderr()
	root := cmd.Root()
	if cmd.IsAdditionalHelpTopicCommand() { // keyprep help auth
		fmt.Fprintf(w, "Examples:\n%s\n", cmd.Example)
		printFlags(w, "Graph sign-in flags", root.PersistentFlags(), func(f *pflag.Flag) bool { return isGraphFlag(f.Name) })
		return nil
	}
	fmt.Fprint(w, "Usage:\n")
	if cmd.Runnable() && !isGroup(cmd) {
		fmt.Fprintf(w, "  %s\n", cmd.UseLine())
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintf(w, "  %s [command]\n", cmd.CommandPath())
	}
	if cmd.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", cmd.Example)
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprint(w, "\nAvailable Commands:\n")
		for _, c := range cmd.Commands() {
			if c.IsAvailableCommand() || c.Name() == "help" {
				fmt.Fprintf(w, "  %-*s %s\n", cmd.NamePadding(), c.Name(), c.Short)
			}
		}
	}
	local := cmd.LocalFlags()
	if cmd == root {
		// The root's persistent flags are its own.
		printFlags(w, "Flags", local, func(f *pflag.Flag) bool { return !isGraphFlag(f.Name) })
		printFlags(w, "Graph sign-in flags (keyprep help auth)", local, func(f *pflag.Flag) bool { return isGraphFlag(f.Name) })
	} else {
		groups := map[string]bool{}
		local.VisitAll(func(f *pflag.Flag) {
			if g := flagGroup(f); g != "" {
				groups[g] = true
			}
		})
		if len(groups) == 0 {
			printFlags(w, "Flags", local, nil)
		} else {
			for _, g := range enrollGroups {
				if groups[g] {
					printFlags(w, g, local, func(f *pflag.Flag) bool { return flagGroup(f) == g })
				}
			}
			printFlags(w, "Other flags", local, func(f *pflag.Flag) bool { return flagGroup(f) == "" })
		}
		if cmd.HasAvailableInheritedFlags() {
			inh := cmd.InheritedFlags()
			printFlags(w, "Global flags", inh, func(f *pflag.Flag) bool { return slices.Contains(commonGlobals, f.Name) })
			var rest []string
			inh.VisitAll(func(f *pflag.Flag) {
				if !f.Hidden && !slices.Contains(commonGlobals, f.Name) && !isGraphFlag(f.Name) {
					rest = append(rest, "--"+f.Name)
				}
			})
			fmt.Fprintf(w, "  (also %s: keyprep --help; Graph sign-in flags: keyprep help auth)\n", strings.Join(rest, ", "))
		}
	}
	if cmd.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nUse \"%s [command] --help\" for more information about a command.\n", cmd.CommandPath())
	}
	if cmd == root {
		fmt.Fprint(w, "Help topics: keyprep help auth (signing in to Microsoft Graph).\n")
	}
	return nil
}

// printFlags prints the flags of fs that keep accepts (all when nil) under
// title.
func printFlags(w io.Writer, title string, fs *pflag.FlagSet, keep func(*pflag.Flag) bool) {
	sub := pflag.NewFlagSet(title, pflag.ContinueOnError)
	fs.VisitAll(func(f *pflag.Flag) {
		if keep == nil || keep(f) {
			sub.AddFlag(f)
		}
	})
	if !sub.HasAvailableFlags() {
		return
	}
	fmt.Fprintf(w, "\n%s:\n%s", title, sub.FlagUsages())
}

// flagGroup is f's group in its command's help ("" for none).
func flagGroup(f *pflag.Flag) string {
	if g := f.Annotations[flagGroupAnnotation]; len(g) > 0 {
		return g[0]
	}
	return ""
}

func isGraphFlag(name string) bool { return slices.Contains(graphFlagNames, name) }

// decorateHelp sets the examples, enroll's flag groups, the auth topic and
// the usage printer on the tree under root.
func decorateHelp(root *cobra.Command) {
	auth := newAuthTopic()
	auth.SetHelpFunc(func(c *cobra.Command, _ []string) {
		fmt.Fprintf(c.OutOrStdout(), "%s\n\n", c.Long)
		_ = usage(c)
	})
	root.AddCommand(auth)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if ex, ok := examples[c.CommandPath()]; ok && c.Example == "" {
			c.Example = ex
		}
		if c.CommandPath() == "keyprep enroll" {
			c.LocalFlags().VisitAll(func(f *pflag.Flag) {
				_ = c.Flags().SetAnnotation(f.Name, flagGroupAnnotation, []string{enrollFlagGroup(f)})
			})
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	root.SetUsageFunc(usage)
}
