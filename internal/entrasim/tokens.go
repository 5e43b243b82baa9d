package entrasim

import "time"

// LeastPrivileged is the application permission set the README asks for
// (section "Graph permissions"): what a simulated token holds when its
// Identity names no permissions.
var LeastPrivileged = []string{
	"UserAuthMethod-Passkey.ReadWrite.All",
	"UserAuthMethod-TAP.ReadWrite.All",
	"User.Read.All",
	"GroupMember.Read.All",
	"Policy.ReadWrite.AuthenticationMethod",
}

// msgTokenExpired is Entra's answer to an expired access token.
const msgTokenExpired = "Lifetime validation failed, the token is expired."

// msgInsufficient is Graph's 403 for a token without the permission.
const msgInsufficient = "Insufficient privileges to complete the operation."

// delegatedRoles are the directory roles a signed-in user needs, besides
// the token's scope, per endpoint (the "Permissions" sections of the Graph
// reference: acting on another user's authentication methods needs
// Authentication Administrator, or Privileged Authentication Administrator
// for administrators; changing the method policies needs Authentication
// Policy Administrator). Endpoints not listed need no role.
var delegatedRoles = map[string][]string{
	EPCreationOptions: rolesAuthMethods,
	EPRegisterFido2:   rolesAuthMethods,
	EPListFido2:       rolesAuthMethods,
	EPGetFido2:        rolesAuthMethods,
	EPDeleteFido2:     rolesAuthMethods,
	EPCreateTAP:       rolesAuthMethods,
	EPListTAP:         rolesAuthMethods,
	EPGetTAP:          rolesAuthMethods,
	EPDeleteTAP:       rolesAuthMethods,
	EPPatchPolicy:     {"Authentication Policy Administrator", "Global Administrator"},
}

var rolesAuthMethods = []string{"Authentication Administrator", "Privileged Authentication Administrator", "Global Administrator"}

// permissions is what the token holds; nil means every permission.
func (id Identity) permissions() []string {
	switch {
	case id.AllPermissions:
		return nil
	case id.Permissions == nil:
		return LeastPrivileged
	}
	return id.Permissions
}

// authorize decides whether id may call rt: one of the route's permissions,
// and for a delegated token one of the endpoint's directory roles.
func (id Identity) authorize(rt *route) *apiError {
	denied := &apiError{Status: 403, Code: "Authorization_RequestDenied", Message: msgInsufficient}
	if have := id.permissions(); have != nil && rt.perms != nil && !hasAny(have, rt.perms) {
		return denied
	}
	if roles := delegatedRoles[rt.endpoint]; id.Delegated && roles != nil && !hasAny(id.Roles, roles) {
		return denied
	}
	return nil
}

// identity finds what a bearer token stands for: one of Options.Tokens or
// one IssueToken made.
func (t *Tenant) identity(token string) (Identity, bool) {
	if id, ok := t.opts.Tokens[token]; ok {
		return id, true
	}
	t.tokMu.Lock()
	defer t.tokMu.Unlock()
	id, ok := t.issued[token]
	return id, ok
}

// IssueToken makes a new bearer token for id that expires lifetime from now
// on the tenant's clock (0: never), as Entra's token endpoint would for an
// application (about an hour).
func (t *Tenant) IssueToken(id Identity, lifetime time.Duration) (token string, expires time.Time) {
	if lifetime > 0 {
		id.Expires = t.now().Add(lifetime)
	}
	token = NewToken()
	t.tokMu.Lock()
	defer t.tokMu.Unlock()
	if t.issued == nil {
		t.issued = map[string]Identity{}
	}
	t.issued[token] = id
	t.issuedCount++
	return token, id.Expires
}

// TokensIssued is how many tokens IssueToken has made.
func (t *Tenant) TokensIssued() int {
	t.tokMu.Lock()
	defer t.tokMu.Unlock()
	return t.issuedCount
}

// Now is the time on the tenant's clock (Options.Now), the one token
// lifetimes are judged by.
func (t *Tenant) Now() time.Time { return t.now() }
