package softkey

import (
	"crypto/rand"
	"fmt"
	"io"
	"time"
)

// PINLengthUnit selects how the PIN length policy counts (CTAP 2.1 §6.5.1
// demands Unicode code points; some authenticators count bytes).
type PINLengthUnit int

const (
	// CodePoints counts Unicode code points (CTAP 2.1 §6.5.1; default).
	CodePoints PINLengthUnit = iota
	// Bytes counts UTF-8 bytes (canokey's divergence).
	Bytes
)

// PresenceMode is how the simulated user answers a request for user presence.
type PresenceMode int

const (
	// PresenceInstant: the user touches the key at once.
	PresenceInstant PresenceMode = iota
	// PresenceDelayed: the user touches after Presence.Delay.
	PresenceDelayed
	// PresenceDenied: the user refuses (CTAP2_ERR_OPERATION_DENIED, 0x27).
	PresenceDenied
	// PresenceTimeout: nobody touches; after Presence.Delay (default
	// DefaultPresenceTimeout) the request fails with
	// CTAP2_ERR_USER_ACTION_TIMEOUT (0x2F).
	PresenceTimeout
)

// DefaultPresenceTimeout is the wait before PresenceTimeout gives up when
// Presence.Delay is zero (OpenSK waits 30 s for a touch).
const DefaultPresenceTimeout = 30 * time.Second

// Presence describes the simulated user's behaviour when the authenticator
// asks for a touch. While waiting, the authenticator sends KEEPALIVE
// UPNEEDED and honours cancellation (CTAP 2.1 §11.2.9.1.5).
type Presence struct {
	Mode  PresenceMode
	Delay time.Duration
	// Waiting, when set, receives a value (if it has room) each time the
	// key starts to wait for a delayed or timed-out touch: tests act
	// while the key waits (unplug it, cancel) without guessing when.
	Waiting chan<- struct{}
}

// Instant returns a presence that is given immediately.
func Instant() Presence { return Presence{Mode: PresenceInstant} }

// Delayed returns a presence that is given after d.
func Delayed(d time.Duration) Presence { return Presence{Mode: PresenceDelayed, Delay: d} }

// Denied returns a presence that is refused (0x27 OPERATION_DENIED).
func Denied() Presence { return Presence{Mode: PresenceDenied} }

// Timeout returns a presence that never comes: after d (0 means
// DefaultPresenceTimeout) the request fails with 0x2F USER_ACTION_TIMEOUT.
func Timeout(d time.Duration) Presence { return Presence{Mode: PresenceTimeout, Delay: d} }

// FingerSample is what the simulated person gives a bio key's fingerprint
// sensor for one capture.
type FingerSample int

const (
	// FingerGood: a clean sample of the enrolled (or enrolling) finger.
	// Enrollment feedback CTAP2_ENROLL_FEEDBACK_FP_GOOD (0x00); built-in
	// user verification matches.
	FingerGood FingerSample = iota
	// FingerPoor: a smudged, partial sample. Enrollment feedback
	// CTAP2_ENROLL_FEEDBACK_FP_POOR_QUALITY (0x07, CTAP 2.1 §6.7.1) and the
	// sample does not count; built-in user verification does not match
	// (CTAP2_ERR_UV_INVALID, one uvRetries attempt used).
	FingerPoor
	// FingerTimeout: nobody touches the sensor; after Finger.Delay the
	// request fails with CTAP2_ERR_USER_ACTION_TIMEOUT (0x2F).
	FingerTimeout
)

// String returns the name KEYPREP_SIM_FINGER uses.
func (s FingerSample) String() string {
	switch s {
	case FingerGood:
		return "good"
	case FingerPoor:
		return "poor"
	case FingerTimeout:
		return "timeout"
	}
	return fmt.Sprintf("FingerSample(%d)", int(s))
}

// Finger is the simulated person at a bio key's sensor: the samples it
// gives, one per capture (enrollment sample or user verification), in
// order; after the last one the last repeats. No samples means every
// capture is good.
type Finger struct {
	Samples []FingerSample
	// Delay is how long a FingerTimeout capture waits (sending keepalive
	// UPNEEDED, honouring cancellation) before it fails; 0 fails at once.
	// An enrollment request's timeoutMilliseconds bounds it.
	Delay time.Duration
}

// Config holds the behaviour switches of a virtual key. The zero value of
// every field means "default" (see the field comments and DefaultConfig);
// docs/ctap.md §6 lists where real authenticators disagree.
type Config struct {
	// Model is the capability profile the key follows (getInfo, commands,
	// PIN rules, attestation). nil means the keyprep-virtual model
	// (DefaultModelName). The capacity fields below, when non-zero,
	// override the model's values.
	Model *Model
	// ForcePINChangeOn09 is the status returned by
	// getPinUvAuthTokenUsingPinWithPermissions (0x09) while forcePINChange
	// is set. Default 0x37 PIN_POLICY_VIOLATION (Chromium); OpenSK uses 0x31.
	ForcePINChangeOn09 Status
	// ForcePINChangeOn05 is the same for the legacy getPinToken (0x05).
	// Default 0x31 PIN_INVALID.
	ForcePINChangeOn05 Status
	// PermissionWithoutRPID is returned when mc/ga permissions are asked for
	// without an rpId (§6.5.5.7.2). Default 0x02 INVALID_PARAMETER; Chromium
	// uses 0x14.
	PermissionWithoutRPID Status
	// UnsupportedProtocol is returned for an unsupported pinUvAuthProtocol.
	// Default 0x02 INVALID_PARAMETER; Chromium uses 0x33.
	UnsupportedProtocol Status
	// PINLengthUnit selects code points (default) or bytes.
	PINLengthUnit PINLengthUnit
	// GetRetriesWithoutPIN is returned by getPINRetries while no PIN is set.
	// Default 0x35 PIN_NOT_SET (what python-fido2's device tests expect).
	// Set GetRetriesReportsCounter to answer with the counter instead.
	GetRetriesWithoutPIN Status
	// GetRetriesReportsCounter makes getPINRetries answer with the retry
	// counter even when no PIN is set (OpenSK behaviour).
	GetRetriesReportsCounter bool
	// ResidentCapacity is the number of discoverable credentials the key
	// can hold. Default: the model's slots (25 for keyprep-virtual;
	// Chromium's virtual device uses 3).
	ResidentCapacity int
	// MaxCredentialCountInList bounds allowList/excludeList lengths
	// (getInfo 0x07); longer lists get 0x15 LIMIT_EXCEEDED. Default 16.
	MaxCredentialCountInList int
	// MaxMsgSize is advertised in getInfo (0x05); longer requests get 0x39
	// REQUEST_TOO_LARGE. Default 1200.
	MaxMsgSize int
	// MaxRPIDsForSetMinPINLength (getInfo 0x10). Default 4.
	MaxRPIDsForSetMinPINLength int
	// DefaultMinPINLength is the factory minPINLength. Default 4.
	DefaultMinPINLength int
	// AlwaysUV is the factory value of the alwaysUv option. Default false.
	AlwaysUV bool
	// PINProtocols lists the supported PIN/UV auth protocols in order of
	// preference. Default [2, 1].
	PINProtocols []int
	// Clock supplies the time (usage timers, the 10 s reset window).
	// Default time.Now.
	Clock func() time.Time
	// Rand supplies randomness for keys, tokens, IVs and credential IDs.
	// Default crypto/rand.Reader. ECDSA signatures always use the system
	// CSPRNG (Go 1.26 ignores custom readers there).
	Rand io.Reader
	// Presence is the initial simulated-user behaviour (default Instant).
	Presence Presence
	// Finger is the initial simulated finger at a bio key's sensor
	// (default: every capture good).
	Finger Finger
	// KeepaliveInterval is the cadence of keepalive(UPNEEDED) while waiting
	// for presence. Default 100 ms.
	KeepaliveInterval time.Duration
	// ResetWindow is how long after power-up authenticatorReset is allowed
	// (§6.6). Default: the model's (10 s for keyprep-virtual).
	ResetWindow time.Duration
	// CommandLatency is added to every CTAP2 command before it is
	// processed: the time a real key's secure element takes (benchmarks
	// model a bench with it). Default 0.
	CommandLatency time.Duration
}

// DefaultConfig returns the configuration New uses for zero fields.
func DefaultConfig() Config {
	return Config{
		ForcePINChangeOn09:         StatusPINPolicyViolation,
		ForcePINChangeOn05:         StatusPINInvalid,
		PermissionWithoutRPID:      StatusInvalidParameter,
		UnsupportedProtocol:        StatusInvalidParameter,
		PINLengthUnit:              CodePoints,
		GetRetriesWithoutPIN:       StatusPINNotSet,
		ResidentCapacity:           25,
		MaxCredentialCountInList:   16,
		MaxMsgSize:                 1200,
		MaxRPIDsForSetMinPINLength: 4,
		DefaultMinPINLength:        4,
		PINProtocols:               []int{2, 1},
		Clock:                      time.Now,
		Rand:                       rand.Reader,
		Presence:                   Instant(),
		KeepaliveInterval:          100 * time.Millisecond,
		ResetWindow:                10 * time.Second,
	}
}

// withDefaults fills zero fields — from the model first, then from
// DefaultConfig — and validates the result.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.Model == nil {
		ms, err := loadBuiltins()
		if err != nil {
			return c, err
		}
		c.Model = ms[0]
	} else if err := c.Model.Validate(); err != nil {
		return c, fmt.Errorf("softkey: key model %s: %w", c.Model.Name, err)
	}
	m := c.Model
	g := &m.GetInfo
	if c.ForcePINChangeOn09 == 0 {
		c.ForcePINChangeOn09 = d.ForcePINChangeOn09
	}
	if c.ForcePINChangeOn05 == 0 {
		c.ForcePINChangeOn05 = d.ForcePINChangeOn05
	}
	if c.PermissionWithoutRPID == 0 {
		c.PermissionWithoutRPID = d.PermissionWithoutRPID
	}
	if c.UnsupportedProtocol == 0 {
		c.UnsupportedProtocol = d.UnsupportedProtocol
	}
	if c.GetRetriesWithoutPIN == 0 {
		c.GetRetriesWithoutPIN = d.GetRetriesWithoutPIN
	}
	fill := func(dst *int, model, def int) {
		switch {
		case *dst != 0:
		case model != 0:
			*dst = model
		default:
			*dst = def
		}
	}
	fill(&c.ResidentCapacity, m.Behaviour.Slots, d.ResidentCapacity)
	fill(&c.MaxCredentialCountInList, g.MaxCredentialCountInList, d.MaxCredentialCountInList)
	fill(&c.MaxMsgSize, g.MaxMsgSize, d.MaxMsgSize)
	fill(&c.MaxRPIDsForSetMinPINLength, g.MaxRPIDsForSetMinPIN, d.MaxRPIDsForSetMinPINLength)
	fill(&c.DefaultMinPINLength, g.MinPINLength, d.DefaultMinPINLength)
	if !c.AlwaysUV {
		c.AlwaysUV, _ = g.Option("alwaysUv")
	}
	if len(c.PINProtocols) == 0 {
		c.PINProtocols = g.PINUVAuthProtocols
	}
	if len(c.PINProtocols) == 0 {
		c.PINProtocols = d.PINProtocols
	}
	c.PINProtocols = append([]int(nil), c.PINProtocols...)
	if c.Clock == nil {
		c.Clock = d.Clock
	}
	if c.Rand == nil {
		c.Rand = d.Rand
	}
	if c.KeepaliveInterval <= 0 {
		c.KeepaliveInterval = d.KeepaliveInterval
	}
	for _, p := range c.PINProtocols {
		if p != 1 && p != 2 {
			return c, fmt.Errorf("softkey: unsupported PIN/UV auth protocol %d", p)
		}
	}
	if c.ResidentCapacity < 0 || c.MaxCredentialCountInList < 1 || c.MaxMsgSize < 64 {
		return c, fmt.Errorf("softkey: invalid capacity settings")
	}
	if c.DefaultMinPINLength < 4 || c.DefaultMinPINLength > 63 {
		return c, fmt.Errorf("softkey: DefaultMinPINLength must be within 4..63")
	}
	return c, nil
}

// Fault forces the next Count responses to Command to fail. Command 0 matches
// any command. When Corrupt is set the response is status 0x00 followed by
// bytes that are not valid CBOR (a truncated map), to exercise the host
// binding's robustness; otherwise the response is the single byte Status.
// A faulted command is not executed.
type Fault struct {
	Command byte
	Status  Status
	Count   int
	Corrupt bool
}
