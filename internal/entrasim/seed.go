package entrasim

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/userlist"
)

// SeedUser is one user of a tenant seed. Groups are group
// display names; a group is created for every name mentioned.
type SeedUser struct {
	UPN, DisplayName, UserType string
	Groups                     []string
}

// Seed group names and special users of DefaultSeed.
const (
	// Domain is the default seed's domain.
	Domain = "contoso.test"
	// PasskeyGroup is the group the default FIDO2 policy targets
	// (the FIDO2 policy's includeTargets).
	PasskeyGroup = "Passkey Users"
	// TAPGroup holds every member of the default seed. The default TAP
	// policy targets all_users; the group is there for policies that
	// a test or an operator narrows to it.
	TAPGroup = "TAP Onboarding"
	// GuestUPN is the default seed's external (B2B) guest.
	GuestUPN = "kim_fabrikam.com#EXT#@contoso.test"
	// OutsideUPN is the default seed's member outside PasskeyGroup, hence
	// outside the default FIDO2 policy's scope.
	OutsideUPN = "outside.user@contoso.test"
)

// idNamespace is the name-based UUID namespace of object ids:
// uuid.NewSHA1(uuid.NameSpaceDNS, "entrasim.keyprep.invalid").
var idNamespace = uuid.NewSHA1(uuid.NameSpaceDNS, []byte("entrasim.keyprep.invalid"))

// UserObjectID is the object id the emulated tenant gives a user: the
// version-5 UUID of "user:" + the lower-case UPN in idNamespace, so tests
// and documents can rely on it.
func UserObjectID(upn string) string {
	return uuid.NewSHA1(idNamespace, []byte("user:"+strings.ToLower(upn))).String()
}

// GroupObjectID is the object id of a group: the version-5 UUID of "group:"
// + the lower-case display name in idNamespace.
func GroupObjectID(name string) string {
	return uuid.NewSHA1(idNamespace, []byte("group:"+strings.ToLower(name))).String()
}

var defaultMembers = []string{
	"Adele Vance", "Alex Wilber", "Megan Bowen", "Lee Gu", "Nestor Wilke",
	"Allan Deyoung", "Christie Cline", "Debra Berger", "Diego Siciliani", "Emily Braun",
	"Enrico Cattaneo", "Grady Archie", "Henrietta Mueller", "Irvin Sayers", "Isaiah Langer",
	"Johanna Lorenz", "Joni Sherman", "Lidia Holloway", "Lynne Robbins", "Miriam Graham",
	"Patti Fernandez", "Pradeep Gupta", "Raul Razo", "Brian Johnson", "Cameron White",
}

// DefaultSeed is the built-in tenant: 25 members of
// contoso.test in "Passkey Users" and "TAP Onboarding" (adele.vance@,
// alex.wilber@, megan.bowen@, lee.gu@, nestor.wilke@, …), one more member
// outside.user@contoso.test who is only in "TAP Onboarding" (so outside the
// FIDO2 policy), and the external guest kim_fabrikam.com#EXT#@contoso.test
// (userType Guest, no groups).
func DefaultSeed() []SeedUser {
	var out []SeedUser
	for _, name := range defaultMembers {
		upn := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@" + Domain
		out = append(out, SeedUser{UPN: upn, DisplayName: name, UserType: "Member",
			Groups: []string{PasskeyGroup, TAPGroup}})
	}
	out = append(out,
		SeedUser{UPN: OutsideUPN, DisplayName: "Outside User", UserType: "Member", Groups: []string{TAPGroup}},
		SeedUser{UPN: GuestUPN, DisplayName: "Kim Akers (Fabrikam)", UserType: "Guest"},
	)
	return out
}

// Seed limits.
const (
	maxSeedUsers  = 100000
	maxSeedBytes  = 64 << 20
	maxNameLength = 256
)

// ParseSeed parses a user seed: a JSON array of
// {"userPrincipalName","displayName","userType","groups":[…]} objects, or
// CSV with the header upn,displayName,userType,groups (groups separated by
// ';'; only upn is required, columns in any order). The format is chosen by
// the first non-space byte ('[' for JSON). Parsing is strict: unknown
// members or columns, malformed or duplicate UPNs (case-insensitive) and a
// userType other than Member or Guest are errors naming the entry (JSON,
// 1-based) or row (CSV, header = row 1) and field. An empty displayName
// defaults to the UPN's local part; an empty userType to Member.
func ParseSeed(data []byte) ([]SeedUser, error) {
	if len(data) > maxSeedBytes {
		return nil, fmt.Errorf("seed: %d bytes exceeds the %d-byte limit", len(data), maxSeedBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, errors.New("seed: empty")
	}
	if !utf8.Valid(data) {
		return nil, errors.New("seed: not valid UTF-8")
	}
	var users []SeedUser
	var err error
	switch trimmed[0] {
	case '[':
		users, err = parseSeedJSON(trimmed)
	case '{':
		return nil, errors.New("seed: JSON seed must be an array of users, not an object")
	default:
		users, err = parseSeedCSV(data)
	}
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, errors.New("seed: no users")
	}
	return users, nil
}

type seedJSONUser struct {
	UPN         *string  `json:"userPrincipalName"`
	DisplayName string   `json:"displayName"`
	UserType    string   `json:"userType"`
	Groups      []string `json:"groups"`
}

func parseSeedJSON(data []byte) ([]SeedUser, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("seed: JSON: %v", err)
	}
	if len(raw) > maxSeedUsers {
		return nil, fmt.Errorf("seed: %d users exceeds the limit of %d", len(raw), maxSeedUsers)
	}
	seen := map[string]int{}
	out := make([]SeedUser, 0, len(raw))
	for i, r := range raw {
		where := fmt.Sprintf("entry %d", i+1)
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		var u seedJSONUser
		if err := dec.Decode(&u); err != nil {
			return nil, fmt.Errorf("seed: %s: %v", where, err)
		}
		if u.UPN == nil {
			return nil, fmt.Errorf("seed: %s: userPrincipalName: missing", where)
		}
		su, err := checkSeedUser(where, *u.UPN, u.DisplayName, u.UserType, u.Groups)
		if err != nil {
			return nil, err
		}
		if err := noDuplicate(seen, su.UPN, i+1, "entry"); err != nil {
			return nil, err
		}
		out = append(out, su)
	}
	return out, nil
}

func parseSeedCSV(data []byte) ([]SeedUser, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("seed: CSV header: %v", err)
	}
	col := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(h))
		switch name {
		case "upn", "userprincipalname":
			name = "upn"
		case "displayname", "usertype", "groups":
		default:
			return nil, fmt.Errorf("seed: CSV header: unknown column %q (want upn,displayName,userType,groups)", h)
		}
		if _, dup := col[name]; dup {
			return nil, fmt.Errorf("seed: CSV header: column %q appears twice", h)
		}
		col[name] = i
	}
	if _, ok := col["upn"]; !ok {
		return nil, errors.New("seed: CSV header: no upn column (want upn,displayName,userType,groups)")
	}
	seen := map[string]int{}
	var out []SeedUser
	for row := 2; ; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("seed: CSV: %v", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("seed: row %d: %d fields, the header has %d", row, len(rec), len(header))
		}
		if len(out) >= maxSeedUsers {
			return nil, fmt.Errorf("seed: more than %d users", maxSeedUsers)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		var groups []string
		if g := get("groups"); g != "" {
			groups = strings.Split(g, ";")
		}
		su, err := checkSeedUser(fmt.Sprintf("row %d", row), get("upn"), get("displayname"), get("usertype"), groups)
		if err != nil {
			return nil, err
		}
		if err := noDuplicate(seen, su.UPN, row, "row"); err != nil {
			return nil, err
		}
		out = append(out, su)
	}
	return out, nil
}

func noDuplicate(seen map[string]int, upn string, n int, what string) error {
	k := strings.ToLower(upn)
	if prev, ok := seen[k]; ok {
		return fmt.Errorf("seed: %s %d: userPrincipalName %q duplicates %s %d (UPNs are case-insensitive)", what, n, upn, what, prev)
	}
	seen[k] = n
	return nil
}

func checkSeedUser(where, upn, displayName, userType string, groups []string) (SeedUser, error) {
	upn = strings.TrimSpace(upn)
	if err := checkUPN(upn); err != nil {
		return SeedUser{}, fmt.Errorf("seed: %s: userPrincipalName %q: %v", where, truncateForError(upn), err)
	}
	displayName = strings.TrimSpace(displayName)
	if displayName == "" {
		displayName = upn[:strings.LastIndexByte(upn, '@')]
	}
	if err := checkName(displayName); err != nil {
		return SeedUser{}, fmt.Errorf("seed: %s: displayName: %v", where, err)
	}
	switch strings.ToLower(strings.TrimSpace(userType)) {
	case "", "member":
		userType = "Member"
	case "guest":
		userType = "Guest"
	default:
		return SeedUser{}, fmt.Errorf("seed: %s: userType %q: unknown (want Member or Guest)", where, truncateForError(userType))
	}
	var gs []string
	seen := map[string]bool{}
	for _, g := range groups {
		g = strings.TrimSpace(g)
		if g == "" {
			continue
		}
		if err := checkName(g); err != nil {
			return SeedUser{}, fmt.Errorf("seed: %s: groups: %v", where, err)
		}
		if !seen[strings.ToLower(g)] {
			seen[strings.ToLower(g)] = true
			gs = append(gs, g)
		}
	}
	return SeedUser{UPN: upn, DisplayName: displayName, UserType: userType, Groups: gs}, nil
}

func truncateForError(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return s
}

func checkName(s string) error {
	if len(s) > maxNameLength {
		return fmt.Errorf("longer than %d bytes", maxNameLength)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return fmt.Errorf("%q contains a control or invalid character", truncateForError(s))
		}
	}
	return nil
}

// checkUPN validates a UPN with the same rules as keyprep's user lists
// (userlist.CheckUPN: Entra's constraints).
func checkUPN(upn string) error { return userlist.CheckUPN(upn) }

func isExternalGuestUPN(upn string) bool {
	return strings.Contains(strings.ToUpper(upn), "#EXT#")
}
