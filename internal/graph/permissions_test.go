package graph

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/policy"
)

// clientAs is a Graph client on e's tenant with a token for id (expiring
// after lifetime on the tenant's clock, 0: never).
func (e *simEnv) clientAs(t *testing.T, id entrasim.Identity, lifetime time.Duration) *Client {
	t.Helper()
	token, _ := e.tenant.IssueToken(id, lifetime)
	tok, err := NewStaticToken(token)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), Options{BaseURL: e.srv.URL, Credential: tok,
		Retry: RetryPolicy{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Second}, ReconcileDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// permCase is one Graph operation keyprep performs and the permission the
// README's least-privileged table names for it.
type permCase struct {
	op, perm string
	call     func(ctx context.Context, t *testing.T, c *Client, w *permWorld) error
}

// permWorld holds what the operations act on, made with every permission.
type permWorld struct {
	adele, alex *User
	methodID    string
	tapID       string
	groupID     string
	key         *testKey
	setup       *Client
}

func permCases() []permCase {
	return []permCase{
		{OpGetUser, policy.PermUserRead.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.GetUser(ctx, w.adele.UserPrincipalName)
			return err
		}},
		{OpCreationOptions, policy.PermPasskeyWrite.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.CreationOptions(ctx, w.alex.ID, 0)
			return err
		}},
		{OpCreationOptions + " (beta, a challenge lifetime)", policy.PermAuthMethodsWrite.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.CreationOptions(ctx, w.alex.ID, time.Hour)
			return err
		}},
		{OpRegister, policy.PermPasskeyWrite.Name, func(ctx context.Context, t *testing.T, c *Client, w *permWorld) error {
			raw, err := w.setup.CreationOptions(ctx, w.alex.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := w.key.register(t, raw, "permission test")
			_, err = c.RegisterFido2Method(ctx, w.alex.ID, body)
			return err
		}},
		{OpListMethods, policy.PermPasskeyRead.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.ListFido2Methods(ctx, w.adele.ID)
			return err
		}},
		{OpGetMethod, policy.PermPasskeyRead.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.GetFido2Method(ctx, w.adele.ID, w.methodID)
			return err
		}},
		{OpDeleteMethod, policy.PermPasskeyWrite.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			return c.DeleteFido2Method(ctx, w.adele.ID, w.methodID)
		}},
		{OpCreateTAP, policy.PermTAPWrite.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.CreateTAP(ctx, w.alex.ID, TAPRequest{})
			return err
		}},
		{OpListTAPs, policy.PermTAPRead.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.ListTAPs(ctx, w.adele.ID)
			return err
		}},
		{OpDeleteTAP, policy.PermTAPWrite.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			return c.DeleteTAP(ctx, w.adele.ID, w.tapID)
		}},
		{OpGetPolicy, policy.PermPolicyRead.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.GetFido2Policy(ctx)
			return err
		}},
		{OpUpdatePolicy, policy.PermPolicyWrite.Name, func(ctx context.Context, t *testing.T, c *Client, w *permWorld) error {
			p, err := w.setup.GetTAPPolicy(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p.DefaultLength = 12
			return c.UpdateTAPPolicy(ctx, p)
		}},
		{OpGetGroup, policy.PermGroupMemberRead.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.GroupUserIDs(ctx, w.groupID)
			return err
		}},
		{OpGetUser + " (many, by UPN)", policy.PermUserRead.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.FindUsersByUPN(ctx, []string{w.adele.UserPrincipalName, w.alex.UserPrincipalName})
			return err
		}},
		{OpGetGroup + " (by name)", policy.PermGroupMemberRead.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.FindGroup(ctx, "Passkey Users")
			return err
		}},
		{OpCheckGroups, policy.PermGroupMemberRead.Name, func(ctx context.Context, _ *testing.T, c *Client, w *permWorld) error {
			_, err := c.CheckMemberGroups(ctx, w.adele.ID, []string{w.groupID})
			return err
		}},
	}
}

// newPermWorld: adele with a passkey and a TAP, alex with nothing.
func newPermWorld(t *testing.T, e *simEnv) *permWorld {
	t.Helper()
	ctx := context.Background()
	w := &permWorld{setup: e.clientAs(t, entrasim.Identity{Name: "setup", AllPermissions: true}, 0), key: loadTestKey(t)}
	var err error
	if w.adele, err = w.setup.GetUser(ctx, "adele.vance@contoso.test"); err != nil {
		t.Fatal(err)
	}
	if w.alex, err = w.setup.GetUser(ctx, "alex.wilber@contoso.test"); err != nil {
		t.Fatal(err)
	}
	raw, err := w.setup.CreationOptions(ctx, w.adele.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := w.key.register(t, raw, "adele's key")
	m, err := w.setup.RegisterFido2Method(ctx, w.adele.ID, body)
	if err != nil {
		t.Fatal(err)
	}
	w.methodID = m.ID
	tap, err := w.setup.CreateTAP(ctx, w.adele.ID, TAPRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w.tapID = tap.ID
	g, err := w.setup.FindGroup(ctx, "Passkey Users")
	if err != nil {
		t.Fatal(err)
	}
	w.groupID = g.ID
	return w
}

// TestLeastPrivilege: every operation keyprep performs succeeds with only
// the permission the README names for it, and fails without it with a 403
// whose error names that permission (and its hint says to grant it). The
// default simulated token (the README's least-privileged set) can do every
// operation but the beta creationOptions.
func TestLeastPrivilege(t *testing.T) {
	for _, pc := range permCases() {
		t.Run(pc.op, func(t *testing.T) {
			ctx := context.Background()
			e := newSimEnv(t, nil)

			w := newPermWorld(t, e)
			// The least-privileged set without the permission, nor the
			// ReadWrite one that includes a Read permission.
			grants := []string{pc.perm, strings.Replace(pc.perm, ".Read.", ".ReadWrite.", 1)}
			var without []string
			for _, p := range entrasim.LeastPrivileged {
				if !slices.Contains(grants, p) {
					without = append(without, p)
				}
			}
			err := pc.call(ctx, t, e.clientAs(t, entrasim.Identity{Name: "without", Permissions: without}, 0), w)
			var ge *Error
			if !errors.As(err, &ge) || !errors.Is(err, ErrPermission) || ge.Status != 403 || ge.MissingPermission != pc.perm {
				t.Fatalf("without %s: %v, want a 403 naming it", pc.perm, err)
			}
			if h := Hint(err); !containsFold(h, pc.perm) {
				t.Errorf("hint %q does not name %s", h, pc.perm)
			}

			w = newPermWorld(t, e)
			if err := pc.call(ctx, t, e.clientAs(t, entrasim.Identity{Name: "only", Permissions: []string{pc.perm}}, 0), w); err != nil {
				t.Fatalf("with only %s: %v", pc.perm, err)
			}

			w = newPermWorld(t, e)
			err = pc.call(ctx, t, e.clientAs(t, entrasim.Identity{Name: "default"}, 0), w)
			if inDefault := len(without) < len(entrasim.LeastPrivileged); (err == nil) != inDefault {
				t.Errorf("default token: %v (permission in the least-privileged set: %v)", err, inDefault)
			}
		})
	}
}

// TestDelegatedNeedsRole: a signed-in user's token with the scope is not
// enough to act on other users' authentication methods or the policies:
// the user needs the directory role too.
func TestDelegatedNeedsRole(t *testing.T) {
	ctx := context.Background()
	e := newSimEnv(t, nil)
	for _, pc := range permCases() {
		t.Run(pc.op, func(t *testing.T) {
			needsRole := pc.perm != policy.PermUserRead.Name && pc.op != OpGetPolicy && pc.perm != policy.PermGroupMemberRead.Name
			scopes := []string{pc.perm}
			w := newPermWorld(t, e)
			err := pc.call(ctx, t, e.clientAs(t, entrasim.Identity{Name: "helpdesk", Delegated: true, Permissions: scopes}, 0), w)
			if needsRole {
				if !errors.Is(err, ErrPermission) {
					t.Fatalf("delegated without a role: %v, want a 403", err)
				}
			} else if err != nil {
				t.Fatalf("delegated, an operation that needs no role: %v", err)
			}
			role := "Authentication Administrator"
			if pc.op == OpUpdatePolicy {
				role = "Authentication Policy Administrator"
			}
			w = newPermWorld(t, e)
			if err := pc.call(ctx, t, e.clientAs(t, entrasim.Identity{Name: "helpdesk", Delegated: true, Permissions: scopes, Roles: []string{role}}, 0), w); err != nil {
				t.Fatalf("delegated as %s: %v", role, err)
			}
		})
	}
}

func containsFold(s, sub string) bool {
	return sub != "" && strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
