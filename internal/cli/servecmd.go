package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/bench/api"
	"github.com/keyprep/keyprep/internal/duration"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/fileguard"
)

// TokenFile is the daemon's API token in the state directory (mode 0600).
const TokenFile = "serve.token"

// URLFile holds the running daemon's address (no secret), for scripts.
const URLFile = "serve.url"

type serveOptions struct {
	enrollOptions
	listen string
}

func newServeCmd(g *globals) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--listen 127.0.0.1:8765] [--csv users.csv]",
		Short: "Run the provisioning bench as a daemon: hot-plug slots, a job queue, a local API and a web dashboard",
		Long: `serve runs the bench until it is stopped (Ctrl-C, SIGTERM): every attached key
is a slot, keys come and go, users arrive from --csv, the dashboard's upload or
the API, and every step is journaled in the store, as with enroll --csv.

The local HTTP API and the dashboard listen on loopback only. Every request
needs the token kept in STATE_DIR/` + TokenFile + ` (mode 0600, made on first
start): as "Authorization: Bearer TOKEN", or through the dashboard, which takes
it from the address printed at start (http://127.0.0.1:PORT/#token=…, the
token in the fragment, which browsers never send) and swaps it for a session
cookie. Requests for other host names, from other origins or other sites are
refused. A PIN reaches the browser only when the operator reveals it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Started by Windows' service control manager it runs as
			// a service (keyprep service install); else in the foreground.
			return serveMaybeService(cmd.Context(), g, func(ctx context.Context) error { return runServe(ctx, g, o) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8765", "loopback address to listen on (port 0: any free port)")
	f.StringVar(&o.csv, "csv", "", "queue the users of this CSV list at start")
	f.IntVar(&o.minPINLength, "min-pin-length", 0, "raise each key's minimum PIN length to N (CTAP 2.1)")
	f.BoolVar(&o.minPINLengthRP, "min-pin-length-rp", false, "also let login.microsoft.com read the minimum PIN length")
	f.BoolVar(&o.forcePINChange, "force-pin-change", false, "make each key ask for a new PIN at first use")
	addKeySettingFlags(f, &o.enrollOptions)
	f.StringVar(&o.displayName, "display-name", "", "passkey name template: {model}, {serial}, {date}")
	f.Var(duration.NewValue(&o.challengeTimeout), "challenge-timeout", "challenge lifetime to ask Graph for (5m to 30d, whole minutes)")
	f.StringArrayVar(&o.recipients, "age-recipient", nil, "encrypt every PIN escrow to this age recipient; repeatable")
	f.StringArrayVar(&o.identities, "identity", nil, "age identity file that can open earlier escrows (also used to reveal PINs)")
	addBenchFlags(f, &o.bench)
	o.pinMode = "generate"
	return cmd
}

// loopbackListen checks that addr is a loopback address.
func loopbackListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErr("--listen %q: want HOST:PORT, e.g. 127.0.0.1:8765", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("--listen %q: the port must be a number from 0 to 65535 (0: any free port)", addr),
			Hint: "e.g. --listen 127.0.0.1:8765"}
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return usageErr("--listen %q: the bench API listens on loopback only (127.0.0.1 or [::1]); reach it remotely through SSH port forwarding", addr)
	}
	return nil
}

// serveToken returns the daemon's token, creating it (private: 0600, a
// private DACL on Windows) on first use.
func serveToken(dir string) (string, string, error) {
	path := filepath.Join(dir, TokenFile)
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) >= api.MinTokenLen {
			// A token another user planted, or one others can read, is
			// not the daemon's secret.
			if err := fileguard.CheckPath("API token", path, fileguard.Secret, euid()); err != nil {
				return "", "", err
			}
			return tok, path, nil
		}
	}
	if err := fileguard.MkdirAll(dir); err != nil {
		return "", "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	// Private from its creation (0600; on Windows a DACL for the user,
	// SYSTEM and Administrators), then renamed into place.
	if err := escrow.WritePrivateFile(path, []byte(tok+"\n"), true); err != nil {
		return "", "", err
	}
	return tok, path, nil
}

// serveMemoryLimit is the daemon's soft memory limit (runtime/debug).
const serveMemoryLimit = 192 << 20

// listenHint says what to do when --listen cannot be listened on: only an
// address in use points at another daemon.
func listenHint(err error) string {
	// The socket errors by their numbers on this system (Winsock's on
	// Windows, where syscall.EADDRINUSE is not what a listen returns).
	switch {
	case errors.Is(err, errAddrInUse):
		return "another keyprep serve (or another program) already listens there; choose another port with --listen 127.0.0.1:PORT"
	case errors.Is(err, errAccess):
		return "ports below 1024 need privileges; choose a port from 1024 up with --listen 127.0.0.1:PORT"
	case errors.Is(err, errAddrNotAvail):
		return "that address is not one of this machine's; use 127.0.0.1 or [::1]"
	}
	return "check --listen: a loopback address and a free port, e.g. --listen 127.0.0.1:8765"
}

func runServe(ctx context.Context, g *globals, o serveOptions) error {
	if err := loopbackListen(o.listen); err != nil {
		return err
	}
	if o.csv != "" {
		if _, err := os.Stat(o.csv); err != nil {
			return usageErr("--csv: %v", err)
		}
	}
	// On Windows without administrator rights no key is ever visible: say
	// so before starting rather than at every look for keys.
	if _, err := hid.Enumerate(ctx); errors.Is(err, hid.ErrNotElevated) {
		return fmt.Errorf("serve: %w", err)
	}
	tok, tokPath, err := serveToken(g.StateDir)
	if err != nil {
		return fmt.Errorf("the API token: %w", err)
	}
	r, err := g.newRunner(ctx, o.enrollOptions, o.bench, false)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("listen on %s: %v", o.listen, err), Hint: listenHint(err), Err: err}
	}
	addr := ln.Addr().String()
	srv, err := api.New(r, api.Options{Token: tok, Addr: addr, Log: slog.New(g.log)})
	if err != nil {
		ln.Close()
		return err
	}
	hs := srv.HTTPServer()
	// A soft memory limit for the daemon (GOMEMLIMIT overrides it): the
	// garbage collector works harder near it instead of letting the heap
	// double under a burst of uploads and clients (docs: README, limits).
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- r.Run(ctx) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- hs.Serve(ln) }()

	url := "http://" + addr + "/"
	urlPath := filepath.Join(g.StateDir, URLFile)
	_ = os.WriteFile(urlPath, []byte(url+"\n"), 0o600)
	defer os.Remove(urlPath)
	if g.JSON {
		_ = g.printJSON(map[string]any{"url": url, "tokenFile": tokPath, "stateDir": g.StateDir})
	} else if f, ok := g.io.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(g.io.Out, "keyprep bench on %s\ndashboard: %s#token=%s\n", url, url, tok)
	} else {
		// Not a terminal (a service's journal): the token stays in its file.
		fmt.Fprintf(g.io.Out, "keyprep bench on %s\ndashboard: %s (sign in with the token in %s)\n", url, url, tokPath)
	}
	if o.csv != "" {
		f, err := os.Open(o.csv)
		if err != nil {
			return usageErr("--csv: %v", err)
		}
		sub, err := r.Submit(ctx, batchName("", o.csv), f)
		f.Close()
		if err != nil {
			return usageErr("%s: %v", o.csv, err)
		}
		g.infof("queued %d users from %s (%d row errors)", sub.Added, o.csv, len(sub.Errors))
		for _, e := range sub.Errors {
			g.infof("  line %d (%s): %s", e.Line, e.UPN, e.Msg)
		}
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-runDone:
	case err := <-srvDone:
		runErr = fmt.Errorf("the API server stopped: %w", err)
	}
	cancel()
	srv.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = hs.Shutdown(sctx)
	if runErr == nil {
		runErr = <-runDone
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	g.infof("keyprep bench stopped; interrupted enrollments are resumed by the next start (or keyprep journal resume)")
	return nil
}
