package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Flow is something a user or keyprep does that the policies and
// permissions decide.
type Flow int

// The flows `policy check` answers for.
const (
	// FlowPasskey: keyprep pre-provisions a passkey for the user (enroll,
	// the bench).
	FlowPasskey Flow = iota + 1
	// FlowTAP: the user signs in with a Temporary Access Pass.
	FlowTAP
	// FlowMultiUseTAP: the user signs in with a multi-use pass (e.g. to set
	// up several devices). Whatever stops FlowTAP stops it too.
	FlowMultiUseTAP
)

func (f Flow) String() string {
	switch f {
	case FlowPasskey:
		return "passkey"
	case FlowTAP:
		return "tap"
	case FlowMultiUseTAP:
		return "multi-use tap"
	}
	return fmt.Sprintf("flow(%d)", int(f))
}

var (
	passkeyFlows = []Flow{FlowPasskey}
	tapFlows     = []Flow{FlowTAP, FlowMultiUseTAP}
	allFlows     = []Flow{FlowPasskey, FlowTAP, FlowMultiUseTAP}
)

// Permission is a Microsoft Graph permission keyprep relies on: the
// least-privileged one, what it is for, the broader permissions that also
// grant it, and the flows that cannot work without it.
// https://learn.microsoft.com/graph/permissions-reference
type Permission struct {
	Name    string
	Purpose string
	Broader []string
	Flows   []Flow
}

// Grants reports whether holding granted (application roles or delegated
// scopes, any case) gives p.
func (p Permission) Grants(granted []string) bool {
	has := func(want string) bool {
		return slices.ContainsFunc(granted, func(g string) bool { return strings.EqualFold(g, want) })
	}
	return has(p.Name) || slices.ContainsFunc(p.Broader, has)
}

// The permission table: every Graph permission keyprep asks for.
var (
	// PermUserRead looks users up (userType is not in the basic profile).
	PermUserRead = Permission{"User.Read.All", "look users up",
		[]string{"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}, allFlows}
	// PermPasskeyWrite provisions (and deletes) passkeys: creationOptions
	// and POST fido2Methods on v1.0.
	PermPasskeyWrite = Permission{"UserAuthMethod-Passkey.ReadWrite.All", "provision passkeys",
		[]string{"UserAuthenticationMethod.ReadWrite.All"}, passkeyFlows}
	// PermPasskeyRead lists a user's passkeys.
	PermPasskeyRead = Permission{"UserAuthMethod-Passkey.Read.All", "list passkeys",
		[]string{"UserAuthMethod-Passkey.ReadWrite.All", "UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}, nil}
	// PermAuthMethodsWrite is the only permission the beta creationOptions
	// function documents (a longer challenge).
	PermAuthMethodsWrite = Permission{"UserAuthenticationMethod.ReadWrite.All", "provision passkeys (beta creationOptions)", nil, nil}
	// PermTAPWrite issues and deletes Temporary Access Passes.
	PermTAPWrite = Permission{"UserAuthMethod-TAP.ReadWrite.All", "issue Temporary Access Passes",
		[]string{"UserAuthenticationMethod.ReadWrite.All"}, tapFlows}
	// PermTAPRead lists a user's passes.
	PermTAPRead = Permission{"UserAuthMethod-TAP.Read.All", "list Temporary Access Passes",
		[]string{"UserAuthMethod-TAP.ReadWrite.All", "UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}, nil}
	// PermPolicyRead reads the method policies. Its Flows are the passkey
	// flow alone: that is what `policy check` has always counted it
	// against.
	PermPolicyRead = Permission{"Policy.Read.AuthenticationMethod", "read the method policies",
		[]string{"Policy.ReadWrite.AuthenticationMethod", "Policy.Read.All"}, passkeyFlows}
	// PermPolicyWrite changes the method policies (`policy set`).
	PermPolicyWrite = Permission{"Policy.ReadWrite.AuthenticationMethod", "change the method policies", nil, nil}
	// PermGroupMemberRead checks policy group membership. Without it the
	// membership check fails, which `policy check` reports as "cannot
	// tell" in each flow, so it names no flow of its own.
	PermGroupMemberRead = Permission{"GroupMember.Read.All", "check policy group membership",
		[]string{"Group.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"}, nil}
)

// CheckedPermissions are the permissions `policy check` looks for in the
// signed-in identity's token, in the order it reports them.
var CheckedPermissions = []Permission{PermUserRead, PermPasskeyWrite, PermTAPWrite, PermPolicyRead, PermGroupMemberRead}

// Identity is what a token says about the signed-in identity.
type Identity struct {
	// Granted are its application roles or delegated scopes.
	Granted []string
	// AppOnly: an application signs in (application permissions), not a
	// person (delegated permissions).
	AppOnly bool
}

// PermissionFindings checks the identity against CheckedPermissions.
func PermissionFindings(id Identity) []Finding {
	var out []Finding
	for _, p := range CheckedPermissions {
		if p.Grants(id.Granted) {
			out = append(out, Finding{Code: CodePermission, Status: OK, Message: "may " + p.Purpose, Flows: p.Flows, Permission: p.Name})
			continue
		}
		fix := "grant the application permission " + p.Name + " (admin consent)"
		if !id.AppOnly {
			fix = "add the delegated permission " + p.Name + " and sign in as Authentication Administrator"
		}
		out = append(out, Finding{Code: CodePermissionMissing, Status: NotOK, Flows: p.Flows, Permission: p.Name,
			Message: fmt.Sprintf("the signed-in identity lacks %s (to %s)", p.Name, p.Purpose), Fix: fix})
	}
	return out
}
