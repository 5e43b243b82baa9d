package webauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// COSE algorithm identifiers (RFC 9053, IANA COSE registry) that keyprep
// handles.
const (
	AlgES256 = -7
	AlgEdDSA = -8
	AlgRS256 = -257
)

// CreationOptions is the decoded Graph webauthnCredentialCreationOptions
// (docs/graph.md §2.2, §2.3), i.e. WebAuthn L3 §5.4
// PublicKeyCredentialCreationOptions plus Graph's challenge expiry.
type CreationOptions struct {
	// ChallengeExpiry is challengeTimeoutDateTime; zero when absent.
	ChallengeExpiry time.Time

	RP   RPEntity
	User UserEntity

	// Challenge is the decoded challenge (an opaque JWE of several KB in
	// practice, docs/graph.md §2.3; never assume 32 bytes).
	Challenge []byte
	// ChallengeString is the challenge exactly as Graph sent it.
	ChallengeString string

	PubKeyCredParams []CredentialParameter
	// Timeout is the ceremony timeout; zero when Graph sent 0, null or
	// nothing (Microsoft's own sample substitutes 120 s, docs/graph.md §2.3).
	Timeout                time.Duration
	ExcludeCredentials     []CredentialDescriptor
	AuthenticatorSelection AuthenticatorSelection
	// Attestation is the attestation conveyance preference ("direct" in
	// every capture); empty when absent, which WebAuthn reads as "none".
	Attestation string
	Extensions  ExtensionInputs
}

// RPEntity is WebAuthn L3 §5.4.2 PublicKeyCredentialRpEntity.
type RPEntity struct {
	ID   string
	Name string
}

// UserEntity is WebAuthn L3 §5.4.3 PublicKeyCredentialUserEntity. ID holds
// the decoded user handle (51 bytes starting "OF:" in captures, docs/graph.md §2.3).
type UserEntity struct {
	ID          []byte
	Name        string
	DisplayName string
}

// CredentialParameter is WebAuthn L3 §5.3 PublicKeyCredentialParameters.
type CredentialParameter struct {
	Type string
	Alg  int
}

// CredentialDescriptor is WebAuthn L3 §5.8.3
// PublicKeyCredentialDescriptor. AltID is set when the id was ambiguous
// between plain base64url and the digit-suffix form (docs/graph.md
// §2.4); it holds the digit-suffix reading.
type CredentialDescriptor struct {
	Type       string
	ID         []byte
	AltID      []byte
	Transports []string
}

// AuthenticatorSelection is WebAuthn L3 §5.4.4
// AuthenticatorSelectionCriteria as Graph sends it.
type AuthenticatorSelection struct {
	AuthenticatorAttachment string
	// ResidentKey is the L2+ member; Graph documents only the L1
	// requireResidentKey (docs/graph.md §2.3) but both are read.
	ResidentKey        string
	RequireResidentKey bool
	// UserVerification is "required", "preferred" or "discouraged";
	// "preferred" when absent (WebAuthn default).
	UserVerification string
}

// ExtensionInputs are the client extension inputs Graph may send
// (docs/graph.md §2.3; WebAuthn L3 §9, CTAP 2.1 §12).
type ExtensionInputs struct {
	// CredentialProtectionPolicy is the CTAP 2.1 §12.1 credProtect policy
	// name ("userVerificationOptional" in captures); empty when absent.
	CredentialProtectionPolicy        string
	EnforceCredentialProtectionPolicy bool
	HMACCreateSecret                  bool
	CredProps                         bool
	MinPINLength                      bool
	// Other lists the names of extension inputs keyprep does not act on
	// (for example credBlob, largeBlob, prf), sorted.
	Other []string
}

// maxOptionsSize bounds the body ParseCreationOptions accepts; real bodies
// are ~8 KB, dominated by the challenge.
const maxOptionsSize = 1 << 20

// ParseCreationOptions decodes a Graph creationOptions response body
// (docs/graph.md §2). It accepts the body with a "value" wrapper, with
// the envelope members at the top level, or the bare publicKey object
// (docs/graph.md §2.2); ignores "@odata.*" annotations; decodes binary members tolerantly
// (§2.4). Errors are *FieldError naming the member at fault.
func ParseCreationOptions(raw []byte) (*CreationOptions, error) {
	if len(raw) > maxOptionsSize {
		return nil, fieldErr("(body)", "%d bytes exceeds the %d-byte limit", len(raw), maxOptionsSize)
	}
	top, err := objectOf("(body)", raw)
	if err != nil {
		return nil, err
	}
	envPath := ""
	if v, ok := top["value"]; ok && !isNull(v) {
		if top, err = objectOf("value", v); err != nil {
			return nil, err
		}
		envPath = "value."
	}
	opts := &CreationOptions{}
	pk := top
	pkPath := envPath
	if v, ok := top["publicKey"]; ok {
		pkPath = envPath + "publicKey."
		if pk, err = objectOf(strings.TrimSuffix(pkPath, "."), v); err != nil {
			return nil, err
		}
	} else if _, ok := top["challenge"]; !ok {
		return nil, fieldErr(envPath+"publicKey", "missing")
	}
	if v, ok := top["challengeTimeoutDateTime"]; ok && !isNull(v) {
		if opts.ChallengeExpiry, err = parseDateTime(envPath+"challengeTimeoutDateTime", v); err != nil {
			return nil, err
		}
	}
	if err := opts.parsePublicKey(pkPath, pk); err != nil {
		return nil, err
	}
	return opts, nil
}

func (o *CreationOptions) parsePublicKey(p string, pk map[string]json.RawMessage) error {
	// rp
	rp, err := requiredObject(p+"rp", pk["rp"])
	if err != nil {
		return err
	}
	if o.RP.ID, err = requiredString(p+"rp.id", rp["id"]); err != nil {
		return err
	}
	if o.RP.Name, err = optionalString(p+"rp.name", rp["name"]); err != nil {
		return err
	}

	// user
	user, err := requiredObject(p+"user", pk["user"])
	if err != nil {
		return err
	}
	uid, err := requiredString(p+"user.id", user["id"])
	if err != nil {
		return err
	}
	if o.User.ID, _, err = decodeTolerant(uid, false); err != nil {
		return &FieldError{Field: p + "user.id", Err: err}
	}
	if len(o.User.ID) > 64 { // WebAuthn L3 §5.4.3: at most 64 bytes
		return fieldErr(p+"user.id", "%d bytes, WebAuthn allows at most 64", len(o.User.ID))
	}
	if o.User.Name, err = requiredString(p+"user.name", user["name"]); err != nil {
		return err
	}
	if o.User.DisplayName, err = optionalString(p+"user.displayName", user["displayName"]); err != nil {
		return err
	}

	// challenge
	if o.ChallengeString, err = requiredString(p+"challenge", pk["challenge"]); err != nil {
		return err
	}
	if o.Challenge, _, err = decodeTolerant(o.ChallengeString, false); err != nil {
		return &FieldError{Field: p + "challenge", Err: err}
	}
	if len(o.Challenge) < 16 { // WebAuthn L3 §13.4.3: at least 16 bytes
		return fieldErr(p+"challenge", "%d bytes, WebAuthn requires at least 16", len(o.Challenge))
	}

	// pubKeyCredParams
	if v, ok := pk["pubKeyCredParams"]; ok && !isNull(v) {
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return fieldErr(p+"pubKeyCredParams", "not an array")
		}
		for i, it := range items {
			f := fmt.Sprintf("%spubKeyCredParams[%d]", p, i)
			obj, err := objectOf(f, it)
			if err != nil {
				return err
			}
			var cp CredentialParameter
			if cp.Type, err = optionalString(f+".type", obj["type"]); err != nil {
				return err
			}
			alg, ok, err := optionalInt(f+".alg", obj["alg"])
			if err != nil {
				return err
			}
			if !ok {
				return fieldErr(f+".alg", "missing")
			}
			cp.Alg = int(alg)
			o.PubKeyCredParams = append(o.PubKeyCredParams, cp)
		}
	}

	// timeout
	if t, ok, err := optionalInt(p+"timeout", pk["timeout"]); err != nil {
		return err
	} else if ok {
		if t < 0 {
			return fieldErr(p+"timeout", "negative")
		}
		o.Timeout = time.Duration(t) * time.Millisecond
	}

	// excludeCredentials
	if v, ok := pk["excludeCredentials"]; ok && !isNull(v) {
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return fieldErr(p+"excludeCredentials", "not an array")
		}
		for i, it := range items {
			f := fmt.Sprintf("%sexcludeCredentials[%d]", p, i)
			obj, err := objectOf(f, it)
			if err != nil {
				return err
			}
			var d CredentialDescriptor
			if d.Type, err = optionalString(f+".type", obj["type"]); err != nil {
				return err
			}
			id, err := requiredString(f+".id", obj["id"])
			if err != nil {
				return err
			}
			if d.ID, d.AltID, err = decodeTolerant(id, true); err != nil {
				return &FieldError{Field: f + ".id", Err: err}
			}
			if tv, ok := obj["transports"]; ok && !isNull(tv) {
				if err := json.Unmarshal(tv, &d.Transports); err != nil {
					return fieldErr(f+".transports", "not an array of strings")
				}
			}
			o.ExcludeCredentials = append(o.ExcludeCredentials, d)
		}
	}

	// authenticatorSelection
	o.AuthenticatorSelection.UserVerification = "preferred"
	if v, ok := pk["authenticatorSelection"]; ok && !isNull(v) {
		f := p + "authenticatorSelection"
		as, err := objectOf(f, v)
		if err != nil {
			return err
		}
		sel := &o.AuthenticatorSelection
		if sel.AuthenticatorAttachment, err = optionalString(f+".authenticatorAttachment", as["authenticatorAttachment"]); err != nil {
			return err
		}
		if sel.ResidentKey, err = optionalString(f+".residentKey", as["residentKey"]); err != nil {
			return err
		}
		if sel.RequireResidentKey, err = optionalBool(f+".requireResidentKey", as["requireResidentKey"]); err != nil {
			return err
		}
		uv, err := optionalString(f+".userVerification", as["userVerification"])
		if err != nil {
			return err
		}
		if uv != "" {
			sel.UserVerification = uv
		}
	}

	// attestation
	if o.Attestation, err = optionalString(p+"attestation", pk["attestation"]); err != nil {
		return err
	}

	// extensions
	if v, ok := pk["extensions"]; ok && !isNull(v) {
		f := p + "extensions"
		ext, err := objectOf(f, v)
		if err != nil {
			return err
		}
		if err := o.Extensions.parse(f, ext); err != nil {
			return err
		}
	}
	return nil
}

func (e *ExtensionInputs) parse(f string, ext map[string]json.RawMessage) error {
	var err error
	for name, v := range ext {
		switch name {
		case "credentialProtectionPolicy", "credProtect":
			e.CredentialProtectionPolicy, err = credProtectName(f+"."+name, v)
		case "enforceCredentialProtectionPolicy":
			e.EnforceCredentialProtectionPolicy, err = optionalBool(f+"."+name, v)
		case "hmacCreateSecret":
			e.HMACCreateSecret, err = optionalBool(f+"."+name, v)
		case "credProps":
			e.CredProps, err = optionalBool(f+"."+name, v)
		case "minPinLength":
			e.MinPINLength, err = optionalBool(f+"."+name, v)
		default:
			if !strings.HasPrefix(name, "@odata.") && !isNull(v) {
				e.Other = append(e.Other, name)
			}
		}
		if err != nil {
			return err
		}
	}
	slices.Sort(e.Other)
	return nil
}

// credProtectName accepts the WebAuthn policy name or, for robustness, the
// CTAP integer level.
func credProtectName(f string, v json.RawMessage) (string, error) {
	if isNull(v) {
		return "", nil
	}
	if n, ok, err := optionalInt(f, v); err == nil && ok {
		for name, lvl := range credProtectLevels {
			if int64(lvl) == n && name != "userVerificationOptionalWithCredentialIdList" {
				return name, nil
			}
		}
		return "", fieldErr(f, "unknown credProtect level %d", n)
	}
	s, err := optionalString(f, v)
	if err != nil {
		return "", err
	}
	if _, ok := credProtectLevels[s]; !ok && s != "" {
		return "", fieldErr(f, "unknown policy %q", truncate(s, 64))
	}
	return s, nil
}

// credProtectLevels maps WebAuthn credentialProtectionPolicy names to CTAP 2.1
// §12.1 credProtect levels (python-fido2's mapping, docs/graph.md §3.2).
var credProtectLevels = map[string]int{
	"userVerificationOptional":                     1,
	"userVerificationOptionalWithCredentialIDList": 2,
	"userVerificationOptionalWithCredentialIdList": 2,
	"userVerificationRequired":                     3,
}

// --- JSON helpers; every error names the field, none echoes the value ---

func isNull(v json.RawMessage) bool {
	return len(bytes.TrimSpace(v)) == 0 || bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

func objectOf(f string, v json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil || m == nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fieldErr(f, "invalid JSON at offset %d", se.Offset)
		}
		return nil, fieldErr(f, "not a JSON object")
	}
	return m, nil
}

func requiredObject(f string, v json.RawMessage) (map[string]json.RawMessage, error) {
	if isNull(v) {
		return nil, fieldErr(f, "missing")
	}
	return objectOf(f, v)
}

func optionalString(f string, v json.RawMessage) (string, error) {
	if isNull(v) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fieldErr(f, "not a string")
	}
	return s, nil
}

func requiredString(f string, v json.RawMessage) (string, error) {
	s, err := optionalString(f, v)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fieldErr(f, "missing or empty")
	}
	return s, nil
}

func optionalBool(f string, v json.RawMessage) (bool, error) {
	if isNull(v) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		// Tolerate "true"/"false" strings from loosely typed producers.
		var s string
		if json.Unmarshal(v, &s) == nil {
			if pb, perr := strconv.ParseBool(s); perr == nil {
				return pb, nil
			}
		}
		return false, fieldErr(f, "not a boolean")
	}
	return b, nil
}

// optionalInt reads a JSON number (or a numeric string) that must be an
// integer in the Int32 range Graph uses.
func optionalInt(f string, v json.RawMessage) (int64, bool, error) {
	if isNull(v) {
		return 0, false, nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, false, fieldErr(f, "not a number")
		}
		n = json.Number(strings.TrimSpace(s))
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || fl != math.Trunc(fl) {
			return 0, false, fieldErr(f, "not an integer")
		}
		if fl < math.MinInt32 || fl > math.MaxInt32 {
			return 0, false, fieldErr(f, "out of Int32 range")
		}
		i = int64(fl)
	}
	if i < math.MinInt32 || i > math.MaxInt32 {
		return 0, false, fieldErr(f, "out of Int32 range")
	}
	return i, true, nil
}

// parseDateTime reads an OData DateTimeOffset (RFC 3339, up to 7 fractional
// digits); a value without offset is taken as UTC.
func parseDateTime(f string, v json.RawMessage) (time.Time, error) {
	s, err := optionalString(f, v)
	if err != nil {
		return time.Time{}, err
	}
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fieldErr(f, "not an RFC 3339 date-time")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
