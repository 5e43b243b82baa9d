package softkey

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyprep/keyprep/internal/keycaps"
)

// DefaultModelName is the built-in model a Config without Model gets: the
// keyprep Virtual Key as it was before models existed (CTAP 2.1 with every
// command keyprep uses).
const DefaultModelName = "keyprep-virtual"

// Model is a virtual key's capability profile: what the key reports in
// authenticatorGetInfo and how it behaves where getInfo says nothing. Every
// built-in model is modeled on a named public security key model; its
// Sources say where each fact comes from (docs/key-models.md documents the
// format field by field).
type Model struct {
	// Name is the id used on the command line, e.g. "yubikey-5.4".
	Name string `json:"name"`
	// ModeledOn names the public model, e.g. "YubiKey 5 NFC, firmware
	// 5.4.3". A virtual key is never that model; it only behaves like it.
	ModeledOn string `json:"modeledOn"`
	// Sources are the public sources of the facts (URLs, repo@commit
	// paths, specification sections).
	Sources []string `json:"sources"`
	// Notes say which facts could not be sourced and what was chosen.
	Notes []string `json:"notes,omitempty"`
	// USB is what the key shows on the bus.
	USB USB `json:"usb"`
	// GetInfo is the factory authenticatorGetInfo. The state-dependent
	// members (options clientPin, alwaysUv, makeCredUvNotRqd; forcePINChange,
	// minPINLength, remainingDiscoverableCredentials) are computed from the
	// key's state at run time; their value here is the factory value.
	GetInfo keycaps.GetInfo `json:"getInfo"`
	// Behaviour is what getInfo cannot say.
	Behaviour Behaviour `json:"behaviour"`
	// Attestation is how new credentials are attested.
	Attestation Attestation `json:"attestation"`
}

// USB describes the USB device: ids and strings as a host reads them from
// the device and string descriptors.
type USB struct {
	VendorID     HexID  `json:"vendorId"`
	ProductID    HexID  `json:"productId"`
	Manufacturer string `json:"manufacturer"`
	Product      string `json:"product"`
	// DeviceVersion is the major.minor.build the key reports in its
	// CTAPHID_INIT answer (CTAP 2.1 §11.2.9.1.3), e.g. "5.4.3"; "" = 0.0.0.
	DeviceVersion string `json:"deviceVersion,omitempty"`
	// Serial says whether the key reports a USB serial number string.
	Serial USBSerial `json:"serial"`
}

// USBSerial describes the serial number string a key reports.
type USBSerial struct {
	// Reported is true when the device has an iSerialNumber string.
	Reported bool `json:"reported"`
	// Form is how the virtual key writes it: "hex" (upper-case hex
	// digits) or "decimal". Only with Reported.
	Form string `json:"form,omitempty"`
	// Length is the number of characters (1..32). Only with Reported.
	Length int `json:"length,omitempty"`
}

// HexID is a 16-bit USB id, written in JSON as "0x1050" (a plain number is
// accepted too).
type HexID uint16

// MarshalJSON writes "0x%04x".
func (h HexID) MarshalJSON() ([]byte, error) {
	return json.Marshal(fmt.Sprintf("0x%04x", uint16(h)))
}

// UnmarshalJSON reads "0x1050", "1050" (hex) or a number.
func (h *HexID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n uint16
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("usb id: want \"0x1234\" or a number up to 65535")
		}
		*h = HexID(n)
		return nil
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 16)
	if err != nil {
		return fmt.Errorf("usb id %q: want 4 hex digits", s)
	}
	*h = HexID(v)
	return nil
}

// Credential management commands a model accepts (Behaviour.CredMgmt).
const (
	CredMgmtNone    = "none"    // neither 0x0A nor 0x41
	CredMgmtFull    = "full"    // 0x0A only (CTAP 2.1 §6.8)
	CredMgmtPreview = "preview" // 0x41 only (FIDO_2_1_PRE)
	CredMgmtBoth    = "both"    // 0x0A and 0x41
)

// On-key PIN complexity rules (Behaviour.PINComplexity).
const (
	PINComplexityNone   = "none"
	PINComplexityToken2 = "token2-pinplus"
	PINComplexityYubico = "yubikey-5.7"
)

// Zero-credential replies of enumerateRPsBegin (Behaviour.ZeroCredentials).
const (
	ZeroCredsNoCredentials = "noCredentials" // CTAP2_ERR_NO_CREDENTIALS (0x2E)
	ZeroCredsTotalRPsZero  = "totalRPsZero"  // {totalRPs: 0}
	ZeroCredsEmptyMap      = "emptyMap"      // {}
)

// Answers to a request with options uv:true and a pinUvAuthParam
// (Behaviour.UVWithToken).
const (
	UVWithTokenInvalidOption = "invalidOption" // CTAP2_ERR_INVALID_OPTION (YubiKey)
	UVWithTokenIgnore        = "ignore"        // the token's UV counts (Token2)
)

// Behaviour is what a model does that getInfo does not declare. Zero
// values are the keyprep Virtual Key's behaviour.
type Behaviour struct {
	// CredMgmt: which credential management commands exist: "full"
	// (0x0A), "preview" (0x41), "both" or "none".
	CredMgmt string `json:"credMgmt"`
	// Config: authenticatorConfig (0x0D) exists.
	Config bool `json:"config"`
	// Selection: authenticatorSelection (0x0B) exists (CTAP 2.1 only).
	Selection bool `json:"selection"`
	// BioEnrollment: authenticatorBioEnrollment (0x09; 0x40 too when
	// getInfo lists userVerificationMgmtPreview) exists. The virtual key
	// simulates a fingerprint sensor (Config.Finger); with a fingerprint
	// enrolled, the options uv and bioEnroll turn true and user
	// verification works by finger (getInfo option "uv" present).
	BioEnrollment bool `json:"bioEnrollment,omitempty"`
	// PINComplexity: "none", "token2-pinplus" or "yubikey-5.7". A PIN that
	// breaks the rules gets CTAP2_ERR_PIN_POLICY_VIOLATION (0x37) before
	// any retry is counted.
	PINComplexity string `json:"pinComplexity"`
	// MaxPINLength in code points; 0 = only CTAP's 63-byte limit.
	MaxPINLength int `json:"maxPINLength,omitempty"`
	// PINRetries is the retry counter's maximum (1..8); 0 = 8.
	PINRetries int `json:"pinRetries,omitempty"`
	// ResetWindow: how long after power-up authenticatorReset is allowed:
	// a Go duration ("10s", "5s") or "none" (no window). "" = "10s".
	ResetWindow string `json:"resetWindow,omitempty"`
	// ResetOnlyFirst: any command other than getInfo and selection since
	// power-up cancels the reset permission (OpenSK).
	ResetOnlyFirst bool `json:"resetOnlyFirst,omitempty"`
	// Slots is how many discoverable credentials the key holds.
	Slots int `json:"slots"`
	// ZeroCredentials: the enumerateRPsBegin reply with no credentials:
	// "noCredentials" (default), "totalRPsZero" or "emptyMap".
	ZeroCredentials string `json:"zeroCredentials,omitempty"`
	// StrictKeyAgreementAlg: the platform key-agreement COSE key must
	// carry alg -25; anything else is CTAP2_ERR_UNSUPPORTED_ALGORITHM.
	StrictKeyAgreementAlg bool `json:"strictKeyAgreementAlg,omitempty"`
	// UVWithToken: "invalidOption" (default) or "ignore".
	UVWithToken string `json:"uvWithToken,omitempty"`
	// OmitCredProtectLevel1: the key lists credProtect but sends no
	// credProtect output when level 1 is requested.
	OmitCredProtectLevel1 bool `json:"omitCredProtectLevel1,omitempty"`
	// AlwaysUVLocked: toggleAlwaysUv cannot turn alwaysUv off
	// (CTAP2_ERR_OPERATION_DENIED, CTAP 2.1 §6.11.3).
	AlwaysUVLocked bool `json:"alwaysUvLocked,omitempty"`
}

// Attestation formats (Attestation.Format).
const (
	AttestationPacked = "packed" // full basic attestation, x5c under the model's test CA
	AttestationSelf   = "self"   // packed self attestation (no x5c)
	AttestationNone   = "none"   // fmt "none"
)

// Attestation says how a model attests new credentials.
type Attestation struct {
	// Format: "packed", "self" or "none".
	Format string `json:"format"`
	// Intermediate: the packed chain has an intermediate CA between the
	// model's test root and the batch leaf (x5c = [leaf, intermediate]).
	Intermediate bool `json:"intermediate,omitempty"`
}

// Known getInfo option and extension names a profile may list (CTAP 2.1
// §6.4). "reported only" ones are listed as the real key does, but the
// virtual key does not implement the feature (docs/key-models.md).
var (
	knownOptions = []string{"rk", "up", "uv", "plat", "clientPin", "pinUvAuthToken", "credMgmt",
		"credentialMgmtPreview", "authnrCfg", "setMinPINLength", "makeCredUvNotRqd", "alwaysUv",
		"largeBlobs", "bioEnroll", "userVerificationMgmtPreview", "uvBioEnroll", "uvAcfg",
		"noMcGaPermissionsWithClientPin", "ep"}
	knownExtensions = []string{"credProtect", "hmac-secret", "minPinLength", "credBlob",
		"largeBlobKey", "uvm", "thirdPartyPayment"}
	knownVersions = []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"}
)

//go:embed models
var modelFS embed.FS

var (
	builtinOnce sync.Once
	builtins    []*Model
	builtinErr  error
)

func loadBuiltins() ([]*Model, error) {
	builtinOnce.Do(func() {
		ents, err := fs.ReadDir(modelFS, "models")
		if err != nil {
			builtinErr = err
			return
		}
		for _, e := range ents {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
				continue
			}
			data, err := modelFS.ReadFile(path.Join("models", e.Name()))
			if err != nil {
				builtinErr = err
				return
			}
			m, err := ParseModel(data)
			if err != nil {
				builtinErr = fmt.Errorf("softkey: built-in model %s: %w", e.Name(), err)
				return
			}
			if m.Name+".json" != e.Name() {
				builtinErr = fmt.Errorf("softkey: built-in model file %s names itself %q", e.Name(), m.Name)
				return
			}
			builtins = append(builtins, m)
		}
		slices.SortFunc(builtins, func(x, y *Model) int {
			switch {
			case x.Name == DefaultModelName:
				return -1
			case y.Name == DefaultModelName:
				return 1
			}
			return strings.Compare(x.Name, y.Name)
		})
		if len(builtins) == 0 || builtins[0].Name != DefaultModelName {
			builtinErr = fmt.Errorf("softkey: built-in model %s missing", DefaultModelName)
		}
	})
	return builtins, builtinErr
}

// Models returns the built-in models, the default first, then by name.
// The models are shared: do not modify them.
func Models() []*Model {
	ms, err := loadBuiltins()
	if err != nil {
		panic(err) // the embedded profiles are checked by the package's tests
	}
	return slices.Clone(ms)
}

// DefaultModel returns the built-in keyprep-virtual model.
func DefaultModel() *Model { return Models()[0] }

// LookupModel returns the built-in model named nameOrFile, or loads and
// validates the profile in the file nameOrFile (a name with a path
// separator or a .json suffix is a file).
func LookupModel(nameOrFile string) (*Model, error) {
	if nameOrFile == "" {
		return DefaultModel(), nil
	}
	if !strings.ContainsRune(nameOrFile, os.PathSeparator) && !strings.ContainsRune(nameOrFile, '/') &&
		!strings.HasSuffix(nameOrFile, ".json") {
		var names []string
		for _, m := range Models() {
			if m.Name == nameOrFile {
				return m, nil
			}
			names = append(names, m.Name)
		}
		return nil, fmt.Errorf("softkey: no built-in key model %q (built in: %s; or give a profile file)",
			nameOrFile, strings.Join(names, ", "))
	}
	data, err := os.ReadFile(nameOrFile)
	if err != nil {
		return nil, fmt.Errorf("softkey: key model file: %w", err)
	}
	m, err := ParseModel(data)
	if err != nil {
		return nil, fmt.Errorf("softkey: key model file %s: %w", nameOrFile, err)
	}
	return m, nil
}

// maxModelFile bounds a profile's size.
const maxModelFile = 1 << 20

// ParseModel decodes a profile (unknown members are refused, so a typo
// cannot silently fall back to a default) and validates it.
func ParseModel(data []byte) (*Model, error) {
	if len(data) > maxModelFile {
		return nil, errors.New("profile larger than 1 MiB")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Model
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("profile JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("profile JSON: data after the profile object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate refuses an inconsistent profile: one whose getInfo and
// behaviour contradict each other, or that asks for something the virtual
// key cannot do.
func (m *Model) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	g := &m.GetInfo
	b := &m.Behaviour
	if m.Name == "" || strings.ContainsAny(m.Name, "/\\ \t,") || strings.HasSuffix(m.Name, ".json") {
		bad("name %q: want a non-empty id without spaces, commas, slashes or .json", m.Name)
	}
	if strings.TrimSpace(m.ModeledOn) == "" {
		bad("modeledOn is empty")
	}
	if len(m.Sources) == 0 {
		bad("sources is empty: every profile says where its facts come from")
	}
	if m.USB.Product == "" || m.USB.Manufacturer == "" {
		bad("usb: manufacturer and product strings are required")
	}
	if _, err := m.DeviceVersion(); err != nil {
		bad("usb.deviceVersion: %v", err)
	}
	if s := m.USB.Serial; s.Reported {
		if s.Form != "hex" && s.Form != "decimal" {
			bad("usb.serial.form %q: want hex or decimal", s.Form)
		}
		if s.Length < 1 || s.Length > 32 {
			bad("usb.serial.length %d: want 1..32", s.Length)
		}
	} else if s.Form != "" || s.Length != 0 {
		bad("usb.serial: form and length only with reported:true")
	}

	// getInfo.
	if len(g.Versions) == 0 {
		bad("getInfo.versions is empty")
	}
	for _, v := range g.Versions {
		if !slices.Contains(knownVersions, v) {
			bad("getInfo.versions: unknown version %q", v)
		}
	}
	if !g.HasVersion("FIDO_2_0") {
		bad("getInfo.versions: a CTAP2 key lists FIDO_2_0")
	}
	for _, x := range g.Extensions {
		if !slices.Contains(knownExtensions, x) {
			bad("getInfo.extensions: unknown extension %q", x)
		}
	}
	if _, err := g.AAGUIDBytes(); err != nil {
		bad("getInfo.aaguid: %v", err)
	}
	for k := range g.Options {
		if !slices.Contains(knownOptions, k) {
			bad("getInfo.options: unknown option %q", k)
		}
	}
	opt := func(name string) (bool, bool) { return g.Option(name) }
	if v, ok := opt("rk"); !ok || !v {
		bad("getInfo.options.rk must be true (the virtual key always stores discoverable credentials)")
	}
	if v, ok := opt("up"); ok && !v {
		bad("getInfo.options.up false: the virtual key always tests user presence")
	}
	if v, ok := opt("plat"); ok && v {
		bad("getInfo.options.plat true: a roaming key is not a platform authenticator")
	}
	if v, ok := opt("uv"); ok && v {
		bad("getInfo.options.uv true: a factory key has no finger enrolled; model a bio key with uv:false (the value follows the state)")
	}
	if _, ok := opt("uv"); ok && !b.BioEnrollment {
		bad("getInfo.options.uv without behaviour.bioEnrollment: the virtual key's only built-in user verification is a fingerprint")
	}
	if v, ok := opt("ep"); ok && v {
		bad("getInfo.options.ep true: enterprise attestation is not modeled")
	}
	if _, ok := opt("clientPin"); !ok {
		bad("getInfo.options.clientPin absent: keyprep needs a PIN-capable key")
	}
	if len(g.PINUVAuthProtocols) == 0 {
		bad("getInfo.pinUvAuthProtocols is empty (a clientPin key lists 1, 2 or both)")
	}
	seen := map[int]bool{}
	for _, p := range g.PINUVAuthProtocols {
		if p != 1 && p != 2 {
			bad("getInfo.pinUvAuthProtocols: %d is neither 1 nor 2", p)
		}
		if seen[p] {
			bad("getInfo.pinUvAuthProtocols: %d listed twice", p)
		}
		seen[p] = true
	}
	es256 := false
	for _, a := range g.Algorithms {
		if a.Type != "" && a.Type != "public-key" {
			bad("getInfo.algorithms: type %q", a.Type)
		}
		es256 = es256 || a.Alg == coseAlgES256
	}
	if len(g.Algorithms) > 0 && !es256 {
		// An absent list means ES256 (CTAP 2.1 §6.4 algorithms).
		bad("getInfo.algorithms must list ES256 (-7): the virtual key makes ES256 credentials")
	}
	if g.MaxMsgSize != 0 && (g.MaxMsgSize < 1024 || g.MaxMsgSize > 65536) {
		bad("getInfo.maxMsgSize %d: want 1024..65536", g.MaxMsgSize)
	}
	if g.MaxCredentialIDLength != 0 && g.MaxCredentialIDLength < credIDLength {
		bad("getInfo.maxCredentialIdLength %d: the virtual key's ids are %d bytes", g.MaxCredentialIDLength, credIDLength)
	}
	if g.MaxCredentialCountInList < 0 || g.MaxCredentialCountInList > 1000 {
		bad("getInfo.maxCredentialCountInList %d", g.MaxCredentialCountInList)
	}
	if g.MinPINLength != 0 && (g.MinPINLength < 4 || g.MinPINLength > 63) {
		bad("getInfo.minPINLength %d: want 4..63", g.MinPINLength)
	}
	if g.ForcePINChange {
		bad("getInfo.forcePINChange true: a factory key has no PIN to change")
	}
	if v, ok := opt("clientPin"); ok && v {
		bad("getInfo.options.clientPin true: a factory key has no PIN (the value follows the state)")
	}

	// Commands and the options that announce them.
	cm, cmOK := opt("credMgmt")
	pre, preOK := opt("credentialMgmtPreview")
	switch b.CredMgmt {
	case CredMgmtFull:
		if !cm {
			bad("behaviour.credMgmt full (0x0A) but getInfo.options.credMgmt is not true")
		}
		if pre {
			bad("behaviour.credMgmt full (0x0A only) but getInfo.options.credentialMgmtPreview is true")
		}
	case CredMgmtPreview:
		if !pre {
			bad("behaviour.credMgmt preview (0x41) but getInfo.options.credentialMgmtPreview is not true")
		}
		if cm {
			bad("behaviour.credMgmt preview (0x41 only) but getInfo.options.credMgmt is true")
		}
	case CredMgmtBoth:
		if !cm && !pre {
			bad("behaviour.credMgmt both but getInfo lists neither credMgmt nor credentialMgmtPreview")
		}
	case CredMgmtNone:
		if cmOK || preOK {
			bad("behaviour.credMgmt none but getInfo lists credMgmt or credentialMgmtPreview")
		}
	default:
		bad("behaviour.credMgmt %q: want full, preview, both or none", b.CredMgmt)
	}
	if (cm || pre) && !b.hasCredMgmtPermissionPath(g) {
		bad("credential management needs a PIN token (clientPin)")
	}
	acfg, acfgOK := opt("authnrCfg")
	if b.Config != (acfgOK && acfg) {
		bad("behaviour.config %v but getInfo.options.authnrCfg is %v", b.Config, acfgOK && acfg)
	}
	if _, ok := opt("setMinPINLength"); ok && !b.Config {
		bad("getInfo.options.setMinPINLength without authenticatorConfig (authnrCfg)")
	}
	if _, ok := opt("alwaysUv"); ok && !b.Config {
		bad("getInfo.options.alwaysUv without authenticatorConfig (authnrCfg): nothing could toggle it")
	}
	if b.AlwaysUVLocked {
		if v, _ := opt("alwaysUv"); !v {
			bad("behaviour.alwaysUvLocked without getInfo.options.alwaysUv true")
		}
	}
	if v, ok := opt("makeCredUvNotRqd"); ok {
		au, _ := opt("alwaysUv")
		if v == au {
			bad("getInfo.options.makeCredUvNotRqd must be the opposite of alwaysUv")
		}
	}
	if g.MaxRPIDsForSetMinPIN != 0 {
		if _, ok := opt("setMinPINLength"); !ok {
			bad("getInfo.maxRPIDsForSetMinPINLength without setMinPINLength")
		}
	}
	if b.Selection && !g.HasVersion("FIDO_2_1") {
		bad("behaviour.selection: authenticatorSelection (0x0B) exists only on FIDO_2_1 keys")
	}
	_, bioOK := opt("bioEnroll")
	if b.BioEnrollment != bioOK {
		bad("behaviour.bioEnrollment %v but getInfo.options.bioEnroll present=%v", b.BioEnrollment, bioOK)
	}
	if _, ok := opt("userVerificationMgmtPreview"); ok && !b.BioEnrollment {
		bad("getInfo.options.userVerificationMgmtPreview without behaviour.bioEnrollment")
	}
	if v, _ := opt("pinUvAuthToken"); v && !g.HasVersion("FIDO_2_1") && !g.HasVersion("FIDO_2_1_PRE") {
		bad("getInfo.options.pinUvAuthToken on a CTAP 2.0 key")
	}
	for _, x := range []string{"minPinLength"} {
		if g.HasExtension(x) && !b.Config {
			bad("getInfo.extensions %s without authenticatorConfig (nothing sets its RP list)", x)
		}
	}

	// Behaviour values.
	switch b.PINComplexity {
	case PINComplexityNone, PINComplexityToken2, PINComplexityYubico:
	default:
		bad("behaviour.pinComplexity %q: want none, token2-pinplus or yubikey-5.7", b.PINComplexity)
	}
	minPIN := g.MinPINLength
	if minPIN == 0 {
		minPIN = 4
	}
	if b.MaxPINLength != 0 && (b.MaxPINLength < minPIN || b.MaxPINLength > 63) {
		bad("behaviour.maxPINLength %d: want minPINLength..63", b.MaxPINLength)
	}
	if b.PINRetries < 0 || b.PINRetries > maxPINRetries {
		bad("behaviour.pinRetries %d: want 1..8 (0 = 8)", b.PINRetries)
	}
	if _, err := b.resetWindow(); err != nil {
		bad("behaviour.resetWindow: %v", err)
	}
	if b.Slots < 1 || b.Slots > 10000 {
		bad("behaviour.slots %d: want 1..10000", b.Slots)
	}
	if r := g.RemainingDiscoverableCredentials; r != nil && *r != b.Slots {
		bad("getInfo.remainingDiscoverableCredentials %d on a factory key must equal behaviour.slots %d", *r, b.Slots)
	}
	switch b.ZeroCredentials {
	case "", ZeroCredsNoCredentials, ZeroCredsTotalRPsZero, ZeroCredsEmptyMap:
	default:
		bad("behaviour.zeroCredentials %q: want noCredentials, totalRPsZero or emptyMap", b.ZeroCredentials)
	}
	switch b.UVWithToken {
	case "", UVWithTokenInvalidOption, UVWithTokenIgnore:
	default:
		bad("behaviour.uvWithToken %q: want invalidOption or ignore", b.UVWithToken)
	}
	if b.OmitCredProtectLevel1 && !g.HasExtension("credProtect") {
		bad("behaviour.omitCredProtectLevel1 on a key that does not list credProtect")
	}

	// Attestation.
	switch m.Attestation.Format {
	case AttestationPacked:
		if _, err := m.attestation(); err != nil {
			bad("attestation packed: %v", err)
		}
	case AttestationSelf, AttestationNone:
		if m.Attestation.Intermediate {
			bad("attestation.intermediate only with packed")
		}
	default:
		bad("attestation.format %q: want packed, self or none", m.Attestation.Format)
	}
	return errors.Join(errs...)
}

// hasCredMgmtPermissionPath reports whether a PIN token can be obtained.
func (b *Behaviour) hasCredMgmtPermissionPath(g *keycaps.GetInfo) bool {
	_, ok := g.Option("clientPin")
	return ok
}

// resetWindow parses ResetWindow: 0 means no window (reset any time).
func (b *Behaviour) resetWindow() (time.Duration, error) {
	switch b.ResetWindow {
	case "":
		return 10 * time.Second, nil
	case "none":
		return 0, nil
	}
	d, err := time.ParseDuration(b.ResetWindow)
	if err != nil || d <= 0 || d > time.Hour {
		return 0, fmt.Errorf("%q: want a duration such as \"10s\" or \"none\"", b.ResetWindow)
	}
	return d, nil
}

// DeviceVersion parses USB.DeviceVersion ("5.4.3") into the three
// CTAPHID_INIT version bytes.
func (m *Model) DeviceVersion() ([3]uint8, error) {
	var out [3]uint8
	if m.USB.DeviceVersion == "" {
		return out, nil
	}
	parts := strings.Split(m.USB.DeviceVersion, ".")
	if len(parts) != 3 {
		return out, fmt.Errorf("%q: want major.minor.build", m.USB.DeviceVersion)
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return out, fmt.Errorf("%q: each part is 0..255", m.USB.DeviceVersion)
		}
		out[i] = uint8(v)
	}
	return out, nil
}

// AAGUID returns the model's AAGUID (Validate has checked it).
func (m *Model) AAGUID() [16]byte {
	id, _ := m.GetInfo.AAGUIDBytes()
	return id
}

// commandSupported reports whether the model implements CTAP command cmd.
func (m *Model) commandSupported(cmd byte) bool {
	b := &m.Behaviour
	switch cmd {
	case CmdMakeCredential, CmdGetAssertion, CmdGetInfo, CmdClientPIN, CmdReset, CmdGetNextAssertion:
		return true
	case CmdCredentialManagement:
		return b.CredMgmt == CredMgmtFull || b.CredMgmt == CredMgmtBoth
	case CmdCredentialMgmtPreview:
		return b.CredMgmt == CredMgmtPreview || b.CredMgmt == CredMgmtBoth
	case CmdSelection:
		return b.Selection
	case CmdConfig:
		return b.Config
	case CmdBioEnrollment:
		return b.BioEnrollment
	case CmdBioEnrollmentPreview:
		_, pre := m.GetInfo.Option("userVerificationMgmtPreview")
		return b.BioEnrollment && pre
	}
	return false
}

// hasPinUvAuthToken reports the pinUvAuthToken option (CTAP 2.1
// getPinUvAuthTokenUsingPinWithPermissions, subcommand 0x09).
func (m *Model) hasPinUvAuthToken() bool {
	v, _ := m.GetInfo.Option("pinUvAuthToken")
	return v
}

// String returns the name.
func (m *Model) String() string { return m.Name }
