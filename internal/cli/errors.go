package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/bio"
	"github.com/keyprep/keyprep/internal/elevate"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/onboard"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
)

// ExitCode is keyprep's process exit status. The README's table is generated
// from exitCodes; keep them in sync (TestExitCodesDocumented checks).
type ExitCode int

// Exit codes. They are a contract with scripts: never renumber.
const (
	ExitOK          ExitCode = 0   // success
	ExitFailure     ExitCode = 1   // failure without a more specific class
	ExitUsage       ExitCode = 2   // bad command line or input
	ExitNoKey       ExitCode = 3   // no key found, or several and none chosen
	ExitPIN         ExitCode = 4   // PIN wrong, blocked, weak or missing
	ExitKeyRefused  ExitCode = 5   // the key refused or timed out: touch denied, not allowed, excluded, full
	ExitUnsupported ExitCode = 6   // the key or this build lacks a needed feature
	ExitAuth        ExitCode = 7   // Graph sign-in failed or a permission is missing; the store's database refused the connection
	ExitDirectory   ExitCode = 8   // Entra refused: user, guest, policy, key model, attestation
	ExitService     ExitCode = 9   // Graph or the store's database unavailable, throttling, network
	ExitUnknown     ExitCode = 10  // a registration's outcome is unknown
	ExitPartial     ExitCode = 11  // a batch finished with failed rows
	ExitCancelled   ExitCode = 130 // interrupted by the operator (Ctrl-C)
)

// exitCodes documents every code; the README table mirrors it.
var exitCodes = []struct {
	Code    ExitCode
	Meaning string
}{
	{ExitOK, "success"},
	{ExitFailure, "failure without a more specific class"},
	{ExitUsage, "bad command line or input (flags, PIN format, confirmation missing, a {serial} display name for a key that reports no serial number)"},
	{ExitNoKey, "no key found, the named key is absent, or several keys and no --key"},
	{ExitPIN, "PIN wrong, blocked, too weak for the policy or the key (including a PIN the key refused under its own rules), or not set"},
	{ExitKeyRefused, "the key refused: touch denied or timed out, operation not allowed now (e.g. a reset after the key's reset window), credential excluded, store full"},
	{ExitUnsupported, "the key or this build lacks a needed feature (e.g. a key without authenticatorConfig asked for --min-pin-length, --force-pin-change or --always-uv without --skip-unsupported; built without libfido2)"},
	{ExitAuth, "Graph sign-in failed, is not configured, or a Graph permission is missing (the message names it); or the store's PostgreSQL server refused the connection (password, role, database)"},
	{ExitDirectory, "Entra refused: user or group not found, guest user, method disabled or user outside the policy, self-service setup off, key model or attestation not accepted, TAP outside the policy, a valid TAP in the way (--replace), challenge expired"},
	{ExitService, "Microsoft Graph or the store's PostgreSQL server is unavailable or throttling, or the network failed: retrying later may succeed"},
	{ExitUnknown, "a registration may or may not have landed: check with keyprep methods list before retrying"},
	{ExitPartial, "a batch (--csv) finished, but some rows failed: the summary names them and the other rows are done; rerunning the same command skips what is done"},
	{ExitCancelled, "interrupted (Ctrl-C)"},
}

// Error is a user-facing failure: what went wrong, what to do about it, and
// the exit code. Every error a command returns is turned into one by
// classify, so messages and codes come from this one place.
type Error struct {
	Code ExitCode
	Msg  string
	Hint string
	Err  error // underlying cause, for --log-level debug
	// Orphans are passkeys (credential ids, base64url) a failed enrollment
	// left on the key because the key could not delete them.
	Orphans []string
	// resultPrinted: the command already wrote its (negative) result on
	// stdout; with --json no error object follows it.
	resultPrinted bool
}

func (e *Error) Error() string { return e.Msg }

// errorJSON is how a failure appears in --json output.
type errorJSON struct {
	Message  string   `json:"message"`
	Hint     string   `json:"hint"`
	ExitCode int      `json:"exitCode"`
	Orphans  []string `json:"orphans,omitempty"`
}

func (e *Error) json() *errorJSON { return &errorJSON{e.Msg, e.Hint, int(e.Code), e.Orphans} }
func (e *Error) Unwrap() error    { return e.Err }

func usageErr(format string, a ...any) *Error {
	return &Error{Code: ExitUsage, Msg: fmt.Sprintf(format, a...)}
}

// classify maps any error to a user-facing *Error. The message keeps the
// wrapped context (which operation, which key); the hint says what to do.
func classify(err error) *Error {
	var ue *Error
	if errors.As(err, &ue) {
		return ue
	}
	var ee *enroll.Error
	if errors.As(err, &ee) {
		return classifyEnroll(ee)
	}
	var oe *onboard.Error
	if errors.As(err, &oe) {
		code := ExitFailure
		switch {
		case errors.Is(oe, onboard.ErrPolicy):
			code = ExitDirectory
		case errors.Is(oe, onboard.ErrLivePass):
			// The user's state in the directory, not a bad command line.
			code = ExitDirectory
		case errors.Is(oe, onboard.ErrRequest):
			code = ExitUsage
		}
		return &Error{Code: code, Msg: oe.Msg, Hint: oe.Hint, Err: err}
	}
	var be *bio.Error
	if errors.As(err, &be) {
		return classifyBio(be, err)
	}
	e := &Error{Code: ExitFailure, Msg: plainMessage(err), Err: err}
	var re *pin.RuleError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, hid.ErrCancelled):
		e.Code, e.Msg = ExitCancelled, "cancelled"
	case errors.Is(err, hid.ErrNoLibfido2):
		e.Code = ExitUnsupported
		e.Hint = "install libfido2-dev and pkg-config (make deps) and rebuild with CGO_ENABLED=1"
	case errors.As(err, &re):
		e.Code = ExitPIN
		e.Hint = "choose a PIN that meets the policy, or let keyprep generate one (keyprep pin generate)"
	case errors.Is(err, hid.ErrPINAuthBlocked):
		e.Code = ExitPIN
		e.Hint = "three wrong PINs in a row: unplug the key and plug it back in before trying again (virtual keys: keyprep --sim sim replug)"
	case errors.Is(err, hid.ErrPINBlocked):
		e.Code = ExitPIN
		e.Hint = "no PIN retries left: only a factory reset (keyprep reset, which deletes every credential on the key) makes it usable again"
	case errors.Is(err, hid.ErrPINInvalid):
		e.Code = ExitPIN
		e.Hint = "check the PIN; each wrong PIN uses up one of the key's 8 retries"
	case errors.Is(err, hid.ErrPINPolicyViolation):
		e.Code = ExitPIN
		e.Hint = "the key enforces its own PIN rules (minimum length, forced PIN change): see keyprep info, and change the PIN with keyprep pin change"
	case errors.Is(err, hid.ErrPINNotSet):
		e.Code = ExitPIN
		e.Hint = "set a PIN first: keyprep pin set"
	case errors.Is(err, hid.ErrPINRequired):
		e.Code = ExitPIN
		e.Hint = "this operation needs the key's PIN"
	case errors.Is(err, hid.ErrNotAllowed):
		e.Code = ExitKeyRefused
	case errors.Is(err, hid.ErrOperationDenied):
		e.Code = ExitKeyRefused
		e.Hint = "the touch was refused on the key; run the command again and confirm on the key"
	case errors.Is(err, hid.ErrUserActionTimeout):
		e.Code = ExitKeyRefused
		e.Hint = "nobody touched the key in time; run the command again and touch the key when asked"
	case errors.Is(err, hid.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		e.Code = ExitKeyRefused
		e.Hint = "the key did not answer in time; replug it or raise --timeout"
	case errors.Is(err, hid.ErrCredentialExcluded):
		e.Code = ExitKeyRefused
		e.Hint = "this key already holds a credential that was asked to be excluded"
	case errors.Is(err, hid.ErrKeyStoreFull):
		e.Code = ExitKeyRefused
		e.Hint = "the key has no free slot for a discoverable credential; delete one or use another key"
	case errors.Is(err, hid.ErrUnsupported):
		e.Code = ExitUnsupported
		e.Hint = "this key does not support the operation (see keyprep info)"
	case hid.CodeOf(err) == hid.CodeTX || hid.CodeOf(err) == hid.CodeRX:
		e.Code = ExitNoKey
		e.Hint = "the key stopped answering: was it unplugged? Plug it back in and run the command again (keyprep journal resume finishes an interrupted enrollment)"
	case errors.Is(err, hid.ErrNotFound):
		e.Code = ExitNoKey
		e.Hint = "list attached keys with keyprep keys"
	case errors.Is(err, hid.ErrUVBlocked):
		e.Code = ExitPIN
		e.Hint = "the key stopped trying fingerprints after too many failed matches: use the PIN once (any PIN operation restores the fingerprint attempts)"
	case errors.Is(err, hid.ErrUVInvalid):
		e.Code = ExitKeyRefused
		e.Hint = "the key did not recognise the finger: use an enrolled finger (keyprep bio list), clean and dry, and try again"
	case errors.Is(err, graph.ErrNotSignedIn):
		e.Code = ExitAuth
		e.Hint = "sign in once with keyprep login (e.g. keyprep login --auth device-code --tenant T --client-id C; see keyprep help auth), or try keyprep without a tenant: add --sim"
	case errors.Is(err, graph.ErrAuthConfig):
		e.Code = ExitAuth
		e.Hint = "choose how to sign in: keyprep login --auth device-code --tenant T --client-id C (or --auth token with $KEYPREP_ACCESS_TOKEN, client-secret, certificate, managed-identity, workload-identity, azure-cli, browser)"
	case errors.Is(err, store.ErrUnavailable):
		// The store's database stayed away longer than a command waits.
		e.Code = ExitService
		e.Hint = "the store's PostgreSQL server did not answer: once it is back, run the same command again (what was done is journaled)"
	case errors.Is(err, store.ErrCommitUnknown):
		// The database went away while a write committed: trying again
		// (resuming the job, which reconciles) may succeed.
		e.Code = ExitService
		e.Hint = "the store's PostgreSQL server went away while a change was saved: once it is back, run the same command again (keyprep journal resume reconciles an interrupted enrollment)"
	case errors.Is(err, fileguard.ErrUnsafe):
		e.Code = ExitUsage
		var fe *fileguard.Error
		if errors.As(err, &fe) {
			e.Hint = fe.Hint()
		}
	case errors.Is(err, hid.ErrNotElevated):
		e.Code = ExitNoKey
		e.Hint = notElevatedHint
	case errors.Is(err, errServiceWindowsOnly):
		e.Code = ExitUnsupported
		e.Hint = "on Linux, run keyprep serve under systemd: the Debian package installs keyprep.service (sudo systemctl enable --now keyprep); without it, scripts/systemd/README"
	case errors.Is(err, errServiceNeedsAdmin):
		e.Hint = notElevatedHint
	case errors.Is(err, errServiceExists):
		e.Code = ExitUsage
		e.Hint = "remove it first with keyprep service uninstall, then install again with the flags wanted"
	case errors.Is(err, errServiceMissing):
		e.Code = ExitUsage
		e.Hint = "sc.exe query keyprep shows the service; nothing to remove"
	case errors.Is(err, elevate.ErrDeclined):
		e.Code = ExitNoKey
		e.Hint = `this command needs administrator rights on Windows: run it again and answer Yes to the Windows prompt, or run keyprep in a terminal opened with "Run as administrator"`
	case errors.Is(err, elevate.ErrUnavailable):
		e.Code = ExitNoKey
		e.Hint = "Windows cannot show its administrator prompt here (a remote shell or a service): " + notElevatedHint
	case errors.Is(err, elevate.ErrRelay):
		e.Hint = `run keyprep in a terminal opened with "Run as administrator"; ` + noElevateEnv + `=1 makes keyprep stop instead of asking for the rights`
	default:
		if code, ok := graphExit(err); ok {
			e.Code = code
			e.Hint = graph.Hint(err)
		}
	}
	return e
}

// enrollSentinels are the workflow's own classes and their exit codes.
// quiet: the workflow's message says it all; the cause stays for
// --log-level debug. hint is used when the workflow gave none.
var enrollSentinels = []struct {
	err   error
	code  ExitCode
	quiet bool
	hint  string
}{
	{enroll.ErrIneligible, ExitDirectory, true, ""},
	{enroll.ErrKeyModel, ExitDirectory, true, ""},
	{enroll.ErrAttestation, ExitDirectory, true, ""},
	{enroll.ErrChallengeExpired, ExitDirectory, false, ""},
	{enroll.ErrOutcomeUnknown, ExitUnknown, false, ""},
	{enroll.ErrKeyHasPIN, ExitPIN, true, ""},
	{enroll.ErrExcluded, ExitKeyRefused, true, ""},
	{enroll.ErrKeyState, ExitKeyRefused, true, ""},
	{enroll.ErrSelfTest, ExitKeyRefused, false, ""},
	{enroll.ErrJob, ExitUsage, true, ""},
	// Refused at inspect, before any side effect: the key cannot take a
	// setting asked for.
	{enroll.ErrUnsupportedSetting, ExitUnsupported, true,
		"keyprep info --key K shows what the key supports; drop the setting, use another key, or add --skip-unsupported to enroll without it"},
	// A {serial} display name template is the operator's input, and the
	// key is fine as it is: a usage error (documented with exit code 2).
	{enroll.ErrNoSerial, ExitUsage, true, "use a display name template without {serial} (e.g. --display-name \"{model} {date}\")"},
	{enroll.ErrResetWindow, ExitKeyRefused, true, "unplug the key, plug it back in and run again within 10 seconds"},
	{enroll.ErrKeyPINRules, ExitPIN, true, "choose a PIN that follows the key vendor's PIN rules, or let keyprep generate one (--pin generate)"},
	// Adding a user to a key that holds another user's passkey was not
	// confirmed: a confirmation missing (exit 2), nothing changed.
	{enroll.ErrSharedKey, ExitUsage, true, ""},
}

// classifyEnroll keeps the workflow's message and hint and takes the exit
// code from the workflow class, else from the wrapped cause.
func classifyEnroll(ee *enroll.Error) *Error {
	e := &Error{Code: ExitFailure, Msg: ee.Msg, Hint: ee.Hint, Err: ee}
	bare := false
	for _, s := range enrollSentinels {
		if errors.Is(ee, s.err) {
			e.Code = s.code
			bare = s.quiet || ee.Err == s.err
			if e.Hint == "" {
				e.Hint = s.hint
			}
			break
		}
	}
	if ee.Err != nil {
		inner := classify(ee.Err)
		if e.Code == ExitFailure {
			e.Code = inner.Code
		}
		if e.Hint == "" {
			e.Hint = inner.Hint
		}
		if !bare {
			e.Msg += ": " + inner.Msg
		}
	}
	if len(ee.Orphans) > 0 {
		e.Orphans = ee.Orphans
		note := fmt.Sprintf("the key keeps the unregistered passkey %s (journaled): keyprep journal resume removes it if the key can delete passkeys; otherwise only a factory reset (keyprep reset) does",
			strings.Join(ee.Orphans, ", "))
		if e.Hint == "" {
			e.Hint = note
		} else {
			e.Hint += "; " + note
		}
	}
	if e.Code == ExitCancelled {
		e.Msg = "cancelled: " + e.Msg
	}
	if ee.JobID != "" && e.Code != ExitCancelled {
		e.Msg += " (job " + shortID(ee.JobID) + ")"
	}
	return e
}

// graphExit maps a Graph error class to an exit code.
func graphExit(err error) (ExitCode, bool) {
	switch {
	case errors.Is(err, graph.ErrAmbiguousRegistration):
		return ExitUnknown, true
	case errors.Is(err, graph.ErrAuthentication), errors.Is(err, graph.ErrPermission):
		return ExitAuth, true
	case errors.Is(err, graph.ErrThrottled), errors.Is(err, graph.ErrService), errors.Is(err, graph.ErrNetwork):
		return ExitService, true
	case errors.Is(err, graph.ErrUserNotFound), errors.Is(err, graph.ErrGroupNotFound), errors.Is(err, graph.ErrMethodNotFound),
		errors.Is(err, graph.ErrGuestUser), errors.Is(err, graph.ErrMethodDisabled), errors.Is(err, graph.ErrSelfServiceSetupOff),
		errors.Is(err, graph.ErrKeyModelNotAllowed), errors.Is(err, graph.ErrAttestationRejected),
		errors.Is(err, graph.ErrChallengeExpired), errors.Is(err, graph.ErrAlreadyRegistered),
		errors.Is(err, graph.ErrTAPPolicy), errors.Is(err, graph.ErrInvalidRequest):
		return ExitDirectory, true
	}
	return 0, false
}

// plainWords says what a libfido2 code means to an operator.
var plainWords = map[hid.Code]string{
	hid.CodePINInvalid:             "wrong PIN",
	hid.CodePINAuthBlocked:         "PIN locked after three wrong PINs in a row",
	hid.CodePINBlocked:             "the PIN is blocked",
	hid.CodePINPolicyViolation:     "the key refused the PIN under its own PIN policy",
	hid.CodePINNotSet:              "the key has no PIN",
	hid.CodePINRequired:            "the key requires its PIN",
	hid.CodePINAuthInvalid:         "the key rejected the PIN authentication",
	hid.CodeNotAllowed:             "the key does not allow this now",
	hid.CodeOperationDenied:        "the touch was refused",
	hid.CodeUserActionTimeout:      "nobody touched the key in time",
	hid.CodeActionTimeout:          "nobody touched the key in time",
	hid.CodeCredentialExcluded:     "the key already holds an excluded credential",
	hid.CodeKeyStoreFull:           "the key has no free credential slot",
	hid.CodeKeepaliveCancel:        "cancelled",
	hid.CodeCancelled:              "cancelled",
	hid.CodeDeadline:               "the key did not answer in time",
	hid.CodeUnsupportedOption:      "the key does not support this option",
	hid.CodeUnsupportedAlgorithm:   "the key does not support the algorithm",
	hid.CodeUnauthorizedPermission: "the key does not support the permission needed",
	hid.CodeInvalidCommand:         "the key does not support this command",
	hid.CodeNoLibfido2:             "this keyprep was built without libfido2 and cannot talk to keys",
	hid.CodeTX:                     "the key stopped answering (unplugged?)",
	hid.CodeRX:                     "the key stopped answering (unplugged?)",
}

// plainMessage renders err with the binding's technical text replaced by
// plain words, keeping the libfido2 code name for support
// ("vkey:0: change PIN: the PIN is blocked [PIN_BLOCKED]").
func plainMessage(err error) string {
	msg := err.Error()
	var he *hid.Error
	if errors.As(err, &he) {
		if w, ok := plainWords[he.Code]; ok {
			return strings.Replace(msg, he.Error(), fmt.Sprintf("%s: %s [%s]", he.Op, w, he.Code), 1)
		}
	}
	return msg
}

// bioExits are the exit codes of the fingerprint classes (internal/bio).
var bioExits = []struct {
	err  error
	code ExitCode
}{
	{bio.ErrNotBio, ExitUnsupported},
	{bio.ErrNoPIN, ExitPIN},
	{bio.ErrNoFinger, ExitKeyRefused},
	{bio.ErrTooManySamples, ExitKeyRefused},
	{bio.ErrFull, ExitKeyRefused},
	{bio.ErrNotFound, ExitUsage},
	{bio.ErrAmbiguous, ExitUsage},
	{bio.ErrName, ExitUsage},
}

// classifyBio keeps the fingerprint flow's message and hint; the key's
// error, if any, shows in brackets by its code.
func classifyBio(be *bio.Error, err error) *Error {
	e := &Error{Code: ExitFailure, Msg: be.Msg, Hint: be.Hint, Err: err}
	if be.Err != nil {
		e.Msg = fmt.Sprintf("%s [%s]", be.Msg, hid.CodeOf(be.Err))
	}
	for _, x := range bioExits {
		if errors.Is(be, x.err) {
			e.Code = x.code
		}
	}
	return e
}

// The Windows service and administrator rights (docs/windows.md).
var (
	// errServiceWindowsOnly: keyprep service on another system.
	errServiceWindowsOnly = errors.New("keyprep service installs the bench daemon as a Windows service; this system is not Windows")
	// errServiceNeedsAdmin: the service control manager refused a
	// process without administrator rights.
	errServiceNeedsAdmin = errors.New("installing or removing a Windows service needs administrator rights")
	errServiceExists     = errors.New("the Windows service keyprep is already installed")
	errServiceMissing    = errors.New("the Windows service keyprep is not installed")
)

// notElevatedHint says how to get administrator rights on Windows.
const notElevatedHint = `Windows lets only a program with administrator rights open security keys: open Windows Terminal or Command Prompt with "Run as administrator" (right-click) and run keyprep there`
