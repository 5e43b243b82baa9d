package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestAuthResolveDefaults(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		cfg  AuthConfig
		want string
	}{
		{map[string]string{TokenEnv: "x"}, AuthConfig{}, AuthToken},
		{map[string]string{"AZURE_CLIENT_SECRET": "s", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c"}, AuthConfig{}, AuthClientSecret},
		{map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": "/c.pem"}, AuthConfig{}, AuthCertificate},
		{map[string]string{"AZURE_FEDERATED_TOKEN_FILE": "/f"}, AuthConfig{}, AuthWorkloadIdentity},
		{map[string]string{}, AuthConfig{}, AuthDeviceCode},
		{map[string]string{TokenEnv: "x"}, AuthConfig{Method: AuthAzureCLI}, AuthAzureCLI}, // explicit wins
	} {
		c := tc.cfg
		c.Getenv = envOf(tc.env)
		c.Resolve()
		if c.Method != tc.want {
			t.Errorf("env %v: method %q, want %q", tc.env, c.Method, tc.want)
		}
	}
	c := AuthConfig{TenantID: "flag-tenant", Getenv: envOf(map[string]string{"AZURE_TENANT_ID": "env", "AZURE_CLIENT_ID": "env-client"})}
	c.Resolve()
	if c.TenantID != "flag-tenant" || c.ClientID != "env-client" {
		t.Errorf("precedence: %+v", c)
	}
}

func TestNewCredentialRefusesIncompleteSetups(t *testing.T) {
	for _, tc := range []struct {
		cfg  AuthConfig
		want string
	}{
		{AuthConfig{Method: AuthToken}, TokenEnv},
		{AuthConfig{Method: AuthClientSecret, TenantID: "t", ClientID: "c"}, "AZURE_CLIENT_SECRET"},
		{AuthConfig{Method: AuthCertificate, TenantID: "t", ClientID: "c"}, "--certificate"},
		{AuthConfig{Method: AuthCertificate, TenantID: "t", ClientID: "c", CertificatePath: "/nonexistent.pem"}, "reading the certificate"},
		{AuthConfig{Method: "kerberos"}, "unknown --auth"},
	} {
		tc.cfg.Getenv = envOf(nil)
		_, err := NewCredential(tc.cfg)
		if !errors.Is(err, ErrAuthConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want ErrAuthConfig naming %s", tc.cfg.Method, err, tc.want)
		}
	}
	// A bad certificate file names the file and never echoes its content.
	dir := t.TempDir()
	p := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(p, []byte("SECRET-MATERIAL"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := NewCredential(AuthConfig{Method: AuthCertificate, TenantID: "t", ClientID: "c", CertificatePath: p, Getenv: envOf(nil)})
	if err == nil || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "SECRET-MATERIAL") {
		t.Errorf("bad certificate: %v", err)
	}
}

func jwt(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256"}`))
	b, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + ".c2lnbmF0dXJl"
}

func TestLoginDescribesTheToken(t *testing.T) {
	app := jwt(map[string]any{"tid": "8a3b", "appid": "c0ffee", "app_displayname": "keyprep bench", "idtyp": "app",
		"roles": []string{"UserAuthMethod-Passkey.ReadWrite.All", "User.Read.All"}, "exp": 1900000000})
	cred, err := NewCredential(AuthConfig{Method: AuthToken, Getenv: envOf(map[string]string{TokenEnv: app})})
	if err != nil {
		t.Fatal(err)
	}
	id, err := Login(context.Background(), cred)
	if err != nil {
		t.Fatal(err)
	}
	if !id.AppOnly || id.TenantID != "8a3b" || id.AppName != "keyprep bench" || !id.Has("user.read.all") ||
		id.Has("UserAuthMethod-TAP.ReadWrite.All") || id.Expires.Unix() != 1900000000 {
		t.Errorf("identity %+v", id)
	}
	b, _ := json.Marshal(id)
	if strings.Contains(string(b), app) || strings.Contains(string(b), "c2lnbmF0dXJl") {
		t.Error("the token leaked into the identity")
	}
	user := jwt(map[string]any{"tid": "8a3b", "azp": "04b0", "upn": "admin@contoso.test", "scp": "UserAuthenticationMethod.ReadWrite.All User.Read.All"})
	id = &Identity{}
	describeToken(user, id)
	if id.AppOnly || id.User != "admin@contoso.test" || !id.Has("UserAuthenticationMethod.ReadWrite.All") || id.AppID != "04b0" {
		t.Errorf("delegated identity %+v", id)
	}
	id = &Identity{}
	describeToken("opaque-token", id)
	if !id.Opaque || !id.Has("anything") {
		t.Errorf("opaque token %+v", id)
	}
}

func TestAuthRecordScopedToTenantAndApp(t *testing.T) {
	dir := t.TempDir()
	c := AuthConfig{StateDir: dir, TenantID: "t1", ClientID: "c1"}
	if err := c.saveRecord(azidentity.AuthenticationRecord{TenantID: "t1", ClientID: "c1", Username: "admin@contoso.test", HomeAccountID: "h", Version: "1.0"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "auth-record.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record file: %v %v", fi, err)
	}
	if r := c.loadRecord(); r.Username != "admin@contoso.test" {
		t.Errorf("record not reloaded: %+v", r)
	}
	other := AuthConfig{StateDir: dir, TenantID: "t2", ClientID: "c1"}
	if r := other.loadRecord(); r.Username != "" {
		t.Errorf("record of another tenant used: %+v", r)
	}
}
