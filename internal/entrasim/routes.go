package entrasim

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Permission sets per operation: any one of them lets the call through. See
// each API's "Permissions" table in the Graph reference, e.g.
// https://learn.microsoft.com/graph/api/fido2authenticationmethod-creationoptions
// and https://learn.microsoft.com/graph/permissions-reference.
var (
	permUserRead        = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permGroupRead       = []string{"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permPasskeyWrite    = []string{"UserAuthMethod-Passkey.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"}
	permPasskeyWriteBet = []string{"UserAuthenticationMethod.ReadWrite.All"}
	permPasskeyRead     = []string{"UserAuthMethod-Passkey.Read.All", "UserAuthMethod-Passkey.ReadWrite.All",
		"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}
	permTAPWrite = []string{"UserAuthMethod-TAP.ReadWrite.All", "UserAuthenticationMethod.ReadWrite.All"}
	permTAPRead  = []string{"UserAuthMethod-TAP.Read.All", "UserAuthMethod-TAP.ReadWrite.All",
		"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}
	permPolicyRead  = []string{"Policy.Read.AuthenticationMethod", "Policy.ReadWrite.AuthenticationMethod", "Policy.Read.All"}
	permPolicyWrite = []string{"Policy.ReadWrite.AuthenticationMethod"}
)

// graphPaths is the routing table: every Graph path the tenant serves (after
// the /v1.0 or /beta prefix) and the route for each method. A pattern
// segment is a literal (matched case-insensitively, as Graph does), a
// {capture}, or a literal followed by a capture (a function call such as
// creationOptions(…)). A path that matches a pattern but not a method is
// answered 405; a path that matches no pattern is answered 400 naming a
// segment (see routeError).
var graphPaths = []*pathSpec{
	{pattern: "users", methods: map[string]route{
		http.MethodGet: {endpoint: EPListUsers, perms: permUserRead, handle: (*Tenant).hListUsers}}},
	{pattern: "users/{user}", methods: map[string]route{
		http.MethodGet: {endpoint: EPGetUser, perms: permUserRead, handle: (*Tenant).hGetUser}}},
	{pattern: "users/{user}/checkMemberGroups", extra: nameLeaf, methods: map[string]route{
		http.MethodPost: {endpoint: EPCheckMemberGroups, perms: permGroupRead, handle: (*Tenant).hCheckMemberGroups}}},

	{pattern: "users/{user}/authentication/fido2Methods", methods: map[string]route{
		http.MethodGet:  {endpoint: EPListFido2, perms: permPasskeyRead, handle: (*Tenant).hListFido2},
		http.MethodPost: {endpoint: EPRegisterFido2, perms: permPasskeyWrite, handle: (*Tenant).hRegisterFido2, mutating: true}}},
	{pattern: "users/{user}/authentication/fido2Methods/creationOptions{options}", check: refuseQueryForm, methods: map[string]route{
		http.MethodGet: {endpoint: EPCreationOptions, perms: permPasskeyWrite, betaPerms: permPasskeyWriteBet, handle: (*Tenant).hCreationOptions}}},
	{pattern: "users/{user}/authentication/fido2Methods/{method}", methods: map[string]route{
		http.MethodGet:    {endpoint: EPGetFido2, perms: permPasskeyRead, handle: (*Tenant).hGetFido2},
		http.MethodDelete: {endpoint: EPDeleteFido2, perms: permPasskeyWrite, handle: (*Tenant).hDeleteFido2, mutating: true}}},

	{pattern: "users/{user}/authentication/temporaryAccessPassMethods", methods: map[string]route{
		http.MethodGet:  {endpoint: EPListTAP, perms: permTAPRead, handle: (*Tenant).hListTAP},
		http.MethodPost: {endpoint: EPCreateTAP, perms: permTAPWrite, handle: (*Tenant).hCreateTAP, mutating: true}}},
	{pattern: "users/{user}/authentication/temporaryAccessPassMethods/{method}", methods: map[string]route{
		http.MethodGet:    {endpoint: EPGetTAP, perms: permTAPRead, handle: (*Tenant).hGetTAP},
		http.MethodDelete: {endpoint: EPDeleteTAP, perms: permTAPWrite, handle: (*Tenant).hDeleteTAP, mutating: true}}},

	{pattern: "groups", methods: map[string]route{
		http.MethodGet: {endpoint: EPListGroups, perms: permGroupRead, handle: (*Tenant).hGroups}}},
	{pattern: "groups/{group}", methods: map[string]route{
		http.MethodGet: {endpoint: EPListGroups, perms: permGroupRead, handle: (*Tenant).hGroups}}},
	{pattern: "groups/{group}/transitiveMembers", methods: map[string]route{
		http.MethodGet: {endpoint: EPGroupMembers, perms: permGroupRead, handle: (*Tenant).hGroupMembers}}},
	{pattern: "groups/{group}/transitiveMembers/microsoft.graph.user", methods: map[string]route{
		http.MethodGet: {endpoint: EPGroupMembers, perms: permGroupRead, handle: (*Tenant).hGroupMembers}}},

	{pattern: "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{policy}", extra: nameLast,
		check: deleteOnlyTAPPolicy, methods: map[string]route{
			http.MethodGet:    {endpoint: EPGetPolicy, perms: permPolicyRead, handle: (*Tenant).hGetPolicy},
			http.MethodPatch:  {endpoint: EPPatchPolicy, perms: permPolicyWrite, handle: (*Tenant).hPatchPolicy, mutating: true},
			http.MethodDelete: {endpoint: EPPatchPolicy, perms: permPolicyWrite, handle: (*Tenant).hResetTAPPolicy, mutating: true}}},
}

// captures fill the call from a {capture} segment. A capture that refuses
// the empty string (nonEmpty) makes the 400 name the segment before it.
var captures = map[string]struct {
	nonEmpty bool
	set      func(c *call, seg, v string) *apiError
}{
	"user":   {nonEmpty: true, set: func(c *call, _, v string) *apiError { c.userKey = v; return nil }},
	"method": {set: func(c *call, _, v string) *apiError { c.methodID = v; return nil }},
	"group":  {set: func(c *call, _, v string) *apiError { c.methodID = v; return nil }},
	// options are creationOptions' function parameters: none, or "(…)".
	"options": {set: func(c *call, seg, v string) *apiError {
		if v != "" && (!strings.HasPrefix(v, "(") || !strings.HasSuffix(v, ")")) {
			return segmentError(seg)
		}
		c.param = v
		return nil
	}},
	"policy": {set: func(c *call, _, v string) *apiError {
		switch {
		case eqf(v, "fido2"):
			c.policyID = "fido2"
		case eqf(v, "temporaryAccessPass"):
			c.policyID = "temporaryAccessPass"
		default:
			return &apiError{Status: 404, Code: "Request_ResourceNotFound",
				Message: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", truncateForError(v))}
		}
		return nil
	}},
}

// refuseQueryForm answers creationOptions?challengeTimeoutInMinutes=N 405,
// as Graph did in December 2025: the parameter is only accepted in the
// function-call form creationOptions(challengeTimeoutInMinutes=N).
func refuseQueryForm(c *call) *apiError {
	if c.param == "" && c.r.URL.Query().Has("challengeTimeoutInMinutes") {
		return errMethodNotAllowed
	}
	return nil
}

// deleteOnlyTAPPolicy: DELETE restores the Temporary Access Pass policy's
// defaults; the FIDO2 policy cannot be deleted.
func deleteOnlyTAPPolicy(c *call) *apiError {
	if c.r.Method == http.MethodDelete && c.policyID != "temporaryAccessPass" {
		return errMethodNotAllowed
	}
	return nil
}

// extraNaming says which segment the 400 names when a path goes on past a
// pattern: the first extra segment (Graph's usual answer), the pattern's
// last segment, or the path's last segment.
type extraNaming int

const (
	nameFirstExtra extraNaming = iota
	nameLeaf
	nameLast
)

// pathSpec is one row of the routing table.
type pathSpec struct {
	pattern string
	methods map[string]route
	extra   extraNaming
	// check runs after the method is known, for what the method and
	// pattern alone do not decide.
	check func(c *call) *apiError
	segs  []segSpec // parsed pattern
}

// segSpec is one pattern segment: lit alone is a literal; with capture, a
// segment starting with lit whose remainder is captured.
type segSpec struct{ lit, capture string }

func (s segSpec) match(v string) bool {
	if s.capture == "" {
		return eqf(v, s.lit)
	}
	if len(v) < len(s.lit) || !eqf(v[:len(s.lit)], s.lit) {
		return false
	}
	return !captures[s.capture].nonEmpty || len(v) > len(s.lit)
}

// rank orders patterns matching the same path: literal before
// literal-and-capture before capture.
func (s segSpec) rank() int {
	switch {
	case s.capture == "":
		return 2
	case s.lit != "":
		return 1
	}
	return 0
}

func (p *pathSpec) rank() int {
	n := 0
	for _, s := range p.segs {
		n = n*3 + s.rank()
	}
	return n
}

// matched is how many leading segments of rest the pattern matches.
func (p *pathSpec) matched(rest []string) int {
	k := 0
	for k < len(p.segs) && k < len(rest) && p.segs[k].match(rest[k]) {
		k++
	}
	return k
}

func init() {
	for _, p := range graphPaths {
		for _, s := range strings.Split(p.pattern, "/") {
			lit, capture, ok := strings.Cut(s, "{")
			if ok {
				capture = strings.TrimSuffix(capture, "}")
				if _, known := captures[capture]; !known {
					panic("entrasim: unknown capture in route " + p.pattern)
				}
			}
			p.segs = append(p.segs, segSpec{lit, capture})
		}
	}
}

func segmentError(seg string) *apiError {
	return &apiError{Status: 400, Code: "BadRequest", Message: fmt.Sprintf("Resource not found for the segment '%s'.", truncateForError(seg))}
}

var errMethodNotAllowed = &apiError{Status: 405, Code: "methodNotAllowed", Message: "The method is not supported for this URL."}

func eqf(a, b string) bool { return strings.EqualFold(a, b) }

// routeRequest maps method and path to a route and fills c. Errors, in
// order: a bad escape, the version, /me, no matching pattern (400 naming a
// segment), a capture's own check, the method (405), the pattern's check.
func routeRequest(r *http.Request, c *call) (*route, *apiError) {
	segs, e := splitPath(r.URL)
	if e != nil {
		return nil, e
	}
	if segs[0] == "_sim" {
		return routeSim(r.Method, segs, c)
	}
	switch {
	case eqf(segs[0], "v1.0"):
		c.version = "v1.0"
	case eqf(segs[0], "beta"):
		c.version = "beta"
	default:
		return nil, &apiError{Status: 400, Code: "BadRequest", Message: "Invalid version."}
	}
	rest := segs[1:]
	if len(rest) > 0 && eqf(rest[0], "me") {
		return nil, &apiError{Status: 400, Code: "BadRequest", Message: "/me request is only valid with delegated authentication flow."}
	}
	var p *pathSpec
	for _, q := range graphPaths {
		if len(q.segs) == len(rest) && q.matched(rest) == len(rest) && (p == nil || q.rank() > p.rank()) {
			p = q
		}
	}
	if p == nil {
		return nil, routeError(segs)
	}
	for i, s := range p.segs {
		if s.capture != "" {
			if e := captures[s.capture].set(c, rest[i], rest[i][len(s.lit):]); e != nil {
				return nil, e
			}
		}
	}
	rt, ok := p.methods[r.Method]
	if !ok {
		return nil, errMethodNotAllowed
	}
	if p.check != nil {
		if e := p.check(c); e != nil {
			return nil, e
		}
	}
	if c.version == "beta" && rt.betaPerms != nil {
		rt.perms = rt.betaPerms
	}
	return &rt, nil
}

// routeError is the 400 for a versioned path no pattern matches. It names
// the first segment no pattern accepts; for a path that stops short of
// every pattern it starts, its last segment; for a path that goes on past
// a pattern, what the pattern's extra says; for an empty {capture} that
// refuses it, the segment before.
func routeError(segs []string) *apiError {
	rest := segs[1:]
	best := 0
	for _, p := range graphPaths {
		best = max(best, p.matched(rest))
	}
	if best == len(rest) {
		return segmentError(segs[len(segs)-1])
	}
	if rest[best] == "" {
		for _, p := range graphPaths {
			if len(p.segs) > best && p.matched(rest) == best && p.segs[best].capture != "" && captures[p.segs[best].capture].nonEmpty {
				return segmentError(rest[best-1])
			}
		}
	}
	var leaf *pathSpec
	for _, p := range graphPaths {
		if len(p.segs) == best && p.matched(rest) == best && (leaf == nil || p.rank() > leaf.rank()) {
			leaf = p
		}
	}
	if leaf != nil {
		switch leaf.extra {
		case nameLeaf:
			return segmentError(rest[best-1])
		case nameLast:
			return segmentError(rest[len(rest)-1])
		}
		return segmentError(rest[best])
	}
	return segmentError(rest[best])
}

// routeSim routes the simulator's own control endpoint, which has no
// version prefix and matches case-sensitively:
// POST /_sim/users/{user}/tap/use.
func routeSim(method string, segs []string, c *call) (*route, *apiError) {
	if len(segs) != 5 || segs[1] != "users" || segs[3] != "tap" || segs[4] != "use" {
		return nil, segmentError(segs[len(segs)-1])
	}
	if method != http.MethodPost {
		return nil, errMethodNotAllowed
	}
	c.userKey = segs[2]
	return &route{endpoint: EPSimUseTAP, handle: (*Tenant).hSimUseTAP, mutating: true}, nil
}

// splitPath splits the escaped path into unescaped segments, dropping one
// trailing slash. The result has at least one segment ("" for "/").
func splitPath(u *url.URL) ([]string, *apiError) {
	raw := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	segs := make([]string, 0, len(raw))
	for _, s := range raw {
		v, err := url.PathUnescape(s)
		if err != nil {
			return nil, &apiError{Status: 400, Code: "BadRequest", Message: "Bad Request - Invalid URL escape."}
		}
		segs = append(segs, v)
	}
	if n := len(segs); n > 1 && segs[n-1] == "" {
		segs = segs[:n-1]
	}
	return segs, nil
}
