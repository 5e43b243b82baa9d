package entrasim

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseUserFilter(t *testing.T) {
	fifteen := make([]string, 15)
	for i := range fifteen {
		fifteen[i] = fmt.Sprintf("'u%d@x.test'", i)
	}
	sixteen := append(append([]string{}, fifteen...), "'u15@x.test'")
	tests := []struct {
		in     string
		prop   string
		values []string
		status int
		msg    string
	}{
		{in: "userPrincipalName eq 'a@x.test'", prop: "userPrincipalName", values: []string{"a@x.test"}},
		{in: "  USERPRINCIPALNAME   IN  ( 'a@x.test' ,'b@x.test')  ", prop: "userPrincipalName", values: []string{"a@x.test", "b@x.test"}},
		{in: "userPrincipalName in ('o''brien@x.test','kim_f.com#EXT#@x.test')", prop: "userPrincipalName",
			values: []string{"o'brien@x.test", "kim_f.com#EXT#@x.test"}},
		{in: "id in ('1')", prop: "id", values: []string{"1"}},
		{in: "userPrincipalName in ('')", prop: "userPrincipalName", values: []string{""}},
		{in: "userPrincipalName in (" + strings.Join(fifteen, ",") + ")", prop: "userPrincipalName", values: func() []string {
			var v []string
			for _, s := range fifteen {
				v = append(v, strings.Trim(s, "'"))
			}
			return v
		}()},
		{in: "userPrincipalName in (" + strings.Join(sixteen, ",") + ")", status: 400,
			msg: "Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15."},
		{in: "displayName eq 'x'", status: 400, msg: "only on id or userPrincipalName"},
		{in: "userPrincipalName ne 'x'", status: 400, msg: "only eq and in"},
		{in: "userPrincipalName in 'x'", status: 400, msg: "expected '('"},
		{in: "userPrincipalName in ('x'", status: 400, msg: "',' or ')'"},
		{in: "userPrincipalName in ('x)", status: 400, msg: "string literal"},
		{in: "userPrincipalName in ()", status: 400, msg: "string literal"},
		{in: "userPrincipalName eq 'x' or id eq 'y'", status: 400, msg: "unexpected text"},
		{in: "userPrincipalName", status: 400, msg: "expected an operator"},
	}
	for _, tc := range tests {
		f, e := parseUserFilter(tc.in)
		if tc.status != 0 {
			if e == nil || e.Status != tc.status || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("%q: got %+v, %+v; want %d %q", tc.in, f, e, tc.status, tc.msg)
			}
			continue
		}
		if e != nil || f.prop != tc.prop || !reflect.DeepEqual(f.values, tc.values) {
			t.Errorf("%q: got %+v, %+v; want %s %q", tc.in, f, e, tc.prop, tc.values)
		}
	}
}

func FuzzParseUserFilter(f *testing.F) {
	for _, s := range []string{"userPrincipalName in ('a@x.test','o''b@x.test')", "id eq '1'", "userPrincipalName in (", "''", "in ('a')"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		uf, e := parseUserFilter(s)
		if e != nil {
			if uf != nil || e.Status != 400 {
				t.Fatalf("%q: %+v with error %+v", s, uf, e)
			}
			return
		}
		if len(uf.values) == 0 || len(uf.values) > maxInValues || (uf.prop != "id" && uf.prop != "userPrincipalName") {
			t.Fatalf("%q: accepted %+v", s, uf)
		}
		// What the client quotes parses back to the same values.
		var q []string
		for _, v := range uf.values {
			q = append(q, "'"+strings.ReplaceAll(v, "'", "''")+"'")
		}
		again, e := parseUserFilter(uf.prop + " in (" + strings.Join(q, ",") + ")")
		if e != nil || !reflect.DeepEqual(again.values, uf.values) {
			t.Fatalf("%q: requoted %v gives %+v, %+v", s, uf.values, again, e)
		}
	})
}

type page struct {
	Count    *int   `json:"@odata.count"`
	NextLink string `json:"@odata.nextLink"`
	Value    []struct {
		ODataType string `json:"@odata.type"`
		ID        string `json:"id"`
		UPN       string `json:"userPrincipalName"`
		UserType  string `json:"userType"`
	} `json:"value"`
}

// getAll follows @odata.nextLink from path and returns every page.
func (f *fixture) getAll(path string, header map[string]string) []page {
	f.t.Helper()
	var pages []page
	for path != "" {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		f.tn.ServeHTTP(w, req)
		if w.Code != 200 {
			f.t.Fatalf("GET %s: %d %s", path, w.Code, w.Body.Bytes())
		}
		var p page
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			f.t.Fatal(err)
		}
		pages = append(pages, p)
		path = p.NextLink
		if len(pages) > 100 {
			f.t.Fatal("endless paging")
		}
	}
	return pages
}

func filterPath(prop string, values ...string) string {
	var q []string
	for _, v := range values {
		q = append(q, "'"+strings.ReplaceAll(v, "'", "''")+"'")
	}
	return "/v1.0/users?" + url.Values{"$filter": {prop + " in (" + strings.Join(q, ",") + ")"}, "$select": {"id,userPrincipalName"}}.Encode()
}

func TestListUsersFilter(t *testing.T) {
	seed := append(DefaultSeed(), SeedUser{UPN: "o'brien@contoso.test", DisplayName: "Pat O'Brien", UserType: "Member"})
	f := newFixture(t, func(o *Options) { o.Users = seed; o.MaxPageSize = 4 })
	upns := []string{"ADELE.VANCE@contoso.test", "o'brien@contoso.test", GuestUPN, "nobody@contoso.test", "alex.wilber@contoso.test",
		"megan.bowen@contoso.test", "lee.gu@contoso.test"}
	pages := f.getAll(filterPath("userPrincipalName", upns...), nil)
	if len(pages) != 2 {
		t.Fatalf("%d pages for 6 matches with pages of 4, want 2", len(pages))
	}
	got := map[string]string{}
	for _, p := range pages {
		for _, u := range p.Value {
			got[u.UPN] = u.UserType
			if u.ID != UserObjectID(u.UPN) {
				t.Errorf("%s: id %s", u.UPN, u.ID)
			}
		}
	}
	want := map[string]string{"adele.vance@contoso.test": "Member", "o'brien@contoso.test": "Member", GuestUPN: "Guest",
		"alex.wilber@contoso.test": "Member", "megan.bowen@contoso.test": "Member", "lee.gu@contoso.test": "Member"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// By id, and eq.
	p := f.getAll(filterPath("id", UserObjectID(OutsideUPN)), nil)
	if len(p) != 1 || len(p[0].Value) != 1 || p[0].Value[0].UPN != OutsideUPN {
		t.Errorf("by id: %+v", p)
	}
	p = f.getAll("/v1.0/users?"+url.Values{"$filter": {"userPrincipalName eq 'lee.gu@contoso.test'"}}.Encode(), nil)
	if len(p) != 1 || len(p[0].Value) != 1 {
		t.Errorf("eq: %+v", p)
	}
	// Sixteen values: Graph's error.
	var sixteen []string
	for i := range 16 {
		sixteen = append(sixteen, fmt.Sprintf("u%d@contoso.test", i))
	}
	r := f.do("GET", filterPath("userPrincipalName", sixteen...), nil)
	f.wantErr(r, 400, "Max allowed: 15.")
	if code, _ := r.errMsg(t); code != "Request_UnsupportedQuery" {
		t.Errorf("code %s", code)
	}
	// No filter: every user, paged.
	n := 0
	for _, p := range f.getAll("/v1.0/users", nil) {
		n += len(p.Value)
	}
	if n != len(seed) {
		t.Errorf("%d users listed, want %d", n, len(seed))
	}
	f.wantErr(f.do("GET", "/v1.0/users?$top=0", nil), 400, "page size")
	f.wantErr(f.do("GET", "/v1.0/users?$skiptoken=x", nil), 400, "skip token")
}

func TestGroupTransitiveMembers(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxPageSize = 10 })
	gid := GroupObjectID(PasskeyGroup)
	path := "/v1.0/groups/" + gid + "/transitiveMembers/microsoft.graph.user?$select=id&$count=true&$top=999"
	// The cast is an advanced query.
	f.wantErr(f.do("GET", path, nil), 400, "ConsistencyLevel")
	f.wantErr(f.do("GET", strings.Replace(path, "$count=true&", "", 1), nil), 400, "ConsistencyLevel")
	pages := f.getAll(path, map[string]string{"ConsistencyLevel": "eventual"})
	if len(pages) != 3 {
		t.Fatalf("%d pages for 25 members with pages of 10, want 3", len(pages))
	}
	ids := map[string]bool{}
	for _, p := range pages {
		if p.Count == nil || *p.Count != 25 {
			t.Errorf("@odata.count %v, want 25", p.Count)
		}
		for _, u := range p.Value {
			if u.ODataType != "#microsoft.graph.user" {
				t.Errorf("@odata.type %q", u.ODataType)
			}
			ids[u.ID] = true
		}
	}
	if len(ids) != 25 || !ids[UserObjectID("adele.vance@contoso.test")] || ids[UserObjectID(OutsideUPN)] || ids[UserObjectID(GuestUPN)] {
		t.Errorf("members %v", ids)
	}
	// Without the cast no header is needed.
	if ps := f.getAll("/v1.0/groups/"+GroupObjectID(TAPGroup)+"/transitiveMembers", nil); len(ps) != 3 {
		t.Errorf("TAP group: %d pages", len(ps))
	}
	f.wantErr(f.do("GET", "/v1.0/groups/"+UserObjectID("nobody@x.test")+"/transitiveMembers", nil), 404, "does not exist")
}

// TestRequestCounts: every request counts under its route's kind, those
// refused before routing (429, 401) too.
func TestRequestCounts(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Throttle = Throttle{Rate: 0.001, Burst: 3} })
	f.do("GET", "/v1.0/users/adele.vance@contoso.test", nil)
	f.do("GET", filterPath("userPrincipalName", "adele.vance@contoso.test"), nil)
	f.do("GET", "/v1.0/nothing", nil)
	r := f.do("GET", "/v1.0/users/alex.wilber@contoso.test", nil) // the bucket is empty
	f.want(r, 429)
	f.doTok("GET", "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/fido2", "", nil)
	want := map[string]int{EPGetUser: 2, EPListUsers: 1, KindOther: 1, EPGetPolicy: 1}
	if got := f.tn.RequestCounts(); !reflect.DeepEqual(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	recs := f.tn.Requests()
	if last := recs[len(recs)-2]; last.Status != 429 || last.Endpoint != "" || last.Kind != EPGetUser {
		t.Errorf("throttled request recorded as %+v", last)
	}
}
