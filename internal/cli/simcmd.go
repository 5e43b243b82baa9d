package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/simkeys"
)

func newSimCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Work with the built-in simulation: virtual keys and the emulated Entra tenant",
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
	cmd.AddCommand(replug, newSimTenantCmd(g), newSimUsersCmd(g))
	return cmd
}

// simTenantPath is where the emulated tenant keeps its state.
func (g *globals) simTenantPath() string { return filepath.Join(g.StateDir, "sim", "tenant.json") }

func openSimTenant(path string, seedFile string, tokens map[string]entrasim.Identity, logw io.Writer) (*entrasim.Tenant, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	opts := entrasim.Options{StatePath: path, Tokens: tokens, Log: logw}
	if seedFile != "" {
		b, err := os.ReadFile(seedFile)
		if err != nil {
			return nil, usageErr("--users: %v", err)
		}
		users, err := entrasim.ParseSeed(b)
		if err != nil {
			return nil, usageErr("--users %s: %v", seedFile, err)
		}
		opts.Users = users
		if _, err := os.Stat(path); err == nil {
			return nil, usageErr("--users applies to a new emulated tenant, but %s already exists: use a fresh --state-dir (or --state FILE)", path)
		}
	}
	if testHooks.tenantOptions != nil {
		testHooks.tenantOptions(&opts)
	}
	t, err := entrasim.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("emulated tenant: %w", err)
	}
	if testHooks.tenantOpened != nil {
		testHooks.tenantOpened(t)
	}
	return t, nil
}

// testHooks let the in-process CLI tests reach the simulation (faults,
// clocks, unplugging) the way an operator's world would change under a
// running command. Nil in production.
var testHooks struct {
	tenantOptions func(*entrasim.Options)
	tenantOpened  func(*entrasim.Tenant)
	keysReady     func(*simkeys.Provider)
	graphOptions  func(*graph.Options)
	event         func(enroll.Event)
}

func newSimTenantCmd(g *globals) *cobra.Command {
	var listen, users, tokenFile, state string
	cmd := &cobra.Command{
		Use:   "tenant [--listen 127.0.0.1:PORT] [--users FILE]",
		Short: "Serve the emulated Entra tenant (a Microsoft Graph subset) over HTTP until interrupted",
		Long: `tenant serves the emulated Entra tenant on a loopback address: users, groups,
passkey creationOptions and registration (verified with go-webauthn), fido2
methods, Temporary Access Passes and the two method policies, with Graph's error
envelopes. Its state lives in the state directory (the same tenant --sim uses),
or in --state FILE. --users seeds a new tenant from a JSON or CSV file
(upn, displayName, userType, groups separated by ';').

The bearer token is written to --token-file (mode 0600), never printed:
  export KEYPREP_ACCESS_TOKEN=$(cat TOKEN_FILE)
  keyprep --graph-url http://127.0.0.1:PORT --auth token policy show`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return usageErr("--listen %q: want HOST:PORT", listen)
			}
			if ip := net.ParseIP(host); !(host == "localhost" || (ip != nil && ip.IsLoopback())) {
				return usageErr("--listen %s: the emulated tenant serves plain http and listens on loopback addresses only", listen)
			}
			if state == "" {
				state = g.simTenantPath()
			}
			if tokenFile == "" {
				tokenFile = filepath.Join(filepath.Dir(state), "tenant.token")
			}
			token := entrasim.NewToken()
			t, err := openSimTenant(state, users, map[string]entrasim.Identity{token: {Name: "keyprep sim tenant"}}, g.io.ErrOut)
			if err != nil {
				return err
			}
			defer t.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			// The token file appears once the tenant is listening: scripts
			// may wait for it.
			if err := os.MkdirAll(filepath.Dir(tokenFile), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
				return fmt.Errorf("writing the token file: %w", err)
			}
			defer os.Remove(tokenFile)
			srv := &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second}
			url := "http://" + ln.Addr().String()
			if g.JSON {
				_ = g.printJSON(map[string]any{"url": url, "tokenFile": tokenFile, "state": state, "users": len(t.Users())})
			} else {
				fmt.Fprintf(g.io.Out, "Emulated Entra tenant with %s serving on %s (state %s)\n", plural(len(t.Users()), "user", "users"), url, state)
				fmt.Fprintf(g.io.Out, "  export KEYPREP_ACCESS_TOKEN=$(cat %s)\n", tokenFile)
				fmt.Fprintf(g.io.Out, "  keyprep --graph-url %s --auth token policy show\n", url)
				fmt.Fprintln(g.io.Out, "Stop with Ctrl-C.")
			}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case <-cmd.Context().Done():
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
				g.infof("emulated tenant stopped")
				return nil
			case err := <-errc:
				return err
			}
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "loopback address to serve on (port 0 picks a free one)")
	cmd.Flags().StringVar(&users, "users", "", "seed users from a JSON or CSV file (new tenant only)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "where to write the bearer token (default next to the state file)")
	cmd.Flags().StringVar(&state, "state", "", "state file (default STATE_DIR/sim/tenant.json, shared with --sim)")
	return cmd
}

func newSimUsersCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "users",
		Short: "List the emulated tenant's users (UPN, type, groups, policy scope)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := openSimTenant(g.simTenantPath(), "", nil, nil)
			if err != nil {
				return err
			}
			defer t.Close()
			us := t.Users()
			if g.JSON {
				type juser struct {
					ID                string   `json:"id"`
					UserPrincipalName string   `json:"userPrincipalName"`
					DisplayName       string   `json:"displayName"`
					UserType          string   `json:"userType"`
					Groups            []string `json:"groups"`
					InFido2Scope      bool     `json:"inPasskeyPolicyScope"`
					InTAPScope        bool     `json:"inTAPPolicyScope"`
				}
				type jgroup struct {
					ID          string `json:"id"`
					DisplayName string `json:"displayName"`
					Members     int    `json:"members"`
				}
				out := struct {
					Users  []juser  `json:"users"`
					Groups []jgroup `json:"groups"`
				}{Users: []juser{}, Groups: []jgroup{}}
				for _, u := range us {
					out.Users = append(out.Users, juser{u.ID, u.UPN, u.DisplayName, u.UserType, u.Groups, u.InFido2Scope, u.InTAPScope})
				}
				for _, gr := range t.Groups() {
					out.Groups = append(out.Groups, jgroup{gr.ID, gr.DisplayName, gr.Members})
				}
				return g.printJSON(out)
			}
			tw := tabwriter.NewWriter(g.io.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "UPN\tNAME\tTYPE\tPASSKEY POLICY\tTAP POLICY\tGROUPS")
			scope := func(b bool) string {
				if b {
					return "in scope"
				}
				return "out of scope"
			}
			for _, u := range us {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.UPN, u.DisplayName, u.UserType, scope(u.InFido2Scope), scope(u.InTAPScope), strings.Join(u.Groups, ", "))
			}
			return tw.Flush()
		},
	}
}
