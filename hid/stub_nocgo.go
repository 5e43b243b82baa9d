//go:build !cgo

package hid

import (
	"context"
	"time"
)

// Built without cgo: every operation fails with an error matching
// ErrNoLibfido2. The API is identical to the cgo build.

func noLib(op string) error {
	return &Error{Op: op, Code: CodeNoLibfido2, Msg: "built without cgo/libfido2"}
}

// Device is an open session with one key. Without cgo it cannot be opened.
type Device struct {
	path string
}

// Enumerate lists attached keys; without cgo it fails with ErrNoLibfido2.
func Enumerate(ctx context.Context) ([]DeviceInfo, error) { return nil, noLib("enumerate") }

// Open opens a key; without cgo it fails with ErrNoLibfido2.
func Open(ctx context.Context, path string, opts ...Option) (*Device, error) {
	_ = buildOptions(opts)
	return nil, noLib("open")
}

// Path returns the path the device was opened with.
func (d *Device) Path() string {
	if d == nil {
		return ""
	}
	return d.path
}

// Serial returns "" without cgo.
func (d *Device) Serial() string { return "" }

// Close is a no-op without cgo.
func (d *Device) Close() error { return nil }

// Cancel is a no-op without cgo.
func (d *Device) Cancel() {}

// ReportStats returns 0, 0 without cgo.
func (d *Device) ReportStats() (out, in uint64) { return 0, 0 }

// IsFIDO2 returns false without cgo.
func (d *Device) IsFIDO2() bool { return false }

// HasPIN returns false without cgo.
func (d *Device) HasPIN() bool { return false }

// SupportsPIN returns false without cgo.
func (d *Device) SupportsPIN() bool { return false }

// HasUV returns false without cgo.
func (d *Device) HasUV() bool { return false }

// SupportsUV returns false without cgo.
func (d *Device) SupportsUV() bool { return false }

// SupportsCredMan returns false without cgo.
func (d *Device) SupportsCredMan() bool { return false }

// SupportsCredProtect returns false without cgo.
func (d *Device) SupportsCredProtect() bool { return false }

// SupportsPermissions returns false without cgo.
func (d *Device) SupportsPermissions() bool { return false }

// CTAPHIDInfo returns the zero value without cgo.
func (d *Device) CTAPHIDInfo() CTAPHIDInfo { return CTAPHIDInfo{} }

// Info fails with ErrNoLibfido2 without cgo.
func (d *Device) Info(ctx context.Context) (*Info, error) { return nil, noLib("get info") }

// PINRetries fails with ErrNoLibfido2 without cgo.
func (d *Device) PINRetries(ctx context.Context) (int, error) { return 0, noLib("get PIN retries") }

// UVRetries fails with ErrNoLibfido2 without cgo.
func (d *Device) UVRetries(ctx context.Context) (int, error) { return 0, noLib("get UV retries") }

// SetPIN fails with ErrNoLibfido2 without cgo.
func (d *Device) SetPIN(ctx context.Context, pin []byte) error { return noLib("set PIN") }

// ChangePIN fails with ErrNoLibfido2 without cgo.
func (d *Device) ChangePIN(ctx context.Context, oldPIN, newPIN []byte) error {
	return noLib("change PIN")
}

// Reset fails with ErrNoLibfido2 without cgo.
func (d *Device) Reset(ctx context.Context) error { return noLib("reset") }

// SetMinPINLength fails with ErrNoLibfido2 without cgo.
func (d *Device) SetMinPINLength(ctx context.Context, n int, pin []byte) error {
	return noLib("set minimum PIN length")
}

// SetMinPINLengthRPIDs fails with ErrNoLibfido2 without cgo.
func (d *Device) SetMinPINLengthRPIDs(ctx context.Context, rpIDs []string, pin []byte) error {
	return noLib("set minimum PIN length RP IDs")
}

// ForcePINChange fails with ErrNoLibfido2 without cgo.
func (d *Device) ForcePINChange(ctx context.Context, pin []byte) error {
	return noLib("force PIN change")
}

// ToggleAlwaysUV fails with ErrNoLibfido2 without cgo.
func (d *Device) ToggleAlwaysUV(ctx context.Context, pin []byte) error {
	return noLib("toggle always UV")
}

// EnableEnterpriseAttestation fails with ErrNoLibfido2 without cgo.
func (d *Device) EnableEnterpriseAttestation(ctx context.Context, pin []byte) error {
	return noLib("enable enterprise attestation")
}

// MakeCredential fails with ErrNoLibfido2 without cgo.
func (d *Device) MakeCredential(ctx context.Context, req MakeCredentialRequest, pin []byte) (*Credential, error) {
	return nil, noLib("make credential")
}

// GetAssertion fails with ErrNoLibfido2 without cgo.
func (d *Device) GetAssertion(ctx context.Context, req AssertionRequest, pin []byte) ([]Assertion, error) {
	return nil, noLib("get assertion")
}

// CredentialMetadata fails with ErrNoLibfido2 without cgo.
func (d *Device) CredentialMetadata(ctx context.Context, pin []byte) (*CredentialMetadata, error) {
	return nil, noLib("get credential metadata")
}

// RelyingParties fails with ErrNoLibfido2 without cgo.
func (d *Device) RelyingParties(ctx context.Context, pin []byte) ([]RPEntry, error) {
	return nil, noLib("enumerate relying parties")
}

// Credentials fails with ErrNoLibfido2 without cgo.
func (d *Device) Credentials(ctx context.Context, rpID string, pin []byte) ([]ResidentCredential, error) {
	return nil, noLib("enumerate credentials")
}

// DeleteCredential fails with ErrNoLibfido2 without cgo.
func (d *Device) DeleteCredential(ctx context.Context, credID []byte, pin []byte) error {
	return noLib("delete credential")
}

// UpdateUser fails with ErrNoLibfido2 without cgo.
func (d *Device) UpdateUser(ctx context.Context, credID []byte, user User, pin []byte) error {
	return noLib("update user")
}

// Selection fails with ErrNoLibfido2 without cgo.
func (d *Device) Selection(ctx context.Context) error { return noLib("selection") }

// BioInfo fails with ErrNoLibfido2 without cgo.
func (d *Device) BioInfo(ctx context.Context) (BioSensorInfo, error) {
	return BioSensorInfo{}, noLib("bio sensor info")
}

// BioTemplates fails with ErrNoLibfido2 without cgo.
func (d *Device) BioTemplates(ctx context.Context, pin []byte) ([]BioTemplate, error) {
	return nil, noLib("bio list")
}

// BioSetName fails with ErrNoLibfido2 without cgo.
func (d *Device) BioSetName(ctx context.Context, pin, id []byte, name string) error {
	return noLib("bio rename")
}

// BioRemove fails with ErrNoLibfido2 without cgo.
func (d *Device) BioRemove(ctx context.Context, pin, id []byte) error { return noLib("bio delete") }

// BioEnrollCancel fails with ErrNoLibfido2 without cgo.
func (d *Device) BioEnrollCancel(ctx context.Context) error { return noLib("bio enroll cancel") }

// BioEnrollment is a fingerprint enrollment; without cgo there is none.
type BioEnrollment struct{}

// BioEnrollBegin fails with ErrNoLibfido2 without cgo.
func (d *Device) BioEnrollBegin(ctx context.Context, pin []byte, sampleTimeout time.Duration) (*BioEnrollment, BioSample, error) {
	return nil, BioSample{}, noLib("bio enroll")
}

// ID returns nil without cgo.
func (e *BioEnrollment) ID() []byte { return nil }

// Next fails with ErrNoLibfido2 without cgo.
func (e *BioEnrollment) Next(ctx context.Context, sampleTimeout time.Duration) (BioSample, error) {
	return BioSample{}, noLib("bio enroll sample")
}

// Close is a no-op without cgo.
func (e *BioEnrollment) Close() {}
