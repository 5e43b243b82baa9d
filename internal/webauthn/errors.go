package webauthn

import "fmt"

// FieldError reports a creationOptions member that keyprep cannot use. Field
// is the JSON path (for example "publicKey.excludeCredentials[2].id"); the
// member's value is never included, so the error is safe to log.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("webauthn: creationOptions: %s: %v", e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
