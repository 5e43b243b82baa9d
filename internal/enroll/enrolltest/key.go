// Package enrolltest has in-memory fakes of what the enrollment workflow
// talks to: a security key (Key, a CTAP 2.1 authenticator reduced to the
// operations enroll.Device names, answering with real P-256 credentials
// and packed or none attestation), a directory (Directory, an Entra tenant
// reduced to enroll.Directory, which checks the registrations it is sent),
// the operator's PINs (PINs) and a bench of hot-plugged keys (KeySet).
// They let internal/enroll and internal/bench be tested on their own,
// without the simulations of the CLI (docs/architecture.md §5). Failures
// are scripted: a call that fails, a key pulled out mid-step, a
// registration whose outcome is lost.
package enrolltest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/keycaps"
)

// Operations of a Key, as named by Calls and the fault scripts.
const (
	OpInfo                 = "info"
	OpPINRetries           = "pinretries"
	OpSetPIN               = "setpin"
	OpReset                = "reset"
	OpSetMinPINLength      = "setminpinlength"
	OpSetMinPINLengthRPIDs = "setminpinlengthrpids"
	OpForcePINChange       = "forcepinchange"
	OpMakeCredential       = "makecredential"
	OpGetAssertion         = "getassertion"
	OpCredentials          = "credentials"
	OpDeleteCredential     = "deletecredential"
	OpToggleAlwaysUV       = "togglealwaysuv"
)

// Attestation formats a Key answers makeCredential with.
const (
	AttestPacked = "packed" // packed with an x5c chain (WebAuthn L3 §8.2)
	AttestSelf   = "self"   // packed self attestation, no certificate
	AttestNone   = "none"   // WebAuthn L3 §8.7
)

// DefaultAAGUID is the model identity of a Key unless configured.
var DefaultAAGUID = [16]byte{0x6b, 0x65, 0x79, 0x70, 0x72, 0x65, 0x70, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x2d, 0x6b, 0x65, 0x79}

// KeyConfig describes a factory-fresh key.
type KeyConfig struct {
	Path   string
	AAGUID [16]byte // zero: DefaultAAGUID
	// Slots is the number of discoverable credentials it holds (0: 25).
	Slots int
	// Attestation is AttestPacked (default), AttestSelf or AttestNone.
	Attestation string
	// MinPINLength is the factory minimum (0: 4; a Profile's minPINLength
	// when it has one).
	MinPINLength int
	// Profile, when set, is the key's model as getInfo declares it
	// (keycaps.GetInfo, as FIDO metadata and the virtual key's model
	// profiles write it): its versions, extensions, options, PIN
	// protocols, firmware and AAGUID replace the default CTAP 2.1 key's,
	// and the key behaves by them: without authnrCfg the
	// authenticatorConfig commands answer INVALID_COMMAND, without
	// credMgmt or credentialMgmtPreview so does credential management, an
	// extension it does not list gets no output. Its
	// remainingDiscoverableCredentials, when set, makes the key report
	// the slots left (Slots still bounds them).
	Profile *keycaps.GetInfo
	// Serial is the key's USB serial number string ("" when none).
	Serial string
	// NoCredProtectEcho: the key sends no credProtect output when level 1
	// is requested (as some CTAP 2.0 keys do).
	NoCredProtectEcho bool
	// RefusePIN, when set, is the key's own PIN complexity: setPIN with a
	// PIN it returns true for answers CTAP2_ERR_PIN_POLICY_VIOLATION.
	RefusePIN func(pin string) bool
	// ResetWindowPassed: the key answers a reset with NOT_ALLOWED (its
	// window after power-up has passed) until it is replugged.
	ResetWindowPassed bool
	// ResetOnlyFirst: any operation other than getInfo since the key was
	// plugged in makes it answer a reset with NOT_ALLOWED, as OpenSK does
	// (a reset must come first after power-up).
	ResetOnlyFirst bool
}

// KeyState is a key's state as a test sets it up or checks it.
type KeyState struct {
	PIN               string // "" when no PIN is set
	Retries           int
	MinPINLength      int
	ForcePINChange    bool
	MinPINLengthRPIDs []string
	// Credentials are the discoverable credentials on the key (read only:
	// Edit ignores changes to it).
	Credentials []StoredCredential
}

// StoredCredential is a discoverable credential on a Key.
type StoredCredential struct {
	ID       []byte
	RPID     string
	UserName string
}

type credential struct {
	id          []byte
	rpID        string
	userID      []byte
	userName    string
	displayName string
	priv        *ecdsa.PrivateKey
	credProtect int
	signCount   uint32
}

type fault struct {
	op     string
	nth    int
	err    error
	unplug bool // the key leaves: this call and every later one fail
	after  bool // the side effect happens, then the answer is lost
}

// Key is a fake security key: it implements enroll.Device and
// bench.Device. It is safe for concurrent use.
type Key struct {
	path        string
	aaguid      [16]byte
	slots       int
	attestation string
	profile     *keycaps.GetInfo
	serial      string
	noEcho1     bool
	refusePIN   func(string) bool
	resetLate   bool
	resetFirst  bool
	resetVoid   bool // an operation other than getInfo came since power-up
	alwaysUV    bool

	// OnCall, when set, runs at the start of every operation (outside the
	// key's lock): a test can act in the middle of a step there, such as
	// pulling another key out.
	OnCall func(op string)

	mu          sync.Mutex
	pin         []byte
	retries     int
	inARow      int // wrong PINs since power-up
	authBlocked bool
	minPIN      int
	factoryMin  int
	forceChange bool
	rpIDs       []string
	creds       []*credential
	calls       map[string]int
	faults      []fault
	unplugged   bool
	closes      int
	attKey      *ecdsa.PrivateKey
	attCert     []byte
}

// NewKey returns a factory-fresh key: no PIN, 8 retries.
func NewKey(c KeyConfig) *Key {
	k := &Key{path: c.Path, aaguid: c.AAGUID, slots: c.Slots, attestation: c.Attestation, factoryMin: c.MinPINLength,
		calls: map[string]int{}, profile: c.Profile, serial: c.Serial, noEcho1: c.NoCredProtectEcho, refusePIN: c.RefusePIN,
		resetLate: c.ResetWindowPassed, resetFirst: c.ResetOnlyFirst}
	if p := c.Profile; p != nil {
		if a, err := p.AAGUIDBytes(); err == nil && k.aaguid == ([16]byte{}) {
			k.aaguid = a
		}
		if k.factoryMin <= 0 {
			k.factoryMin = p.MinPINLength
		}
		if k.slots <= 0 && p.RemainingDiscoverableCredentials != nil {
			k.slots = *p.RemainingDiscoverableCredentials
		}
	}
	if k.aaguid == ([16]byte{}) {
		k.aaguid = DefaultAAGUID
	}
	if k.slots <= 0 {
		k.slots = 25
	}
	if k.attestation == "" {
		k.attestation = AttestPacked
	}
	if k.factoryMin <= 0 {
		k.factoryMin = 4
	}
	k.factoryReset()
	return k
}

func (k *Key) factoryReset() {
	k.pin, k.retries, k.inARow, k.authBlocked = nil, 8, 0, false
	k.minPIN, k.forceChange, k.rpIDs, k.creds = k.factoryMin, false, nil, nil
	k.alwaysUV = false
	if k.profile != nil {
		k.alwaysUV, _ = k.profile.Option("alwaysUv")
	}
}

// Serial implements enroll.SerialReporter: the USB serial number string.
func (k *Key) Serial() string { return k.serial }

// has reports whether the key's model lists option name as supported
// (the default key has every option).
func (k *Key) has(option string) bool {
	if k.profile == nil {
		return true
	}
	_, ok := k.profile.Options[option]
	return ok
}

func (k *Key) hasExt(x string) bool { return k.profile == nil || k.profile.HasExtension(x) }

func (k *Key) config() bool {
	if k.profile == nil {
		return true
	}
	v, _ := k.profile.Option("authnrCfg")
	return v
}

func (k *Key) credMgmt() bool {
	if k.profile == nil {
		return true
	}
	a, _ := k.profile.Option("credMgmt")
	b, _ := k.profile.Option("credentialMgmtPreview")
	return a || b
}

// Path implements enroll.Device.
func (k *Key) Path() string { return k.path }

// AAGUID is the key's model identity.
func (k *Key) AAGUID() [16]byte { return k.aaguid }

// State returns a copy of the key's state.
func (k *Key) State() KeyState {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := KeyState{PIN: string(k.pin), Retries: k.retries, MinPINLength: k.minPIN, ForcePINChange: k.forceChange,
		MinPINLengthRPIDs: slices.Clone(k.rpIDs)}
	for _, c := range k.creds {
		s.Credentials = append(s.Credentials, StoredCredential{ID: slices.Clone(c.id), RPID: c.rpID, UserName: c.userName})
	}
	return s
}

// Edit changes the key's state as a test prepares it (a PIN set by
// someone else, retries spent, a pending PIN change).
func (k *Key) Edit(f func(*KeyState)) {
	s := k.State()
	f(&s)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pin = nil
	if s.PIN != "" {
		k.pin = []byte(s.PIN)
	}
	k.retries, k.minPIN, k.forceChange, k.rpIDs = s.Retries, s.MinPINLength, s.ForcePINChange, s.MinPINLengthRPIDs
}

// Calls counts the calls of op so far.
func (k *Key) Calls(op string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.calls[op]
}

// Closes counts Close calls.
func (k *Key) Closes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closes
}

// FailCall makes the nth call of op (counted since the key was made,
// from 1) fail with err, before any effect.
func (k *Key) FailCall(op string, nth int, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.faults = append(k.faults, fault{op: op, nth: nth, err: err})
}

// UnplugAt pulls the key out during the nth call of op: with after false
// before the key acts, with after true once it has acted but before it
// answers. That call and every later one fail as a vanished device does.
func (k *Key) UnplugAt(op string, nth int, after bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.faults = append(k.faults, fault{op: op, nth: nth, unplug: true, after: after})
}

// Unplug pulls the key out now.
func (k *Key) Unplug() {
	k.mu.Lock()
	k.unplugged = true
	k.mu.Unlock()
}

// Replug plugs the key back in (a power cycle: the PIN is no longer soft
// locked after three wrong attempts).
func (k *Key) Replug() {
	k.mu.Lock()
	k.unplugged, k.inARow, k.authBlocked, k.resetLate, k.resetVoid = false, 0, false, false, false
	k.mu.Unlock()
}

// Plugged reports whether the key is attached.
func (k *Key) Plugged() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.unplugged
}

// Close implements bench.Device.
func (k *Key) Close() error {
	k.mu.Lock()
	k.closes++
	k.mu.Unlock()
	return nil
}

// Err returns the error the hid binding makes of a CTAP status or a
// libfido2 code.
func Err(op string, c hid.Code) error { return &hid.Error{Op: op, Code: c} }

// enter starts operation op: it counts the call, runs OnCall and the
// fault script, and returns with k.mu held unless it returns an error.
// done must be called with the operation's error when the key has acted.
func (k *Key) enter(op string) (done func(error) error, err error) {
	if k.OnCall != nil {
		k.OnCall(op)
	}
	k.mu.Lock()
	k.calls[op]++
	n := k.calls[op]
	if op != OpInfo && op != OpReset {
		k.resetVoid = true
	}
	if k.unplugged {
		k.mu.Unlock()
		return nil, Err(op, hid.CodeTX)
	}
	var after *fault
	for i := range k.faults {
		f := k.faults[i]
		if f.op != op || f.nth != n {
			continue
		}
		if f.unplug && f.after {
			after = &k.faults[i]
			continue
		}
		if f.unplug {
			k.unplugged = true
			k.mu.Unlock()
			return nil, Err(op, hid.CodeTX)
		}
		k.mu.Unlock()
		return nil, f.err
	}
	return func(err error) error {
		if after != nil {
			k.unplugged = true
			err = Err(op, hid.CodeRX)
		}
		k.mu.Unlock()
		return err
	}, nil
}

// Info implements enroll.Device (authenticatorGetInfo, CTAP 2.1 §6.4).
func (k *Key) Info(ctx context.Context) (*hid.Info, error) {
	done, err := k.enter(OpInfo)
	if err != nil {
		return nil, err
	}
	if k.profile != nil {
		info, err := hid.InfoOf(k.profile)
		if err != nil {
			return nil, done(err)
		}
		info.AAGUID = k.aaguid
		if _, ok := info.Options["clientPin"]; ok {
			info.Options["clientPin"] = k.pin != nil
		}
		if _, ok := info.Options["alwaysUv"]; ok {
			info.Options["alwaysUv"] = k.alwaysUV
		}
		info.ForcePINChange, info.MinPINLength = k.forceChange, uint64(k.minPIN)
		if info.RemainingResidentKeys >= 0 {
			info.RemainingResidentKeys = int64(k.slots - len(k.creds))
		}
		return info, done(nil)
	}
	info := &hid.Info{
		Versions:   []string{"U2F_V2", "FIDO_2_0", "FIDO_2_1"},
		Extensions: []string{"credProtect", "hmac-secret", "minPinLength"},
		AAGUID:     k.aaguid,
		Options: map[string]bool{"rk": true, "up": true, "plat": false, "clientPin": k.pin != nil, "credMgmt": true,
			"setMinPINLength": true, "authnrCfg": true, "pinUvAuthToken": true},
		PINProtocols:          []int{2, 1},
		MaxMsgSize:            1200,
		MaxCredCountInList:    8,
		MaxCredIDLength:       128,
		Transports:            []string{"usb"},
		Algorithms:            []hid.Algorithm{{Type: "public-key", COSE: hid.ES256}},
		ForcePINChange:        k.forceChange,
		MinPINLength:          uint64(k.minPIN),
		MaxRPIDsMinPINLength:  2,
		RemainingResidentKeys: int64(k.slots - len(k.creds)),
	}
	return info, done(nil)
}

// PINRetries implements enroll.Device.
func (k *Key) PINRetries(ctx context.Context) (int, error) {
	done, err := k.enter(OpPINRetries)
	if err != nil {
		return 0, err
	}
	if k.pin == nil {
		return 0, done(Err(OpPINRetries, hid.CodePINNotSet))
	}
	return k.retries, done(nil)
}

// SetPIN implements enroll.Device (setPIN, CTAP 2.1 §6.5.5.5).
func (k *Key) SetPIN(ctx context.Context, p []byte) error {
	done, err := k.enter(OpSetPIN)
	if err != nil {
		return err
	}
	switch {
	case k.pin != nil:
		return done(Err(OpSetPIN, hid.CodeNotAllowed))
	case len([]rune(string(p))) < k.minPIN || len(p) > 63:
		return done(Err(OpSetPIN, hid.CodePINPolicyViolation))
	case k.refusePIN != nil && k.refusePIN(string(p)):
		return done(Err(OpSetPIN, hid.CodePINPolicyViolation))
	}
	k.pin, k.retries = slices.Clone(p), 8
	return done(nil)
}

// verify checks a PIN as getPinUvAuthToken does (CTAP 2.1 §6.5.5.7); the
// caller holds k.mu.
func (k *Key) verify(op string, p []byte) error {
	switch {
	case k.pin == nil:
		return Err(op, hid.CodePINNotSet)
	case p == nil:
		return Err(op, hid.CodePINRequired)
	case k.retries == 0:
		return Err(op, hid.CodePINBlocked)
	case k.authBlocked:
		return Err(op, hid.CodePINAuthBlocked)
	}
	if !bytes.Equal(p, k.pin) {
		k.retries--
		k.inARow++
		switch {
		case k.retries == 0:
			return Err(op, hid.CodePINBlocked)
		case k.inARow >= 3:
			k.authBlocked = true
			return Err(op, hid.CodePINAuthBlocked)
		}
		return Err(op, hid.CodePINInvalid)
	}
	k.retries, k.inARow = 8, 0
	if k.forceChange {
		return Err(op, hid.CodePINPolicyViolation)
	}
	return nil
}

// Reset implements enroll.Device (authenticatorReset, CTAP 2.1 §6.6).
func (k *Key) Reset(ctx context.Context) error {
	done, err := k.enter(OpReset)
	if err != nil {
		return err
	}
	if k.resetLate || (k.resetFirst && k.resetVoid) {
		return done(Err(OpReset, hid.CodeNotAllowed))
	}
	k.factoryReset()
	return done(nil)
}

// SetMinPINLength implements enroll.Device (CTAP 2.1 §6.11.4).
func (k *Key) SetMinPINLength(ctx context.Context, n int, p []byte) error {
	done, err := k.enter(OpSetMinPINLength)
	if err != nil {
		return err
	}
	if !k.config() {
		return done(Err(OpSetMinPINLength, hid.CodeInvalidCommand))
	}
	if err := k.verify(OpSetMinPINLength, p); err != nil {
		return done(err)
	}
	if n < k.minPIN || n > 63 {
		return done(Err(OpSetMinPINLength, hid.CodePINPolicyViolation))
	}
	k.minPIN = n
	if len([]rune(string(k.pin))) < n {
		k.forceChange = true
	}
	return done(nil)
}

// SetMinPINLengthRPIDs implements enroll.Device.
func (k *Key) SetMinPINLengthRPIDs(ctx context.Context, rpIDs []string, p []byte) error {
	done, err := k.enter(OpSetMinPINLengthRPIDs)
	if err != nil {
		return err
	}
	if !k.config() {
		return done(Err(OpSetMinPINLengthRPIDs, hid.CodeInvalidCommand))
	}
	if err := k.verify(OpSetMinPINLengthRPIDs, p); err != nil {
		return done(err)
	}
	if len(rpIDs) > 2 {
		return done(Err(OpSetMinPINLengthRPIDs, hid.CodeLimitExceeded))
	}
	k.rpIDs = slices.Clone(rpIDs)
	return done(nil)
}

// ForcePINChange implements enroll.Device.
func (k *Key) ForcePINChange(ctx context.Context, p []byte) error {
	done, err := k.enter(OpForcePINChange)
	if err != nil {
		return err
	}
	if !k.config() {
		return done(Err(OpForcePINChange, hid.CodeInvalidCommand))
	}
	if err := k.verify(OpForcePINChange, p); err != nil {
		return done(err)
	}
	k.forceChange = true
	return done(nil)
}

// MakeCredential implements enroll.Device (authenticatorMakeCredential,
// CTAP 2.1 §6.1): a new P-256 credential, attested as configured.
func (k *Key) MakeCredential(ctx context.Context, req hid.MakeCredentialRequest, p []byte) (*hid.Credential, error) {
	done, err := k.enter(OpMakeCredential)
	if err != nil {
		return nil, err
	}
	uv := false
	if k.pin != nil {
		if err := k.verify(OpMakeCredential, p); err != nil {
			return nil, done(err)
		}
		uv = true
	} else if p != nil {
		return nil, done(Err(OpMakeCredential, hid.CodePINNotSet))
	}
	for _, id := range req.ExcludeList {
		for _, c := range k.creds {
			if c.rpID == req.RP.ID && bytes.Equal(c.id, id) {
				return nil, done(Err(OpMakeCredential, hid.CodeCredentialExcluded))
			}
		}
	}
	if req.Algorithm != 0 && req.Algorithm != hid.ES256 {
		return nil, done(Err(OpMakeCredential, hid.CodeUnsupportedAlgorithm))
	}
	if req.ResidentKey {
		// A credential for the same RP and user handle is replaced.
		k.creds = slices.DeleteFunc(k.creds, func(c *credential) bool {
			return c.rpID == req.RP.ID && bytes.Equal(c.userID, req.User.ID)
		})
		if len(k.creds) >= k.slots {
			return nil, done(Err(OpMakeCredential, hid.CodeKeyStoreFull))
		}
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, done(err)
	}
	c := &credential{id: random(32), rpID: req.RP.ID, userID: slices.Clone(req.User.ID), userName: req.User.Name,
		displayName: req.User.DisplayName, priv: priv, credProtect: int(req.CredProtect)}
	if c.credProtect == 0 {
		c.credProtect = 1
	}
	flags := byte(0x01 | 0x40) // UP, AT
	if uv {
		flags |= 0x04
	}
	ext := map[string]any{}
	if req.CredProtect != 0 && k.hasExt("credProtect") && !(k.noEcho1 && req.CredProtect == 1) {
		ext["credProtect"] = uint8(req.CredProtect)
	}
	if !k.hasExt("credProtect") {
		c.credProtect = 1
	}
	hmac := req.HMACSecret && k.hasExt("hmac-secret")
	if hmac {
		ext["hmac-secret"] = true
	}
	if len(ext) > 0 {
		flags |= 0x80
	}
	cose, pub, err := coseKey(&priv.PublicKey)
	if err != nil {
		return nil, done(err)
	}
	ad := authData(req.RP.ID, flags, 0)
	ad = append(ad, k.aaguid[:]...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(c.id)))
	ad = append(ad, c.id...)
	ad = append(ad, cose...)
	if len(ext) > 0 {
		b, err := enc.Marshal(ext)
		if err != nil {
			return nil, done(err)
		}
		ad = append(ad, b...)
	}
	signed := append(slices.Clone(ad), req.ClientDataHash...)
	cred := &hid.Credential{Format: "packed", AuthData: ad, ID: slices.Clone(c.id), PublicKey: pub, AAGUID: slices.Clone(k.aaguid[:]),
		Flags: flags, Algorithm: hid.ES256, HMACSecret: hmac}
	if v, ok := ext["credProtect"].(uint8); ok {
		cred.CredProtect = hid.CredProtect(v)
	}
	switch k.attestation {
	case AttestNone:
		cred.Format, cred.AttStmt = "none", []byte{0xa0}
	case AttestSelf:
		cred.Sig = sign(priv, signed)
		cred.AttStmt, err = enc.Marshal(map[string]any{"alg": hid.ES256, "sig": cred.Sig})
	default:
		if err := k.attestationCert(); err != nil {
			return nil, done(err)
		}
		cred.Sig, cred.X5C = sign(k.attKey, signed), [][]byte{k.attCert}
		cred.AttStmt, err = enc.Marshal(map[string]any{"alg": hid.ES256, "sig": cred.Sig, "x5c": [][]byte{k.attCert}})
	}
	if err != nil {
		return nil, done(err)
	}
	if req.ResidentKey {
		k.creds = append(k.creds, c)
	}
	return cred, done(nil)
}

// GetAssertion implements enroll.Device (authenticatorGetAssertion, CTAP
// 2.1 §6.2), honouring credProtect (§12.1): a level 3 credential answers
// only with user verification, a level 2 one without verification only
// when it is in the allow list.
func (k *Key) GetAssertion(ctx context.Context, req hid.AssertionRequest, p []byte) ([]hid.Assertion, error) {
	done, err := k.enter(OpGetAssertion)
	if err != nil {
		return nil, err
	}
	uv := false
	if p != nil {
		if err := k.verify(OpGetAssertion, p); err != nil {
			return nil, done(err)
		}
		uv = true
	}
	var pick *credential
	for _, c := range k.creds {
		if c.rpID != req.RPID {
			continue
		}
		if len(req.AllowList) > 0 && !slices.ContainsFunc(req.AllowList, func(id []byte) bool { return bytes.Equal(id, c.id) }) {
			continue
		}
		if !uv && (c.credProtect == 3 || (c.credProtect == 2 && len(req.AllowList) == 0)) {
			continue
		}
		pick = c
		break
	}
	if pick == nil {
		return nil, done(Err(OpGetAssertion, hid.CodeNoCredentials))
	}
	pick.signCount++
	flags := byte(0)
	if !req.NoUP {
		flags |= 0x01
	}
	if uv {
		flags |= 0x04
	}
	ad := authData(req.RPID, flags, pick.signCount)
	sig := sign(pick.priv, append(slices.Clone(ad), req.ClientDataHash...))
	return []hid.Assertion{{AuthData: ad, Sig: sig, CredentialID: slices.Clone(pick.id), UserID: slices.Clone(pick.userID),
		UserName: pick.userName, DisplayName: pick.displayName, Flags: flags, SignCount: pick.signCount}}, done(nil)
}

// Credentials implements enroll.Device (enumerateCredentials, CTAP 2.1
// §6.8.4).
func (k *Key) Credentials(ctx context.Context, rpID string, p []byte) ([]hid.ResidentCredential, error) {
	done, err := k.enter(OpCredentials)
	if err != nil {
		return nil, err
	}
	if !k.credMgmt() {
		return nil, done(Err(OpCredentials, hid.CodeInvalidCommand))
	}
	if err := k.verify(OpCredentials, p); err != nil {
		return nil, done(err)
	}
	var out []hid.ResidentCredential
	for _, c := range k.creds {
		if c.rpID == rpID {
			out = append(out, hid.ResidentCredential{ID: slices.Clone(c.id), UserID: slices.Clone(c.userID), UserName: c.userName,
				DisplayName: c.displayName, CredProtect: hid.CredProtect(c.credProtect), Algorithm: hid.ES256})
		}
	}
	if len(out) == 0 {
		return nil, done(Err(OpCredentials, hid.CodeNoCredentials))
	}
	return out, done(nil)
}

// DeleteCredential implements enroll.Device (CTAP 2.1 §6.8.5).
func (k *Key) DeleteCredential(ctx context.Context, id []byte, p []byte) error {
	done, err := k.enter(OpDeleteCredential)
	if err != nil {
		return err
	}
	if !k.credMgmt() {
		return done(Err(OpDeleteCredential, hid.CodeInvalidCommand))
	}
	if err := k.verify(OpDeleteCredential, p); err != nil {
		return done(err)
	}
	n := len(k.creds)
	k.creds = slices.DeleteFunc(k.creds, func(c *credential) bool { return bytes.Equal(c.id, id) })
	if len(k.creds) == n {
		return done(Err(OpDeleteCredential, hid.CodeNoCredentials))
	}
	return done(nil)
}

// ToggleAlwaysUV implements enroll.AlwaysUVToggler (authenticatorConfig
// toggleAlwaysUv, CTAP 2.1 §6.11.2).
func (k *Key) ToggleAlwaysUV(ctx context.Context, p []byte) error {
	done, err := k.enter(OpToggleAlwaysUV)
	if err != nil {
		return err
	}
	if !k.config() || !k.has("alwaysUv") {
		return done(Err(OpToggleAlwaysUV, hid.CodeInvalidCommand))
	}
	if err := k.verify(OpToggleAlwaysUV, p); err != nil {
		return done(err)
	}
	k.alwaysUV = !k.alwaysUV
	return done(nil)
}

// AlwaysUV reports the key's alwaysUv option.
func (k *Key) AlwaysUV() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.alwaysUV
}

// ---- encoding ----------------------------------------------------------------

// enc is CTAP2 canonical CBOR (CTAP 2.1 §8).
var enc = func() cbor.EncMode {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// authData is the fixed part of authenticator data (WebAuthn L3 §6.1).
func authData(rpID string, flags byte, signCount uint32) []byte {
	h := sha256.Sum256([]byte(rpID))
	ad := append(h[:], flags)
	return binary.BigEndian.AppendUint32(ad, signCount)
}

// coseKey encodes a P-256 public key as a COSE_Key (RFC 9053 §7.1.1) and
// as x‖y.
func coseKey(pub *ecdsa.PublicKey) (cose, xy []byte, err error) {
	pt, err := pub.Bytes() // 0x04 ‖ x ‖ y
	if err != nil {
		return nil, nil, err
	}
	x, y := pt[1:33], pt[33:65]
	cose, err = enc.Marshal(map[int]any{1: 2, 3: hid.ES256, -1: 1, -2: x, -3: y})
	return cose, slices.Clone(pt[1:]), err
}

func sign(priv *ecdsa.PrivateKey, msg []byte) []byte {
	h := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, priv, h[:])
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return sig
}

// oidAAGUID is id-fido-gen-ce-aaguid (WebAuthn L3 §8.2.1).
var oidAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// attestationCert makes the key's attestation certificate (WebAuthn L3
// §8.2.1 requirements: v3, subject OU "Authenticator Attestation", the
// AAGUID extension non-critical); the caller holds k.mu.
func (k *Key) attestationCert() error {
	if k.attCert != nil {
		return nil
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	aag, err := asn1.Marshal(k.aaguid[:])
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject: pkix.Name{Country: []string{"SE"}, Organization: []string{"keyprep tests"},
			OrganizationalUnit: []string{"Authenticator Attestation"}, CommonName: "enrolltest key"},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(24 * time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: oidAAGUID, Value: aag}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return err
	}
	k.attKey, k.attCert = priv, der
	return nil
}
