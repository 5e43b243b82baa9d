package entrasim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/fileguard"
)

const stateVersion = 1

// state is everything the tenant persists (Options.StatePath). It holds
// no TAP codes (they exist only in the POST response, docs/graph.md)
// but does hold the tenant's challenge key, hence mode 0600.
type state struct {
	Version int `json:"version"`
	// ChallengeKey is the AES-256-GCM key sealing creationOptions
	// challenges; HandleKey derives the opaque user handles.
	ChallengeKey []byte `json:"challengeKey"`
	HandleKey    []byte `json:"handleKey"`
	// CertDER is the tenant's self-signed certificate carried in the
	// challenge header's x5c (the live challenge is a JWE with an x5c, docs/graph.md).
	CertDER []byte `json:"certDER"`

	Users  []*userRec  `json:"users"`
	Groups []*groupRec `json:"groups"`

	Fido2Policy fido2Policy `json:"fido2Policy"`
	TAPPolicy   tapPolicy   `json:"tapPolicy"`

	// Fido2 and TAPs are keyed by user object id.
	Fido2 map[string][]*fido2Rec `json:"fido2Methods"`
	TAPs  map[string]*tapRec     `json:"taps"`
	// UsedNonces maps the nonce of every consumed challenge to its expiry
	// (single use); pruned once expired.
	UsedNonces map[string]time.Time `json:"usedNonces"`
}

type userRec struct {
	ID          string   `json:"id"`
	UPN         string   `json:"userPrincipalName"`
	DisplayName string   `json:"displayName"`
	UserType    string   `json:"userType"`
	Mail        string   `json:"mail"`
	Groups      []string `json:"groups"` // group object ids
}

type groupRec struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

type fido2Rec struct {
	ID                      string    `json:"id"`
	DisplayName             string    `json:"displayName"`
	AAGUID                  string    `json:"aaGuid"`
	Model                   string    `json:"model"`
	AttestationLevel        string    `json:"attestationLevel"`
	AttestationCertificates []string  `json:"attestationCertificates"`
	CreatedDateTime         time.Time `json:"createdDateTime"`
	PasskeyType             string    `json:"passkeyType"`
	CredentialID            []byte    `json:"credentialId"`
	PublicKey               []byte    `json:"publicKey"` // COSE_Key
	SignCount               uint32    `json:"signCount"`
}

type tapRec struct {
	ID                string    `json:"id"`
	CreatedDateTime   time.Time `json:"createdDateTime"`
	StartDateTime     time.Time `json:"startDateTime"`
	LifetimeInMinutes int       `json:"lifetimeInMinutes"`
	IsUsableOnce      bool      `json:"isUsableOnce"`
	Used              bool      `json:"used"`
	// CodeHash is the SHA-256 of the pass (hex), so that a rehearsal
	// (keyprep sim signin --tap) can check the pass typed; never the pass.
	CodeHash string `json:"codeHash,omitempty"`
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

// newState builds a fresh tenant from a seed.
func newState(seed []SeedUser, now time.Time) (*state, error) {
	s := &state{
		Version:      stateVersion,
		ChallengeKey: randomBytes(32),
		HandleKey:    randomBytes(32),
		Fido2:        map[string][]*fido2Rec{},
		TAPs:         map[string]*tapRec{},
		UsedNonces:   map[string]time.Time{},
	}
	cert, err := selfSignedCert(now)
	if err != nil {
		return nil, err
	}
	s.CertDER = cert
	groups := map[string]*groupRec{}
	seen := map[string]bool{}
	for i, su := range seed {
		if err := checkUPN(su.UPN); err != nil {
			return nil, fmt.Errorf("entrasim: seed user %d %q: %v", i+1, su.UPN, err)
		}
		if seen[strings.ToLower(su.UPN)] {
			return nil, fmt.Errorf("entrasim: seed user %d: duplicate UPN %q", i+1, su.UPN)
		}
		seen[strings.ToLower(su.UPN)] = true
		u := &userRec{ID: UserObjectID(su.UPN), UPN: su.UPN, DisplayName: su.DisplayName, UserType: su.UserType, Groups: []string{}}
		if u.UserType == "" {
			u.UserType = "Member"
		}
		if u.DisplayName == "" {
			u.DisplayName = su.UPN[:strings.LastIndexByte(su.UPN, '@')]
		}
		u.Mail = su.UPN
		if isExternalGuestUPN(su.UPN) {
			// kim_fabrikam.com#EXT#@contoso.test → kim@fabrikam.com
			local := su.UPN[:strings.Index(strings.ToUpper(su.UPN), "#EXT#")]
			if i := strings.LastIndexByte(local, '_'); i > 0 {
				u.Mail = local[:i] + "@" + local[i+1:]
			}
		}
		for _, g := range su.Groups {
			k := strings.ToLower(g)
			gr := groups[k]
			if gr == nil {
				gr = &groupRec{ID: GroupObjectID(g), DisplayName: g}
				groups[k] = gr
				s.Groups = append(s.Groups, gr)
			}
			if !contains(u.Groups, gr.ID) {
				u.Groups = append(u.Groups, gr.ID)
			}
		}
		s.Users = append(s.Users, u)
	}
	s.Fido2Policy = defaultFido2Policy(s.Groups)
	s.TAPPolicy = defaultTAPPolicy()
	return s, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func selfSignedCert(now time.Time) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(randomBytes(16)),
		Subject: pkix.Name{CommonName: "entrasim challenge encryption", Organization: []string{"keyprep emulated tenant"},
			OrganizationalUnit: []string{Domain}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		DNSNames:              []string{"login.microsoft.com.entrasim.invalid"},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
}

func (s *state) check() error {
	if s.Version != stateVersion {
		return fmt.Errorf("unsupported state version %d (want %d)", s.Version, stateVersion)
	}
	if len(s.ChallengeKey) != 32 || len(s.HandleKey) != 32 {
		return errors.New("missing or malformed tenant keys")
	}
	if _, err := x509.ParseCertificate(s.CertDER); err != nil {
		return fmt.Errorf("tenant certificate: %v", err)
	}
	ids := map[string]bool{}
	for _, u := range s.Users {
		if u == nil || u.ID == "" || checkUPN(u.UPN) != nil || ids[u.ID] {
			return errors.New("malformed or duplicate user record")
		}
		ids[u.ID] = true
	}
	for _, g := range s.Groups {
		if g == nil || g.ID == "" {
			return errors.New("malformed group record")
		}
	}
	if s.Fido2 == nil {
		s.Fido2 = map[string][]*fido2Rec{}
	}
	if s.TAPs == nil {
		s.TAPs = map[string]*tapRec{}
	}
	if s.UsedNonces == nil {
		s.UsedNonces = map[string]time.Time{}
	}
	for uid, ms := range s.Fido2 {
		for _, m := range ms {
			if m == nil || len(m.CredentialID) == 0 {
				return fmt.Errorf("malformed fido2 method of user %s", uid)
			}
		}
	}
	for uid, tp := range s.TAPs {
		if tp == nil {
			delete(s.TAPs, uid)
		}
	}
	s.Fido2Policy.normalize()
	s.TAPPolicy.normalize()
	return nil
}

func loadState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("entrasim: state file %s: %v", path, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("entrasim: state file %s: %v", path, err)
	}
	return &s, nil
}

// save writes the state atomically: a temporary file in the same
// directory (mode 0600, on Windows a private DACL: fileguard.CreateTemp),
// fsync, rename.
func (s *state) save(path string) error {
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := fileguard.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// userByKey finds a user by object id or UPN (case-insensitive), as the
// {id} path segment allows (docs/graph.md).
func (s *state) userByKey(key string) *userRec {
	for _, u := range s.Users {
		if strings.EqualFold(u.ID, key) || strings.EqualFold(u.UPN, key) {
			return u
		}
	}
	return nil
}

func (s *state) userByID(id string) *userRec {
	for _, u := range s.Users {
		if strings.EqualFold(u.ID, id) {
			return u
		}
	}
	return nil
}

func (s *state) groupByID(id string) *groupRec {
	for _, g := range s.Groups {
		if strings.EqualFold(g.ID, id) {
			return g
		}
	}
	return nil
}

// matches reports whether a policy target id covers the user.
func (u *userRec) matches(targetID string) bool {
	return targetID == allUsers || strings.EqualFold(targetID, u.ID) || contains(u.Groups, targetID)
}

// fido2Scope reports whether the FIDO2 policy targets the user (enabled,
// included, not excluded) and the passkey profiles that apply: the union of
// allowedPasskeyProfiles of the matching include targets, or the default
// profile when they name none.
func (s *state) fido2Scope(u *userRec) (inScope bool, profiles []passkeyProfile) {
	p := &s.Fido2Policy
	if !s.inTargets(u, fido2TargetIDs(p.IncludeTargets), p.ExcludeTargets) {
		return false, nil
	}
	ids := map[string]bool{}
	for _, t := range p.IncludeTargets {
		if u.matches(t.ID) {
			for _, id := range t.AllowedPasskeyProfiles {
				ids[strings.ToLower(id)] = true
			}
		}
	}
	if len(ids) == 0 {
		ids[strings.ToLower(p.DefaultPasskeyProfile)] = true
	}
	for _, pp := range p.PasskeyProfiles {
		if ids[strings.ToLower(pp.ID)] {
			profiles = append(profiles, pp)
		}
	}
	return true, profiles
}

func fido2TargetIDs(ts []passkeyTarget) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}

func (s *state) inTargets(u *userRec, include []string, exclude []excludeTarget) bool {
	in := false
	for _, id := range include {
		if u.matches(id) {
			in = true
		}
	}
	for _, t := range exclude {
		if u.matches(t.ID) {
			in = false
		}
	}
	return in
}

// tapScope reports whether the TAP policy lets the user sign in with a
// pass (a pass can be created for anyone, but only users in scope can
// use it).
func (s *state) tapScope(u *userRec) bool {
	p := &s.TAPPolicy
	if p.State != "enabled" {
		return false
	}
	var ids []string
	for _, t := range p.IncludeTargets {
		ids = append(ids, t.ID)
	}
	return s.inTargets(u, ids, p.ExcludeTargets)
}

func (s *state) pruneNonces(now time.Time) {
	for n, exp := range s.UsedNonces {
		if now.After(exp) {
			delete(s.UsedNonces, n)
		}
	}
}

func (s *state) credentialOwner(credID []byte) *fido2Rec {
	for _, ms := range s.Fido2 {
		for _, m := range ms {
			if string(m.CredentialID) == string(credID) {
				return m
			}
		}
	}
	return nil
}

func sortedGroupNames(s *state, u *userRec) []string {
	var names []string
	for _, id := range u.Groups {
		if g := s.groupByID(id); g != nil {
			names = append(names, g.DisplayName)
		}
	}
	sort.Strings(names)
	return names
}
