package hid

// DeviceInfo describes one attached key as enumeration sees it.
type DeviceInfo struct {
	Path         string `json:"path"`
	VendorID     uint16 `json:"vendorId"`
	ProductID    uint16 `json:"productId"`
	Manufacturer string `json:"manufacturer"`
	Product      string `json:"product"`
	// Serial is the USB serial number string the device reports (HID_UNIQ
	// of its hidraw node; the virtual key's model decides whether it has
	// one), "" when it reports none.
	Serial string `json:"serial,omitempty"`
}

// Info is authenticatorGetInfo (CTAP 2.1 §6.4) as libfido2 1.12 exposes it
// through fido_cbor_info_*. Absent numeric fields are 0; absent options are
// missing from Options (an option present with false means "supported, off").
type Info struct {
	Versions             []string          `json:"versions"`
	Extensions           []string          `json:"extensions"`
	AAGUID               [16]byte          `json:"-"`
	Options              map[string]bool   `json:"options"`
	PINProtocols         []int             `json:"pinProtocols"`
	MaxMsgSize           uint64            `json:"maxMsgSize"`
	MaxCredCountInList   uint64            `json:"maxCredentialCountInList"`
	MaxCredIDLength      uint64            `json:"maxCredentialIdLength"`
	Transports           []string          `json:"transports"`
	Algorithms           []Algorithm       `json:"algorithms"`
	MaxLargeBlob         uint64            `json:"maxSerializedLargeBlobArray"`
	ForcePINChange       bool              `json:"forcePINChange"`
	MinPINLength         uint64            `json:"minPINLength"`
	FirmwareVersion      uint64            `json:"firmwareVersion"`
	MaxCredBlobLength    uint64            `json:"maxCredBlobLength"`
	MaxRPIDsMinPINLength uint64            `json:"maxRPIDsForSetMinPINLength"`
	UVAttempts           uint64            `json:"preferredPlatformUvAttempts"`
	UVModality           uint64            `json:"uvModality"`
	Certifications       map[string]uint64 `json:"certifications,omitempty"`
	// RemainingResidentKeys is remainingDiscoverableCredentials, -1 if the key
	// does not report it.
	RemainingResidentKeys int64 `json:"remainingDiscoverableCredentials"`
}

// Option returns (value, present) for a getInfo option.
func (i *Info) Option(name string) (value, present bool) {
	v, ok := i.Options[name]
	return v, ok
}

// Algorithm is a COSE algorithm entry of getInfo's algorithms list.
type Algorithm struct {
	Type string `json:"type"`
	COSE int    `json:"alg"`
}

// COSE algorithm identifiers used by keyprep (RFC 9053).
const (
	ES256 = -7
	EdDSA = -8
	ES384 = -35
	RS256 = -257
)

// CredProtect levels (CTAP 2.1 §12.1).
type CredProtect int

const (
	CredProtectNone                 CredProtect = 0
	CredProtectUVOptional           CredProtect = 1
	CredProtectUVOptionalWithCredID CredProtect = 2
	CredProtectUVRequired           CredProtect = 3
)

// EffectiveCredProtect is the protection a credential has when the key
// reported level l in its authData: a key that sent no credProtect output
// (l == 0) gave the credential the baseline, userVerificationOptional
// (CTAP 2.1 §12.1), which every credential has without the extension.
func EffectiveCredProtect(l CredProtect) CredProtect {
	if l == CredProtectNone {
		return CredProtectUVOptional
	}
	return l
}

// RelyingParty of a makeCredential request.
type RelyingParty struct {
	ID   string
	Name string
}

// User of a makeCredential request.
type User struct {
	ID          []byte
	Name        string
	DisplayName string
}

// MakeCredentialRequest is authenticatorMakeCredential (CTAP 2.1 §6.1) as
// libfido2 builds it.
type MakeCredentialRequest struct {
	ClientDataHash []byte // 32 bytes
	RP             RelyingParty
	User           User
	// Algorithm is the COSE algorithm to request (ES256 or RS256; 0 = ES256).
	// libfido2 1.12 requests exactly one algorithm per call.
	Algorithm   int
	ResidentKey bool
	// UV requests user verification; with a PIN given it is done by PIN token.
	UV          bool
	ExcludeList [][]byte
	CredProtect CredProtect // 0 = not requested
	// EnforceCredProtect makes MakeCredential refuse keys that do not
	// advertise credProtect when a level above 1 is requested (before
	// sending anything) and fail with CodeUnsupportedExtension if the
	// credential's level (EffectiveCredProtect of the authData's output:
	// none echoed is level 1) is lower than requested (the credential then
	// exists; it is returned with the error).
	EnforceCredProtect bool
	HMACSecret         bool
	MinPINLengthExt    bool // request the minPinLength extension output
}

// Credential is the result of makeCredential.
type Credential struct {
	Format       string   // attestation statement format, e.g. "packed"
	AuthData     []byte   // raw authenticator data (not CBOR-wrapped)
	AuthDataCBOR []byte   // authData as the CBOR byte string libfido2 holds
	ID           []byte   // credential id
	PublicKey    []byte   // raw public key as libfido2 holds it: ES256 x‖y (64 bytes), RS256 n‖e
	Sig          []byte   // attestation signature
	X5C          [][]byte // attestation certificate chain (DER), leaf first; libfido2 1.12 exposes the leaf only
	AttStmt      []byte   // CBOR attestation statement as sent by the key (fido_cred_attstmt_ptr)
	AAGUID       []byte
	Flags        uint8
	SignCount    uint32
	// CredProtect is the level the key reports in the authData extensions
	// (0 if it sent none).
	CredProtect CredProtect
	Algorithm   int
	// MinPINLength is the minPinLength extension output (0 if absent).
	MinPINLength uint64
	// HMACSecret is the hmac-secret extension output.
	HMACSecret bool
}

// AssertionRequest is authenticatorGetAssertion (CTAP 2.1 §6.2).
type AssertionRequest struct {
	RPID           string
	ClientDataHash []byte
	AllowList      [][]byte
	// UV requests built-in user verification; with a PIN given libfido2 uses
	// a pinUvAuthToken instead.
	UV bool
	// UP sends up=true. When false the option is omitted and the key applies
	// its default, which is up=true; use NoUP for a silent assertion.
	UP bool
	// NoUP sends up=false (silent assertion; the key does not wait for a
	// touch). It takes precedence over UP.
	NoUP bool
}

// Assertion is one assertion returned by getAssertion/getNextAssertion.
type Assertion struct {
	AuthData     []byte // raw authenticator data
	AuthDataCBOR []byte
	Sig          []byte
	CredentialID []byte
	UserID       []byte
	UserName     string
	DisplayName  string
	Flags        uint8
	SignCount    uint32
}

// CredentialMetadata is getCredsMetadata (CTAP 2.1 §6.8.2).
type CredentialMetadata struct {
	Existing  int `json:"existing"`
	Remaining int `json:"remaining"`
}

// RPEntry is one relying party from enumerateRPs.
type RPEntry struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	IDHash []byte `json:"idHash"`
}

// ResidentCredential is one discoverable credential from enumerateCredentials.
type ResidentCredential struct {
	ID          []byte      `json:"id"`
	UserID      []byte      `json:"userId"`
	UserName    string      `json:"userName"`
	DisplayName string      `json:"displayName"`
	CredProtect CredProtect `json:"credProtect"`
	PublicKey   []byte      `json:"-"`
	Algorithm   int         `json:"alg"`
}

// CTAPHIDInfo is the key's answer to CTAPHID_INIT (CTAP 2.1 §11.2.9.1.3).
type CTAPHIDInfo struct {
	Protocol     uint8 // CTAPHID protocol version (2)
	Major        uint8 // device version number
	Minor        uint8
	Build        uint8
	Capabilities uint8 // CAPABILITY_WINK 0x01, CBOR 0x04, NMSG 0x08
}
