package entrasim

import (
	"strings"
	"testing"
)

func TestParseSeed(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		err      string
	}{
		{"json", `[{"userPrincipalName":"a@x.test","displayName":"A","userType":"member","groups":["G1","g1"," G2 "]}]`, 1, ""},
		{"json guest", `[{"userPrincipalName":"kim_fabrikam.com#EXT#@x.test","userType":"Guest"}]`, 1, ""},
		{"csv", "upn,displayName,userType,groups\na@x.test,A,Member,G1;G2\n\nb@x.test,B,,\n", 2, ""},
		{"csv reordered bom", "\xef\xbb\xbfgroups,upn\nG,a@x.test\n", 1, ""},
		{"json unknown member", `[{"userPrincipalName":"a@x.test","mail":"m"}]`, 0, "entry 1"},
		{"json missing upn", `[{"displayName":"A"}]`, 0, "entry 1: userPrincipalName: missing"},
		{"json object", `{"users":[]}`, 0, "must be an array"},
		{"bad upn", `[{"userPrincipalName":"a@x.test"},{"userPrincipalName":"no-at"}]`, 0, `entry 2: userPrincipalName "no-at"`},
		{"bad domain", "upn\na@x\n", 0, "row 2: userPrincipalName"},
		{"space in upn", "upn\n\"a b@x.test\"\n", 0, "row 2"},
		{"duplicate", "upn\na@x.test\nA@X.test\n", 0, "row 3: userPrincipalName \"A@X.test\" duplicates row 2"},
		{"unknown userType", "upn,userType\na@x.test,Admin\n", 0, `row 2: userType "Admin": unknown`},
		{"unknown column", "upn,mail\na@x.test,m\n", 0, `unknown column "mail"`},
		{"no upn column", "displayName\nA\n", 0, "no upn column"},
		{"short row", "upn,displayName\na@x.test\n", 0, "row 2: 1 fields"},
		{"empty", "  \n", 0, "empty"},
		{"no users", "[]", 0, "no users"},
		{"control char", "upn,displayName\na@x.test,\"A\x01\"\n", 0, "row 2: displayName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users, err := ParseSeed([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(users) != tc.n {
				t.Fatalf("%v %+v", err, users)
			}
		})
	}
	users, _ := ParseSeed([]byte(`[{"userPrincipalName":"a@x.test","userType":"member","groups":["G1","g1"," G2 "]}]`))
	if u := users[0]; u.DisplayName != "a" || u.UserType != "Member" || len(u.Groups) != 2 || u.Groups[1] != "G2" {
		t.Errorf("%+v", u)
	}
	// A custom seed without "Passkey Users" targets all_users.
	f := newFixture(t, func(o *Options) { o.Users = users })
	if us := f.tn.Users(); len(us) != 1 || !us[0].InFido2Scope {
		t.Errorf("%+v", us)
	}
	if _, err := Open(Options{Users: []SeedUser{{UPN: "bad"}}}); err == nil {
		t.Error("bad seed accepted")
	}
}

func TestDefaultSeed(t *testing.T) {
	seed := DefaultSeed()
	members, guests := 0, 0
	for _, u := range seed {
		if err := checkUPN(u.UPN); err != nil {
			t.Errorf("%s: %v", u.UPN, err)
		}
		switch u.UserType {
		case "Member":
			members++
		case "Guest":
			guests++
		}
	}
	if members < 25 || guests != 1 {
		t.Errorf("%d members, %d guests", members, guests)
	}
}
