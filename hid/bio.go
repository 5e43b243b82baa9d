package hid

import "fmt"

// BioSensorInfo is getFingerprintSensorInfo (CTAP 2.1 §6.7.3) as libfido2
// 1.12 exposes it (fido_bio_info_*).
type BioSensorInfo struct {
	// Kind is fingerprintKind: 1 touch sensor, 2 swipe sensor.
	Kind int
	// MaxSamples is maxCaptureSamplesRequiredForEnroll: the good samples
	// an enrollment needs.
	MaxSamples int
}

// BioTemplate is one enrolled fingerprint (CTAP 2.1 §6.7.2 templateInfo).
type BioTemplate struct {
	ID   []byte
	Name string // "" when the key holds no friendly name
}

// BioSample is the key's answer to one enrollment sample (CTAP 2.1 §6.7.4
// and §6.7.5): its feedback on the sample and the good samples still
// needed; 0 remaining means the fingerprint is enrolled.
type BioSample struct {
	Feedback  BioFeedback
	Remaining int
}

// BioFeedback is lastEnrollSampleStatus (CTAP 2.1 §6.7.1; libfido2's
// FIDO_BIO_ENROLL_*).
type BioFeedback uint8

// lastEnrollSampleStatus values (CTAP 2.1 §6.7.1).
const (
	BioFeedbackGood                     BioFeedback = 0x00
	BioFeedbackTooHigh                  BioFeedback = 0x01
	BioFeedbackTooLow                   BioFeedback = 0x02
	BioFeedbackTooLeft                  BioFeedback = 0x03
	BioFeedbackTooRight                 BioFeedback = 0x04
	BioFeedbackTooFast                  BioFeedback = 0x05
	BioFeedbackTooSlow                  BioFeedback = 0x06
	BioFeedbackPoorQuality              BioFeedback = 0x07
	BioFeedbackTooSkewed                BioFeedback = 0x08
	BioFeedbackTooShort                 BioFeedback = 0x09
	BioFeedbackMergeFailure             BioFeedback = 0x0a
	BioFeedbackExists                   BioFeedback = 0x0b
	BioFeedbackDatabaseFull             BioFeedback = 0x0c
	BioFeedbackNoUserActivity           BioFeedback = 0x0d
	BioFeedbackNoUserPresenceTransition BioFeedback = 0x0e
)

var bioFeedbackNames = [...]string{
	"FP_GOOD", "FP_TOO_HIGH", "FP_TOO_LOW", "FP_TOO_LEFT", "FP_TOO_RIGHT", "FP_TOO_FAST", "FP_TOO_SLOW",
	"FP_POOR_QUALITY", "FP_TOO_SKEWED", "FP_TOO_SHORT", "FP_MERGE_FAILURE", "FP_EXISTS", "FP_DATABASE_FULL",
	"NO_USER_ACTIVITY", "NO_USER_PRESENCE_TRANSITION",
}

// String returns the spec name without the CTAP2_ENROLL_FEEDBACK_ prefix.
func (f BioFeedback) String() string {
	if int(f) < len(bioFeedbackNames) {
		return bioFeedbackNames[f]
	}
	return fmt.Sprintf("0x%02x", uint8(f))
}
