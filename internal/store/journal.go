package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Step phases: where in a step a journal row was written.
const (
	// PhaseBegin is journaled, durably, before a step's side effect
	// (docs/architecture.md §4.2).
	PhaseBegin = "begin"
	// PhaseDone is journaled after the side effect, or for a step without
	// one, when it finished.
	PhaseDone = "done"
	// PhaseFailed records the error that stopped the job at the step.
	PhaseFailed = "failed"
	// PhaseSkipped records a step found already applied (resume) or not
	// needed.
	PhaseSkipped = "skipped"
	// PhaseInfo records a finding in the middle of a step.
	PhaseInfo = "info"
)

// StepData is the typed payload of one journal row. Each journaled step
// and phase has its own type below; RecordStep encodes it as JSON and
// DecodeStep reads it back, including rows written by earlier versions
// (the JSON field names are kept). A nil StepData is recorded as null.
type StepData interface{ stepData() }

// ResolveDone: the user was found and may get a passkey.
type ResolveDone struct {
	UserID              string `json:"userId"`
	UPN                 string `json:"upn"`
	Profile             string `json:"profile"`
	AttestationEnforced bool   `json:"attestationEnforced"`
}

// InspectDone: the key's state before anything was changed.
type InspectDone struct {
	Path           string `json:"path"`
	AAGUID         string `json:"aaguid"`
	PINSet         bool   `json:"pinSet"`
	PINRetries     int    `json:"pinRetries,omitempty"`
	MinPINLength   int    `json:"minPinLength"`
	ForcePINChange bool   `json:"forcePinChange"`
	Remaining      int64  `json:"remainingDiscoverableCredentials"`
	// Key identity: the USB serial number string ("" when none), the
	// model name and getInfo's firmwareVersion (0: not reported).
	Serial   string `json:"serial,omitempty"`
	Model    string `json:"model,omitempty"`
	Firmware int64  `json:"firmware,omitempty"`
	// CredMgmt is how the key's credentials can be deleted ("full",
	// "preview" or "none"); PINProtocols the PIN/UV auth protocols it
	// lists.
	CredMgmt     string `json:"credMgmt,omitempty"`
	PINProtocols []int  `json:"pinProtocols,omitempty"`
	// Skipped are the requested settings the key cannot take that the
	// operator allowed keyprep to skip (--skip-unsupported), each as
	// "flag: why".
	Skipped []string `json:"skipped,omitempty"`
}

// InspectInfo: the passkeys for the RP the key already holds.
type InspectInfo struct {
	ResidentCredentials int  `json:"residentCredentials"`
	SameUser            bool `json:"sameUser"`
	// EnrolledFor, EnrolledJob and EnrolledAt: keyprep recorded this key
	// (by serial number or by a credential it holds) for another user.
	EnrolledFor string    `json:"enrolledFor,omitempty"`
	EnrolledJob string    `json:"enrolledJob,omitempty"`
	EnrolledAt  time.Time `json:"enrolledAt,omitempty"`
	By          string    `json:"by,omitempty"` // "serial" or "credential"
	// SharedWith: the key holds these other users' passkeys and adding
	// this user was allowed (confirmed, or --shared-key).
	SharedWith []string `json:"sharedWith,omitempty"`
}

// EscrowBegin: the PIN is about to be escrowed.
type EscrowBegin struct {
	Kind string `json:"kind"`
}

// EscrowDone: the PIN is escrowed in escrow record EscrowID.
type EscrowDone struct {
	EscrowID string `json:"escrowId"`
	Kind     string `json:"kind"`
}

// PINBegin: the escrowed PIN is about to be set on the key.
type PINBegin struct {
	EscrowID string `json:"escrowId"`
}

// PINDone: the escrowed PIN is set on the key.
type PINDone struct {
	EscrowID string `json:"escrowId"`
}

// PINSkipped: the key's PIN was not set by this step: Source says where
// the PIN used comes from ("escrow" or "operator").
type PINSkipped struct {
	Source     string `json:"source"`
	EscrowID   string `json:"escrowId,omitempty"`
	Reconciled bool   `json:"reconciled,omitempty"`
}

// MinPINBegin and MinPINDone: the minimum PIN length (and, with RPID, the
// RP list allowed to read it; CTAP 2.1 §6.11.4) applied to the key.
type MinPINBegin struct {
	MinPINLength int  `json:"minPinLength"`
	RPID         bool `json:"rpId"`
}

// MinPINDone: see MinPINBegin.
type MinPINDone struct {
	MinPINLength int  `json:"minPinLength"`
	RPID         bool `json:"rpId"`
}

// OptionsDone: creation options fetched from Graph.
type OptionsDone struct {
	Attempt            int       `json:"attempt"`
	ChallengeExpiry    time.Time `json:"challengeExpiry"`
	ExcludeCredentials int       `json:"excludeCredentials"`
	RPID               string    `json:"rpId"`
}

// MakeCredBegin: makeCredential is about to be sent to the key.
type MakeCredBegin struct {
	Attempt    int    `json:"attempt"`
	UserHandle string `json:"userHandle"` // base64url
}

// MakeCredDone: the new credential (IDs and key base64url, never a secret).
type MakeCredDone struct {
	CredentialID string `json:"credentialId"`
	PublicKey    string `json:"publicKey"` // COSE_Key
	AAGUID       string `json:"aaguid"`
	Alg          int    `json:"alg"`
	Flags        byte   `json:"flags"`
	CredProtect  int    `json:"credProtect"`
}

// RegisterBegin: the registration is about to be POSTed to Graph.
type RegisterBegin struct {
	DisplayName  string    `json:"displayName"`
	CredentialID string    `json:"credentialId"`
	Started      time.Time `json:"started"`
}

// RegisterDone: Graph holds the passkey as method MethodID.
type RegisterDone struct {
	MethodID    string `json:"methodId"`
	DisplayName string `json:"displayName"`
	Reconciled  bool   `json:"reconciled"`
}

// SelfTestDone: the key signed with the new passkey.
type SelfTestDone struct {
	Verified  bool   `json:"verified"`
	SignCount uint32 `json:"signCount"`
}

// ForcePINSkipped: forcePINChange was already applied.
type ForcePINSkipped struct {
	Reconciled bool `json:"reconciled"`
}

// CleanupDone: an unregistered credential was (or could not be) removed.
type CleanupDone struct {
	CredentialID string `json:"credentialId"`
	Why          string `json:"why"`
	Error        string `json:"error,omitempty"`
	// Orphaned: the credential is still on the key (it has no credential
	// management, or the deletion failed); journal resume removes it when
	// the key can.
	Orphaned bool `json:"orphaned,omitempty"`
}

// AlwaysUVDone: toggleAlwaysUv turned alwaysUv on (CTAP 2.1 §6.11.2).
type AlwaysUVDone struct {
	On bool `json:"on"`
}

// PINRefused: the key refused a new PIN under its own rules
// (CTAP2_ERR_PIN_POLICY_VIOLATION) before anything changed; escrow
// EscrowID is superseded and another PIN is tried (Attempt counts them).
type PINRefused struct {
	EscrowID string `json:"escrowId"`
	Attempt  int    `json:"attempt"`
}

// StepFailed: the error that stopped the job (a message, never a secret).
type StepFailed struct {
	Error string `json:"error"`
}

func (ResolveDone) stepData()     {}
func (InspectDone) stepData()     {}
func (InspectInfo) stepData()     {}
func (EscrowBegin) stepData()     {}
func (EscrowDone) stepData()      {}
func (PINBegin) stepData()        {}
func (PINDone) stepData()         {}
func (PINSkipped) stepData()      {}
func (MinPINBegin) stepData()     {}
func (MinPINDone) stepData()      {}
func (OptionsDone) stepData()     {}
func (MakeCredBegin) stepData()   {}
func (MakeCredDone) stepData()    {}
func (RegisterBegin) stepData()   {}
func (RegisterDone) stepData()    {}
func (SelfTestDone) stepData()    {}
func (ForcePINSkipped) stepData() {}
func (CleanupDone) stepData()     {}
func (AlwaysUVDone) stepData()    {}
func (PINRefused) stepData()      {}
func (StepFailed) stepData()      {}

// encodeStepData encodes d for a journal row (nil: null) and refuses a
// secret key like every other recorded datum.
func encodeStepData(d StepData) ([]byte, error) {
	if d == nil {
		return []byte("null"), nil
	}
	return marshalData(d)
}

// DecodeStep decodes the data of journal row st as T. Empty or null data
// gives T's zero value; unknown fields are ignored, so rows written by an
// earlier or later version decode as far as they share fields.
func DecodeStep[T StepData](st *Step) (T, error) {
	var v T
	if st == nil {
		return v, nil
	}
	raw := bytes.TrimSpace(st.Data)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return v, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("store: step %s/%s (seq %d) of job %s: data: %w", st.Name, st.Phase, st.Seq, st.JobID, err)
	}
	return v, nil
}
