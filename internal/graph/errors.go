package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyprep/keyprep/internal/policy"
)

// Error classes. Every *Error matches exactly one of them with errors.Is.
var (
	ErrAuthentication      = errors.New("authentication failed")
	ErrPermission          = errors.New("permission missing")
	ErrUserNotFound        = errors.New("user not found")
	ErrMethodNotFound      = errors.New("authentication method not found")
	ErrGuestUser           = errors.New("guest user")
	ErrMethodDisabled      = errors.New("passkey (FIDO2) method disabled or user not in policy scope")
	ErrSelfServiceSetupOff = errors.New("passkey self-service setup is off")
	ErrKeyModelNotAllowed  = errors.New("key model not allowed")
	ErrAttestationRejected = errors.New("attestation rejected")
	ErrChallengeExpired    = errors.New("challenge expired")
	ErrAlreadyRegistered   = errors.New("credential already registered")
	ErrGroupNotFound       = errors.New("group not found")
	ErrTAPPolicy           = errors.New("temporary access pass refused by policy")
	ErrInvalidRequest      = errors.New("request rejected")
	ErrThrottled           = errors.New("throttled")
	ErrService             = errors.New("service error")

	// ErrAmbiguousRegistration: POST fido2Methods failed in a way that does
	// not say whether the method was created (timeout, 5xx, dropped
	// connection, cancellation) and listing the user's methods did not settle
	// it either.
	ErrAmbiguousRegistration = errors.New("registration outcome unknown")
)

// Operation names used in Error.Op.
const (
	OpGetUser         = "get user"
	OpCreationOptions = "get creationOptions"
	OpRegister        = "register fido2 method"
	OpListMethods     = "list fido2 methods"
	OpGetMethod       = "get fido2 method"
	OpDeleteMethod    = "delete fido2 method"
	OpCreateTAP       = "create temporary access pass"
	OpListTAPs        = "list temporary access passes"
	OpDeleteTAP       = "delete temporary access pass"
	OpGetPolicy       = "get authentication method policy"
	OpUpdatePolicy    = "update authentication method policy"
	OpGetGroup        = "get group"
	OpCheckGroups     = "check group membership"
)

// Error is a failed Graph call.
type Error struct {
	Op              string // operation, one of the Op* constants
	Status          int    // HTTP status; 0 when no response was received
	Code            string // Graph error code (error.code), e.g. Authorization_RequestDenied
	Message         string // Graph error message, sanitised
	RequestID       string // request-id, quote it to Microsoft support
	ClientRequestID string // client-request-id
	Date            string // innerError.date or the Date header
	Class           error  // one of the Err* classes above
	// MissingPermission names the least-privileged Graph permission for Op
	// when Class is ErrPermission.
	MissingPermission string
	// RetryAfter is the server's Retry-After when it was given.
	RetryAfter time.Duration
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("graph: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(e.Class.Error())
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Code != "" {
			b.WriteString(" ")
			b.WriteString(e.Code)
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.MissingPermission != "" {
		b.WriteString(" [needs ")
		b.WriteString(e.MissingPermission)
		b.WriteString("]")
	}
	if e.RequestID != "" {
		b.WriteString(" [request-id ")
		b.WriteString(e.RequestID)
		b.WriteString("]")
	}
	return b.String()
}

// Is reports whether target is e's class.
func (e *Error) Is(target error) bool { return target != nil && target == e.Class }

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

// leastPermission names the least-privileged application permission per
// operation, from the permission table in internal/policy
// (https://learn.microsoft.com/graph/permissions-reference). The beta
// creationOptions function documents only
// UserAuthenticationMethod.ReadWrite.All.
func leastPermission(op string, beta bool) string {
	switch op {
	case OpGetUser:
		return policy.PermUserRead.Name // userType is not in the basic profile
	case OpCreationOptions:
		if beta {
			return policy.PermAuthMethodsWrite.Name
		}
		return policy.PermPasskeyWrite.Name
	case OpRegister, OpDeleteMethod:
		return policy.PermPasskeyWrite.Name
	case OpListMethods, OpGetMethod:
		return policy.PermPasskeyRead.Name
	case OpCreateTAP, OpDeleteTAP:
		return policy.PermTAPWrite.Name
	case OpListTAPs:
		return policy.PermTAPRead.Name
	case OpGetPolicy:
		return policy.PermPolicyRead.Name
	case OpUpdatePolicy:
		return policy.PermPolicyWrite.Name
	case OpGetGroup, OpCheckGroups:
		return policy.PermGroupMemberRead.Name
	}
	return ""
}

// hints per class, for people.
var hints = []struct {
	class error
	hint  string
}{
	{ErrAmbiguousRegistration, "the key may or may not be registered: run `keyprep methods list --user …` (or `keyprep journal resume`) before trying again; fresh creationOptions list every registered credential in excludeCredentials, so a retry cannot silently duplicate it"},
	{ErrAuthentication, "the access token was refused: sign in again (`keyprep login`), check tenant and client id, or supply a fresh token (KEYPREP_ACCESS_TOKEN)"},
	{ErrPermission, "grant the application permission named in the error (admin consent), or sign in as Authentication Administrator / Privileged Authentication Administrator"},
	{ErrUserNotFound, "check the UPN or object id; a renamed user must be looked up by the new UPN"},
	{ErrMethodNotFound, "the method id no longer exists: list the user's methods again"},
	{ErrGuestUser, "passkeys and Temporary Access Passes cannot be issued here to external guest (B2B) users: their home tenant must do it"},
	{ErrMethodDisabled, "enable the Passkey (FIDO2) authentication method and include the user (or a group of theirs) in its targets: `keyprep policy check`"},
	{ErrSelfServiceSetupOff, "the provisioning API requires \"Allow self-service setup\" (isSelfServiceRegistrationAllowed) in the Passkey (FIDO2) policy: `keyprep policy set`"},
	{ErrKeyModelNotAllowed, "the tenant's key restrictions or passkey profile do not accept this key model (AAGUID): allow it in the policy or use another key"},
	{ErrAttestationRejected, "attestation enforcement refused this key's attestation (only packed or none, and none only with enforcement off): use a certified key or disable attestation enforcement"},
	{ErrChallengeExpired, "the creationOptions challenge expired before registration: fetch fresh options, or ask for a longer challenge (beta, up to 30 days)"},
	{ErrAlreadyRegistered, "this credential is already registered for the user: list the user's methods"},
	{ErrGroupNotFound, "check the group's display name (exact, case-insensitive) or pass its object id"},
	{ErrTAPPolicy, "the tenant's Temporary Access Pass policy does not allow this pass: see `keyprep policy show tap` (lifetime range, one-time use, state) and adjust the request or the policy"},
	{ErrInvalidRequest, "Graph refused the request; the message above names the problem"},
	{ErrThrottled, "Microsoft Graph is throttling this application: wait and retry, or lower the parallelism"},
	{ErrService, "Microsoft Graph had a transient problem: retry later; quote the request-id to Microsoft support if it persists"},
	{ErrNetwork, "the request did not reach Microsoft: check this machine's network (DNS, proxy: HTTPS_PROXY, firewall); to try keyprep without a tenant, add --sim"},
}

// Hint returns advice for a person about err, or "" when err is not a Graph
// error. For ErrPermission it names the missing permission.
func Hint(err error) string {
	if err == nil {
		return ""
	}
	if h := profileHint(err); h != "" {
		return h
	}
	for _, h := range hints {
		if errors.Is(err, h.class) {
			if h.class == ErrPermission {
				var ge *Error
				if errors.As(err, &ge) && ge.MissingPermission != "" {
					return "grant the application permission " + ge.MissingPermission +
						" (admin consent), or sign in as Authentication Administrator / Privileged Authentication Administrator"
				}
			}
			if h.class == ErrAmbiguousRegistration {
				var ge *Error
				if errors.As(err, &ge) && ge.Op == OpCreateTAP {
					return tapAmbiguousHint
				}
			}
			return h.hint
		}
	}
	return ""
}

// tapAmbiguousHint is the hint for a Temporary Access Pass whose answer was
// lost: a pass may exist, but its code cannot be read back.
const tapAmbiguousHint = "a pass may exist whose code nobody has: `keyprep tap show --user …` says whether there is one; `keyprep tap create --replace` issues a new one in its place"

// reProfile finds the passkey profile a refusal names (the emulated
// tenant's wording: "the passkey profile 'NAME'").
var reProfile = regexp.MustCompile(`(?i)passkey profile '([^']{1,256})'`)

// profileHint is the hint for an attestation or key-model refusal that
// names the passkey profile behind it: the command that changes that
// profile.
func profileHint(err error) string {
	var ge *Error
	if !errors.As(err, &ge) {
		return ""
	}
	m := reProfile.FindStringSubmatch(ge.Message)
	if m == nil {
		return ""
	}
	switch {
	case errors.Is(err, ErrAttestationRejected):
		return fmt.Sprintf("passkey profile %q enforces attestation: use a certified key model, or turn its enforcement off (%s)",
			m[1], policy.ProfileSetCommand(m[1], "--enforce-attestation off"))
	case errors.Is(err, ErrKeyModelNotAllowed):
		return fmt.Sprintf("the key restrictions of passkey profile %q do not accept this key model: use another key, or change them (%s; keyprep policy show fido2)",
			m[1], policy.ProfileSetCommand(m[1], "--add-aaguid AAGUID (an allow list) or --remove-aaguid AAGUID (a block list)"))
	}
	return ""
}

// errorBody is the Graph error envelope (docs/graph.md §5). encoding/json
// matches member names case-insensitively, which covers innerError/innererror.
type errorBody struct {
	Error *struct {
		Code       string          `json:"code"`
		Message    json.RawMessage `json:"message"`
		InnerError *struct {
			Code            string `json:"code"`
			Message         string `json:"message"`
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

// decodedError is what decodeErrorBody extracts.
type decodedError struct {
	Code, Message, InnerMessage, Date, RequestID, ClientRequestID string
}

const maxFieldLen = 1024

// decodeErrorBody parses a Graph error body tolerantly. It never fails: an
// unparsable body yields an empty result (and a short excerpt as message if it
// looks like text). All strings are sanitised: no control characters, valid
// UTF-8, bounded length.
func decodeErrorBody(body []byte) decodedError {
	var d decodedError
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil && eb.Error != nil {
		d.Code = sanitize(eb.Error.Code)
		d.Message = sanitize(rawMessageString(eb.Error.Message))
		if ie := eb.Error.InnerError; ie != nil {
			d.InnerMessage = sanitize(ie.Message)
			d.Date = sanitize(ie.Date)
			d.RequestID = sanitize(ie.RequestID)
			d.ClientRequestID = sanitize(ie.ClientRequestID)
			if d.Code == "" {
				d.Code = sanitize(ie.Code)
			}
		}
		return d
	}
	// Not the envelope: keep a short excerpt of a textual body.
	if utf8.Valid(body) && len(body) > 0 && !strings.HasPrefix(strings.TrimSpace(string(body)), "<") {
		d.Message = sanitize(string(body))
	}
	return d
}

// rawMessageString accepts "message": "text" and the OData v4 form
// "message": {"lang": "en-US", "value": "text"}.
func rawMessageString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Value string `json:"value"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Value
	}
	return ""
}

// sanitize makes a server-supplied string safe to print on a terminal.
func sanitize(s string) string {
	if len(s) > 4*maxFieldLen {
		s = s[:4*maxFieldLen]
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n >= maxFieldLen {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError:
			r = '?'
		case r == '\n' || r == '\r' || r == '\t':
			r = ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// Message patterns. Graph does not document the texts for most provisioning
// failures (docs/graph.md §5), so the patterns are deliberately
// broad and checked in a fixed order, most specific first.
var (
	reChallenge   = regexp.MustCompile(`(?i)challenge[^.]*(expired|is no longer valid|timed? ?out)|expired[^.]*challenge`)
	reGuest       = regexp.MustCompile(`(?i)\bguest\b|external user|\bb2b\b`)
	reSelfService = regexp.MustCompile(`(?i)self[- ]?service|isSelfServiceRegistrationAllowed`)
	// An attestation refusal may name the passkey profile that enforces
	// it, so it is told apart before the key-model words.
	reAttestationFailed = regexp.MustCompile(`(?i)attestation[^.:]*(failed|rejected|not accepted)|enforces attestation`)
	reKeyModel          = regexp.MustCompile(`(?i)aa ?guid|key ?restriction|key model|authenticator model|passkey ?profile|not (in the )?allow(ed)? ?list|is blocked`)
	reAttestation       = regexp.MustCompile(`(?i)attestation`)
	reDisabled          = regexp.MustCompile(`(?i)(method|fido2|passkey)[^.]*(not enabled|disabled|not allowed for)|not (in|within) (the )?(policy )?scope|not targeted|policy does not (allow|apply)`)
	reUserMissing       = regexp.MustCompile(`(?i)(user|resource)[^.]*(does not exist|not found|doesn't exist)|invalid user`)
	reDuplicate         = regexp.MustCompile(`(?i)already (registered|exists)|duplicate`)
	reTAPPolicy         = regexp.MustCompile(`(?i)lifetime|usable ?once|one-time|temporary ?access ?pass[^.]*(disabled|not enabled)|disabled by policy`)
)

// classify maps status, code and message to a class (docs/graph.md §5).
func classify(op string, status int, code, msg string) error {
	text := code + " " + msg
	lc := strings.ToLower(code)
	switch {
	case status == http.StatusUnauthorized:
		return ErrAuthentication
	case status == http.StatusTooManyRequests:
		return ErrThrottled
	case status >= 500:
		return ErrService
	}
	// Specific provisioning failures may come back as 400, 403 or 409.
	isTAP := op == OpCreateTAP || op == OpListTAPs || op == OpDeleteTAP
	switch {
	case isTAP && reGuest.MatchString(text):
		return ErrGuestUser
	case isTAP && status != http.StatusForbidden && reTAPPolicy.MatchString(text):
		return ErrTAPPolicy
	case reChallenge.MatchString(text):
		return ErrChallengeExpired
	case reGuest.MatchString(text):
		return ErrGuestUser
	case reSelfService.MatchString(text):
		return ErrSelfServiceSetupOff
	case reAttestationFailed.MatchString(text):
		return ErrAttestationRejected
	case reKeyModel.MatchString(text):
		return ErrKeyModelNotAllowed
	case reAttestation.MatchString(text):
		return ErrAttestationRejected
	case reDisabled.MatchString(text):
		return ErrMethodDisabled
	case status == http.StatusConflict || reDuplicate.MatchString(text):
		return ErrAlreadyRegistered
	}
	switch {
	case status == http.StatusForbidden:
		return ErrPermission
	case status == http.StatusNotFound || lc == "request_resourcenotfound" || lc == "resourcenotfound" ||
		(status == http.StatusBadRequest && reUserMissing.MatchString(msg)):
		if op == OpGetGroup {
			return ErrGroupNotFound
		}
		if op == OpGetMethod || op == OpDeleteMethod || op == OpDeleteTAP {
			if strings.Contains(strings.ToLower(msg), "user") {
				return ErrUserNotFound
			}
			return ErrMethodNotFound
		}
		return ErrUserNotFound
	}
	return ErrInvalidRequest
}

// newHTTPError builds the *Error for a non-2xx response.
func newHTTPError(op string, beta bool, status int, h http.Header, body []byte) *Error {
	d := decodeErrorBody(body)
	e := &Error{
		Op:              op,
		Status:          status,
		Code:            d.Code,
		Message:         d.Message,
		RequestID:       d.RequestID,
		ClientRequestID: d.ClientRequestID,
		Date:            d.Date,
	}
	if e.RequestID == "" {
		e.RequestID = sanitize(h.Get("request-id"))
	}
	if e.ClientRequestID == "" {
		e.ClientRequestID = sanitize(h.Get("client-request-id"))
	}
	if e.Date == "" {
		e.Date = sanitize(h.Get("Date"))
	}
	if ra, ok := parseRetryAfter(h.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = ra
	}
	e.Class = classify(op, status, d.Code, d.Message+" "+d.InnerMessage)
	if e.Class == ErrPermission {
		e.MissingPermission = leastPermission(op, beta)
	}
	return e
}
