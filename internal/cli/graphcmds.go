package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/safetext"
)

// ---- keyprep login -------------------------------------------------------

type loginOptions struct {
	save bool
}

func newLoginCmd(g *globals) *cobra.Command {
	var o loginOptions
	cmd := &cobra.Command{
		Use:   "login [--auth METHOD] [--tenant T] [--client-id C]",
		Short: "Sign in to Microsoft Graph and show who keyprep acts as",
		Long: `login signs in with the chosen method and shows the identity keyprep will use:
tenant, application, user (delegated sign-ins), the Graph permissions in the
token, and its expiry. Delegated sign-ins (device-code, browser) are remembered
in the state directory (an account record, no secret) and the token cache, so
later commands do not prompt again.

Methods: token ($KEYPREP_ACCESS_TOKEN), client-secret ($AZURE_CLIENT_SECRET),
certificate (--certificate), managed-identity, workload-identity
($AZURE_FEDERATED_TOKEN_FILE), azure-cli, device-code, browser. Secrets are read
from the environment only. The non-secret set-up (method, tenant, client id,
certificate path, Graph URL) is saved in the config file unless --save=false.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLogin(cmd.Context(), g, o) },
	}
	cmd.Flags().BoolVar(&o.save, "save", true, "save the non-secret sign-in set-up in the config file")
	return cmd
}

func runLogin(ctx context.Context, g *globals, o loginOptions) error {
	if g.simTenantActive() {
		return usageErr("the emulated tenant (--sim/--sim-tenant) needs no sign-in")
	}
	cfg, url, err := g.authConfig()
	if err != nil {
		return err
	}
	cfg.Interactive = true // login is where a delegated sign-in prompts
	cred, err := graph.NewCredential(cfg)
	if err != nil {
		return err
	}
	if _, err := graph.New(ctx, graph.Options{BaseURL: url, Credential: cred}); err != nil {
		return usageErr("%v", err)
	}
	id, err := graph.Login(ctx, cred)
	if err != nil {
		return err
	}
	saved := ""
	if o.save && cred.Method != graph.AuthToken {
		cfg.Resolve()
		path := g.configPath()
		if path != "" {
			if err := saveConfig(path, fileConfig{Auth: cred.Method, TenantID: cfg.TenantID, ClientID: cfg.ClientID,
				Certificate: cfg.CertificatePath, GraphURL: url}); err != nil {
				return fmt.Errorf("saving %s: %w", path, err)
			}
			saved = path
		}
	}
	if g.JSON {
		return g.printJSON(map[string]any{"identity": id, "configSaved": saved, "tokenCache": cred.CacheNote == ""})
	}
	w := g.io.Out
	fmt.Fprintf(w, "Signed in with %s.\n", id.Method)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-12s %s\n", k, v)
		}
	}
	row("tenant", id.TenantID)
	row("application", strings.TrimSpace(id.AppName+" "+id.AppID))
	row("user", id.User)
	if id.AppOnly {
		row("kind", "application (app-only)")
	} else if id.User != "" {
		row("kind", "delegated (acts as the user; needs an Authentication Administrator role)")
	}
	row("roles", strings.Join(id.Roles, ", "))
	row("scopes", strings.Join(id.Scopes, ", "))
	if !id.Expires.IsZero() {
		row("expires", id.Expires.Local().Format(time.RFC1123))
	}
	if id.Opaque {
		row("token", "not a readable JWT: permissions cannot be listed")
	}
	if saved != "" {
		fmt.Fprintf(w, "Set-up saved in %s (no secrets).\n", saved)
	}
	if cred.CacheNote != "" {
		fmt.Fprintf(g.io.ErrOut, "note: %s\n", cred.CacheNote)
	}
	return nil
}

// ---- keyprep user show -------------------------------------------------

func newUserCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Look up Entra users"}
	show := &cobra.Command{
		Use:   "show UPN|ID",
		Short: "Show a user: object id, UPN, display name, member or guest, registered passkeys",
		Args:  exactArgs(1, "user show needs one UPN or object id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := g.graphClient(ctx)
			if err != nil {
				return err
			}
			u, err := c.GetUser(ctx, args[0])
			if err != nil {
				return err
			}
			out := map[string]any{"id": u.ID, "userPrincipalName": u.UserPrincipalName, "displayName": u.DisplayName,
				"userType": u.UserType, "guest": u.IsGuest()}
			var passkeys []*graph.Fido2Method
			if !u.IsGuest() {
				passkeys, err = c.ListFido2Methods(ctx, u.ID)
				if err != nil {
					g.log.Warn("cannot list the user's passkeys", "err", err)
				} else {
					out["passkeys"] = len(passkeys)
				}
			}
			if g.JSON {
				return g.printJSON(out)
			}
			w := g.io.Out
			safetext.Fprintf(w, "%s (%s)\n", u.UserPrincipalName, u.DisplayName)
			fmt.Fprintf(w, "  object id  %s\n", u.ID)
			kind := u.UserType
			if u.IsGuest() {
				kind += " — guest: passkeys cannot be provisioned here"
			}
			fmt.Fprintf(w, "  user type  %s\n", kind)
			if n, ok := out["passkeys"]; ok {
				fmt.Fprintf(w, "  passkeys   %d\n", n)
			}
			return nil
		},
	}
	cmd.AddCommand(show)
	return cmd
}

func exactArgs(n int, msg string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s", msg)
		}
		return nil
	}
}

// ---- keyprep methods list|delete ---------------------------------------

func newMethodsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "methods", Short: "A user's registered passkeys (FIDO2 methods): list, revoke a lost key"}
	var user string
	list := &cobra.Command{
		Use:   "list --user UPN",
		Short: "List a user's passkeys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usageErr("methods list needs --user UPN")
			}
			ctx := cmd.Context()
			c, err := g.graphClient(ctx)
			if err != nil {
				return err
			}
			ms, err := c.ListFido2Methods(ctx, user)
			if err != nil {
				return err
			}
			if g.JSON {
				type row struct {
					ID                      string   `json:"id"`
					DisplayName             string   `json:"displayName"`
					AAGUID                  string   `json:"aaGuid"`
					Model                   string   `json:"model"`
					CreatedDateTime         string   `json:"createdDateTime"`
					AttestationLevel        string   `json:"attestationLevel"`
					AttestationCertificates []string `json:"attestationCertificates"`
					PasskeyType             string   `json:"passkeyType,omitempty"`
				}
				rows := make([]row, 0, len(ms))
				for _, m := range ms {
					rows = append(rows, row{m.ID, m.DisplayName, m.AAGUID, m.Model, formatTime(m.CreatedDateTime),
						m.AttestationLevel, m.AttestationCertificates, m.PasskeyType})
				}
				return g.printJSON(map[string]any{"user": user, "methods": rows})
			}
			if len(ms) == 0 {
				fmt.Fprintf(g.io.Out, "%s has no passkeys.\n", user)
				return nil
			}
			tw := tabwriter.NewWriter(g.io.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "METHOD ID\tNAME\tMODEL\tAAGUID\tCREATED\tATTESTATION")
			for _, m := range ms {
				safetext.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.DisplayName, m.Model, m.AAGUID, formatTime(m.CreatedDateTime), m.AttestationLevel)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&user, "user", "", "user principal name or object id")

	var delUser, id string
	var yes bool
	del := &cobra.Command{
		Use:   "delete --user UPN --id METHOD_ID [--yes]",
		Short: "Delete one of a user's passkeys (revoke a lost or returned key)",
		Long: `delete removes a passkey from the user's account: the key can no longer sign in
to Entra (its credential stays on the key until the key is reset). Method ids come
from keyprep methods list. Without a terminal, --yes confirms.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if delUser == "" || id == "" {
				return usageErr("methods delete needs --user UPN and --id METHOD_ID (see keyprep methods list)")
			}
			ctx := cmd.Context()
			c, err := g.graphClient(ctx)
			if err != nil {
				return err
			}
			m, err := c.GetFido2Method(ctx, delUser, id)
			if err != nil {
				return err
			}
			if !yes {
				if !g.pinsIn.interactive() {
					return usageErr("deleting passkey %q (%s) of %s: confirm with --yes", m.DisplayName, m.ID, delUser)
				}
				answer, err := g.pinsIn.confirm(fmt.Sprintf("Delete passkey %q (%s, created %s) of %s? [y/N] ",
					m.DisplayName, m.Model, formatTime(m.CreatedDateTime), delUser))
				if err != nil {
					return err
				}
				if !confirmed(answer, "delete") {
					return usageErr("delete not confirmed")
				}
			}
			if err := c.DeleteFido2Method(ctx, delUser, id); err != nil {
				return err
			}
			return g.done(map[string]any{"user": delUser, "deleted": id, "displayName": m.DisplayName},
				"Deleted passkey %q (%s) of %s.", m.DisplayName, id, delUser)
		},
	}
	del.Flags().StringVar(&delUser, "user", "", "user principal name or object id")
	del.Flags().StringVar(&id, "id", "", "method id (from keyprep methods list)")
	del.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.AddCommand(list, del)
	return cmd
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}
