// Package softkey is a virtual FIDO2 security key: a CTAP 2.1 authenticator
// command processor (CTAP 2.1 Proposed Standard, 2021-06-15) that turns one
// CTAPHID_CBOR payload into a status byte plus a canonical CBOR response.
//
// It implements authenticatorMakeCredential, GetAssertion, GetNextAssertion,
// GetInfo, ClientPIN (PIN/UV auth protocols one and two), Reset,
// CredentialManagement (0x0A and the 0x41 preview alias), Selection,
// Config (toggleAlwaysUv, setMinPINLength) and, on bio models,
// BioEnrollment (0x09 and the 0x40 preview alias) with a simulated finger
// (Finger) and user verification by fingerprint. Credentials are ES256 only and
// are attested with "packed" full attestation under the project's TEST CA
// (testca/), whose private keys are public on purpose.
//
// The CTAPHID framing (package hid/ctaphid) calls HandleCBOR; a softkey never
// sees HID reports. Behaviour switches, a simulated user (Presence, Finger) and fault
// injection make it usable for negative tests.
//
// With Open, the key's persistent state — including the PIN hash, credential
// private keys and the credential-wrapping secret of this TEST key — is kept
// in a JSON file written atomically with mode 0600 after every command that
// changes it, so the virtual key "stays plugged in" across CLI runs.
package softkey

import (
	"context"
	"crypto/ecdh"
	"crypto/x509"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Model identity.
const (
	// ModelName is the model's name (what a metadata statement would call
	// its description).
	ModelName = "keyprep Virtual Key"
	// AAGUIDString is the model AAGUID: a random v4 UUID minted once for
	// this model. It is no vendor's AAGUID.
	AAGUIDString = "65bc18f9-32a6-46a3-be99-a753dc433836"
	// FirmwareVersion is reported in getInfo (0x0E).
	FirmwareVersion = 0x00010000
	// MaxCredentialIDLength is reported in getInfo (0x08). IDs issued by this
	// key are credentialIDLength bytes long.
	MaxCredentialIDLength = 128
)

var aaguid = [16]byte{0x65, 0xbc, 0x18, 0xf9, 0x32, 0xa6, 0x46, 0xa3, 0xbe, 0x99, 0xa7, 0x53, 0xdc, 0x43, 0x38, 0x36}

// AAGUID returns the model AAGUID (16 bytes).
func AAGUID() [16]byte { return aaguid }

// Authenticator is one virtual security key. It is safe for concurrent use;
// commands are processed one at a time.
type Authenticator struct {
	mu    sync.Mutex // guards everything below except the control fields
	cfg   Config
	model *Model // cfg.Model, never nil
	// resetWindow is how long after power-up reset is allowed; 0 = always.
	resetWindow time.Duration
	path        string
	st          persistState
	saved       []byte

	// Volatile state, rebuilt at power-up (CTAP 2.1 §6.5.5.1 initialize()).
	kaKeys map[int]*ecdh.PrivateKey // per PIN protocol key-agreement key
	tokens map[int][]byte           // per PIN protocol pinUvAuthToken
	tok    tokenState
	next   *nextAssertionState
	rpEnum *rpEnumState
	crEnum *credEnumState
	// enroll is a bio key's fingerprint enrollment in progress (CTAP 2.1
	// §6.7.4): begun, not yet complete or cancelled.
	enroll *bioEnrollState
	// resetVoid: a command other than getInfo/selection arrived since
	// power-up, which cancels the reset permission on models with
	// Behaviour.ResetOnlyFirst (OpenSK).
	resetVoid bool

	ctl       sync.Mutex // guards presence, finger and faults
	presence  Presence
	finger    Finger
	fingerPos int // next sample of finger.Samples
	faults    []Fault

	winks   atomic.Int64
	touches atomic.Int64
}

// New returns a factory-new authenticator that keeps its state in memory.
func New(cfg Config) (*Authenticator, error) {
	a, err := newAuth(cfg)
	if err != nil {
		return nil, err
	}
	if a.st, err = a.factoryState(a.cfg.Clock()); err != nil {
		return nil, err
	}
	if err := a.powerOn(); err != nil {
		return nil, err
	}
	return a, nil
}

// Open loads the authenticator persisted at path, or creates a factory-new
// one there. Opening does not power-cycle the key: the power-up time and
// the consecutive-mismatch counter persist (call PowerCycle to "replug").
// The file holds key material of a TEST key in clear (mode 0600).
func Open(path string, cfg Config) (*Authenticator, error) {
	if path == "" {
		return nil, fmt.Errorf("softkey: Open needs a path")
	}
	a, err := newAuth(cfg)
	if err != nil {
		return nil, err
	}
	a.path = path
	st, data, err := loadState(path)
	switch {
	case err == nil:
		if st.modelName() != a.model.Name {
			return nil, &modelMismatchError{fmt.Sprintf("softkey: state file %s holds a key of model %s, not %s (a key's model is fixed when it is first plugged in; use another state file, or the model %s)",
				path, st.modelName(), a.model.Name, st.modelName())}
		}
		if st.PINRetries > a.maxRetries() {
			return nil, fmt.Errorf("softkey: state file %s holds invalid values", path)
		}
		a.st, a.saved = st, data
	case isNotExist(err):
		if a.st, err = a.factoryState(a.cfg.Clock()); err != nil {
			return nil, err
		}
		if err := a.save(); err != nil {
			return nil, fmt.Errorf("softkey: creating state file: %w", err)
		}
	default:
		return nil, err
	}
	if err := a.powerOn(); err != nil {
		return nil, err
	}
	return a, nil
}

func newAuth(cfg Config) (*Authenticator, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Authenticator{cfg: c, model: c.Model, presence: c.Presence, finger: c.Finger}
	if c.Model.Attestation.Format == AttestationPacked {
		if _, err := c.Model.attestation(); err != nil {
			return nil, err
		}
	}
	a.resetWindow, _ = c.Model.Behaviour.resetWindow()
	if c.ResetWindow > 0 {
		a.resetWindow = c.ResetWindow
	}
	return a, nil
}

// powerOn rebuilds the volatile state: fresh key-agreement keys and
// pinUvAuthTokens for every protocol (§6.5.5.1), no token in use, no
// stateful command pending.
func (a *Authenticator) powerOn() error {
	a.kaKeys = map[int]*ecdh.PrivateKey{}
	for _, v := range a.cfg.PINProtocols {
		k, err := a.newECDHKey()
		if err != nil {
			return err
		}
		a.kaKeys[v] = k
	}
	a.next, a.rpEnum, a.crEnum, a.enroll = nil, nil, nil, nil
	a.resetVoid = false
	return a.resetTokens()
}

// PowerCycle simulates unplugging and replugging the key (docs/ctap.md §5):
// new key-agreement keys and pinUvAuthTokens, the consecutive-mismatch
// counter and soft lock cleared, stateful commands forgotten, and the 10 s
// reset window reopened (power-up time := now). The result is persisted.
func (a *Authenticator) PowerCycle() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.ConsecutiveMismatches = 0
	a.st.PowerUp = a.cfg.Clock()
	if err := a.powerOn(); err != nil {
		return err
	}
	return a.save()
}

// Wink handles CTAPHID_WINK (CTAP 2.1 §11.2.9.2.1); the virtual key only
// counts winks (see State.Winks).
func (a *Authenticator) Wink() { a.winks.Add(1) }

// SetPresence changes how the simulated user answers requests for user
// presence. It takes effect for the next wait.
func (a *Authenticator) SetPresence(p Presence) {
	a.ctl.Lock()
	a.presence = p
	a.ctl.Unlock()
}

// InjectFault queues a fault; faults are matched in the order injected.
func (a *Authenticator) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	a.ctl.Lock()
	a.faults = append(a.faults, f)
	a.ctl.Unlock()
}

// ClearFaults removes all queued faults.
func (a *Authenticator) ClearFaults() {
	a.ctl.Lock()
	a.faults = nil
	a.ctl.Unlock()
}

func (a *Authenticator) takeFault(cmd byte) (Fault, bool) {
	a.ctl.Lock()
	defer a.ctl.Unlock()
	for i := range a.faults {
		f := &a.faults[i]
		if f.Command == 0 || f.Command == cmd {
			out := *f
			f.Count--
			if f.Count <= 0 {
				a.faults = append(a.faults[:i], a.faults[i+1:]...)
			}
			return out, true
		}
	}
	return Fault{}, false
}

// SetFinger changes the simulated finger at a bio key's sensor; its
// samples start from the first.
func (a *Authenticator) SetFinger(f Finger) {
	a.ctl.Lock()
	a.finger, a.fingerPos = f, 0
	a.ctl.Unlock()
}

// nextSample takes the finger's next sample (the last one repeats).
func (a *Authenticator) nextSample() (FingerSample, time.Duration) {
	a.ctl.Lock()
	defer a.ctl.Unlock()
	f := a.finger
	if len(f.Samples) == 0 {
		return FingerGood, f.Delay
	}
	i := min(a.fingerPos, len(f.Samples)-1)
	a.fingerPos++
	return f.Samples[i], f.Delay
}

func (a *Authenticator) currentPresence() Presence {
	a.ctl.Lock()
	defer a.ctl.Unlock()
	return a.presence
}

// State is a snapshot of the key's user-visible state, for tests and the CLI.
type State struct {
	PINSet             bool
	PINRetries         int
	PowerCycleRequired bool // soft lock: 3 consecutive mismatches since power-up
	MinPINLength       int
	MinPINLengthRPIDs  []string
	ForcePINChange     bool
	AlwaysUV           bool
	ResidentCount      int
	ResidentCapacity   int
	SignCount          uint32
	PowerUp            time.Time
	Winks              int64
	// PresenceRequests counts how often the key asked for a touch.
	PresenceRequests int64
	// Fingerprints are the names of a bio key's enrolled fingerprints
	// ("" for an unnamed one), in enrollment order.
	Fingerprints []string
	// EnrollmentPending: a fingerprint enrollment was begun and neither
	// completed nor cancelled.
	EnrollmentPending bool
	// UVRetries is a bio key's remaining built-in user verification
	// attempts (0 for a key without built-in UV).
	UVRetries int
}

// Status returns a snapshot of the key's state. It waits for a command in
// progress to finish.
func (a *Authenticator) Status() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return State{
		PINSet:             a.st.PINHash != nil,
		PINRetries:         a.st.PINRetries,
		PowerCycleRequired: a.st.ConsecutiveMismatches >= softLockAttempts,
		MinPINLength:       a.st.MinPINLength,
		MinPINLengthRPIDs:  append([]string(nil), a.st.MinPINLengthRPIDs...),
		ForcePINChange:     a.st.ForcePINChange,
		AlwaysUV:           a.st.AlwaysUV,
		ResidentCount:      len(a.st.Credentials),
		ResidentCapacity:   a.cfg.ResidentCapacity,
		SignCount:          a.st.SignCount,
		PowerUp:            a.st.PowerUp,
		Winks:              a.winks.Load(),
		PresenceRequests:   a.touches.Load(),
		Fingerprints:       a.templateNames(),
		EnrollmentPending:  a.enroll != nil,
		UVRetries:          a.uvRetries(),
	}
}

// Model returns the key's model.
func (a *Authenticator) Model() *Model { return a.model }

// USBSerial returns the USB serial number string the key reports: stable
// for the key's lifetime (a reset keeps it; a different key has another),
// "" when its model reports none.
func (a *Authenticator) USBSerial() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.USBSerial
}

// Path returns the state file path ("" for an in-memory key).
func (a *Authenticator) Path() string { return a.path }

// AttestationRoots returns a pool holding the TEST root CA that issued the
// batch attestation certificate.
func (a *Authenticator) AttestationRoots() *x509.CertPool {
	return AttestationRoots()
}

// AttestationRoots returns a pool holding the package's TEST root CA.
func AttestationRoots() *x509.CertPool {
	p := x509.NewCertPool()
	if m, err := attestationMaterial(); err == nil {
		p.AddCert(m.root)
	}
	return p
}

// RootCertificate returns the TEST root CA certificate.
func RootCertificate() *x509.Certificate {
	m, err := attestationMaterial()
	if err != nil {
		return nil
	}
	return m.root
}

// BatchCertificate returns the batch attestation (leaf) certificate.
func BatchCertificate() *x509.Certificate {
	m, err := attestationMaterial()
	if err != nil {
		return nil
	}
	return m.leaf
}

// HandleCBOR processes one CTAPHID_CBOR payload: msg[0] is the CTAP command
// byte, msg[1:] its CBOR parameters. It returns the status byte followed by
// the optional CBOR response map (CTAP 2.1 §8.2). While waiting for user
// presence it calls keepalive(2) (UPNEEDED) every Config.KeepaliveInterval;
// cancelling ctx (CTAPHID_CANCEL) makes such a request fail with 0x2D
// KEEPALIVE_CANCEL. keepalive may be nil.
func (a *Authenticator) HandleCBOR(ctx context.Context, msg []byte, keepalive func(status byte)) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			resp = []byte{byte(StatusOther)}
		}
	}()
	if keepalive == nil {
		keepalive = func(byte) {}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if len(msg) == 0 {
		return []byte{byte(StatusInvalidLength)}
	}
	cmd := msg[0]
	if d := a.cfg.CommandLatency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return []byte{byte(StatusKeepaliveCancel)}
		case <-t.C:
		}
	}
	if f, ok := a.takeFault(cmd); ok {
		if f.Corrupt {
			return []byte{byte(StatusOK), 0xA2, 0x01} // map of 2 with one key: truncated
		}
		return []byte{byte(f.Status)}
	}

	a.mu.Lock()
	defer a.mu.Unlock()

	// Stateful commands end as soon as another command arrives (§6.3,
	// §6.8.3/§6.8.4).
	if cmd != CmdGetNextAssertion {
		a.next = nil
	}
	if cmd != CmdCredentialManagement && cmd != CmdCredentialMgmtPreview {
		a.rpEnum, a.crEnum = nil, nil
	}
	if cmd != CmdBioEnrollment && cmd != CmdBioEnrollmentPreview && cmd != CmdGetInfo {
		a.enroll = nil
	}
	if len(msg) > a.cfg.MaxMsgSize {
		return []byte{byte(StatusRequestTooLarge)}
	}
	if !a.model.commandSupported(cmd) {
		return []byte{byte(StatusInvalidCommand)}
	}
	if cmd != CmdGetInfo && cmd != CmdSelection && cmd != CmdReset {
		a.resetVoid = true
	}

	x := &exchange{ctx: ctx, keepalive: keepalive}
	out, err := a.dispatch(x, cmd, msg[1:])
	if serr := a.save(); serr != nil && err == nil {
		// The command took effect in memory but could not be persisted.
		err = fail(StatusOther)
	}
	if err != nil {
		return []byte{byte(statusOf(err))}
	}
	if out == nil {
		return []byte{byte(StatusOK)}
	}
	return append([]byte{byte(StatusOK)}, encode(out)...)
}

// exchange carries the per-request transport context.
type exchange struct {
	ctx       context.Context
	keepalive func(byte)
}

func (a *Authenticator) dispatch(x *exchange, cmd byte, body []byte) (map[int]any, error) {
	switch cmd {
	case CmdGetInfo:
		return a.getInfo(), nil
	case CmdMakeCredential:
		return a.makeCredential(x, body)
	case CmdGetAssertion:
		return a.getAssertion(x, body)
	case CmdGetNextAssertion:
		return a.getNextAssertion()
	case CmdClientPIN:
		return a.clientPIN(x, body)
	case CmdReset:
		return nil, a.reset(x)
	case CmdCredentialManagement, CmdCredentialMgmtPreview:
		return a.credentialManagement(body)
	case CmdSelection:
		if s := a.waitPresence(x); s != StatusOK {
			return nil, fail(s)
		}
		return nil, nil
	case CmdConfig:
		return nil, a.config(body)
	case CmdBioEnrollment, CmdBioEnrollmentPreview:
		return a.bioEnrollment(x, body)
	}
	return nil, fail(StatusInvalidCommand)
}

// waitPresence asks the simulated user for a touch (CTAP 2.1 §6.1.2 step
// 14 "collect user presence"), sending keepalive(UPNEEDED) while waiting.
func (a *Authenticator) waitPresence(x *exchange) Status {
	a.touches.Add(1)
	if x.ctx.Err() != nil {
		return StatusKeepaliveCancel
	}
	p := a.currentPresence()
	var d time.Duration
	result := StatusOK
	switch p.Mode {
	case PresenceInstant:
		return StatusOK
	case PresenceDenied:
		return StatusOperationDenied
	case PresenceDelayed:
		d = p.Delay
	case PresenceTimeout:
		d, result = p.Delay, StatusUserActionTimeout
		if d <= 0 {
			d = DefaultPresenceTimeout
		}
	default:
		return StatusOperationDenied
	}
	const upNeeded = 2
	x.keepalive(upNeeded)
	if p.Waiting != nil {
		select {
		case p.Waiting <- struct{}{}:
		default:
		}
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	tick := time.NewTicker(a.cfg.KeepaliveInterval)
	defer tick.Stop()
	for {
		select {
		case <-x.ctx.Done():
			return StatusKeepaliveCancel
		case <-timer.C:
			return result
		case <-tick.C:
			x.keepalive(upNeeded)
		}
	}
}

// randBytes reads n bytes from the configured randomness source.
func (a *Authenticator) randBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(a.cfg.Rand, b); err != nil {
		return nil, fail(StatusOther)
	}
	return b, nil
}

// newScalar draws a valid P-256 private scalar from Config.Rand.
func (a *Authenticator) newScalar() ([]byte, error) {
	for range 64 {
		b, err := a.randBytes(32)
		if err != nil {
			return nil, err
		}
		if _, err := ecdh.P256().NewPrivateKey(b); err == nil {
			return b, nil
		}
	}
	return nil, fail(StatusOther)
}

func (a *Authenticator) newECDHKey() (*ecdh.PrivateKey, error) {
	b, err := a.newScalar()
	if err != nil {
		return nil, err
	}
	return ecdh.P256().NewPrivateKey(b)
}

func (a *Authenticator) supportsProtocol(v int) bool {
	for _, p := range a.cfg.PINProtocols {
		if p == v {
			return true
		}
	}
	return false
}
