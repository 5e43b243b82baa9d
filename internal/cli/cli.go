// Package cli is keyprep's command tree: flags, human and JSON output, exit
// codes. Each command is an options struct plus a run function (as in
// cli/cli); the dependencies (key access, virtual keys) are built here from
// the global flags so that cmd/keyprep stays a thin main.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/log"
	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/duration"
	"github.com/keyprep/keyprep/internal/elevate"
	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/safetext"
	"github.com/keyprep/keyprep/internal/simkeys"
	"github.com/keyprep/keyprep/internal/softkey"
	"github.com/keyprep/keyprep/internal/store"
)

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

// IO is where a command reads and writes. Stdin may be a terminal (PIN
// prompts without echo) or a pipe (one PIN per line).
type IO struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// globals are the flags every command shares (README.md, Usage).
type globals struct {
	JSON    bool
	Sim     bool
	SimKeys int
	// SimKeyModel and SimKeyModels choose the virtual keys' key models.
	SimKeyModel  string
	SimKeyModels []string
	StateDir     string
	Store        string // --store: see storeLocation
	LogLevel     string
	LogFormat    string
	Timeout      time.Duration

	gf graphFlags

	io     IO
	log    *log.Logger
	keys   *simkeys.Provider // non-nil when virtual keys are in use
	pinsIn *pinReader

	gc         *graph.Client     // built on first use (graphClient)
	cred       *graph.Credential // nil with the emulated tenant
	authMethod string            // how this run signs in to Graph
	simTenant  *entrasim.Tenant  // non-nil with --sim/--sim-tenant
	closers    []func() error    // run when the command ends
	// background runs the simulation's own goroutines (the simulated
	// operator's key swaps); run stops and waits for them before it
	// closes the keys and prints anything more.
	background   sync.WaitGroup
	bgCtx        context.Context
	stopBackgrnd context.CancelFunc
	st           *store.Store // opened on first use (openStore)
	benchNote    func(string) // a line above the bench's live display
	wire         wiring       // the tests' reach into this run (zero in production)
	// args is the command line (without the program name), for the
	// elevated copy; elevatedChild is true in that copy.
	args          []string
	elevatedChild bool
}

// Main runs keyprep with args (without the program name) and returns the
// process exit code.
func Main(args []string, stdio IO) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) > 0 && args[0] == elevate.ChildArg {
		return runElevatedChild(ctx, args[1:])
	}
	return run(ctx, args, stdio, wiring{})
}

// run is one invocation of keyprep; w is the tests' wiring for it.
func run(ctx context.Context, args []string, stdio IO, w wiring) int {
	return runAs(ctx, args, stdio, w, false)
}

// runAs is run; elevatedChild is true in the elevated copy of a command
// that asked for administrator rights (runElevatedChild).
func runAs(ctx context.Context, args []string, stdio IO, w wiring, elevatedChild bool) int {
	g := &globals{io: stdio, wire: w, args: args, elevatedChild: elevatedChild}
	g.bgCtx, g.stopBackgrnd = context.WithCancel(ctx)
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	g.stopBackgrnd()
	g.background.Wait()
	for i := len(g.closers) - 1; i >= 0; i-- {
		if cerr := g.closers[i](); cerr != nil && err == nil {
			err = cerr
		}
	}
	if g.keys != nil {
		if cerr := g.keys.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if err == nil {
		return int(ExitOK)
	}
	var rl *errRelaunched
	if errors.As(err, &rl) {
		return rl.code // the elevated copy printed everything
	}
	if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	e := classify(err)
	if e.Code == ExitUsage && e.Hint == "" {
		e.Hint = usageHint(cmd)
	}
	g.report(e)
	return int(e.Code)
}

// goBackground runs f in a goroutine that run stops (its context is
// cancelled when the command ends) and waits for.
func (g *globals) goBackground(f func(ctx context.Context)) {
	g.background.Add(1)
	go func() {
		defer g.background.Done()
		f(g.bgCtx)
	}()
}

// report prints a failure: a message and a hint on stderr, and with --json
// also a machine-readable object on stdout.
func (g *globals) report(e *Error) {
	if g.log != nil && e.Err != nil {
		g.log.Debug("failure", "cause", fmt.Sprintf("%+v", e.Err))
	}
	// Messages carry directory data, CSV cells and flag values: printed
	// for people through internal/safetext (the JSON below stays JSON).
	fmt.Fprintf(g.io.ErrOut, "keyprep: %s\n", safetext.Text(e.Msg))
	if e.Hint != "" {
		fmt.Fprintf(g.io.ErrOut, "hint: %s\n", safetext.Text(e.Hint))
	}
	if g.JSON && !e.resultPrinted {
		_ = json.NewEncoder(g.io.Out).Encode(map[string]any{"error": e.json()})
	}
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "keyprep",
		Short: "Pre-provision FIDO2 security keys for Microsoft Entra ID users",
		Long: `keyprep pre-provisions FIDO2 security keys for Microsoft Entra ID users: it sets a
PIN that meets complexity rules, applies CTAP 2.1 settings, and (with the
enrollment commands) registers the user's passkey on the key.

For users who register their own key, keyprep issues a Temporary Access Pass
within the tenant's policy and writes the onboarding slip (keyprep tap create;
enroll --with-tap adds one as a backup to a pre-provisioned key).

With --sim, keyprep uses virtual keys whose state lives in the state directory,
so consecutive commands see each other's effects as with a real key.`,
		Version:       Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if isGroup(cmd) || cmd.Annotations[noSetupAnnotation] == "true" {
				return nil // it prints help
			}
			return g.setup(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.BoolVar(&g.JSON, "json", false, "machine output on stdout (logs stay on stderr)")
	pf.BoolVar(&g.Sim, "sim", false, "use the built-in simulation: the emulated tenant and one virtual key (--sim-tenant --sim-keys 1)")
	pf.IntVar(&g.SimKeys, "sim-keys", 0, "plug in N virtual keys (state kept in the state directory)")
	pf.StringVar(&g.SimKeyModel, "sim-key-model", "", "the key model of the virtual keys: a built-in name (keyprep sim models) or a profile FILE (default $KEYPREP_SIM_KEY_MODEL, else the model each key already is, else "+softkey.DefaultModelName+")")
	pf.StringSliceVar(&g.SimKeyModels, "sim-key-models", nil, "one key model per virtual key, e.g. yubikey-5.4,solokey-v2 (a bench of mixed models); sets --sim-keys, or must name as many models")
	pf.BoolVar(&g.gf.SimTenant, "sim-tenant", false, "talk to the built-in emulated Entra tenant (state kept in the state directory) instead of Microsoft Graph")
	pf.StringVar(&g.gf.GraphURL, "graph-url", "", "Microsoft Graph root URL (default $KEYPREP_GRAPH_URL, else https://graph.microsoft.com); http only on loopback")
	pf.StringVar(&g.gf.Auth, "auth", "", "how to sign in to Graph: "+strings.Join(graph.AuthMethods, ", ")+" (default $KEYPREP_AUTH, the config file, or chosen from the environment)")
	pf.StringVar(&g.gf.TenantID, "tenant", "", "Entra tenant id or domain (default $AZURE_TENANT_ID or the config file)")
	pf.StringVar(&g.gf.ClientID, "client-id", "", "application (client) id (default $AZURE_CLIENT_ID or the config file)")
	pf.StringVar(&g.gf.Certificate, "certificate", "", "certificate file for --auth certificate (PEM with key, or PKCS#12; password in $AZURE_CLIENT_CERTIFICATE_PASSWORD)")
	pf.StringVar(&g.gf.ConfigFile, "config", "", "config file (default $XDG_CONFIG_HOME/keyprep/config.json)")
	pf.StringVar(&g.StateDir, "state-dir", "", "state directory (default $KEYPREP_STATE_DIR, else "+defaultStateDirHelp+")")
	pf.StringVar(&g.Store, "store", "", "the store: a file path or sqlite:PATH, or postgres://[user@]host[:port]/database for one shared by several benches (password in PGPASSWORD or ~/.pgpass, never in the URL) (default $KEYPREP_STORE, else STATE_DIR/keyprep.db)")
	pf.StringVar(&g.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&g.LogFormat, "log-format", "text", "log format: text or json")
	g.Timeout = 30 * time.Second
	pf.Var(duration.NewValue(&g.Timeout), "timeout", "how long to wait for a key to answer (and for a touch)")

	root.AddCommand(
		newKeysCmd(g),
		newInfoCmd(g),
		newPINCmd(g),
		newConfigCmd(g),
		newResetCmd(g),
		newSimCmd(g),
		newLoginCmd(g),
		newUserCmd(g),
		newMethodsCmd(g),
		newPolicyCmd(g),
		newEnrollCmd(g),
		newJournalCmd(g),
		newPINsCmd(g),
		newTAPCmd(g),
		newServeCmd(g),
		newStoreCmd(g),
		newFleetCmd(g),
		newVersionCmd(g),
		newBioCmd(g),
		newServiceCmd(g),
	)
	root.SetVersionTemplate(currentVersion().short() + "\n")
	registerCompletions(root, g)
	annotateElevation(root)
	decorateHelp(root)
	guideUsage(root)
	return root
}

// setup builds the logger and the virtual keys from the global flags. The
// virtual keys are this invocation's: they go into the command's context
// (hid.WithVirtual), not into a process-wide registry.
func (g *globals) setup(cmd *cobra.Command) error {
	var lvl log.Level
	switch strings.ToLower(g.LogLevel) {
	case "debug":
		lvl = log.DebugLevel
	case "info":
		lvl = log.InfoLevel
	case "warn", "warning":
		lvl = log.WarnLevel
	case "error":
		lvl = log.ErrorLevel
	default:
		return usageErr("--log-level %q: want debug, info, warn or error", g.LogLevel)
	}
	g.log = newLogger(g.io.ErrOut, log.Options{Level: lvl, ReportTimestamp: g.LogFormat == "json"})
	switch g.LogFormat {
	case "text":
	case "json":
		g.log.SetFormatter(log.JSONFormatter)
	default:
		return usageErr("--log-format %q: want text or json", g.LogFormat)
	}
	slog.SetDefault(slog.New(g.log))

	if g.Timeout <= 0 {
		return usageErr("--timeout must be positive")
	}
	if g.SimKeys < 0 || g.SimKeys > 64 {
		return usageErr("--sim-keys %d: want 0 to 64", g.SimKeys)
	}
	explicitKeys := g.SimKeys
	if g.Sim && g.SimKeys == 0 {
		g.SimKeys = 1
	}
	models, n, err := g.simModels(explicitKeys, g.SimKeys)
	if err != nil {
		return err
	}
	g.SimKeys = n
	// On Windows without administrator rights, a command that opens keys
	// runs again elevated before it has done anything, its checks of the
	// state directory included (elevation.go).
	if g.wantsElevation(cmd) {
		return g.elevateAndRun(cmd)
	}
	dir, err := g.stateDir()
	if err != nil {
		return err
	}
	// The store, the journal, tokens and the escrow live here: another
	// user's directory, or one others can write, is refused before use.
	if err := fileguard.CheckPath("state directory", dir, fileguard.Dir, euid()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	g.StateDir = dir
	g.pinsIn = newPINReader(g.io.In, g.io.ErrOut)
	if g.SimKeys > 0 {
		touch, err := simkeys.ParseTouch(os.Getenv("KEYPREP_SIM_TOUCH"))
		if err != nil {
			return usageErr("KEYPREP_SIM_TOUCH: %v", err)
		}
		var latency time.Duration
		if v := os.Getenv("KEYPREP_SIM_KEY_LATENCY"); v != "" {
			if v != "0" {
				if latency, err = duration.Parse(v); err != nil {
					return usageErr("KEYPREP_SIM_KEY_LATENCY: %v (or 0)", err)
				}
			}
		}
		finger, err := simkeys.ParseFinger(os.Getenv("KEYPREP_SIM_FINGER"))
		if err != nil {
			return usageErr("KEYPREP_SIM_FINGER: %v", err)
		}
		kc := softkey.Config{Presence: touch, Finger: finger, CommandLatency: latency}
		if g.wire.keyConfig != nil {
			g.wire.keyConfig(&kc)
		}
		p, err := simkeys.New(simkeys.Options{Dir: filepath.Join(dir, "sim", "keys"), Count: g.SimKeys, Key: kc, Models: models})
		if err != nil {
			return modelMismatch(fmt.Errorf("virtual keys: %w", err))
		}
		g.keys = p
		cmd.SetContext(hid.WithVirtual(cmd.Context(), p))
		if g.wire.keysReady != nil {
			g.wire.keysReady(p)
		}
	}
	return nil
}

// euid is the user whose files keyprep trusts (tests stand in for another
// user).
var euid = os.Geteuid

func (g *globals) stateDir() (string, error) {
	if g.StateDir != "" {
		return filepath.Abs(g.StateDir)
	}
	if d := os.Getenv("KEYPREP_STATE_DIR"); d != "" {
		return filepath.Abs(d)
	}
	return defaultStateDir() // statedir_*.go
}

// printJSON writes v as indented JSON on stdout.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.io.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // a pass such as "a&b<c" stays readable
	return enc.Encode(v)
}

// infof prints a progress line for people on stderr (never with secrets),
// its arguments made safe to print (internal/safetext).
func (g *globals) infof(format string, a ...any) {
	_, _ = safetext.Fprintf(g.io.ErrOut, format+"\n", a...)
}
