package graph

import (
	"context"
	"encoding/json"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
)

// IsExternalGuest reports an external (B2B) guest: a UPN carrying #EXT#.
// A guest without it (userType Guest, an account of this tenant) is an
// internal guest.
func (u *User) IsExternalGuest() bool {
	return strings.Contains(strings.ToUpper(u.UserPrincipalName), "#EXT#")
}

// ListUsers lists every user of the tenant: GET /users?$select=…&$top=999,
// following @odata.nextLink (https://learn.microsoft.com/graph/api/user-list).
func (c *Client) ListUsers(ctx context.Context) ([]*User, error) {
	ri := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET,
		"{+baseurl}/users{?%24select,%24top}", map[string]string{})
	ri.QueryParameters["%24select"] = userSelect
	ri.QueryParameters["%24top"] = "999"
	var out []*User
	err := c.pages(ctx, OpGetUser, ri, func(raw json.RawMessage) error {
		var u User
		if err := json.Unmarshal(raw, &u); err != nil {
			return err
		}
		if u.ID != "" {
			out = append(out, &u)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
