package keycaps

import (
	"fmt"
	"strings"
)

// CredMgmtKind is how a key's discoverable credentials can be listed and
// deleted.
type CredMgmtKind int

const (
	// CredMgmtNone: the key lists neither credMgmt nor
	// credentialMgmtPreview; its credentials cannot be listed or deleted
	// (only a reset removes them).
	CredMgmtNone CredMgmtKind = iota
	// CredMgmtPreview: authenticatorCredentialManagement under the
	// FIDO_2_1_PRE command 0x41 (credentialMgmtPreview); libfido2 uses it
	// when credMgmt is absent.
	CredMgmtPreview
	// CredMgmtFull: authenticatorCredentialManagement 0x0A (CTAP 2.1 §6.8,
	// option credMgmt).
	CredMgmtFull
)

func (k CredMgmtKind) String() string {
	switch k {
	case CredMgmtFull:
		return "full"
	case CredMgmtPreview:
		return "preview"
	}
	return "none"
}

// DefaultMinPINLength is the minimum PIN length of a key that does not
// report one (CTAP 2.1 §6.4 minPINLength: "If this member is absent, the
// default is 4").
const DefaultMinPINLength = 4

// Capabilities is what keyprep reads out of a getInfo: each field one
// question a workflow step asks before it touches the key.
type Capabilities struct {
	AAGUID string // as the getInfo gave it
	// FIDO2: versions lists a FIDO_2_x version (CTAP2 commands exist).
	FIDO2 bool
	// CTAP21: versions lists FIDO_2_1.
	CTAP21 bool
	// Versions as listed.
	Versions []string
	// ClientPIN: the key supports a PIN (option clientPin present);
	// PINSet: one is set (clientPin true).
	ClientPIN, PINSet bool
	// Discoverable: the key stores discoverable credentials (option rk;
	// CTAP 2.1 §6.4: absent means false).
	Discoverable bool
	// Config: authenticatorConfig 0x0D exists (option authnrCfg, CTAP 2.1
	// §6.11).
	Config bool
	// SetMinPINLength: authenticatorConfig's setMinPINLength subcommand
	// (§6.11.4), which also carries forceChangePin.
	SetMinPINLength bool
	// AlwaysUVKnown: the key has the alwaysUv option (toggleAlwaysUv,
	// §6.11.2, needs Config too); AlwaysUV is its value.
	AlwaysUVKnown, AlwaysUV bool
	// MaxRPIDs is maxRPIDsForSetMinPINLength (0: the key cannot tell any
	// RP its minimum PIN length).
	MaxRPIDs int
	// CredMgmt says how credentials can be listed and deleted.
	CredMgmt CredMgmtKind
	// PINUVAuthToken: getPinUvAuthTokenUsingPinWithPermissions (option
	// pinUvAuthToken); otherwise the legacy getPinToken (§6.5.5.4).
	PINUVAuthToken bool
	// PINProtocols are the PIN/UV auth protocols (1 when absent: CTAP
	// 2.0 §5.5.8 knows only protocol one).
	PINProtocols []int
	// MinPINLength is the key's current minimum (DefaultMinPINLength when
	// it reports none).
	MinPINLength int
	// ForcePINChange: the key demands a PIN change before use.
	ForcePINChange bool
	// Extensions the key lists.
	CredProtect, HMACSecret, MinPINLengthExt bool
	// Algorithms the key lists (nil: not reported; CTAP 2.0 keys support
	// ES256).
	Algorithms []int
	// Remaining is remainingDiscoverableCredentials, -1 when not reported.
	Remaining int
	// FirmwareVersion as reported (0: not reported).
	FirmwareVersion int64
}

// Of reads the capabilities out of a getInfo.
func Of(g *GetInfo) Capabilities {
	c := Capabilities{AAGUID: g.AAGUID, Versions: append([]string(nil), g.Versions...), Remaining: -1,
		FirmwareVersion: g.FirmwareVersion, MaxRPIDs: g.MaxRPIDsForSetMinPIN, ForcePINChange: g.ForcePINChange}
	for _, v := range g.Versions {
		if strings.HasPrefix(v, "FIDO_2_") {
			c.FIDO2 = true
		}
	}
	c.CTAP21 = g.HasVersion("FIDO_2_1")
	c.PINSet, c.ClientPIN = g.Option("clientPin")
	c.Discoverable, _ = g.Option("rk")
	c.Config, _ = g.Option("authnrCfg")
	if c.Config {
		c.SetMinPINLength, _ = g.Option("setMinPINLength")
	}
	c.AlwaysUV, c.AlwaysUVKnown = g.Option("alwaysUv")
	switch {
	case optionTrue(g, "credMgmt"):
		c.CredMgmt = CredMgmtFull
	case optionTrue(g, "credentialMgmtPreview"):
		c.CredMgmt = CredMgmtPreview
	}
	c.PINUVAuthToken = optionTrue(g, "pinUvAuthToken")
	c.PINProtocols = append([]int(nil), g.PINUVAuthProtocols...)
	if len(c.PINProtocols) == 0 && c.ClientPIN {
		c.PINProtocols = []int{1}
	}
	// CTAP 2.1 §6.4: never below 4; absent means 4.
	c.MinPINLength = max(g.MinPINLength, DefaultMinPINLength)
	c.CredProtect = g.HasExtension("credProtect")
	c.HMACSecret = g.HasExtension("hmac-secret")
	c.MinPINLengthExt = g.HasExtension("minPinLength")
	for _, a := range g.Algorithms {
		c.Algorithms = append(c.Algorithms, a.Alg)
	}
	if g.RemainingDiscoverableCredentials != nil {
		c.Remaining = *g.RemainingDiscoverableCredentials
	}
	return c
}

func optionTrue(g *GetInfo, name string) bool {
	v, ok := g.Option(name)
	return ok && v
}

// COSE algorithms Entra offers in pubKeyCredParams (RFC 9053, RFC 8812).
const (
	algES256 = -7
	algRS256 = -257
)

// Extensions keyprep may send (CTAP 2.1 §12).
const (
	ExtCredProtect  = "credProtect"
	ExtHMACSecret   = "hmac-secret"
	ExtMinPINLength = "minPinLength"
)

// SendExtensions returns the requested extensions the key lists, in the
// order asked: as browsers do, an extension the key does not list is not
// sent (WebAuthn L3 §9: extensions are optional for authenticators).
func (c Capabilities) SendExtensions(requested ...string) []string {
	var out []string
	for _, x := range requested {
		if c.has(x) {
			out = append(out, x)
		}
	}
	return out
}

func (c Capabilities) has(ext string) bool {
	switch ext {
	case ExtCredProtect:
		return c.CredProtect
	case ExtHMACSecret:
		return c.HMACSecret
	case ExtMinPINLength:
		return c.MinPINLengthExt
	}
	return false
}

// Want is what an enrollment asks of a key beyond a PIN and a passkey.
type Want struct {
	// MinPINLength raises the key's minimum PIN length (0: leave it).
	MinPINLength int
	// MinPINLengthRPID lets the RP read the minimum PIN length.
	MinPINLengthRPID bool
	// ForcePINChange makes the key demand a new PIN at first use.
	ForcePINChange bool
	// AlwaysUV turns alwaysUv on.
	AlwaysUV bool
	// Reset: a factory reset first.
	Reset bool
}

// Refusal is one thing a key cannot do, in the operator's words.
type Refusal struct {
	// Flag is the command-line setting concerned ("" when the key cannot
	// be enrolled at all).
	Flag string `json:"flag,omitempty"`
	// Missing names the capability the key lacks.
	Missing string `json:"missing"`
	Msg     string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Decision is what keyprep will do with a key, decided from its getInfo
// before the first side effect.
type Decision struct {
	// Enrollable: an enrollment with the requested settings may go ahead.
	Enrollable bool `json:"enrollable"`
	// Refusals say what stops it (empty when Enrollable).
	Refusals []Refusal `json:"refusals,omitempty"`
	// Skipped are requested settings the key cannot take that the operator
	// allowed keyprep to skip; the enrollment records them.
	Skipped []Refusal `json:"skipped,omitempty"`
	// Notes are facts worth telling (nothing to do, a reset window).
	Notes []string `json:"notes,omitempty"`
}

// Settings of keyprep that need a capability (the command-line flags).
const (
	FlagMinPINLength   = "--min-pin-length"
	FlagMinPINLengthRP = "--min-pin-length-rp"
	FlagForcePINChange = "--force-pin-change"
	FlagAlwaysUV       = "--always-uv"
	FlagReset          = "--reset"
)

// Decide says whether an enrollment asking w can go ahead on a key with
// capabilities c. Something the key lacks entirely (FIDO2, discoverable
// credentials, a PIN, an algorithm Entra accepts, a free slot) refuses it
// whatever skipUnsupported says; a requested setting the key cannot take
// refuses it too, unless skipUnsupported, which records it as skipped.
func Decide(c Capabilities, w Want, skipUnsupported bool) Decision {
	var d Decision
	hard := func(missing, hint, format string, a ...any) {
		d.Refusals = append(d.Refusals, Refusal{Missing: missing, Msg: fmt.Sprintf(format, a...), Hint: hint})
	}
	if !c.FIDO2 {
		hard("CTAP2", "use a FIDO2 (CTAP 2) security key",
			"the key is not a FIDO2 key (versions %s)", listOrNone(c.Versions))
		return d
	}
	if !c.Discoverable {
		hard("discoverable credentials (rk)", "Entra passkeys are discoverable credentials; use a key that stores them",
			"the key cannot store discoverable credentials (no rk option)")
	}
	if !c.ClientPIN {
		hard("clientPin", "use a key with PIN support",
			"the key does not support a PIN (no clientPin option)")
	}
	if c.Algorithms != nil && !containsInt(c.Algorithms, algES256) && !containsInt(c.Algorithms, algRS256) {
		hard("ES256 or RS256", "use a key that signs with ES256 (P-256)",
			"the key offers none of the algorithms Entra accepts (ES256, RS256)")
	}
	if c.Remaining == 0 && !w.Reset {
		hard("a free discoverable-credential slot", "delete a passkey from the key, reset it (--reset), or use another key",
			"the key has no free slot for another passkey")
	}

	soft := func(flag, missing, hint, format string, a ...any) {
		r := Refusal{Flag: flag, Missing: missing, Msg: fmt.Sprintf(format, a...), Hint: hint}
		if skipUnsupported {
			d.Skipped = append(d.Skipped, r)
			return
		}
		d.Refusals = append(d.Refusals, r)
	}
	cfgWhy, cfgMissing := c.configGap()
	if w.MinPINLength > 0 {
		switch {
		case w.MinPINLength <= c.MinPINLength:
			d.Notes = append(d.Notes, fmt.Sprintf("the key's minimum PIN length is already %d (%s %d changes nothing)", c.MinPINLength, FlagMinPINLength, w.MinPINLength))
		case !c.SetMinPINLength:
			soft(FlagMinPINLength, cfgMissing, skipHint(FlagMinPINLength),
				"this key has %s: %s cannot be applied", cfgWhy, FlagMinPINLength)
		}
	}
	if w.MinPINLengthRPID {
		switch {
		case !c.SetMinPINLength:
			soft(FlagMinPINLengthRP, cfgMissing, skipHint(FlagMinPINLengthRP),
				"this key has %s: %s cannot be applied", cfgWhy, FlagMinPINLengthRP)
		case c.MaxRPIDs < 1:
			soft(FlagMinPINLengthRP, "maxRPIDsForSetMinPINLength", skipHint(FlagMinPINLengthRP),
				"the key cannot tell any RP its minimum PIN length (maxRPIDsForSetMinPINLength 0): %s cannot be applied", FlagMinPINLengthRP)
		}
	}
	if w.ForcePINChange && !c.SetMinPINLength {
		soft(FlagForcePINChange, cfgMissing, skipHint(FlagForcePINChange),
			"this key has %s: %s cannot be applied", cfgWhy, FlagForcePINChange)
	}
	if w.AlwaysUV {
		switch {
		case c.AlwaysUVKnown && c.AlwaysUV:
			d.Notes = append(d.Notes, "alwaysUv is already on")
		case !c.Config || !c.AlwaysUVKnown:
			why, missing := "no authenticatorConfig (CTAP 2.1 §6.11)", "authenticatorConfig"
			if c.Config {
				why, missing = "no alwaysUv option (toggleAlwaysUv, CTAP 2.1 §6.11.2)", "toggleAlwaysUv"
			}
			soft(FlagAlwaysUV, missing, skipHint(FlagAlwaysUV), "this key has %s: %s cannot be applied", why, FlagAlwaysUV)
		}
	}
	if w.Reset {
		d.Notes = append(d.Notes, "keys accept a reset only within a few seconds of being plugged in (10 s on most, 5 s on older YubiKeys); replug the key just before")
	}
	d.Enrollable = len(d.Refusals) == 0
	return d
}

// configGap says why setMinPINLength is unavailable, and what is missing.
func (c Capabilities) configGap() (why, missing string) {
	if !c.Config {
		return "no authenticatorConfig (CTAP 2.1 §6.11)", "authenticatorConfig"
	}
	return "authenticatorConfig without setMinPINLength (CTAP 2.1 §6.11.4)", "setMinPINLength"
}

func skipHint(flag string) string {
	return "drop " + flag + ", use a key with CTAP 2.1 authenticatorConfig, or add --skip-unsupported to enroll without it"
}

// Feature is one keyprep feature and whether a key can take it (the
// `keys` and `info` listing).
type Feature struct {
	Name      string `json:"name"`
	Flag      string `json:"flag,omitempty"`
	Supported bool   `json:"supported"`
	// Detail says how (e.g. "preview command 0x41") or why not.
	Detail string `json:"detail,omitempty"`
}

// Features lists, per keyprep feature, whether the key can take it.
func (c Capabilities) Features() []Feature {
	cfgWhy, _ := c.configGap()
	f := []Feature{}
	add := func(name, flag string, ok bool, detail string) {
		f = append(f, Feature{Name: name, Flag: flag, Supported: ok, Detail: detail})
	}
	enroll := Decide(c, Want{}, false)
	detail := "passkey with a PIN"
	if !enroll.Enrollable {
		detail = enroll.Refusals[0].Msg
	}
	add("enroll", "", enroll.Enrollable, detail)
	if c.SetMinPINLength {
		add("minimum PIN length", FlagMinPINLength, true, fmt.Sprintf("now %d", c.MinPINLength))
		add("forced PIN change", FlagForcePINChange, true, "")
	} else {
		add("minimum PIN length", FlagMinPINLength, false, cfgWhy)
		add("forced PIN change", FlagForcePINChange, false, cfgWhy)
	}
	switch {
	case !c.SetMinPINLength:
		add("minimum PIN length for the RP", FlagMinPINLengthRP, false, cfgWhy)
	case c.MaxRPIDs < 1:
		add("minimum PIN length for the RP", FlagMinPINLengthRP, false, "maxRPIDsForSetMinPINLength 0")
	default:
		add("minimum PIN length for the RP", FlagMinPINLengthRP, true, fmt.Sprintf("up to %d RP IDs", c.MaxRPIDs))
	}
	switch {
	case c.AlwaysUVKnown && c.AlwaysUV:
		add("always UV", FlagAlwaysUV, true, "on")
	case c.Config && c.AlwaysUVKnown:
		add("always UV", FlagAlwaysUV, true, "off")
	case !c.Config:
		add("always UV", FlagAlwaysUV, false, "no authenticatorConfig (CTAP 2.1 §6.11)")
	default:
		add("always UV", FlagAlwaysUV, false, "no alwaysUv option")
	}
	switch c.CredMgmt {
	case CredMgmtFull:
		add("list and remove passkeys", "", true, "credential management (0x0A)")
	case CredMgmtPreview:
		add("list and remove passkeys", "", true, "credential management preview (0x41)")
	default:
		add("list and remove passkeys", "", false, "no credential management: a failed enrollment's passkey stays until a reset")
	}
	add("hmac-secret", "", c.HMACSecret, extDetail(c.HMACSecret))
	add("credProtect", "", c.CredProtect, extDetail(c.CredProtect))
	return f
}

func extDetail(listed bool) string {
	if listed {
		return "listed"
	}
	return "not listed: not requested"
}

// Unavailable is the one-line summary of what the key cannot take, e.g.
// "no authenticatorConfig: --min-pin-length and --force-pin-change
// unavailable" ("" when it takes everything).
func (c Capabilities) Unavailable() string {
	var flags []string
	why := ""
	for _, f := range c.Features() {
		if f.Flag == "" || f.Supported {
			continue
		}
		if why == "" {
			why = f.Detail
		}
		flags = append(flags, f.Flag)
	}
	if len(flags) == 0 {
		return ""
	}
	if i := strings.Index(why, " ("); i > 0 {
		why = why[:i]
	}
	return why + ": " + joinAnd(flags) + " unavailable"
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
