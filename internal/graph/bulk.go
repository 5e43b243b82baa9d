package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
)

// Bulk reads for a bench run (docs/graph.md §6.3): many users per request,
// and a group's members once instead of one membership check per user.

// MaxUPNsPerLookup is how many UPNs FindUsersByUPN puts in one request:
// Graph limits an "in" filter to 15 values without advanced query
// capabilities (https://learn.microsoft.com/graph/filter-query-parameter).
const MaxUPNsPerLookup = 15

// maxPages bounds the pages one collection read follows.
const maxPages = 10000

// userSelect is what keyprep reads of a user (userType needs User.Read.All).
const userSelect = "id,userPrincipalName,displayName,userType,mail"

// odataString quotes s as an OData string literal: in single quotes, a
// quote doubled (OData ABNF SQUOTE-in-string). The URL template
// percent-encodes the rest (' ( ) # + & and spaces alike).
func odataString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// FindUsersByUPN looks users up by UPN with
// GET /users?$filter=userPrincipalName in ('a','b',…), MaxUPNsPerLookup
// UPNs per request (following @odata.nextLink). Users not found are absent
// from the result; UPNs match case-insensitively, duplicates are asked
// once. It is a standard (not an advanced) query, so it sees the directory
// as GET /users/{upn} does. An error names no UPN of the batch it failed.
func (c *Client) FindUsersByUPN(ctx context.Context, upns []string) ([]*User, error) {
	var want []string
	seen := map[string]bool{}
	for _, u := range upns {
		if err := checkID(OpGetUser, "user principal name", u); err != nil {
			return nil, err
		}
		if k := strings.ToLower(u); !seen[k] {
			seen[k] = true
			want = append(want, u)
		}
	}
	var out []*User
	for start := 0; start < len(want); start += MaxUPNsPerLookup {
		chunk := want[start:min(start+MaxUPNsPerLookup, len(want))]
		quoted := make([]string, len(chunk))
		for i, u := range chunk {
			quoted[i] = odataString(u)
		}
		ri := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET,
			"{+baseurl}/users{?%24filter,%24select}", map[string]string{})
		ri.QueryParameters["%24filter"] = "userPrincipalName in (" + strings.Join(quoted, ",") + ")"
		ri.QueryParameters["%24select"] = userSelect
		err := c.pages(ctx, OpGetUser, ri, func(raw json.RawMessage) error {
			var u User
			if err := json.Unmarshal(raw, &u); err != nil {
				return err
			}
			if u.ID != "" && seen[strings.ToLower(u.UserPrincipalName)] {
				out = append(out, &u)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GroupUserIDs lists the object ids of the users in a group, direct or
// through nested groups: GET /groups/{id}/transitiveMembers/microsoft.graph.user
// ?$select=id&$top=999&$count=true, following @odata.nextLink. The cast to
// users is an advanced query: Graph documents the ConsistencyLevel: eventual
// header and $count=true as required for it
// (https://learn.microsoft.com/graph/api/group-list-transitivemembers), and
// answers from an index that can lag recent membership changes
// (https://learn.microsoft.com/graph/aad-advanced-queries). A missing group
// matches ErrGroupNotFound.
func (c *Client) GroupUserIDs(ctx context.Context, groupID string) ([]string, error) {
	if err := checkID(OpGetGroup, "group id", groupID); err != nil {
		return nil, err
	}
	ri := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET,
		"{+baseurl}/groups/{group%2Did}/transitiveMembers/microsoft.graph.user{?%24select,%24top,%24count}",
		map[string]string{"group%2Did": groupID})
	ri.QueryParameters["%24select"] = "id"
	ri.QueryParameters["%24top"] = "999"
	ri.QueryParameters["%24count"] = "true"
	ri.Headers.TryAdd("ConsistencyLevel", "eventual")
	var ids []string
	err := c.pages(ctx, OpGetGroup, ri, func(raw json.RawMessage) error {
		var o struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		if o.ID != "" {
			ids = append(ids, o.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// pages GETs a collection and its further pages (@odata.nextLink, on the
// configured host only: the token never goes elsewhere), handing each
// member of value to each. Every page goes through send: the pacer and the
// retries of idempotent requests.
func (c *Client) pages(ctx context.Context, op string, ri *abs.RequestInformation, each func(json.RawMessage) error) error {
	ri.Headers.TryAdd("Accept", "application/json")
	for n := 0; ; n++ {
		if n >= maxPages {
			return &Error{Op: op, Class: ErrService, Err: fmt.Errorf("more than %d pages", maxPages)}
		}
		r, err := c.send(ctx, op, false, ri)
		if err != nil {
			return err
		}
		var coll struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := decodeJSON(op, r, &coll); err != nil {
			return err
		}
		for _, v := range coll.Value {
			if err := each(v); err != nil {
				return &Error{Op: op, Status: r.status, Class: ErrService, RequestID: sanitize(r.header.Get("request-id")),
					Err: fmt.Errorf("undecodable collection member: %w", err)}
			}
		}
		if coll.NextLink == "" {
			return nil
		}
		u, err := url.Parse(coll.NextLink)
		if err != nil || !strings.EqualFold(u.Scheme, c.scheme) || !strings.EqualFold(u.Host, c.host) {
			return &Error{Op: op, Status: r.status, Class: ErrService, RequestID: sanitize(r.header.Get("request-id")),
				Err: errors.New("@odata.nextLink is not a URL on the Graph host")}
		}
		next := abs.NewRequestInformation()
		next.Method = abs.GET
		next.SetUri(*u)
		next.Headers.AddAll(ri.Headers)
		ri = next
	}
}
