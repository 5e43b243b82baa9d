package entrasim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	gowebauthn "github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

// Challenge timeouts (docs/graph.md).
const (
	defaultChallengeMinutes = 5
	maxChallengeMinutes     = 43200
	maxDisplayName          = 30
	defaultModel            = "FIDO2 security key"
)

// Provisioning refusals (docs/graph.md, errors; the texts carry the words
// keyprep's client classifies by).
const (
	msgGuest       = "Passkey provisioning is not supported for guest users."
	msgDisabled    = "The FIDO2 authentication method is not enabled for this user."
	msgNotInScope  = "The user is not in the scope of the passkey (FIDO2) policy."
	msgSelfService = "Passkey provisioning requires self-service setup (isSelfServiceRegistrationAllowed) to be enabled in the FIDO2 policy."
	msgNoEntity    = "The request is missing a fido2AuthenticationMethod entity"
	msgExpired     = "The challenge has expired."
	msgReplayed    = "The challenge is no longer valid: it has already been used."
	msgUV          = "User verification is required."
	msgDuplicate   = "The credential is already registered."
)

func isGuest(u *userRec) bool {
	return strings.EqualFold(u.UserType, "Guest") || isExternalGuestUPN(u.UPN)
}

// provisioningCheck applies the policy gates of creationOptions and POST
// fido2Methods (docs/graph.md: availability, errors, passkey profiles) and
// returns the passkey profiles that apply to the user.
func (s *state) provisioningCheck(u *userRec) ([]passkeyProfile, *apiError) {
	if isGuest(u) {
		return nil, badRequest(msgGuest)
	}
	p := &s.Fido2Policy
	if p.State != "enabled" {
		return nil, badRequest(msgDisabled)
	}
	in, profiles := s.fido2Scope(u)
	if !in {
		return nil, badRequest(msgNotInScope)
	}
	if !p.IsSelfServiceRegistrationAllowed {
		return nil, badRequest(msgSelfService)
	}
	return profiles, nil
}

// challengeMinutes parses the creationOptions function parameters:
// v1.0 takes none (a fixed 5 minutes); beta takes
// challengeTimeoutInMinutes=N with N in 5..43200, or an OData alias
// "@name" bound by the query parameter "@name".
func challengeMinutes(c *call) (int, *apiError) {
	inner := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(c.param, "("), ")"))
	if inner == "" {
		return defaultChallengeMinutes, nil
	}
	if c.version == "v1.0" {
		return 0, badRequest("The challengeTimeoutInMinutes parameter is not supported on v1.0: the challenge timeout is fixed at %d minutes.", defaultChallengeMinutes)
	}
	name, val, ok := strings.Cut(inner, "=")
	if !ok || !eqf(strings.TrimSpace(name), "challengeTimeoutInMinutes") {
		return 0, badRequest("The function creationOptions has no parameter '%s'; it takes challengeTimeoutInMinutes.", truncateForError(inner))
	}
	val = strings.TrimSpace(val)
	if strings.HasPrefix(val, "@") {
		q := c.r.URL.Query()
		if !q.Has(val) {
			return 0, badRequest("The parameter alias '%s' is not bound to a value (send it as the query parameter %s=N).", truncateForError(val), truncateForError(val))
		}
		val = q.Get(val)
	}
	n, err := strconv.Atoi(val)
	if err != nil || n < defaultChallengeMinutes || n > maxChallengeMinutes {
		return 0, badRequest("challengeTimeoutInMinutes must be an integer between %d and %d.", defaultChallengeMinutes, maxChallengeMinutes)
	}
	return n, nil
}

// Creation options wire types; member order follows the
// captured fixture. OData is filled only with Quirks.ODataTypes.
type (
	rpWire struct {
		OData string `json:"@odata.type,omitempty"`
		ID    string `json:"id"`
		Name  string `json:"name"`
	}
	userWire struct {
		OData       string `json:"@odata.type,omitempty"`
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
		Name        string `json:"name"`
	}
	paramWire struct {
		OData string `json:"@odata.type,omitempty"`
		Type  string `json:"type"`
		Alg   int    `json:"alg"`
	}
	descWire struct {
		OData      string   `json:"@odata.type,omitempty"`
		ID         string   `json:"id"`
		Type       string   `json:"type"`
		Transports []string `json:"transports"`
	}
	selWire struct {
		OData                   string `json:"@odata.type,omitempty"`
		AuthenticatorAttachment string `json:"authenticatorAttachment"`
		RequireResidentKey      bool   `json:"requireResidentKey"`
		UserVerification        string `json:"userVerification"`
	}
	extWire struct {
		OData                             string `json:"@odata.type,omitempty"`
		HMACCreateSecret                  bool   `json:"hmacCreateSecret"`
		EnforceCredentialProtectionPolicy bool   `json:"enforceCredentialProtectionPolicy"`
		CredentialProtectionPolicy        string `json:"credentialProtectionPolicy"`
	}
	publicKeyWire struct {
		OData                  string      `json:"@odata.type,omitempty"`
		Challenge              string      `json:"challenge"`
		Timeout                int         `json:"timeout"`
		Attestation            string      `json:"attestation"`
		RP                     rpWire      `json:"rp"`
		User                   userWire    `json:"user"`
		PubKeyCredParams       []paramWire `json:"pubKeyCredParams"`
		ExcludeCredentials     []descWire  `json:"excludeCredentials"`
		AuthenticatorSelection selWire     `json:"authenticatorSelection"`
		Extensions             extWire     `json:"extensions"`
	}
	optionsWire struct {
		Context                  string         `json:"@odata.context,omitempty"`
		OData                    string         `json:"@odata.type,omitempty"`
		ChallengeTimeoutDateTime string         `json:"challengeTimeoutDateTime"`
		PublicKey                *publicKeyWire `json:"publicKey"`
	}
)

// encodeExcludeID encodes a credential id per Quirks.ExcludeEncoding.
func encodeExcludeID(id []byte, enc string) string {
	switch enc {
	case "std":
		return base64.StdEncoding.EncodeToString(id)
	case "digit":
		p := base64.URLEncoding.EncodeToString(id)
		trimmed := strings.TrimRight(p, "=")
		return trimmed + strconv.Itoa(len(p)-len(trimmed))
	}
	return base64.RawURLEncoding.EncodeToString(id)
}

// hCreationOptions: GET …/fido2Methods/creationOptions.
func (t *Tenant) hCreationOptions(c *call) (*reply, *apiError) {
	minutes, e := challengeMinutes(c)
	if e != nil {
		return nil, e
	}
	u, e := t.lookupUser(c)
	if e != nil {
		return nil, e
	}
	if _, e := t.st.provisioningCheck(u); e != nil {
		return nil, e
	}
	exp := c.now.Add(time.Duration(minutes) * time.Minute).Truncate(time.Second)
	ch, err := sealChallenge(t.st.ChallengeKey, t.header, u.ID, c.now, exp)
	if err != nil {
		return nil, &apiError{Status: 500, Code: "generalException", Message: "The challenge could not be created."}
	}
	q := t.quirks
	ot := func(name string) string {
		if q.ODataTypes {
			return "#microsoft.graph." + name
		}
		return ""
	}
	pk := &publicKeyWire{
		OData:     ot("webauthnPublicKeyCredentialCreationOptions"),
		Challenge: ch, Timeout: 60000, Attestation: "direct",
		RP: rpWire{ot("webauthnPublicKeyCredentialRpEntity"), RPID, "Microsoft"},
		User: userWire{ot("webauthnPublicKeyCredentialUserEntity"),
			base64.RawURLEncoding.EncodeToString(userHandle(t.st.HandleKey, u.ID)), u.DisplayName, u.UPN},
		PubKeyCredParams: []paramWire{{ot("webauthnPublicKeyCredentialParameters"), "public-key", -7},
			{ot("webauthnPublicKeyCredentialParameters"), "public-key", -257}},
		ExcludeCredentials:     []descWire{},
		AuthenticatorSelection: selWire{ot("webauthnAuthenticatorSelectionCriteria"), "cross-platform", true, "required"},
		Extensions:             extWire{ot("webauthnAuthenticationExtensionsClientInputs"), true, true, "userVerificationOptional"},
	}
	for _, m := range t.st.Fido2[u.ID] {
		pk.ExcludeCredentials = append(pk.ExcludeCredentials, descWire{ot("webauthnPublicKeyCredentialDescriptor"),
			encodeExcludeID(m.CredentialID, q.ExcludeEncoding), "public-key", []string{"usb"}})
	}
	inner := optionsWire{OData: ot("webauthnCredentialCreationOptions"),
		ChallengeTimeoutDateTime: exp.UTC().Format(graphTime), PublicKey: pk}
	ctx := odataContext(c.version, "microsoft.graph.webauthnCredentialCreationOptions")
	if q.WrapValue {
		return &reply{200, struct {
			Context string      `json:"@odata.context"`
			Value   optionsWire `json:"value"`
		}{ctx, inner}}, nil
	}
	inner.Context = ctx
	return &reply{200, inner}, nil
}

// registration is the parsed POST fido2Methods body.
type registration struct {
	DisplayName       string
	CredentialID      []byte
	ClientDataJSON    []byte
	AttestationObject []byte
}

// decodeB64 accepts base64url or standard base64, padded or not (Token2
// sent standard base64 successfully).
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// unknownMember reports the first member of obj outside allowed; @odata.*
// annotations are always allowed.
func unknownMember(obj map[string]json.RawMessage, allowed ...string) string {
	for k := range obj {
		if strings.HasPrefix(k, "@odata.") {
			continue
		}
		ok := false
		for _, a := range allowed {
			if k == a {
				ok = true
			}
		}
		if !ok {
			return k
		}
	}
	return ""
}

func propertyError(name, typ string) *apiError {
	return badRequest("Property '%s' does not exist on type 'microsoft.graph.%s'. Make sure to only use property names that are defined by the type.",
		truncateForError(name), typ)
}

func jsonString(raw json.RawMessage) (string, bool) {
	if raw == nil {
		return "", true
	}
	var s *string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	if s == nil {
		return "", true
	}
	return *s, true
}

// parseRegistration decodes the Graph body: displayName,
// publicKeyCredential {id, response {clientDataJSON, attestationObject},
// clientExtensionResults}. type, rawId, authenticatorAttachment and
// transports are refused like live (OneSpan; docs/graph.md).
func parseRegistration(body []byte) (*registration, *apiError) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, badRequest(msgNoEntity)
	}
	pkRaw, ok := top["publicKeyCredential"]
	if !ok {
		return nil, badRequest(msgNoEntity)
	}
	if k := unknownMember(top, "displayName", "publicKeyCredential"); k != "" {
		return nil, propertyError(k, "fido2AuthenticationMethod")
	}
	var reg registration
	var okS bool
	if reg.DisplayName, okS = jsonString(top["displayName"]); !okS {
		return nil, badRequest("displayName must be a string.")
	}
	var pk map[string]json.RawMessage
	if err := json.Unmarshal(pkRaw, &pk); err != nil || pk == nil {
		return nil, badRequest(msgNoEntity)
	}
	if k := unknownMember(pk, "id", "response", "clientExtensionResults"); k != "" {
		return nil, propertyError(k, "webauthnPublicKeyCredential")
	}
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(pk["response"], &resp); err != nil || resp == nil {
		return nil, badRequest("publicKeyCredential.response is required.")
	}
	if k := unknownMember(resp, "clientDataJSON", "attestationObject"); k != "" {
		return nil, propertyError(k, "webauthnAuthenticatorAttestationResponse")
	}
	if ext, ok := pk["clientExtensionResults"]; ok && !bytes.Equal(bytes.TrimSpace(ext), []byte("null")) {
		var m map[string]json.RawMessage
		if json.Unmarshal(ext, &m) != nil {
			return nil, badRequest("publicKeyCredential.clientExtensionResults must be an object.")
		}
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *[]byte
	}{{"publicKeyCredential.id", pk["id"], &reg.CredentialID},
		{"publicKeyCredential.response.clientDataJSON", resp["clientDataJSON"], &reg.ClientDataJSON},
		{"publicKeyCredential.response.attestationObject", resp["attestationObject"], &reg.AttestationObject}} {
		s, ok := jsonString(f.raw)
		if !ok || s == "" {
			return nil, badRequest("%s is required (base64url).", f.name)
		}
		b, err := decodeB64(s)
		if err != nil || len(b) == 0 {
			return nil, badRequest("%s is not valid base64url.", f.name)
		}
		*f.dst = b
	}
	if len(reg.CredentialID) > 1023 {
		return nil, badRequest("publicKeyCredential.id is longer than 1023 bytes.")
	}
	return &reg, nil
}

// clientData is CollectedClientData (WebAuthn L3 §5.8.1).
type clientData struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
	TopOrigin   string `json:"topOrigin"`
}

// waUser adapts a user to go-webauthn.
type waUser struct {
	handle []byte
	u      *userRec
}

func (w waUser) WebAuthnID() []byte                           { return w.handle }
func (w waUser) WebAuthnName() string                         { return w.u.UPN }
func (w waUser) WebAuthnDisplayName() string                  { return w.u.DisplayName }
func (w waUser) WebAuthnCredentials() []gowebauthn.Credential { return nil }

// fido2Wire is fido2AuthenticationMethod; publicKeyCredential is
// write-only and never returned.
type fido2Wire struct {
	Context                 string   `json:"@odata.context,omitempty"`
	ID                      string   `json:"id"`
	DisplayName             string   `json:"displayName"`
	CreatedDateTime         string   `json:"createdDateTime"`
	AAGUID                  string   `json:"aaGuid"`
	Model                   string   `json:"model"`
	AttestationCertificates []string `json:"attestationCertificates"`
	AttestationLevel        string   `json:"attestationLevel"`
	PasskeyType             string   `json:"passkeyType"`
}

func (m *fido2Rec) wire() fido2Wire {
	certs := m.AttestationCertificates
	if certs == nil {
		certs = []string{}
	}
	return fido2Wire{ID: m.ID, DisplayName: m.DisplayName, CreatedDateTime: m.CreatedDateTime.UTC().Format(time.RFC3339),
		AAGUID: m.AAGUID, Model: m.Model, AttestationCertificates: certs, AttestationLevel: m.AttestationLevel,
		PasskeyType: m.PasskeyType}
}

func fido2Context(c *call, u *userRec, entity bool) string {
	f := fmt.Sprintf("users('%s')/authentication/fido2Methods", u.ID)
	if entity {
		f += "/$entity"
	}
	return odataContext(c.version, f)
}

func attestationFailed(format string, args ...any) *apiError {
	return badRequest("Attestation verification failed: "+format, args...)
}

// hRegisterFido2: POST …/fido2Methods
// (https://learn.microsoft.com/graph/api/authentication-post-fido2methods).
// Checks, in order: body shape, displayName length, user, policy gates,
// clientDataJSON (checkClientData), authenticator data (parseAttestation),
// the full go-webauthn registration verification (verifyRegistration),
// attestation trust and enforcement, key restrictions and passkey profiles
// (checkPolicies), duplicates.
func (t *Tenant) hRegisterFido2(c *call) (*reply, *apiError) {
	reg, e := parseRegistration(c.body)
	if e != nil {
		return nil, e
	}
	if utf8.RuneCountInString(reg.DisplayName) > maxDisplayName {
		return nil, badRequest("displayName must be 30 characters or fewer.")
	}
	u, e := t.lookupUser(c)
	if e != nil {
		return nil, e
	}
	profiles, e := t.st.provisioningCheck(u)
	if e != nil {
		return nil, e
	}
	challenge, claims, e := t.checkClientData(reg, u, c.now)
	if e != nil {
		return nil, e
	}
	pcc, e := parseAttestation(reg)
	if e != nil {
		return nil, e
	}
	cred, e := t.verifyRegistration(u, challenge, pcc)
	if e != nil {
		return nil, e
	}
	ao := &pcc.Response.AttestationObject
	aaguid, _ := uuid.FromBytes(ao.AuthData.AttData.AAGUID)
	attested, certs := t.attestationTrust(ao, aaguid)
	be := ao.AuthData.Flags.HasBackupEligible()
	if e := t.checkPolicies(profiles, ao.Format, attested, aaguid, be); e != nil {
		return nil, e
	}
	if t.st.credentialOwner(reg.CredentialID) != nil {
		return nil, &apiError{Status: 409, Code: "conflict", Message: msgDuplicate}
	}

	m := t.newFido2Rec(reg.DisplayName, cred, aaguid, attested, certs, be, c.now)
	t.st.Fido2[u.ID] = append(t.st.Fido2[u.ID], m)
	t.st.UsedNonces[claims.Nonce] = time.Unix(claims.Exp, 0)
	c.dirty = true
	w := m.wire()
	w.Context = fido2Context(c, u, true)
	return &reply{201, w}, nil
}

// checkClientData checks the registration's CollectedClientData (WebAuthn
// L3 §5.8.1): type webauthn.create; a challenge this tenant issued, for
// this user, unexpired at now and unused; keyprep's origin, not cross-origin.
// It prunes expired nonces on the way and returns the challenge and its
// claims.
func (t *Tenant) checkClientData(reg *registration, u *userRec, now time.Time) (string, *challengeClaims, *apiError) {
	var cd clientData
	if err := json.Unmarshal(reg.ClientDataJSON, &cd); err != nil {
		return "", nil, badRequest("clientDataJSON is not valid JSON.")
	}
	if cd.Type != "webauthn.create" {
		return "", nil, badRequest("clientDataJSON.type must be webauthn.create.")
	}
	claims, err := openChallenge(t.st.ChallengeKey, cd.Challenge)
	if err != nil {
		return "", nil, badRequest("The challenge is not valid: it was not issued by this tenant.")
	}
	if !strings.EqualFold(claims.OID, u.ID) {
		return "", nil, badRequest("The challenge was issued for a different user.")
	}
	if now.After(time.Unix(claims.Exp, 0)) {
		return "", nil, badRequest(msgExpired)
	}
	t.st.pruneNonces(now)
	if _, used := t.st.UsedNonces[claims.Nonce]; used {
		return "", nil, badRequest(msgReplayed)
	}
	if cd.Origin != Origin {
		return "", nil, badRequest("The origin '%s' in clientDataJSON is not allowed: expected %s.", truncateForError(cd.Origin), Origin)
	}
	if cd.CrossOrigin || cd.TopOrigin != "" {
		return "", nil, badRequest("Cross-origin clientDataJSON (crossOrigin true or topOrigin) is not accepted.")
	}
	return cd.Challenge, claims, nil
}

// parseAttestation decodes the credential as go-webauthn's parsed creation
// response and checks its authenticator data (WebAuthn L3 §6.1): rpIdHash,
// user present, user verified, attested credential data whose id is the
// request's, attestation format packed or none.
func parseAttestation(reg *registration) (*protocol.ParsedCredentialCreationData, *apiError) {
	b64 := base64.RawURLEncoding
	std, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(reg.CredentialID), "rawId": b64.EncodeToString(reg.CredentialID), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64.EncodeToString(reg.ClientDataJSON),
			"attestationObject": b64.EncodeToString(reg.AttestationObject)},
		"clientExtensionResults": map[string]any{},
	})
	pcc, err := protocol.ParseCredentialCreationResponseBytes(std)
	if err != nil {
		return nil, badRequest("The credential response could not be decoded: %s.", protoDetails(err))
	}
	ao := &pcc.Response.AttestationObject
	ad := &ao.AuthData
	rpHash := sha256.Sum256([]byte(RPID))
	if !bytes.Equal(ad.RPIDHash, rpHash[:]) {
		return nil, badRequest("The rpIdHash in the authenticator data does not match the relying party %s.", RPID)
	}
	if !ad.Flags.HasUserPresent() {
		return nil, badRequest("User presence is required.")
	}
	if !ad.Flags.HasUserVerified() {
		return nil, badRequest(msgUV)
	}
	if !ad.Flags.HasAttestedCredentialData() || len(ad.AttData.CredentialID) == 0 {
		return nil, badRequest("The authenticator data carries no attested credential data.")
	}
	if !bytes.Equal(ad.AttData.CredentialID, reg.CredentialID) {
		return nil, badRequest("publicKeyCredential.id does not match the credential id in the authenticator data.")
	}
	if ao.Format != "packed" && ao.Format != "none" {
		return nil, attestationFailed("the attestation format '%s' is not supported (only packed and none).", truncateForError(ao.Format))
	}
	return pcc, nil
}

// verifyRegistration runs go-webauthn's full registration ceremony check
// (WebAuthn L3 §7.1) for u against challenge; attestation failures are
// answered as such, anything else as a bad request.
func (t *Tenant) verifyRegistration(u *userRec, challenge string, pcc *protocol.ParsedCredentialCreationData) (*gowebauthn.Credential, *apiError) {
	handle := userHandle(t.st.HandleKey, u.ID)
	session := gowebauthn.SessionData{
		Challenge: challenge, RelyingPartyID: RPID, UserID: handle,
		UserVerification: protocol.VerificationRequired,
		CredParams: []protocol.CredentialParameter{
			{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256},
			{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgRS256}},
	}
	cred, err := t.wa.CreateCredential(waUser{handle, u}, session, pcc)
	if err != nil {
		var pe *protocol.Error
		if errors.As(err, &pe) && (pe.Type == protocol.ErrAttestation.Type || pe.Type == protocol.ErrInvalidAttestation.Type ||
			pe.Type == protocol.ErrAttestationFormat.Type || pe.Type == protocol.ErrAttestationCertificate.Type) {
			return nil, attestationFailed("%s.", protoDetails(err))
		}
		return nil, badRequest("The credential could not be verified: %s.", protoDetails(err))
	}
	return cred, nil
}

// checkPolicies applies the key rules. In a tenant with passkey profiles
// the user's profiles decide: the credential must satisfy at least one of
// them, else the first refusal is the answer (it names the profile). The
// policy-wide isAttestationEnforced and keyRestrictions (deprecated) apply
// only in a tenant without profiles: migrating to profiles moved them into
// the default profile (docs/graph.md §6.1).
func (t *Tenant) checkPolicies(profiles []passkeyProfile, format string, attested bool, aaguid uuid.UUID, be bool) *apiError {
	if len(t.st.Fido2Policy.PasskeyProfiles) == 0 {
		return checkCredential(profilePolicy{enforce: t.st.Fido2Policy.IsAttestationEnforced, kr: t.st.Fido2Policy.KeyRestrictions},
			format, attested, aaguid, be)
	}
	var firstErr *apiError
	for _, pp := range profiles {
		e := checkCredential(profilePolicy{enforce: pp.AttestationEnforcement == "registrationOnly", kr: pp.KeyRestrictions,
			profile: &pp}, format, attested, aaguid, be)
		if e == nil {
			return nil
		}
		if firstErr == nil {
			firstErr = e
		}
	}
	if firstErr == nil { // a tenant with profiles always has one for the user
		return badRequest(msgNotInScope)
	}
	return firstErr
}

// newFido2Rec is the stored method for a verified credential: an empty
// displayName becomes the model's name from the metadata (truncated to
// maxDisplayName), the attestation level and passkey type follow the
// attestation and the backup-eligible flag.
func (t *Tenant) newFido2Rec(displayName string, cred *gowebauthn.Credential, aaguid uuid.UUID, attested bool, certs []string, be bool, now time.Time) *fido2Rec {
	model := defaultModel
	if entry, err := t.mds.GetEntry(context.Background(), aaguid); err == nil && entry != nil && entry.MetadataStatement.Description != "" {
		model = entry.MetadataStatement.Description
	}
	name := displayName
	if strings.TrimSpace(name) == "" {
		name = model
		if utf8.RuneCountInString(name) > maxDisplayName {
			name = string([]rune(name)[:maxDisplayName])
		}
	}
	level := "notAttested"
	if attested {
		level = "attested"
	}
	ptype := "deviceBound"
	if be {
		ptype = "synced"
	}
	return &fido2Rec{ID: uuid.NewString(), DisplayName: name, AAGUID: aaguid.String(), Model: model,
		AttestationLevel: level, AttestationCertificates: certs, CreatedDateTime: now.UTC().Truncate(time.Second),
		PasskeyType: ptype, CredentialID: cred.ID, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount}
}

var reAAGUIDWord = regexp.MustCompile(`(?i)aa ?guid`)

func protoDetails(err error) string {
	var pe *protocol.Error
	s := err.Error()
	if errors.As(err, &pe) {
		s = pe.Details
		if pe.DevInfo != "" && len(pe.DevInfo) < 200 {
			s += " (" + pe.DevInfo + ")"
		}
	}
	s = strings.TrimRight(strings.Join(strings.Fields(s), " "), ".")
	// keyprep's client classifies messages by words (docs/graph.md):
	// keep a verifier detail from reading like a key-restriction refusal.
	s = reAAGUIDWord.ReplaceAllString(s, "model GUID")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// attestationTrust reports whether a packed attestation with an x5c chain
// leads to a trust anchor of the tenant's metadata (full basic
// attestation), and the SHA-1 thumbprints of the x5c certificates.
func (t *Tenant) attestationTrust(ao *protocol.AttestationObject, aaguid uuid.UUID) (bool, []string) {
	x5c, _ := ao.AttStatement["x5c"].([]any)
	if ao.Format != "packed" || len(x5c) == 0 {
		return false, []string{}
	}
	certs := []string{}
	for _, c := range x5c {
		if der, ok := c.([]byte); ok {
			if _, err := x509.ParseCertificate(der); err == nil {
				certs = append(certs, thumbprintHex(der))
			}
		}
	}
	entry, err := t.mds.GetEntry(context.Background(), aaguid)
	if err != nil || entry == nil {
		return false, certs
	}
	if e := protocol.ValidateMetadataWithAuthenticatorData(context.Background(), t.mds, aaguid, ao.Type, ao.Format, x5c, &ao.AuthData); e != nil {
		return false, certs
	}
	return ao.Type == string(metadata.BasicFull) || ao.Type == string(metadata.AttCA), certs
}

// profilePolicy is one set of registration rules: the policy's legacy
// isAttestationEnforced + keyRestrictions, or one passkey profile.
type profilePolicy struct {
	enforce bool
	kr      keyRestrictions
	profile *passkeyProfile
}

// who names the rules in a refusal: the passkey profile, or the tenant
// for the policy-wide settings.
func (p profilePolicy) who() string {
	if p.profile != nil {
		return fmt.Sprintf("the passkey profile '%s'", p.profile.Name)
	}
	return "the tenant"
}

func checkCredential(p profilePolicy, format string, attested bool, aaguid uuid.UUID, backupEligible bool) *apiError {
	if p.enforce && !attested {
		if format == "none" {
			return attestationFailed("the authenticator returned no attestation (fmt none) and %s enforces attestation.", p.who())
		}
		return attestationFailed("the attestation statement does not chain to a trusted root in the tenant's metadata, and %s enforces attestation.", p.who())
	}
	if p.kr.IsEnforced {
		listed := false
		for _, a := range p.kr.AAGUIDs {
			if u, err := uuid.Parse(a); err == nil && u == aaguid {
				listed = true
			}
		}
		if listed == (p.kr.EnforcementType == "block") {
			if p.profile != nil {
				return badRequest("The authenticator model (AAGUID %s) is not allowed by the key restrictions of the passkey profile '%s'.", aaguid, p.profile.Name)
			}
			return badRequest("The authenticator model (AAGUID %s) is not allowed by the tenant's key restrictions.", aaguid)
		}
	}
	if p.profile != nil {
		types := strings.Split(p.profile.PasskeyTypes, ",")
		has := func(want string) bool {
			for _, t := range types {
				if strings.TrimSpace(t) == want {
					return true
				}
			}
			return false
		}
		if backupEligible && !has("synced") {
			return badRequest("The passkey profile '%s' allows only device-bound passkeys; this credential is backup eligible (synced).", p.profile.Name)
		}
		if !backupEligible && !has("deviceBound") {
			return badRequest("The passkey profile '%s' allows only synced passkeys; this credential is device-bound.", p.profile.Name)
		}
	}
	return nil
}

// hListFido2: GET …/fido2Methods.
func (t *Tenant) hListFido2(c *call) (*reply, *apiError) {
	u, e := t.lookupUser(c)
	if e != nil {
		return nil, e
	}
	out := []fido2Wire{}
	for _, m := range t.st.Fido2[u.ID] {
		out = append(out, m.wire())
	}
	return &reply{200, struct {
		Context string      `json:"@odata.context"`
		Value   []fido2Wire `json:"value"`
	}{fido2Context(c, u, false), out}}, nil
}

func (t *Tenant) findFido2(c *call) (*userRec, int, *apiError) {
	u, e := t.lookupUser(c)
	if e != nil {
		return nil, 0, e
	}
	for i, m := range t.st.Fido2[u.ID] {
		if strings.EqualFold(m.ID, c.methodID) {
			return u, i, nil
		}
	}
	// Not mentioning "user": keyprep tells a missing method from a
	// missing user by that word (docs/graph.md).
	return nil, 0, &apiError{Status: 404, Code: "itemNotFound",
		Message: fmt.Sprintf("The FIDO2 authentication method '%s' was not found.", truncateForError(c.methodID))}
}

// hGetFido2: GET …/fido2Methods/{id}.
func (t *Tenant) hGetFido2(c *call) (*reply, *apiError) {
	u, i, e := t.findFido2(c)
	if e != nil {
		return nil, e
	}
	w := t.st.Fido2[u.ID][i].wire()
	w.Context = fido2Context(c, u, true)
	return &reply{200, w}, nil
}

// hDeleteFido2: DELETE …/fido2Methods/{id} → 204.
func (t *Tenant) hDeleteFido2(c *call) (*reply, *apiError) {
	u, i, e := t.findFido2(c)
	if e != nil {
		return nil, e
	}
	ms := t.st.Fido2[u.ID]
	t.st.Fido2[u.ID] = append(ms[:i:i], ms[i+1:]...)
	if len(t.st.Fido2[u.ID]) == 0 {
		delete(t.st.Fido2, u.ID)
	}
	c.dirty = true
	return &reply{status: 204}, nil
}
