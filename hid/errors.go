package hid

import (
	"errors"
	"fmt"
)

// Code is a libfido2 error code (fido/err.h). Positive values are CTAP2 status
// codes passed through from the key (CTAP 2.1 §8.2 "Status codes"); negative
// values are libfido2's own. CodeNotFound etc. mirror FIDO_ERR_*.
type Code int

// libfido2 1.12 error codes, one for one with fido/err.h.
const (
	CodeSuccess                Code = 0x00
	CodeInvalidCommand         Code = 0x01
	CodeInvalidParameter       Code = 0x02
	CodeInvalidLength          Code = 0x03
	CodeInvalidSeq             Code = 0x04
	CodeTimeout                Code = 0x05
	CodeChannelBusy            Code = 0x06
	CodeLockRequired           Code = 0x0a
	CodeInvalidChannel         Code = 0x0b
	CodeCBORUnexpectedType     Code = 0x11
	CodeInvalidCBOR            Code = 0x12
	CodeMissingParameter       Code = 0x14
	CodeLimitExceeded          Code = 0x15
	CodeUnsupportedExtension   Code = 0x16
	CodeFPDatabaseFull         Code = 0x17
	CodeLargeBlobStorageFull   Code = 0x18
	CodeCredentialExcluded     Code = 0x19
	CodeProcessing             Code = 0x21
	CodeInvalidCredential      Code = 0x22
	CodeUserActionPending      Code = 0x23
	CodeOperationPending       Code = 0x24
	CodeNoOperations           Code = 0x25
	CodeUnsupportedAlgorithm   Code = 0x26
	CodeOperationDenied        Code = 0x27
	CodeKeyStoreFull           Code = 0x28
	CodeNotBusy                Code = 0x29
	CodeNoOperationPending     Code = 0x2a
	CodeUnsupportedOption      Code = 0x2b
	CodeInvalidOption          Code = 0x2c
	CodeKeepaliveCancel        Code = 0x2d
	CodeNoCredentials          Code = 0x2e
	CodeUserActionTimeout      Code = 0x2f
	CodeNotAllowed             Code = 0x30
	CodePINInvalid             Code = 0x31
	CodePINBlocked             Code = 0x32
	CodePINAuthInvalid         Code = 0x33
	CodePINAuthBlocked         Code = 0x34
	CodePINNotSet              Code = 0x35
	CodePINRequired            Code = 0x36 // PUAT_REQUIRED in CTAP 2.1
	CodePINPolicyViolation     Code = 0x37
	CodePINTokenExpired        Code = 0x38
	CodeRequestTooLarge        Code = 0x39
	CodeActionTimeout          Code = 0x3a
	CodeUPRequired             Code = 0x3b
	CodeUVBlocked              Code = 0x3c
	CodeUVInvalid              Code = 0x3f
	CodeUnauthorizedPermission Code = 0x40
	CodeOther                  Code = 0x7f
	CodeTX                     Code = -1
	CodeRX                     Code = -2
	CodeRXNotCBOR              Code = -3
	CodeRXInvalidCBOR          Code = -4
	CodeInvalidParam           Code = -5
	CodeInvalidSig             Code = -6
	CodeInvalidArgument        Code = -7
	CodeUserPresenceRequired   Code = -8
	CodeInternal               Code = -9
	CodeNotFound               Code = -10
	CodeCompress               Code = -11

	// Codes below are keyprep's own, never produced by libfido2.

	// CodeDeadline: the operation's context deadline or the binding's timeout
	// expired (libfido2 reports this as FIDO_ERR_RX; the binding rewrites it).
	CodeDeadline Code = -1000
	// CodeCancelled: the caller cancelled the context.
	CodeCancelled Code = -1001
	// CodeNoLibfido2: keyprep was built without cgo/libfido2.
	CodeNoLibfido2 Code = -1002
	// CodeNotElevated: on Windows, the process is not elevated and no key
	// is visible (Windows lets only elevated processes open FIDO HID keys
	// directly; see docs/windows.md).
	CodeNotElevated Code = -1003
)

var codeNames = map[Code]string{
	CodeSuccess: "SUCCESS", CodeInvalidCommand: "INVALID_COMMAND", CodeInvalidParameter: "INVALID_PARAMETER",
	CodeInvalidLength: "INVALID_LENGTH", CodeInvalidSeq: "INVALID_SEQ", CodeTimeout: "TIMEOUT",
	CodeChannelBusy: "CHANNEL_BUSY", CodeLockRequired: "LOCK_REQUIRED", CodeInvalidChannel: "INVALID_CHANNEL",
	CodeCBORUnexpectedType: "CBOR_UNEXPECTED_TYPE", CodeInvalidCBOR: "INVALID_CBOR",
	CodeMissingParameter: "MISSING_PARAMETER", CodeLimitExceeded: "LIMIT_EXCEEDED",
	CodeUnsupportedExtension: "UNSUPPORTED_EXTENSION", CodeFPDatabaseFull: "FP_DATABASE_FULL",
	CodeLargeBlobStorageFull: "LARGEBLOB_STORAGE_FULL", CodeCredentialExcluded: "CREDENTIAL_EXCLUDED",
	CodeProcessing: "PROCESSING", CodeInvalidCredential: "INVALID_CREDENTIAL",
	CodeUserActionPending: "USER_ACTION_PENDING", CodeOperationPending: "OPERATION_PENDING",
	CodeNoOperations: "NO_OPERATIONS", CodeUnsupportedAlgorithm: "UNSUPPORTED_ALGORITHM",
	CodeOperationDenied: "OPERATION_DENIED", CodeKeyStoreFull: "KEY_STORE_FULL", CodeNotBusy: "NOT_BUSY",
	CodeNoOperationPending: "NO_OPERATION_PENDING", CodeUnsupportedOption: "UNSUPPORTED_OPTION",
	CodeInvalidOption: "INVALID_OPTION", CodeKeepaliveCancel: "KEEPALIVE_CANCEL",
	CodeNoCredentials: "NO_CREDENTIALS", CodeUserActionTimeout: "USER_ACTION_TIMEOUT",
	CodeNotAllowed: "NOT_ALLOWED", CodePINInvalid: "PIN_INVALID", CodePINBlocked: "PIN_BLOCKED",
	CodePINAuthInvalid: "PIN_AUTH_INVALID", CodePINAuthBlocked: "PIN_AUTH_BLOCKED", CodePINNotSet: "PIN_NOT_SET",
	CodePINRequired: "PIN_REQUIRED", CodePINPolicyViolation: "PIN_POLICY_VIOLATION",
	CodePINTokenExpired: "PIN_TOKEN_EXPIRED", CodeRequestTooLarge: "REQUEST_TOO_LARGE",
	CodeActionTimeout: "ACTION_TIMEOUT", CodeUPRequired: "UP_REQUIRED", CodeUVBlocked: "UV_BLOCKED",
	CodeUVInvalid: "UV_INVALID", CodeUnauthorizedPermission: "UNAUTHORIZED_PERM", CodeOther: "ERR_OTHER",
	CodeTX: "TX", CodeRX: "RX", CodeRXNotCBOR: "RX_NOT_CBOR", CodeRXInvalidCBOR: "RX_INVALID_CBOR",
	CodeInvalidParam: "INVALID_PARAM", CodeInvalidSig: "INVALID_SIG", CodeInvalidArgument: "INVALID_ARGUMENT",
	CodeUserPresenceRequired: "USER_PRESENCE_REQUIRED", CodeInternal: "INTERNAL", CodeNotFound: "NOTFOUND",
	CodeCompress: "COMPRESS", CodeDeadline: "DEADLINE", CodeCancelled: "CANCELLED", CodeNoLibfido2: "NO_LIBFIDO2",
	CodeNotElevated: "NOT_ELEVATED",
}

// String returns the FIDO_ERR_* name without the prefix, e.g. "PIN_INVALID".
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("0x%02x", int(c))
}

// Error is every error the binding returns for a key operation: the operation
// name, the libfido2 code and libfido2's own text (fido_strerr).
type Error struct {
	Op   string // e.g. "set PIN", "make credential"
	Code Code
	Msg  string // fido_strerr text or a keyprep explanation
}

func (e *Error) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Op, e.Msg, e.Code)
	}
	return fmt.Sprintf("%s: %s", e.Op, e.Code)
}

// Is lets errors.Is match an *Error against the class sentinels below.
func (e *Error) Is(target error) bool {
	c, ok := target.(*classError)
	if !ok {
		return false
	}
	for _, code := range c.codes {
		if e.Code == code {
			return true
		}
	}
	return false
}

// classError is a sentinel naming a class of codes the workflow cares about.
type classError struct {
	name  string
	codes []Code
}

func (c *classError) Error() string { return c.name }

// Error classes; use errors.Is(err, hid.ErrPINInvalid) etc.
var (
	ErrPINInvalid         error = &classError{"PIN invalid", []Code{CodePINInvalid}}
	ErrPINAuthBlocked     error = &classError{"PIN blocked until the key is replugged", []Code{CodePINAuthBlocked}}
	ErrPINBlocked         error = &classError{"PIN blocked", []Code{CodePINBlocked}}
	ErrPINRequired        error = &classError{"PIN required", []Code{CodePINRequired, CodePINNotSet}}
	ErrPINNotSet          error = &classError{"PIN not set", []Code{CodePINNotSet}}
	ErrPINPolicyViolation error = &classError{"PIN policy violation", []Code{CodePINPolicyViolation}}
	ErrCredentialExcluded error = &classError{"credential excluded", []Code{CodeCredentialExcluded}}
	ErrKeyStoreFull       error = &classError{"key store full", []Code{CodeKeyStoreFull}}
	ErrUserActionTimeout  error = &classError{"user action timeout", []Code{CodeUserActionTimeout, CodeActionTimeout}}
	ErrOperationDenied    error = &classError{"operation denied", []Code{CodeOperationDenied}}
	ErrNotAllowed         error = &classError{"not allowed", []Code{CodeNotAllowed}}
	ErrCancelled          error = &classError{"cancelled", []Code{CodeKeepaliveCancel, CodeCancelled}}
	ErrTimeout            error = &classError{"timeout", []Code{CodeDeadline, CodeTimeout}}
	ErrNoCredentials      error = &classError{"no credentials", []Code{CodeNoCredentials}}
	ErrNotFound           error = &classError{"not found", []Code{CodeNotFound}}
	ErrUnsupported        error = &classError{"unsupported", []Code{CodeUnsupportedOption, CodeUnsupportedAlgorithm, CodeUnsupportedExtension, CodeInvalidCommand, CodeUnauthorizedPermission}}
	ErrUVInvalid          error = &classError{"fingerprint not recognised", []Code{CodeUVInvalid}}
	ErrUVBlocked          error = &classError{"fingerprint verification blocked until the PIN is used", []Code{CodeUVBlocked}}
	ErrFPDatabaseFull     error = &classError{"fingerprint storage full", []Code{CodeFPDatabaseFull}}
	ErrNoLibfido2         error = &classError{"keyprep was built without libfido2 (cgo disabled); rebuild with CGO_ENABLED=1 and libfido2-dev installed", []Code{CodeNoLibfido2}}
	ErrNotElevated        error = &classError{"not elevated: Windows lets only an elevated process (Run as administrator) open FIDO keys", []Code{CodeNotElevated}}
)

// CodeOf returns the libfido2 code carried by err, or CodeSuccess if err is
// nil, or CodeOther if err is not a binding error.
func CodeOf(err error) Code {
	if err == nil {
		return CodeSuccess
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeOther
}
