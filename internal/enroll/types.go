// Package enroll is keyprep's main job: pre-provision one security key for
// one Entra user, end to end, crash-safe (docs/architecture.md §2, §4).
//
// The workflow sees the key, the directory and the PIN source through small
// interfaces it declares here; the CLI wires hid.Device, the Graph client and
// the terminal to them, and the tests wire virtual keys and the emulated
// tenant. Every step is journaled in the store before and after its side
// effect, so `keyprep journal resume` can reconcile an interrupted job with
// the key and with Graph (see Resume).
package enroll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/store"
)

// Device is what enrollment needs of an open key; *hid.Device satisfies it.
type Device interface {
	Path() string
	Info(ctx context.Context) (*hid.Info, error)
	PINRetries(ctx context.Context) (int, error)
	SetPIN(ctx context.Context, pin []byte) error
	Reset(ctx context.Context) error
	SetMinPINLength(ctx context.Context, n int, pin []byte) error
	SetMinPINLengthRPIDs(ctx context.Context, rpIDs []string, pin []byte) error
	ForcePINChange(ctx context.Context, pin []byte) error
	MakeCredential(ctx context.Context, req hid.MakeCredentialRequest, pin []byte) (*hid.Credential, error)
	GetAssertion(ctx context.Context, req hid.AssertionRequest, pin []byte) ([]hid.Assertion, error)
	Credentials(ctx context.Context, rpID string, pin []byte) ([]hid.ResidentCredential, error)
	DeleteCredential(ctx context.Context, credID []byte, pin []byte) error
}

// AlwaysUVToggler is what --always-uv needs of a key besides Device
// (authenticatorConfig toggleAlwaysUv, CTAP 2.1 §6.11.2); *hid.Device has
// it. A Device without it cannot take --always-uv.
type AlwaysUVToggler interface {
	ToggleAlwaysUV(ctx context.Context, pin []byte) error
}

// SerialReporter is a Device that knows its key's USB serial number
// string ("" when the key reports none); *hid.Device is one. Enroll fills
// Request.Serial from it when the caller left it empty.
type SerialReporter interface {
	Serial() string
}

// User is the directory's view of the person a key is for.
type User struct {
	ID          string
	UPN         string
	DisplayName string
	Guest       bool
}

// KeyRestrictions are the AAGUID restrictions that apply to the user
// (the FIDO2 policy's, or the passkey profile's).
type KeyRestrictions struct {
	Enforced bool
	Allow    bool // true: allow list; false: block list
	AAGUIDs  []string
}

// Allows reports whether a key model passes the restrictions.
func (k KeyRestrictions) Allows(aaguid string) bool {
	if !k.Enforced {
		return true
	}
	listed := false
	for _, a := range k.AAGUIDs {
		if strings.EqualFold(a, aaguid) {
			listed = true
			break
		}
	}
	return listed == k.Allow
}

// Eligibility says whether a passkey can be provisioned for a user, and
// under which key rules.
type Eligibility struct {
	Allowed bool
	// Reasons say in plain words what stops it; Hint what to change.
	Reasons             []string
	Hint                string
	AttestationEnforced bool
	// Restrictions are every AAGUID rule that applies (the policy's and
	// the passkey profile's); a key must pass all of them.
	Restrictions []KeyRestrictions
	// Profile names the passkey profile that applies ("" when none).
	Profile string
}

// Method is a registered passkey as the directory reports it.
type Method struct {
	ID              string
	DisplayName     string
	AAGUID          string
	Model           string
	CreatedDateTime time.Time
	Reconciled      bool
}

// Directory is what enrollment needs of Entra (the Graph client behind an
// adapter). Errors keep their Graph classes (wrapped with %w); a rejected
// registration whose challenge expired must match ErrChallengeExpired.
type Directory interface {
	User(ctx context.Context, idOrUPN string) (*User, error)
	// Eligibility reads the FIDO2 policy (cached by the adapter) and the
	// user's memberships.
	Eligibility(ctx context.Context, u *User) (*Eligibility, error)
	CreationOptions(ctx context.Context, userID string, challengeTimeout time.Duration) ([]byte, error)
	// Register POSTs the fido2AuthenticationMethod body. It must not retry
	// blindly; an outcome it cannot know must match ErrOutcomeUnknown.
	Register(ctx context.Context, userID string, body []byte) (*Method, error)
	Methods(ctx context.Context, userID string) ([]Method, error)
}

// PINSource gives the operator's PINs. Returned buffers belong to the
// caller, who wipes them.
type PINSource interface {
	// Current asks for the PIN a key already has.
	Current(ctx context.Context, keyPath string) ([]byte, error)
	// New asks for a new PIN to set (confirmed when interactive).
	New(ctx context.Context, keyPath string) ([]byte, error)
}

// PINPrompter is a PINSource with a person at it (a terminal). It is told
// the rules before a new PIN is asked for, and why a new PIN was refused
// (by the policy or by the key); it answers whether to ask again (at most
// maxPINTries PINs in all) instead of stopping the enrollment.
type PINPrompter interface {
	NewPINRules(keyPath string, rules []string)
	PINRefused(keyPath, why string, triesLeft int) bool
}

// PINMode says where the PIN comes from.
type PINMode string

const (
	// PINGenerate: keyprep generates the PIN (internal/pin) for a fresh
	// key; for a key keyprep set up before, it uses the escrowed PIN.
	PINGenerate PINMode = "generate"
	// PINOperator: the operator types or pipes the PIN (the new PIN for a
	// fresh key, the current PIN for a key that has one).
	PINOperator PINMode = "operator"
)

// Step names a journaled step (docs/architecture.md §4.2).
type Step string

// The steps in order. Steps with a side effect are journaled "begin" before
// it and "done" after it.
const (
	StepResolve  Step = "resolve"  // user and policy
	StepInspect  Step = "inspect"  // key state before touching it
	StepReset    Step = "reset"    // factory reset (only with --reset)
	StepEscrow   Step = "escrow"   // PIN escrow written before the PIN is set
	StepPIN      Step = "pin"      // set the PIN
	StepMinPIN   Step = "minpin"   // minimum PIN length (+ RP ID list)
	StepAlwaysUV Step = "alwaysuv" // toggleAlwaysUv (only with --always-uv)
	StepOptions  Step = "options"  // creationOptions from Graph
	StepMakeCred Step = "makecred" // makeCredential on the key
	StepRegister Step = "register" // POST fido2Methods
	StepSelfTest Step = "selftest" // getAssertion verified with the attested key
	StepForcePIN Step = "forcepin" // forcePINChange (last)
	StepRecord   Step = "result"   // result recorded
	StepCleanup  Step = "cleanup"  // unregistered credential removed after a refusal
	phaseBegin        = store.PhaseBegin
	phaseEffect       = "effect" // crash-hook only: after the side effect, before "done"
	phaseDone         = store.PhaseDone
	phaseFailed       = store.PhaseFailed
	phaseSkipped      = store.PhaseSkipped
	phaseInfo         = store.PhaseInfo
)

// Steps lists the steps in workflow order.
var Steps = []Step{StepResolve, StepInspect, StepReset, StepEscrow, StepPIN, StepMinPIN, StepAlwaysUV, StepOptions,
	StepMakeCred, StepRegister, StepSelfTest, StepForcePIN, StepRecord}

// SideEffectSteps are the steps whose side effect sits between "begin" and
// "done" (the crash test kills the process at both boundaries).
var SideEffectSteps = []Step{StepReset, StepEscrow, StepPIN, StepMinPIN, StepMakeCred, StepRegister, StepSelfTest, StepForcePIN, StepRecord}

// Phases a crash hook sees: after "begin" is journaled, after the side
// effect ("effect", before "done" is journaled).
const (
	HookBegin  = phaseBegin
	HookEffect = phaseEffect
)

// Event phases (Event.Phase) besides the journal's (store.PhaseBegin, …):
// EventInfo for a note, EventTouch when the key waits for a touch.
const (
	EventInfo  = store.PhaseInfo
	EventTouch = "touch"
)

// Event is progress for the operator (never carries a secret).
type Event struct {
	JobID   string
	Step    Step
	Phase   string // one of the Event phases above
	Message string
}

// JobKind is the store.Job kind of an enrollment.
const JobKind = "enroll"

// EscrowNone is EscrowRef.Kind when nothing was escrowed (the operator
// gave the key's PIN); otherwise Kind is store.EscrowAge or
// store.EscrowFile.
const EscrowNone = "none"

// Where the PIN of an enrollment came from (EscrowRef.Source).
const (
	SourceSet      = "set"      // this job set it (and escrowed it first)
	SourceEarlier  = "earlier"  // an earlier job set and escrowed it
	SourceOperator = "operator" // the operator gave it; nothing escrowed
)

// Where a PIN this job did not set came from (store.PINSkipped.Source).
const (
	pinFromEscrow   = "escrow"
	pinFromOperator = "operator"
)

// Errors the CLI maps to messages, hints and exit codes.
var (
	// ErrIneligible: the user cannot get a passkey (policy, guest).
	ErrIneligible = errors.New("user cannot get a passkey")
	// ErrKeyModel: the key's AAGUID is not allowed for the user.
	ErrKeyModel = errors.New("key model not allowed")
	// ErrAttestation: attestation is enforced and the key cannot satisfy it.
	ErrAttestation = errors.New("key attestation cannot satisfy the policy")
	// ErrKeyHasPIN: the key has a PIN that keyprep did not set or cannot
	// recover, and the operator gave none.
	ErrKeyHasPIN = errors.New("key already has a PIN")
	// ErrExcluded: the key already holds a passkey for this user.
	ErrExcluded = errors.New("key already holds a passkey for this user")
	// ErrKeyState: the key cannot be used as it is (retries low, forced PIN
	// change pending, store full, wrong key for a job).
	ErrKeyState = errors.New("key not usable as it is")
	// ErrChallengeExpired is matched by a directory error for a
	// registration refused because its challenge expired.
	ErrChallengeExpired = errors.New("challenge expired")
	// ErrOutcomeUnknown is matched by a directory error when a
	// registration may or may not have landed.
	ErrOutcomeUnknown = errors.New("registration outcome unknown")
	// ErrRefused is matched by a directory error when Graph answered a
	// registration with a definite refusal (a 4xx other than 408/429):
	// nothing landed.
	ErrRefused = errors.New("registration refused")
	// ErrSelfTest: the new credential did not prove itself.
	ErrSelfTest = errors.New("self-test failed")
	// ErrEscrow: the PIN could not be escrowed or recovered.
	ErrEscrow = errors.New("PIN escrow")
	// ErrJob: a journal job cannot be resumed as asked.
	ErrJob = errors.New("job")
	// ErrUnsupportedSetting: a requested setting (--min-pin-length,
	// --force-pin-change, --always-uv, …) or an extension Entra enforces
	// needs a capability the key lacks; refused before any side effect.
	// It also matches hid.ErrUnsupported.
	ErrUnsupportedSetting = errors.New("the key cannot take a requested setting")
	// ErrNoSerial: the display name template asks for {serial} and the
	// key reports no serial number.
	ErrNoSerial = errors.New("the key reports no serial number")
	// ErrResetWindow: the key refused the reset because its reset window
	// after power-up has passed (it also matches the hid error).
	ErrResetWindow = errors.New("reset window passed")
	// ErrKeyPINRules: the key refused the operator's new PIN under its own
	// rules (CTAP2_ERR_PIN_POLICY_VIOLATION); nothing was changed.
	ErrKeyPINRules = errors.New("the key refused the PIN under its own rules")
	// ErrUnknownUser is matched by a directory error for a user the
	// directory does not have (or a name it cannot look up). Like
	// ErrIneligible it is a refusal: a job stopped by it before any side
	// effect leaves no job in the journal.
	ErrUnknownUser = errors.New("no such user")
	// ErrSharedKey: the key holds another user's passkey and adding this
	// user was not confirmed; nothing was changed.
	ErrSharedKey = errors.New("key holds another user's passkey")
)

// Error is a workflow failure with a message and a hint for the operator.
// It wraps the cause (a hid, Graph or store error) so exit codes can be
// derived from it.
type Error struct {
	JobID string
	Step  Step
	Msg   string
	Hint  string
	Err   error
	// Orphans are credentials (base64url ids) this failed enrollment left
	// on the key because the key cannot delete them; they are journaled
	// (cleanup step) and journal resume removes them where it can.
	Orphans []string
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func stepErr(step Step, err error, hint, format string, a ...any) *Error {
	return &Error{Step: step, Msg: fmt.Sprintf(format, a...), Hint: hint, Err: err}
}
