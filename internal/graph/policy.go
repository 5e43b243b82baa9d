package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/keyprep/keyprep/internal/policy"
	"github.com/keyprep/keyprep/internal/userlist"
)

// The method policy resources are domain types of internal/policy; the
// Graph client reads and writes them as they are.
type (
	// KeyRestrictions is fido2KeyRestrictions.
	KeyRestrictions = policy.KeyRestrictions
	// PasskeyProfile is a passkey profile of the Passkey (FIDO2) policy.
	PasskeyProfile = policy.PasskeyProfile
	// Target is an include or exclude target of a method policy.
	Target = policy.Target
	// Fido2Policy is fido2AuthenticationMethodConfiguration.
	Fido2Policy = policy.Fido2Policy
	// TAPPolicy is temporaryAccessPassAuthenticationMethodConfiguration.
	TAPPolicy = policy.TAPPolicy
)

// AllUsers is the target id meaning every user.
const AllUsers = policy.AllUsers

const (
	fido2ConfigPath = "{+baseurl}/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2"
	tapConfigPath   = "{+baseurl}/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass"
	fido2ODataType  = "#microsoft.graph.fido2AuthenticationMethodConfiguration"
	tapODataType    = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
)

func (c *Client) getJSON(ctx context.Context, op, template string, params map[string]string, v any) error {
	ri := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET, template, params)
	ri.Headers.TryAdd("Accept", "application/json")
	r, err := c.send(ctx, op, false, ri)
	if err != nil {
		return err
	}
	return decodeJSON(op, r, v)
}

func (c *Client) sendJSON(ctx context.Context, op string, method abs.HttpMethod, template string, params map[string]string, body any) (*response, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	ri := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(method, template, params)
	ri.Headers.TryAdd("Accept", "application/json")
	ri.SetStreamContentAndContentType(raw, "application/json")
	return c.send(ctx, op, false, ri)
}

// GetFido2Policy reads the Passkey (FIDO2) method configuration.
func (c *Client) GetFido2Policy(ctx context.Context) (*Fido2Policy, error) {
	var p Fido2Policy
	if err := c.getJSON(ctx, OpGetPolicy, fido2ConfigPath, map[string]string{}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// GetTAPPolicy reads the Temporary Access Pass method configuration.
func (c *Client) GetTAPPolicy(ctx context.Context) (*TAPPolicy, error) {
	var p TAPPolicy
	if err := c.getJSON(ctx, OpGetPolicy, tapConfigPath, map[string]string{}, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// UpdateFido2Policy PATCHes the Passkey (FIDO2) configuration with p. The
// whole object is sent (read it, change it, write it back); the service
// answers 204.
func (c *Client) UpdateFido2Policy(ctx context.Context, p *Fido2Policy) error {
	type wire struct {
		ODataType string `json:"@odata.type"`
		Fido2Policy
	}
	w := wire{ODataType: fido2ODataType, Fido2Policy: *p}
	w.ID = ""
	_, err := c.sendJSON(ctx, OpUpdatePolicy, abs.PATCH, fido2ConfigPath, map[string]string{}, w)
	return err
}

// UpdateTAPPolicy validates p (before any request) and PATCHes the
// Temporary Access Pass configuration with it.
func (c *Client) UpdateTAPPolicy(ctx context.Context, p *TAPPolicy) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("graph: %s: %w", OpUpdatePolicy, err)
	}
	type wire struct {
		ODataType string `json:"@odata.type"`
		TAPPolicy
	}
	w := wire{ODataType: tapODataType, TAPPolicy: *p}
	w.ID = ""
	_, err := c.sendJSON(ctx, OpUpdatePolicy, abs.PATCH, tapConfigPath, map[string]string{}, w)
	return err
}

// Group is a directory group.
type Group struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// FindGroup resolves a group by object id or exact display name. A name
// shared by several groups is an error naming their ids.
func (c *Client) FindGroup(ctx context.Context, idOrName string) (*Group, error) {
	if err := checkID(OpGetGroup, "group", idOrName); err != nil {
		return nil, err
	}
	if IsGUID(idOrName) {
		var g Group
		if err := c.getJSON(ctx, OpGetGroup, "{+baseurl}/groups/{id}{?%24select}", map[string]string{"id": idOrName}, &g); err != nil {
			return nil, err
		}
		return &g, nil
	}
	filter := "displayName eq '" + strings.ReplaceAll(idOrName, "'", "''") + "'"
	ri := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET,
		"{+baseurl}/groups{?%24filter,%24select}", map[string]string{})
	ri.QueryParameters["%24filter"] = filter
	ri.QueryParameters["%24select"] = "id,displayName"
	ri.Headers.TryAdd("Accept", "application/json")
	r, err := c.send(ctx, OpGetGroup, false, ri)
	if err != nil {
		return nil, err
	}
	var coll struct {
		Value []Group `json:"value"`
	}
	if err := decodeJSON(OpGetGroup, r, &coll); err != nil {
		return nil, err
	}
	switch len(coll.Value) {
	case 0:
		return nil, &Error{Op: OpGetGroup, Status: r.status, Class: ErrGroupNotFound,
			Message: fmt.Sprintf("no group named %q", sanitize(idOrName))}
	case 1:
		return &coll.Value[0], nil
	}
	ids := make([]string, len(coll.Value))
	for i, g := range coll.Value {
		ids[i] = sanitize(g.ID)
	}
	return nil, &Error{Op: OpGetGroup, Status: r.status, Class: ErrInvalidRequest,
		Message: fmt.Sprintf("%d groups are named %q (%s): give the object id", len(ids), sanitize(idOrName), strings.Join(ids, ", "))}
}

// CheckMemberGroups returns which of groupIDs the user is a member of,
// directly or transitively (POST /users/{id}/checkMemberGroups, a read).
func (c *Client) CheckMemberGroups(ctx context.Context, userID string, groupIDs []string) ([]string, error) {
	if err := checkID(OpCheckGroups, "user id", userID); err != nil {
		return nil, err
	}
	if len(groupIDs) == 0 {
		return nil, nil
	}
	var out []string
	// The service takes at most 20 ids per call.
	for start := 0; start < len(groupIDs); start += 20 {
		end := min(start+20, len(groupIDs))
		r, err := c.sendJSON(ctx, OpCheckGroups, abs.POST, "{+baseurl}/users/{user%2Did}/checkMemberGroups",
			map[string]string{"user%2Did": userID}, map[string]any{"groupIds": groupIDs[start:end]})
		if err != nil {
			return nil, err
		}
		var coll struct {
			Value []string `json:"value"`
		}
		if err := decodeJSON(OpCheckGroups, r, &coll); err != nil {
			return nil, err
		}
		out = append(out, coll.Value...)
	}
	return out, nil
}

// IsGUID reports the 8-4-4-4-12 hexadecimal form of object ids and AAGUIDs.
func IsGUID(s string) bool { return userlist.IsGUID(s) }
