package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyprep/keyprep/hid"
)

// parsedCmd returns the command at path with args parsed as the root would
// (global flags included).
func parsedCmd(t *testing.T, path []string, args []string) *cobra.Command {
	t.Helper()
	root := newRoot(&globals{io: IO{In: eofReader{}, Out: io.Discard, ErrOut: io.Discard}})
	cmd, _, err := root.Find(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return cmd
}

// fakeAbs makes a name absolute under /bench without looking at the
// machine's working directory.
func fakeAbs(p string) (string, error) {
	if strings.HasPrefix(p, "/") || strings.Contains(p, `:\`) {
		return p, nil
	}
	return "/bench/" + p, nil
}

func installConfig(t *testing.T, args []string) (serviceConfig, error) {
	t.Helper()
	cmd := parsedCmd(t, []string{"service", "install"}, args)
	start, err := cmd.Flags().GetString("start")
	if err != nil {
		t.Fatal(err)
	}
	return buildServiceConfig(`C:\Program Files\keyprep\keyprep.exe`, `C:\ProgramData\keyprep`, cmd.Flags(), serviceInstallOptions{start: start}, fakeAbs)
}

// The service's command line: serve, the state directory, and exactly the
// flags given to install, file names absolute; bad flags refused before
// anything is registered.
func TestServiceInstallConfig(t *testing.T) {
	const sd = `--state-dir=C:\ProgramData\keyprep`
	cases := []struct {
		name string
		args []string
		want []string // the command line after the .exe
		auto bool
		code ExitCode // nonzero: refused with this exit code
		msg  string
	}{
		{name: "defaults", want: []string{"serve", sd}, auto: true},
		{name: "manual start and serve flags",
			args: []string{"--start", "manual", "--listen", "127.0.0.1:9000", "--max-parallel", "4", "--attended"},
			want: []string{"serve", sd, "--attended=true", "--listen=127.0.0.1:9000", "--max-parallel=4"}},
		{name: "start is case-blind", args: []string{"--start", "Manual"}, want: []string{"serve", sd}},
		{name: "install's own and this run's flags stay here",
			args: []string{"--state-dir", `D:\elsewhere`, "--json", "--start", "auto"},
			want: []string{"serve", sd}, auto: true},
		{name: "global flags pass on",
			args: []string{"--log-level", "debug", "--timeout", "45s", "--auth", "certificate", "--tenant", "contoso.onmicrosoft.com"},
			want: []string{"serve", sd, "--auth=certificate", "--log-level=debug", "--tenant=contoso.onmicrosoft.com", "--timeout=45s"}, auto: true},
		{name: "file names made absolute, repeatable flags repeated",
			args: []string{"--csv", "users.csv", "--identity", "a.key", "--identity", `C:\keys\b.key`, "--config", "kp.json", "--certificate", "app.pem"},
			want: []string{"serve", sd, "--certificate=/bench/app.pem", "--config=/bench/kp.json", "--csv=/bench/users.csv",
				"--identity=/bench/a.key", `--identity=C:\keys\b.key`}, auto: true},
		{name: "store file", args: []string{"--store", "kp.db"}, want: []string{"serve", sd, "--store=/bench/kp.db"}, auto: true},
		{name: "store sqlite:", args: []string{"--store", "sqlite:kp.db"}, want: []string{"serve", sd, "--store=sqlite:/bench/kp.db"}, auto: true},
		{name: "store postgres", args: []string{"--store", "postgres://kp@db.example/keyprep"},
			want: []string{"serve", sd, "--store=postgres://kp@db.example/keyprep"}, auto: true},
		{name: "slice flag", args: []string{"--sim-key-models", "yubikey-5.4,solokey-v2"},
			want: []string{"serve", sd, "--sim-key-models=yubikey-5.4", "--sim-key-models=solokey-v2"}, auto: true},
		{name: "listen beyond loopback", args: []string{"--listen", "0.0.0.0:8765"}, code: ExitUsage, msg: "loopback only"},
		{name: "listen on a LAN address", args: []string{"--listen", "192.168.1.5:8765"}, code: ExitUsage, msg: "loopback only"},
		{name: "bad port", args: []string{"--listen", "127.0.0.1:70000"}, code: ExitUsage, msg: "port must be a number"},
		{name: "bad start", args: []string{"--start", "boot"}, code: ExitUsage, msg: "want auto"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := installConfig(t, tc.args)
			if tc.code != 0 {
				e := classify(err)
				if err == nil || e.Code != tc.code || !strings.Contains(e.Msg, tc.msg) {
					t.Fatalf("config %+v, err %v; want exit %d with %q", c, err, tc.code, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Args, tc.want) {
				t.Fatalf("args\n %q\nwant\n %q", c.Args, tc.want)
			}
			if c.Auto != tc.auto {
				t.Fatalf("auto %v, want %v", c.Auto, tc.auto)
			}
			if c.Exe != `C:\Program Files\keyprep\keyprep.exe` {
				t.Fatalf("exe %q", c.Exe)
			}
		})
	}
}

// What the service runs parses, as keyprep serve, to the values given to
// install.
func TestServiceArgsRoundTrip(t *testing.T) {
	in := []string{"--listen", "[::1]:8800", "--display-name", "{model} {serial}, bench 2", "--challenge-timeout", "2h",
		"--identity", "/k/a.key", "--identity", "/k/b key.key", "--age-recipient", "age1xyz", "--min-pin-length", "8",
		"--force-pin-change", "--sim-key-models", "yubikey-5.4,solokey-v2", "--timeout", "1m30s", "--bench", "left desk"}
	c, err := installConfig(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if c.Args[0] != "serve" {
		t.Fatalf("args %q", c.Args)
	}
	serve := parsedCmd(t, []string{"serve"}, c.Args[1:])
	install := parsedCmd(t, []string{"service", "install"}, in)
	n := 0
	install.Flags().Visit(func(f *pflag.Flag) {
		n++
		g := serve.Flags().Lookup(f.Name)
		if g == nil || !g.Changed || g.Value.String() != f.Value.String() {
			t.Errorf("--%s: serve got %v, install had %q", f.Name, g, f.Value.String())
		}
	})
	if n < 10 {
		t.Fatalf("only %d flags visited", n)
	}
	if sd, _ := serve.Flags().GetString("state-dir"); sd != `C:\ProgramData\keyprep` {
		t.Fatalf("state dir %q", sd)
	}
}

// Outside Windows the service commands refuse, pointing at systemd.
func TestServiceWindowsOnlyError(t *testing.T) {
	e := classify(errServiceWindowsOnly)
	if e.Code != ExitUnsupported || !strings.Contains(e.Hint, "systemd") {
		t.Fatalf("classify = %+v", e)
	}
	for _, err := range []error{errServiceNeedsAdmin, errServiceExists, errServiceMissing} {
		if e := classify(err); e.Hint == "" {
			t.Errorf("%v: no hint", err)
		}
	}
	if e := classify(fmt.Errorf("list keys: %w", &hid.Error{Op: "enumerate", Code: hid.CodeNotElevated})); e.Code != ExitNoKey || !strings.Contains(e.Hint, "Run as administrator") {
		t.Fatalf("not elevated: %+v", e)
	}
}

// serve under a service manager: Stop cancels serve's context and the
// result comes once serve has ended; a failure of its own ends the service
// with keyprep's exit code.
func TestServiceRun(t *testing.T) {
	t.Run("stop", func(t *testing.T) {
		stop := make(chan struct{})
		started, ended := make(chan struct{}), make(chan struct{})
		var sawCancel bool
		go func() { <-started; close(stop) }()
		err := serviceRun(context.Background(), func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			sawCancel = true
			close(ended)
			return nil // serve's clean shutdown
		}, stop)
		select {
		case <-ended:
		default:
			t.Fatal("serviceRun returned before serve ended")
		}
		if err != nil || !sawCancel || serviceExitCode(err) != 0 {
			t.Fatalf("err %v, cancelled %v", err, sawCancel)
		}
	})
	t.Run("serve fails", func(t *testing.T) {
		err := serviceRun(context.Background(), func(ctx context.Context) error {
			return usageErr("--listen %q: the bench API listens on loopback only", "0.0.0.0:1")
		}, make(chan struct{}))
		if err == nil || serviceExitCode(err) != uint32(ExitUsage) {
			t.Fatalf("err %v, code %d", err, serviceExitCode(err))
		}
	})
	t.Run("parent context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		err := serviceRun(ctx, func(ctx context.Context) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}, make(chan struct{}))
		if !errors.Is(err, context.Canceled) || serviceExitCode(err) != uint32(ExitCancelled) {
			t.Fatalf("err %v, code %d", err, serviceExitCode(err))
		}
	})
}
