package softkey

import "fmt"

// Status is a CTAP status code, the first byte of every CTAPHID_CBOR
// response (CTAP 2.1 §8.2 "Status codes"; values as in the spec's error
// table).
type Status byte

// CTAP 2.1 status codes used by this authenticator.
const (
	StatusOK                     Status = 0x00
	StatusInvalidCommand         Status = 0x01
	StatusInvalidParameter       Status = 0x02
	StatusInvalidLength          Status = 0x03
	StatusCBORUnexpectedType     Status = 0x11
	StatusInvalidCBOR            Status = 0x12
	StatusMissingParameter       Status = 0x14
	StatusLimitExceeded          Status = 0x15
	StatusFPDatabaseFull         Status = 0x17
	StatusCredentialExcluded     Status = 0x19
	StatusUnsupportedAlgorithm   Status = 0x26
	StatusOperationDenied        Status = 0x27
	StatusKeyStoreFull           Status = 0x28
	StatusUnsupportedOption      Status = 0x2B
	StatusInvalidOption          Status = 0x2C
	StatusKeepaliveCancel        Status = 0x2D
	StatusNoCredentials          Status = 0x2E
	StatusUserActionTimeout      Status = 0x2F
	StatusNotAllowed             Status = 0x30
	StatusPINInvalid             Status = 0x31
	StatusPINBlocked             Status = 0x32
	StatusPINAuthInvalid         Status = 0x33
	StatusPINAuthBlocked         Status = 0x34
	StatusPINNotSet              Status = 0x35
	StatusPUATRequired           Status = 0x36
	StatusPINPolicyViolation     Status = 0x37
	StatusRequestTooLarge        Status = 0x39
	StatusUVBlocked              Status = 0x3C
	StatusInvalidSubcommand      Status = 0x3E
	StatusUVInvalid              Status = 0x3F
	StatusUnauthorizedPermission Status = 0x40
	StatusOther                  Status = 0x7F
)

var statusNames = map[Status]string{
	StatusOK:                     "CTAP2_OK",
	StatusInvalidCommand:         "CTAP1_ERR_INVALID_COMMAND",
	StatusInvalidParameter:       "CTAP1_ERR_INVALID_PARAMETER",
	StatusInvalidLength:          "CTAP1_ERR_INVALID_LENGTH",
	StatusCBORUnexpectedType:     "CTAP2_ERR_CBOR_UNEXPECTED_TYPE",
	StatusInvalidCBOR:            "CTAP2_ERR_INVALID_CBOR",
	StatusMissingParameter:       "CTAP2_ERR_MISSING_PARAMETER",
	StatusLimitExceeded:          "CTAP2_ERR_LIMIT_EXCEEDED",
	StatusFPDatabaseFull:         "CTAP2_ERR_FP_DATABASE_FULL",
	StatusCredentialExcluded:     "CTAP2_ERR_CREDENTIAL_EXCLUDED",
	StatusUnsupportedAlgorithm:   "CTAP2_ERR_UNSUPPORTED_ALGORITHM",
	StatusOperationDenied:        "CTAP2_ERR_OPERATION_DENIED",
	StatusKeyStoreFull:           "CTAP2_ERR_KEY_STORE_FULL",
	StatusUnsupportedOption:      "CTAP2_ERR_UNSUPPORTED_OPTION",
	StatusInvalidOption:          "CTAP2_ERR_INVALID_OPTION",
	StatusKeepaliveCancel:        "CTAP2_ERR_KEEPALIVE_CANCEL",
	StatusNoCredentials:          "CTAP2_ERR_NO_CREDENTIALS",
	StatusUserActionTimeout:      "CTAP2_ERR_USER_ACTION_TIMEOUT",
	StatusNotAllowed:             "CTAP2_ERR_NOT_ALLOWED",
	StatusPINInvalid:             "CTAP2_ERR_PIN_INVALID",
	StatusPINBlocked:             "CTAP2_ERR_PIN_BLOCKED",
	StatusPINAuthInvalid:         "CTAP2_ERR_PIN_AUTH_INVALID",
	StatusPINAuthBlocked:         "CTAP2_ERR_PIN_AUTH_BLOCKED",
	StatusPINNotSet:              "CTAP2_ERR_PIN_NOT_SET",
	StatusPUATRequired:           "CTAP2_ERR_PUAT_REQUIRED",
	StatusPINPolicyViolation:     "CTAP2_ERR_PIN_POLICY_VIOLATION",
	StatusRequestTooLarge:        "CTAP2_ERR_REQUEST_TOO_LARGE",
	StatusUVBlocked:              "CTAP2_ERR_UV_BLOCKED",
	StatusInvalidSubcommand:      "CTAP2_ERR_INVALID_SUBCOMMAND",
	StatusUVInvalid:              "CTAP2_ERR_UV_INVALID",
	StatusUnauthorizedPermission: "CTAP2_ERR_UNAUTHORIZED_PERMISSION",
	StatusOther:                  "CTAP1_ERR_OTHER",
}

// String returns the spec name of the status, e.g. "CTAP2_ERR_PIN_INVALID".
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("CTAP_STATUS_0x%02X", byte(s))
}

// CTAP command bytes (CTAP 2.1 §6, command table).
const (
	CmdMakeCredential        byte = 0x01
	CmdGetAssertion          byte = 0x02
	CmdGetInfo               byte = 0x04
	CmdClientPIN             byte = 0x06
	CmdReset                 byte = 0x07
	CmdGetNextAssertion      byte = 0x08
	CmdBioEnrollment         byte = 0x09
	CmdCredentialManagement  byte = 0x0A
	CmdSelection             byte = 0x0B
	CmdLargeBlobs            byte = 0x0C
	CmdConfig                byte = 0x0D
	CmdBioEnrollmentPreview  byte = 0x40 // FIDO_2_1_PRE userVerificationMgmtPreview
	CmdCredentialMgmtPreview byte = 0x41
)
