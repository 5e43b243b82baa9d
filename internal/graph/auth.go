package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/keyprep/keyprep/internal/graph/tokencache"
)

// Authentication methods (keyprep --auth).
const (
	AuthToken            = "token"             // bearer token from KEYPREP_ACCESS_TOKEN
	AuthClientSecret     = "client-secret"     // app-only; secret from AZURE_CLIENT_SECRET
	AuthCertificate      = "certificate"       // app-only; PEM/PKCS#12 from --certificate or AZURE_CLIENT_CERTIFICATE_PATH
	AuthManagedIdentity  = "managed-identity"  // Azure managed identity (optionally user-assigned: --client-id)
	AuthWorkloadIdentity = "workload-identity" // federated token file (AZURE_FEDERATED_TOKEN_FILE)
	AuthAzureCLI         = "azure-cli"         // the signed-in `az` account
	AuthDeviceCode       = "device-code"       // delegated; code shown to the operator
	AuthBrowser          = "browser"           // delegated; interactive browser on this machine
)

// AuthMethods lists the --auth values.
var AuthMethods = []string{AuthToken, AuthClientSecret, AuthCertificate, AuthManagedIdentity,
	AuthWorkloadIdentity, AuthAzureCLI, AuthDeviceCode, AuthBrowser}

// TokenEnv is the variable holding a bearer token for --auth token;
// TokenFileEnv names a file holding one instead (mode 0600 recommended).
const (
	TokenEnv     = "KEYPREP_ACCESS_TOKEN"
	TokenFileEnv = "KEYPREP_ACCESS_TOKEN_FILE"
)

// AuthConfig selects and configures a credential. Secrets (client secret,
// certificate password, token) come from the environment only, never from
// flags, so that they are not visible in `ps`.
type AuthConfig struct {
	Method          string
	TenantID        string
	ClientID        string
	CertificatePath string
	// StateDir keeps the non-secret authentication record of delegated
	// sign-ins (device code, browser) so later runs reuse the cached login.
	StateDir string
	// Prompt receives the device-code instructions (stderr in the CLI).
	Prompt io.Writer
	// Getenv reads the environment (os.Getenv when nil; tests).
	Getenv func(string) string
	// Interactive lets a delegated method (device code, browser) sign in
	// when it has no saved sign-in (keyprep login). Otherwise such a
	// credential without a saved sign-in fails at once with
	// ErrNotSignedIn, and one whose sign-in expired fails instead of
	// prompting in the middle of a command.
	Interactive bool
}

// ErrNotSignedIn: a delegated method has no saved sign-in and the command
// may not prompt (AuthConfig.Interactive). It matches ErrAuthConfig too.
var ErrNotSignedIn = fmt.Errorf("%w: not signed in", ErrAuthConfig)

func (c *AuthConfig) env(k string) string {
	if c.Getenv != nil {
		return c.Getenv(k)
	}
	return os.Getenv(k)
}

// Resolve fills TenantID, ClientID, CertificatePath from the AZURE_*
// variables azidentity users know when they are unset, and picks a default
// method: token when KEYPREP_ACCESS_TOKEN is set, client-secret or
// certificate when their variables are, else device-code.
func (c *AuthConfig) Resolve() {
	if c.TenantID == "" {
		c.TenantID = c.env("AZURE_TENANT_ID")
	}
	if c.ClientID == "" {
		c.ClientID = c.env("AZURE_CLIENT_ID")
	}
	if c.CertificatePath == "" {
		c.CertificatePath = c.env("AZURE_CLIENT_CERTIFICATE_PATH")
	}
	if c.Method != "" {
		return
	}
	switch {
	case c.env(TokenEnv) != "" || c.env(TokenFileEnv) != "":
		c.Method = AuthToken
	case c.env("AZURE_CLIENT_SECRET") != "":
		c.Method = AuthClientSecret
	case c.CertificatePath != "":
		c.Method = AuthCertificate
	case c.env("AZURE_FEDERATED_TOKEN_FILE") != "":
		c.Method = AuthWorkloadIdentity
	default:
		c.Method = AuthDeviceCode
	}
}

// ErrAuthConfig marks an incomplete or invalid authentication set-up.
var ErrAuthConfig = errors.New("authentication not configured")

func authConfigErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrAuthConfig}, args...)...)
}

// recordFile is where a delegated sign-in's AuthenticationRecord lives.
func (c *AuthConfig) recordFile() string {
	if c.StateDir == "" {
		return ""
	}
	return filepath.Join(c.StateDir, "auth-record.json")
}

func (c *AuthConfig) loadRecord() azidentity.AuthenticationRecord {
	var r azidentity.AuthenticationRecord
	f := c.recordFile()
	if f == "" {
		return r
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return r
	}
	if json.Unmarshal(b, &r) != nil {
		return azidentity.AuthenticationRecord{}
	}
	// A record for another tenant or app would silently pick the wrong
	// account; ignore it.
	if (c.TenantID != "" && !strings.EqualFold(r.TenantID, c.TenantID)) ||
		(c.ClientID != "" && !strings.EqualFold(r.ClientID, c.ClientID)) {
		return azidentity.AuthenticationRecord{}
	}
	return r
}

func (c *AuthConfig) saveRecord(r azidentity.AuthenticationRecord) error {
	f := c.recordFile()
	if f == "" {
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return err
	}
	tmp := f + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, f)
}

// Credential is a configured credential plus what Login needs.
type Credential struct {
	azcore.TokenCredential
	Method string
	// authenticate runs an interactive sign-in (device code, browser).
	authenticate func(ctx context.Context) (azidentity.AuthenticationRecord, error)
	cfg          AuthConfig
	// CacheNote explains when no persistent token cache could be used.
	CacheNote string
}

// NewCredential builds the credential for cfg (after Resolve). It performs
// no network I/O.
func NewCredential(cfg AuthConfig) (*Credential, error) {
	cfg.Resolve()
	cr := &Credential{Method: cfg.Method, cfg: cfg}
	if (cfg.Method == AuthDeviceCode || cfg.Method == AuthBrowser) && !cfg.Interactive && cfg.loadRecord() == (azidentity.AuthenticationRecord{}) {
		return nil, fmt.Errorf("%w: no saved %s sign-in for this tenant and application", ErrNotSignedIn, cfg.Method)
	}
	cache, note := tokencache.Persistent()
	cr.CacheNote = note
	copts := clientOptions()
	switch cfg.Method {
	case AuthToken:
		t, from := cfg.env(TokenEnv), TokenEnv
		if t == "" {
			if f := cfg.env(TokenFileEnv); f != "" {
				b, err := os.ReadFile(f)
				if err != nil {
					return nil, authConfigErr("%s: %v", TokenFileEnv, err)
				}
				t, from = string(b), f
			}
		}
		if t == "" {
			return nil, authConfigErr("--auth token needs the bearer token in %s (or a file named by %s)", TokenEnv, TokenFileEnv)
		}
		st, err := NewStaticToken(t)
		if err != nil {
			return nil, authConfigErr("%s: %v", from, err)
		}
		cr.TokenCredential = st
		cr.CacheNote = ""
	case AuthClientSecret:
		secret := cfg.env("AZURE_CLIENT_SECRET")
		if cfg.TenantID == "" || cfg.ClientID == "" || secret == "" {
			return nil, authConfigErr("--auth client-secret needs --tenant, --client-id and the secret in AZURE_CLIENT_SECRET")
		}
		c, err := azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: copts, Cache: cache})
		if err != nil {
			return nil, authConfigErr("%v", err)
		}
		cr.TokenCredential = c
	case AuthCertificate:
		if cfg.TenantID == "" || cfg.ClientID == "" || cfg.CertificatePath == "" {
			return nil, authConfigErr("--auth certificate needs --tenant, --client-id and --certificate (or AZURE_CLIENT_CERTIFICATE_PATH)")
		}
		data, err := os.ReadFile(cfg.CertificatePath)
		if err != nil {
			return nil, authConfigErr("reading the certificate: %v", err)
		}
		var pw []byte
		if p := cfg.env("AZURE_CLIENT_CERTIFICATE_PASSWORD"); p != "" {
			pw = []byte(p)
		}
		certs, key, err := azidentity.ParseCertificates(data, pw)
		if err != nil {
			return nil, authConfigErr("%s: %v (PEM with the private key, or PKCS#12 with AZURE_CLIENT_CERTIFICATE_PASSWORD)", cfg.CertificatePath, err)
		}
		c, err := azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: copts, Cache: cache, SendCertificateChain: true})
		if err != nil {
			return nil, authConfigErr("%v", err)
		}
		cr.TokenCredential = c
	case AuthManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: copts}
		if cfg.ClientID != "" {
			o.ID = azidentity.ClientID(cfg.ClientID)
		}
		c, err := azidentity.NewManagedIdentityCredential(o)
		if err != nil {
			return nil, authConfigErr("%v", err)
		}
		cr.TokenCredential = c
		cr.CacheNote = ""
	case AuthWorkloadIdentity:
		c, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: copts, TenantID: cfg.TenantID, ClientID: cfg.ClientID, Cache: cache})
		if err != nil {
			return nil, authConfigErr("%v (set AZURE_FEDERATED_TOKEN_FILE, --tenant and --client-id)", err)
		}
		cr.TokenCredential = c
	case AuthAzureCLI:
		c, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: cfg.TenantID})
		if err != nil {
			return nil, authConfigErr("%v", err)
		}
		cr.TokenCredential = c
		cr.CacheNote = ""
	case AuthDeviceCode:
		prompt := cfg.Prompt
		if prompt == nil {
			prompt = os.Stderr
		}
		c, err := azidentity.NewDeviceCodeCredential(&azidentity.DeviceCodeCredentialOptions{
			ClientOptions: copts, TenantID: cfg.TenantID, ClientID: cfg.ClientID, Cache: cache,
			AuthenticationRecord: cfg.loadRecord(), DisableAutomaticAuthentication: !cfg.Interactive,
			UserPrompt: func(_ context.Context, m azidentity.DeviceCodeMessage) error {
				_, err := fmt.Fprintln(prompt, m.Message)
				return err
			},
		})
		if err != nil {
			return nil, authConfigErr("%v", err)
		}
		cr.TokenCredential = c
		cr.authenticate = func(ctx context.Context) (azidentity.AuthenticationRecord, error) {
			return c.Authenticate(ctx, &policy.TokenRequestOptions{Scopes: []string{DefaultScope}})
		}
	case AuthBrowser:
		c, err := azidentity.NewInteractiveBrowserCredential(&azidentity.InteractiveBrowserCredentialOptions{
			ClientOptions: copts, TenantID: cfg.TenantID, ClientID: cfg.ClientID, Cache: cache,
			AuthenticationRecord: cfg.loadRecord(), DisableAutomaticAuthentication: !cfg.Interactive,
		})
		if err != nil {
			return nil, authConfigErr("%v", err)
		}
		cr.TokenCredential = c
		cr.authenticate = func(ctx context.Context) (azidentity.AuthenticationRecord, error) {
			return c.Authenticate(ctx, &policy.TokenRequestOptions{Scopes: []string{DefaultScope}})
		}
	default:
		return nil, authConfigErr("unknown --auth %q (one of %s)", cfg.Method, strings.Join(AuthMethods, ", "))
	}
	return cr, nil
}

// Identity describes who a token speaks for, read from its claims (not
// verified: informational, for `keyprep login` and `policy check`). The
// token itself is never kept.
type Identity struct {
	Method      string    `json:"method"`
	TenantID    string    `json:"tenantId,omitempty"`
	AppID       string    `json:"appId,omitempty"`
	AppName     string    `json:"appName,omitempty"`
	User        string    `json:"user,omitempty"` // delegated sign-ins
	Roles       []string  `json:"roles,omitempty"`
	Scopes      []string  `json:"scopes,omitempty"`
	Expires     time.Time `json:"expires,omitzero"`
	AppOnly     bool      `json:"appOnly"`
	Opaque      bool      `json:"opaque,omitempty"` // the token is not a readable JWT
	RecordSaved string    `json:"recordSaved,omitempty"`
}

// Has reports whether the token carries permission p (application role or
// delegated scope). Opaque tokens report true: nothing can be told.
func (id *Identity) Has(p string) bool {
	if id.Opaque {
		return true
	}
	return slices.ContainsFunc(id.Roles, func(r string) bool { return strings.EqualFold(r, p) }) ||
		slices.ContainsFunc(id.Scopes, func(s string) bool { return strings.EqualFold(s, p) })
}

// Login signs in (interactively for device code and browser, saving the
// authentication record in StateDir), obtains a Graph token and describes
// the identity from its claims.
func Login(ctx context.Context, cr *Credential) (*Identity, error) {
	id := &Identity{Method: cr.Method}
	if cr.authenticate != nil {
		rec, err := cr.authenticate(ctx)
		if unreachable(err) != "" {
			return nil, networkError("sign in", err)
		}
		if err != nil {
			return nil, &Error{Op: "sign in", Class: ErrAuthentication, Err: err}
		}
		if err := cr.cfg.saveRecord(rec); err != nil {
			return nil, fmt.Errorf("graph: saving the sign-in record: %w", err)
		}
		id.RecordSaved = cr.cfg.recordFile()
	}
	tok, err := cr.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{DefaultScope}})
	if unreachable(err) != "" {
		return nil, networkError("get token", err)
	}
	if err != nil {
		return nil, &Error{Op: "get token", Class: ErrAuthentication, Err: err}
	}
	describeToken(tok.Token, id)
	if id.Expires.IsZero() {
		id.Expires = tok.ExpiresOn
	}
	return id, nil
}

// TokenIdentity describes the identity behind a credential without an
// interactive sign-in (used by policy check).
func TokenIdentity(ctx context.Context, cred azcore.TokenCredential, method string) (*Identity, error) {
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{DefaultScope}})
	if err != nil {
		return nil, &Error{Op: "get token", Class: ErrAuthentication, Err: err}
	}
	id := &Identity{Method: method}
	describeToken(tok.Token, id)
	return id, nil
}

// describeToken reads the claims of a JWT access token.
func describeToken(token string, id *Identity) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		id.Opaque = true
		return
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		id.Opaque = true
		return
	}
	var c struct {
		Tid     string   `json:"tid"`
		AppID   string   `json:"appid"`
		Azp     string   `json:"azp"`
		AppName string   `json:"app_displayname"`
		UPN     string   `json:"upn"`
		Pref    string   `json:"preferred_username"`
		Unique  string   `json:"unique_name"`
		Roles   []string `json:"roles"`
		Scp     string   `json:"scp"`
		Exp     int64    `json:"exp"`
		Idtyp   string   `json:"idtyp"`
	}
	if json.Unmarshal(payload, &c) != nil {
		id.Opaque = true
		return
	}
	id.TenantID = sanitize(c.Tid)
	id.AppID = sanitize(c.AppID)
	if id.AppID == "" {
		id.AppID = sanitize(c.Azp)
	}
	id.AppName = sanitize(c.AppName)
	for _, u := range []string{c.UPN, c.Pref, c.Unique} {
		if u != "" {
			id.User = sanitize(u)
			break
		}
	}
	for _, r := range c.Roles {
		id.Roles = append(id.Roles, sanitize(r))
	}
	for _, s := range strings.Fields(c.Scp) {
		id.Scopes = append(id.Scopes, sanitize(s))
	}
	id.AppOnly = c.Idtyp == "app" || (c.Scp == "" && id.User == "")
	if c.Exp > 0 {
		id.Expires = time.Unix(c.Exp, 0)
	}
}
