package entrasim

import (
	"encoding/json"
	"fmt"
	"strings"
)

func userNotFound(key string) *apiError {
	return &apiError{Status: 404, Code: "Request_ResourceNotFound",
		Message: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", truncateForError(key))}
}

func (t *Tenant) lookupUser(c *call) (*userRec, *apiError) {
	u := t.st.userByKey(c.userKey)
	if u == nil {
		return nil, userNotFound(c.userKey)
	}
	return u, nil
}

// hGetUser: GET /users/{id}
// (https://learn.microsoft.com/graph/api/user-get). $select is honoured
// loosely: the fields keyprep needs are always returned.
func (t *Tenant) hGetUser(c *call) (*reply, *apiError) {
	u, e := t.lookupUser(c)
	if e != nil {
		return nil, e
	}
	return &reply{200, struct {
		Context     string `json:"@odata.context"`
		ID          string `json:"id"`
		UPN         string `json:"userPrincipalName"`
		DisplayName string `json:"displayName"`
		UserType    string `json:"userType"`
		Mail        string `json:"mail"`
	}{odataContext(c.version, "users(id,userPrincipalName,displayName,userType,mail)/$entity"),
		u.ID, u.UPN, u.DisplayName, u.UserType, u.Mail}}, nil
}

// hCheckMemberGroups: POST /users/{id}/checkMemberGroups {"groupIds":[…]}
// → the ids among them the user is a member of (groups do not nest here,
// so direct membership is transitive membership).
func (t *Tenant) hCheckMemberGroups(c *call) (*reply, *apiError) {
	u, e := t.lookupUser(c)
	if e != nil {
		return nil, e
	}
	var body struct {
		GroupIDs []string `json:"groupIds"`
	}
	if err := json.Unmarshal(c.body, &body); err != nil || body.GroupIDs == nil {
		return nil, badRequest("The request body must be {\"groupIds\": [...]}.")
	}
	if len(body.GroupIDs) > 20 {
		return nil, badRequest("checkMemberGroups accepts at most 20 group ids.")
	}
	out := []string{}
	for _, id := range body.GroupIDs {
		if contains(u.Groups, id) {
			out = append(out, id)
		}
	}
	return &reply{200, struct {
		Context string   `json:"@odata.context"`
		Value   []string `json:"value"`
	}{odataContext(c.version, "Collection(Edm.String)"), out}}, nil
}

type groupWire struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// hGroups: GET /groups/{id}, or GET /groups with an optional
// $filter=displayName eq 'Name' (a doubled single quote escapes one).
func (t *Tenant) hGroups(c *call) (*reply, *apiError) {
	if c.methodID != "" {
		g := t.st.groupByID(c.methodID)
		if g == nil {
			return nil, userNotFound(c.methodID)
		}
		return &reply{200, struct {
			Context string `json:"@odata.context"`
			groupWire
		}{odataContext(c.version, "groups/$entity"), groupWire{g.ID, g.DisplayName}}}, nil
	}
	out := []groupWire{}
	filter := strings.TrimSpace(c.r.URL.Query().Get("$filter"))
	name, ok := "", filter == ""
	if !ok {
		lhs, rhs, found := strings.Cut(filter, " eq ")
		rhs = strings.TrimSpace(rhs)
		if !found || !eqf(strings.TrimSpace(lhs), "displayName") || len(rhs) < 2 || rhs[0] != '\'' || rhs[len(rhs)-1] != '\'' {
			return nil, &apiError{Status: 400, Code: "Request_UnsupportedQuery",
				Message: "Unsupported query: the emulated tenant supports only $filter=displayName eq '…'."}
		}
		name = strings.ReplaceAll(rhs[1:len(rhs)-1], "''", "'")
	}
	for _, g := range t.st.Groups {
		if ok || strings.EqualFold(g.DisplayName, name) {
			out = append(out, groupWire{g.ID, g.DisplayName})
		}
	}
	return &reply{200, struct {
		Context string      `json:"@odata.context"`
		Value   []groupWire `json:"value"`
	}{odataContext(c.version, "groups(id,displayName)"), out}}, nil
}

// hGetPolicy: GET …/authenticationMethodConfigurations/{fido2|temporaryAccessPass}.
func (t *Tenant) hGetPolicy(c *call) (*reply, *apiError) {
	ctx := odataContext(c.version, "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity")
	if c.policyID == "fido2" {
		p := t.st.Fido2Policy
		return &reply{200, struct {
			Context string `json:"@odata.context"`
			*fido2Policy
		}{ctx, &p}}, nil
	}
	p := t.st.TAPPolicy
	return &reply{200, struct {
		Context string `json:"@odata.context"`
		*tapPolicy
	}{ctx, &p}}, nil
}

// hPatchPolicy: PATCH of a method configuration: "@odata.type" must
// match, given members replace current ones, the result is validated; 204.
func (t *Tenant) hPatchPolicy(c *call) (*reply, *apiError) {
	if c.policyID == "fido2" {
		var np fido2Policy
		if e := mergePatch(t.st.Fido2Policy, c.body, fido2ConfigType, "Fido2",
			"microsoft.graph.fido2AuthenticationMethodConfiguration", &np); e != nil {
			return nil, e
		}
		np.normalize()
		if e := t.st.validateFido2(&np); e != nil {
			return nil, e
		}
		t.st.Fido2Policy = np
	} else {
		var np tapPolicy
		if e := mergePatch(t.st.TAPPolicy, c.body, tapConfigType, "TemporaryAccessPass",
			"microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration", &np); e != nil {
			return nil, e
		}
		np.normalize()
		if e := t.st.validateTAP(&np); e != nil {
			return nil, e
		}
		t.st.TAPPolicy = np
	}
	c.dirty = true
	return &reply{status: 204}, nil
}

// hResetTAPPolicy: DELETE …/temporaryAccessPass restores the defaults.
func (t *Tenant) hResetTAPPolicy(c *call) (*reply, *apiError) {
	t.st.TAPPolicy = defaultTAPPolicy()
	c.dirty = true
	return &reply{status: 204}, nil
}

// hSimUseTAP: POST /_sim/users/{id}/tap/use.
func (t *Tenant) hSimUseTAP(c *call) (*reply, *apiError) {
	if e := t.useTAP(c.userKey, nil); e != nil {
		return nil, e
	}
	c.dirty = true
	return &reply{status: 204}, nil
}
