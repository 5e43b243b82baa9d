package entrasim

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// The bulk reads a bench run uses to spend few requests per enrollment
// (docs/graph.md §6.3): users looked up many at a time with
// $filter=userPrincipalName in (…), and a group's transitive user members.

// maxInValues is the number of values Graph takes in one "in" (or a chain
// of "or") in a $filter without advanced query capabilities
// (https://learn.microsoft.com/graph/filter-query-parameter: "limited to 15
// expressions in the filter clause by default").
const maxInValues = 15

// Page sizes of directory collections: 100 by default, $top up to 999
// (https://learn.microsoft.com/graph/paging).
const (
	defaultPageSize = 100
	maxPageSize     = 999
)

// userFilter is a parsed $filter on /users: one property (id or
// userPrincipalName) compared with eq or in to string literals.
type userFilter struct {
	prop   string // "id" or "userPrincipalName"
	values []string
}

func unsupportedQuery(msg string) *apiError {
	return &apiError{Status: 400, Code: "Request_UnsupportedQuery", Message: msg}
}

// parseUserFilter parses the subset of OData $filter the tenant serves on
// /users: `userPrincipalName eq 'a'`, `userPrincipalName in ('a','b',…)`
// and the same on id. String literals are single-quoted with a doubled
// quote standing for one (OData ABNF, SQUOTE-in-string). Property names and
// operators match case-insensitively. More than maxInValues values answer
// Graph's error for too many child clauses.
func parseUserFilter(s string) (*userFilter, *apiError) {
	p := &filterScanner{s: s}
	p.space()
	prop := p.ident()
	switch {
	case eqf(prop, "userPrincipalName"):
		prop = "userPrincipalName"
	case eqf(prop, "id"):
		prop = "id"
	default:
		return nil, unsupportedQuery("Unsupported query: the emulated tenant filters users only on id or userPrincipalName.")
	}
	if !p.space() {
		return nil, badRequest("Invalid filter clause: expected an operator after '%s'.", prop)
	}
	op := p.ident()
	p.space()
	f := &userFilter{prop: prop}
	switch {
	case eqf(op, "eq"):
		v, ok := p.literal()
		if !ok {
			return nil, badRequest("Invalid filter clause: expected a string literal after 'eq'.")
		}
		f.values = []string{v}
	case eqf(op, "in"):
		if !p.take('(') {
			return nil, badRequest("Invalid filter clause: expected '(' after 'in'.")
		}
		for {
			p.space()
			v, ok := p.literal()
			if !ok {
				return nil, badRequest("Invalid filter clause: expected a string literal in the 'in' list.")
			}
			f.values = append(f.values, v)
			p.space()
			if p.take(')') {
				break
			}
			if !p.take(',') {
				return nil, badRequest("Invalid filter clause: expected ',' or ')' in the 'in' list.")
			}
		}
	default:
		return nil, unsupportedQuery("Unsupported query: the emulated tenant supports only eq and in on users.")
	}
	p.space()
	if p.i != len(p.s) {
		return nil, badRequest("Invalid filter clause: unexpected text after the expression.")
	}
	if len(f.values) > maxInValues {
		return nil, unsupportedQuery(fmt.Sprintf("Too many child clauses specified in search filter expression containing 'OR' operators: %d. Max allowed: %d.",
			len(f.values), maxInValues))
	}
	return f, nil
}

type filterScanner struct {
	s string
	i int
}

// space skips spaces and reports whether there was any.
func (p *filterScanner) space() bool {
	j := p.i
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
	return p.i > j
}

func (p *filterScanner) ident() string {
	j := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			break
		}
		p.i++
	}
	return p.s[j:p.i]
}

func (p *filterScanner) take(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// literal reads 'text' with ” for a quote.
func (p *filterScanner) literal() (string, bool) {
	if !p.take('\'') {
		return "", false
	}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		if c != '\'' {
			b.WriteByte(c)
			continue
		}
		if p.take('\'') {
			b.WriteByte('\'')
			continue
		}
		return b.String(), true
	}
	return "", false
}

// page cuts items for the request's $top and $skiptoken and returns the
// @odata.nextLink of the rest ("" on the last page). The skip token is the
// offset; Graph's is opaque, and clients follow the link as given.
func (t *Tenant) page(c *call, n int) (from, to int, next string, e *apiError) {
	q := c.r.URL.Query()
	size := defaultPageSize
	if v := q.Get("$top"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 {
			return 0, 0, "", badRequest("Invalid page size specified: '%s'.", truncateForError(v))
		}
		size = min(k, maxPageSize)
	}
	if t.opts.MaxPageSize > 0 {
		size = min(size, t.opts.MaxPageSize)
	}
	if v := q.Get("$skiptoken"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 0 {
			return 0, 0, "", badRequest("Invalid skip token.")
		}
		from = k
	}
	from = min(from, n)
	to = min(from+size, n)
	if to < n {
		q.Set("$skiptoken", strconv.Itoa(to))
		scheme := "http"
		if c.r.TLS != nil {
			scheme = "https"
		}
		u := url.URL{Scheme: scheme, Host: c.r.Host, Path: c.r.URL.Path, RawPath: c.r.URL.RawPath, RawQuery: q.Encode()}
		next = u.String()
	}
	return from, to, next, nil
}

type userEntry struct {
	ODataType   string `json:"@odata.type,omitempty"`
	ID          string `json:"id"`
	UPN         string `json:"userPrincipalName,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	UserType    string `json:"userType,omitempty"`
	Mail        string `json:"mail,omitempty"`
}

// collection is a page of a collection answer.
type collection[T any] struct {
	Context  string `json:"@odata.context"`
	Count    *int   `json:"@odata.count,omitempty"`
	NextLink string `json:"@odata.nextLink,omitempty"`
	Value    []T    `json:"value"`
}

// hListUsers: GET /users[?$filter=…] (https://learn.microsoft.com/graph/api/user-list),
// paged. Matching is case-insensitive, as Graph's on these properties;
// users come in the tenant's order. $select is honoured loosely: the
// members keyprep reads are always returned.
func (t *Tenant) hListUsers(c *call) (*reply, *apiError) {
	var f *userFilter
	if s := strings.TrimSpace(c.r.URL.Query().Get("$filter")); s != "" {
		var e *apiError
		if f, e = parseUserFilter(s); e != nil {
			return nil, e
		}
	}
	var match []userEntry
	for _, u := range t.st.Users {
		if f != nil && !f.matches(u) {
			continue
		}
		match = append(match, userEntry{ID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName, UserType: u.UserType, Mail: u.Mail})
	}
	from, to, next, e := t.page(c, len(match))
	if e != nil {
		return nil, e
	}
	out := collection[userEntry]{Context: odataContext(c.version, "users(id,userPrincipalName,displayName,userType,mail)"),
		NextLink: next, Value: append([]userEntry{}, match[from:to]...)}
	return &reply{200, out}, nil
}

func (f *userFilter) matches(u *userRec) bool {
	v := u.UPN
	if f.prop == "id" {
		v = u.ID
	}
	for _, w := range f.values {
		if strings.EqualFold(v, w) {
			return true
		}
	}
	return false
}

// hGroupMembers: GET /groups/{id}/transitiveMembers[/microsoft.graph.user]
// (https://learn.microsoft.com/graph/api/group-list-transitivemembers),
// paged. Groups do not nest here, so the transitive members are the direct
// ones; the tenant's groups have only users as members. The cast to
// microsoft.graph.user is an advanced query: Graph documents that it needs
// the ConsistencyLevel: eventual header and $count=true, and the tenant
// refuses it without them (the error text is the tenant's own).
func (t *Tenant) hGroupMembers(c *call) (*reply, *apiError) {
	g := t.st.groupByID(c.methodID)
	if g == nil {
		return nil, userNotFound(c.methodID)
	}
	q := c.r.URL.Query()
	count := eqf(q.Get("$count"), "true")
	if isCast(c.r.URL) && (!eqf(strings.TrimSpace(c.r.Header.Get("ConsistencyLevel")), "eventual") || !count) {
		return nil, unsupportedQuery("Request with an OData cast on transitiveMembers requires the ConsistencyLevel: eventual header and $count=true (advanced query).")
	}
	var match []userEntry
	for _, u := range t.st.Users {
		if contains(u.Groups, g.ID) {
			match = append(match, userEntry{ODataType: "#microsoft.graph.user", ID: u.ID, UPN: u.UPN, DisplayName: u.DisplayName})
		}
	}
	from, to, next, e := t.page(c, len(match))
	if e != nil {
		return nil, e
	}
	out := collection[userEntry]{Context: odataContext(c.version, "directoryObjects"), NextLink: next,
		Value: append([]userEntry{}, match[from:to]...)}
	if count {
		n := len(match)
		out.Count = &n
	}
	return &reply{200, out}, nil
}

func isCast(u *url.URL) bool {
	p := strings.TrimSuffix(u.Path, "/")
	return strings.HasSuffix(strings.ToLower(p), "/microsoft.graph.user")
}
