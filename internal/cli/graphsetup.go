package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/duration"
	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/graph"
)

// graphFlags are the global flags that say which Graph to talk to and how to
// sign in. Secrets never come from flags (they would show in `ps`): the
// client secret, certificate password and bearer token are read from the
// environment only.
type graphFlags struct {
	SimTenant   bool
	GraphURL    string
	Auth        string
	TenantID    string
	ClientID    string
	Certificate string
	ConfigFile  string
}

// fileConfig is the optional config file ($XDG_CONFIG_HOME/keyprep/config.json
// or --config): the non-secret sign-in set-up, written by `keyprep login`.
type fileConfig struct {
	Auth        string `json:"auth,omitempty"`
	TenantID    string `json:"tenantId,omitempty"`
	ClientID    string `json:"clientId,omitempty"`
	Certificate string `json:"certificate,omitempty"`
	GraphURL    string `json:"graphUrl,omitempty"`
}

func (g *globals) configPath() string {
	if g.gf.ConfigFile != "" {
		return g.gf.ConfigFile
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "keyprep", "config.json")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".config", "keyprep", "config.json")
}

func (g *globals) loadConfig() (fileConfig, error) {
	var c fileConfig
	p := g.configPath()
	if p == "" {
		return c, nil
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) && g.gf.ConfigFile == "" {
		return c, nil
	}
	if err != nil {
		return c, usageErr("config file: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, usageErr("config file %s: %v", p, err)
	}
	return c, nil
}

func saveConfig(path string, c fileConfig) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := fileguard.MkdirAll(filepath.Dir(path)); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// authConfig merges flags, environment (AZURE_*, KEYPREP_GRAPH_URL) and the
// config file, in that order of precedence.
func (g *globals) authConfig() (graph.AuthConfig, string, error) {
	fc, err := g.loadConfig()
	if err != nil {
		return graph.AuthConfig{}, "", err
	}
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	cfg := graph.AuthConfig{
		Method:          pick(g.gf.Auth, os.Getenv("KEYPREP_AUTH"), fc.Auth),
		TenantID:        pick(g.gf.TenantID, os.Getenv("AZURE_TENANT_ID"), fc.TenantID),
		ClientID:        pick(g.gf.ClientID, os.Getenv("AZURE_CLIENT_ID"), fc.ClientID),
		CertificatePath: pick(g.gf.Certificate, os.Getenv("AZURE_CLIENT_CERTIFICATE_PATH"), fc.Certificate),
		StateDir:        g.StateDir,
		Prompt:          g.io.ErrOut,
	}
	url := pick(g.gf.GraphURL, os.Getenv("KEYPREP_GRAPH_URL"), fc.GraphURL)
	return cfg, url, nil
}

// simTenantActive reports whether the in-process emulated tenant is used.
func (g *globals) simTenantActive() bool { return g.gf.SimTenant || g.Sim }

// graphClient returns the Graph client for this run: the in-process
// emulated tenant with --sim/--sim-tenant, else the configured Graph with the
// configured credential. It is built once per run.
func (g *globals) graphClient(ctx context.Context) (*graph.Client, error) {
	if g.gc != nil {
		return g.gc, nil
	}
	var opts graph.Options
	if g.simTenantActive() {
		if g.gf.GraphURL != "" {
			return nil, usageErr("--graph-url and --sim/--sim-tenant exclude each other")
		}
		url, tok, err := g.startSimTenant()
		if err != nil {
			return nil, err
		}
		opts = graph.Options{BaseURL: url, Credential: tok}
		g.authMethod = "sim"
	} else {
		cfg, url, err := g.authConfig()
		if err != nil {
			return nil, err
		}
		cred, err := graph.NewCredential(cfg)
		if err != nil {
			return nil, err
		}
		if cred.CacheNote != "" {
			g.log.Debug(cred.CacheNote)
		}
		opts = graph.Options{BaseURL: url, Credential: cred}
		g.authMethod = cred.Method
		g.cred = cred
	}
	opts.UserAgent = "keyprep/" + Version
	if g.wire.graphOptions != nil {
		g.wire.graphOptions(&opts)
	}
	c, err := graph.New(ctx, opts)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	g.gc = c
	return c, nil
}

// startSimTenant opens the emulated tenant's state in the state directory
// and serves it on a loopback port for the length of this run, so every
// request goes through the same HTTP client code as against Entra. The
// run's credential gets its tokens from the tenant, which refuses each one
// after its lifetime (an hour, like Entra's, or KEYPREP_SIM_TOKEN_LIFETIME),
// and renews them as azidentity's credentials do.
func (g *globals) startSimTenant() (string, *graph.RenewingToken, error) {
	lifetime := time.Hour
	if v := os.Getenv(simTokenLifetimeEnv); v != "" {
		d, err := duration.Parse(v)
		if err != nil || d <= 0 {
			return "", nil, usageErr("%s: want a positive duration such as 2s or 1h", simTokenLifetimeEnv)
		}
		lifetime = d
	}
	t, err := g.openSimTenant(g.simTenantPath(), "", map[string]entrasim.Identity{}, nil)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = t.Close()
		return "", nil, fmt.Errorf("emulated tenant: %w", err)
	}
	srv := &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	g.closers = append(g.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		return t.Close()
	})
	g.simTenant = t
	cred := graph.NewRenewingToken(func(context.Context) (string, time.Time, error) {
		tok, exp := t.IssueToken(entrasim.Identity{Name: "keyprep --sim"}, lifetime)
		if g.wire.tokenIssued != nil {
			g.wire.tokenIssued(tok)
		}
		return tok, exp, nil
	}, t.Now)
	return "http://" + ln.Addr().String(), cred, nil
}

// simTokenLifetimeEnv sets the lifetime of the emulated tenant's tokens
// (read only with --sim/--sim-tenant): tests make it short, so that a run
// outlasts several tokens.
const simTokenLifetimeEnv = "KEYPREP_SIM_TOKEN_LIFETIME"
