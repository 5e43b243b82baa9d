package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// keyprep service install|uninstall: the bench daemon (keyprep serve) as a
// Windows service. The service control manager (SCM) calls the
// platform-specific parts (service_windows.go); elsewhere the commands say
// where the Linux service is (errors.go: errServiceWindowsOnly).

// serviceName is the Windows service's name (sc.exe query keyprep).
const serviceName = "keyprep"

// serviceConfig is what install registers: the decided, validated request.
type serviceConfig struct {
	Exe  string   // this program's absolute path
	Args []string // after Exe: "serve" and its flags
	Auto bool     // start with Windows (else on demand)
}

type serviceInstallOptions struct {
	start string // auto or manual
}

func newServiceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Install or remove keyprep serve as a Windows service",
		Long: `On Windows, keyprep service install registers the bench daemon (keyprep serve)
as the Windows service "keyprep", run by the service control manager as
LocalSystem (which may open FIDO keys) with the flags given to install; keyprep
service uninstall stops and removes it. Both need an elevated prompt. The API
and the dashboard listen on loopback only, as with keyprep serve.

On Linux, run keyprep serve under systemd instead: the Debian package installs
keyprep.service (README, "Install on a bench"). docs/windows.md has the details.`,
	}
	cmd.AddCommand(newServiceInstallCmd(g), newServiceUninstallCmd(g))
	return cmd
}

func newServiceInstallCmd(g *globals) *cobra.Command {
	var o serviceInstallOptions
	cmd := &cobra.Command{
		Use:   "install [--start auto|manual] [serve flags]",
		Short: "Register keyprep serve, with the given flags, as the Windows service \"keyprep\"",
		Long: `install registers the Windows service "keyprep": this keyprep.exe, by its full
path, with "serve", --state-dir (the state directory this command resolves, so
that the service and keyprep run by an administrator share the store), and
every global or serve flag given here (relative file names made absolute: the
service starts in the system directory). --listen must be a loopback address.

--start auto (the default) starts the service with Windows; --start manual
when started by hand (sc.exe start keyprep, or services.msc). install does not
start it. The service stops cleanly on Stop and at shutdown, as serve does on
Ctrl-C; its output goes to STATE_DIR\serve.log.

Sign-in to Graph: the service does not see the installing user's environment
variables; use a config file (--config) with certificate credentials
(docs/windows.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServiceInstall(cmd.Context(), g, cmd.Flags(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.start, "start", "auto", "when the service starts: auto (with Windows) or manual")
	// serve's own flags, for the service's command line; the values bound
	// here are never used, only what the operator gave (serviceArgs).
	f.AddFlagSet(newServeCmd(g).Flags())
	return cmd
}

func newServiceUninstallCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "uninstall",
		Short: "Stop and remove the Windows service \"keyprep\"",
		Long: `uninstall stops the Windows service "keyprep" if it runs (waiting for the bench
to shut down cleanly, as on Ctrl-C) and removes it. The state directory, the
store and the journal stay.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServiceUninstall(cmd.Context(), g) },
	}
}

// installOnlyFlags are service install's own flags and those that concern
// only this invocation: never passed on to the service.
var installOnlyFlags = map[string]bool{"start": true, "state-dir": true, "json": true, "help": true}

// pathFlags take file names, made absolute for the service (it starts in
// the system directory).
var pathFlags = map[string]bool{"csv": true, "identity": true, "config": true, "certificate": true}

// serviceArgs is the service's command line after the program's path:
// serve, the state directory, and each flag the operator set (fs.Visit:
// only those, in name order), one "--name=value" per value. abs makes a
// relative file name absolute.
func serviceArgs(stateDir string, fs *pflag.FlagSet, abs func(string) (string, error)) ([]string, error) {
	args := []string{"serve", "--state-dir=" + stateDir}
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if err != nil || installOnlyFlags[f.Name] {
			return
		}
		vals := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		}
		for _, v := range vals {
			v, err = servicePath(f.Name, v, abs)
			if err != nil {
				return
			}
			args = append(args, "--"+f.Name+"="+v)
		}
	})
	return args, err
}

// servicePath makes a file-name flag's value absolute; other values pass.
func servicePath(flag, v string, abs func(string) (string, error)) (string, error) {
	prefix := ""
	switch {
	case pathFlags[flag]:
	case flag == "store":
		if strings.Contains(v, "://") {
			return v, nil // a PostgreSQL URL
		}
		if rest, ok := strings.CutPrefix(v, "sqlite:"); ok {
			prefix, v = "sqlite:", rest
		}
	default:
		return v, nil
	}
	if v == "" {
		return prefix, nil
	}
	a, err := abs(v)
	if err != nil {
		return "", fmt.Errorf("--%s %s: %w", flag, v, err)
	}
	return prefix + a, nil
}

// serviceStart parses --start.
func serviceStart(s string) (auto bool, err error) {
	switch strings.ToLower(s) {
	case "auto":
		return true, nil
	case "manual":
		return false, nil
	}
	return false, usageErr("--start %q: want auto (with Windows) or manual", s)
}

// buildServiceConfig decides, before anything is registered, what install
// would register: a bad flag is refused here.
func buildServiceConfig(exe, stateDir string, fs *pflag.FlagSet, o serviceInstallOptions, abs func(string) (string, error)) (serviceConfig, error) {
	auto, err := serviceStart(o.start)
	if err != nil {
		return serviceConfig{}, err
	}
	listen, err := fs.GetString("listen")
	if err != nil {
		return serviceConfig{}, err
	}
	if err := loopbackListen(listen); err != nil {
		return serviceConfig{}, err
	}
	args, err := serviceArgs(stateDir, fs, abs)
	if err != nil {
		return serviceConfig{}, usageErr("%v", err)
	}
	return serviceConfig{Exe: exe, Args: args, Auto: auto}, nil
}

func runServiceInstall(ctx context.Context, g *globals, fs *pflag.FlagSet, o serviceInstallOptions) error {
	if runtime.GOOS != "windows" {
		return errServiceWindowsOnly
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("this program's path: %w", err)
	}
	c, err := buildServiceConfig(exe, g.StateDir, fs, o, filepath.Abs)
	if err != nil {
		return err
	}
	if err := installService(ctx, c); err != nil {
		return err
	}
	start := "manual"
	if c.Auto {
		start = "auto"
	}
	if g.JSON {
		return g.printJSON(map[string]any{"service": serviceName, "exe": c.Exe, "args": c.Args, "start": start})
	}
	fmt.Fprintf(g.io.Out, "installed service %s (start: %s): %s %s\n", serviceName, start, c.Exe, strings.Join(c.Args, " "))
	fmt.Fprintf(g.io.Out, "start it with: sc.exe start %s\n", serviceName)
	return nil
}

func runServiceUninstall(ctx context.Context, g *globals) error {
	if runtime.GOOS != "windows" {
		return errServiceWindowsOnly
	}
	if err := uninstallService(ctx); err != nil {
		return err
	}
	if g.JSON {
		return g.printJSON(map[string]any{"service": serviceName, "removed": true})
	}
	fmt.Fprintf(g.io.Out, "removed service %s; the state directory %s stays\n", serviceName, g.StateDir)
	return nil
}

// serviceRun is keyprep serve run by a service manager: serve runs until it
// returns on its own or stop is closed (Stop, system shutdown), which
// cancels its context, the clean shutdown SIGTERM gives on Linux; it
// returns serve's result once serve has ended.
func serviceRun(ctx context.Context, serve func(context.Context) error, stop <-chan struct{}) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	select {
	case err := <-done:
		return err
	case <-stop:
		cancel()
		return <-done
	}
}

// serviceExitCode is the service's exit code for serve's result: 0, or
// keyprep's exit code for the failure (errors.go).
func serviceExitCode(err error) uint32 {
	if err == nil {
		return 0
	}
	return uint32(classify(err).Code)
}
