package pin

import (
	"errors"
	"fmt"
)

// Limits and defaults.
const (
	// MinPINLength is the smallest PIN length, in code points, CTAP 2.1
	// allows; no policy length may be below it.
	MinPINLength = 4
	// MaxPINBytes is the largest PIN CTAP 2.1 accepts: 63 bytes of UTF-8
	// (NFC). No policy length may exceed it.
	MaxPINBytes = 63

	// DefaultLength is the length of generated PINs.
	DefaultLength = 8
	// DefaultMinLength is the shortest PIN Validate accepts by default.
	DefaultMinLength = 6
	// DefaultMinDistinct is the default minimum number of distinct
	// characters.
	DefaultMinDistinct = 3

	// MaxIdenticalRun is the longest run of identical characters allowed
	// under NoRepeat: "112" passes, "111" fails.
	MaxIdenticalRun = 2
	// MaxSequenceRun is the longest ascending or descending run allowed
	// under NoSequence: "123" passes, "1234" fails.
	MaxSequenceRun = 3
)

// Alphabet is the character set of a PIN. The zero value is Digits.
type Alphabet int

const (
	// Digits: the ASCII digits 0-9.
	Digits Alphabet = iota
	// Alphanumeric: the ASCII digits 0-9 and letters A-Z, a-z.
	Alphanumeric
	// Unicode: any Unicode character except control characters. Validation
	// only; Generate refuses it.
	Unicode
)

const (
	digitChars    = "0123456789"
	alphanumChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// String returns the alphabet's name.
func (a Alphabet) String() string {
	switch a {
	case Digits:
		return "digits"
	case Alphanumeric:
		return "alphanumeric"
	case Unicode:
		return "unicode"
	}
	return fmt.Sprintf("Alphabet(%d)", int(a))
}

// chars returns the characters Generate draws from, or "" if the alphabet
// cannot be generated.
func (a Alphabet) chars() string {
	switch a {
	case Digits:
		return digitChars
	case Alphanumeric:
		return alphanumChars
	}
	return ""
}

// size returns the number of characters in the alphabet, or 0 when it is
// unbounded for PIN purposes.
func (a Alphabet) size() int { return len(a.chars()) }

// Policy is one rule set shared by Validate and Generate. Start from
// [Default] and adjust fields; the zero Policy is invalid (Length 0).
type Policy struct {
	// Length is the length, in characters, of generated PINs (4..63). A
	// generated PIN is never shorter than KeyMinPINLength either; see
	// GeneratedLength. Must be ≥ MinLength.
	Length int
	// MinLength is the shortest PIN, in code points after NFC, that
	// Validate accepts (4..63).
	MinLength int
	// Alphabet restricts which characters a PIN may contain and is what
	// Generate draws from.
	Alphabet Alphabet
	// MinDistinct is the minimum number of distinct characters (0 or 1:
	// no requirement). It may not exceed the alphabet's size or the
	// generated length.
	MinDistinct int
	// NoRepeat rejects runs of more than MaxIdenticalRun identical
	// characters.
	NoRepeat bool
	// NoSequence rejects ascending or descending runs of more than
	// MaxSequenceRun characters, digits wrapping around 9↔0.
	NoSequence bool
	// Blocklist lists PINs that are rejected outright, compared after NFC
	// normalisation with ASCII letters case-insensitive. Entries should be
	// NFC. Nil means no blocklist; Default sets DefaultBlocklist().
	Blocklist []string
	// NoLeadingZero rejects PINs whose first character is the digit 0.
	NoLeadingZero bool
	// MaxRepeat, when above 0, rejects runs of more than MaxRepeat
	// identical characters (a key's own rule, e.g. 3 on the Token2 PIN+;
	// NoRepeat's MaxIdenticalRun applies as well when set).
	MaxRepeat int
	// NoPalindrome rejects PINs that read the same backwards (321123).
	NoPalindrome bool
	// NoArithmeticSequence rejects all-digit PINs whose digits follow one
	// constant step modulo 10 (123456, 654321, 135791, 111111).
	NoArithmeticSequence bool
	// NonNumericMinLength and NonNumericMinClasses apply to PINs with a
	// character other than a digit: at least that many characters, from
	// at least that many of the classes upper case, lower case, digits
	// and other characters (0: no requirement).
	NonNumericMinLength  int
	NonNumericMinClasses int
	// KeyMinPINLength is the authenticator's minPINLength from
	// authenticatorGetInfo (0..63; 0 when unknown or no key is involved).
	// Validate rejects shorter PINs and Generate produces PINs at least
	// this long.
	KeyMinPINLength int
}

// Default returns keyprep's default policy: 8-digit generated PINs, a
// 6-character minimum, at least 3 distinct characters, no runs of 3
// identical characters, no 4-character sequences, the default blocklist,
// and leading zeros allowed.
func Default() Policy {
	return Policy{
		Length:      DefaultLength,
		MinLength:   DefaultMinLength,
		Alphabet:    Digits,
		MinDistinct: DefaultMinDistinct,
		NoRepeat:    true,
		NoSequence:  true,
		Blocklist:   DefaultBlocklist(),
	}
}

// GeneratedLength is the length of PINs Generate returns:
// max(Length, KeyMinPINLength).
func (p Policy) GeneratedLength() int { return max(p.Length, p.KeyMinPINLength) }

// EffectiveMinLength is the shortest PIN Validate accepts:
// max(MinLength, KeyMinPINLength).
func (p Policy) EffectiveMinLength() int { return max(p.MinLength, p.KeyMinPINLength) }

// ErrInvalidPolicy is wrapped by every *PolicyError.
var ErrInvalidPolicy = errors.New("pin: invalid policy")

// PolicyError reports a policy that is malformed or cannot be satisfied.
// It unwraps to ErrInvalidPolicy.
type PolicyError struct {
	Field  string // the offending Policy field
	Reason string // what is wrong with it
}

func (e *PolicyError) Error() string {
	return "pin: invalid policy: " + e.Field + ": " + e.Reason
}

func (e *PolicyError) Unwrap() error { return ErrInvalidPolicy }

func policyErr(field, format string, a ...any) error {
	return &PolicyError{Field: field, Reason: fmt.Sprintf(format, a...)}
}

// minAcceptance is the lowest probability, for Generate's rejection
// sampling, that a uniformly drawn PIN has MinDistinct distinct characters.
// With maxAttempts draws the chance of Generate giving up on a policy Check
// accepted is below e^-50.
const minAcceptance = 1e-4

// Check reports whether the policy is well-formed and satisfiable: lengths
// within 4..63 (KeyMinPINLength 0..63), Length ≥ MinLength, a known
// alphabet, MinDistinct within 0..63 and not above the alphabet's size or
// the generated length, and — for alphabets Generate supports — a
// MinDistinct that random PINs of the generated length meet often enough.
// The error is a *PolicyError.
func (p Policy) Check() error {
	if p.Length < MinPINLength || p.Length > MaxPINBytes {
		return policyErr("Length", "%d is outside %d..%d", p.Length, MinPINLength, MaxPINBytes)
	}
	if p.MinLength < MinPINLength || p.MinLength > MaxPINBytes {
		return policyErr("MinLength", "%d is outside %d..%d", p.MinLength, MinPINLength, MaxPINBytes)
	}
	if p.Length < p.MinLength {
		return policyErr("Length", "%d is below MinLength %d", p.Length, p.MinLength)
	}
	if p.KeyMinPINLength < 0 || p.KeyMinPINLength > MaxPINBytes {
		return policyErr("KeyMinPINLength", "%d is outside 0..%d", p.KeyMinPINLength, MaxPINBytes)
	}
	if p.Alphabet < Digits || p.Alphabet > Unicode {
		return policyErr("Alphabet", "unknown alphabet %d", int(p.Alphabet))
	}
	if p.MinDistinct < 0 || p.MinDistinct > MaxPINBytes {
		return policyErr("MinDistinct", "%d is outside 0..%d", p.MinDistinct, MaxPINBytes)
	}
	if n := p.Alphabet.size(); n > 0 && p.MinDistinct > n {
		return policyErr("MinDistinct", "%d exceeds the %d characters of the %s alphabet", p.MinDistinct, n, p.Alphabet)
	}
	gl := p.GeneratedLength()
	if p.MinDistinct > gl {
		return policyErr("MinDistinct", "%d exceeds the generated length %d", p.MinDistinct, gl)
	}
	if p.MaxRepeat < 0 || p.MaxRepeat > MaxPINBytes {
		return policyErr("MaxRepeat", "%d is outside 0..%d", p.MaxRepeat, MaxPINBytes)
	}
	if p.NonNumericMinLength < 0 || p.NonNumericMinLength > MaxPINBytes {
		return policyErr("NonNumericMinLength", "%d is outside 0..%d", p.NonNumericMinLength, MaxPINBytes)
	}
	if p.NonNumericMinClasses < 0 || p.NonNumericMinClasses > 4 {
		return policyErr("NonNumericMinClasses", "%d is outside 0..4", p.NonNumericMinClasses)
	}
	if p.Alphabet == Alphanumeric && gl < p.NonNumericMinLength {
		return policyErr("Length", "generated alphanumeric PINs of %d characters are shorter than NonNumericMinLength %d", gl, p.NonNumericMinLength)
	}
	if p.Alphabet == Alphanumeric && p.NonNumericMinClasses > 3 {
		return policyErr("NonNumericMinClasses", "%d classes cannot be generated from letters and digits", p.NonNumericMinClasses)
	}
	if n := p.Alphabet.size(); n > 0 {
		if pr := probDistinctAtLeast(gl, n, p.MinDistinct); pr < minAcceptance {
			return policyErr("MinDistinct", "%d distinct characters in %d random %s is too unlikely to generate (probability %.2g)",
				p.MinDistinct, gl, p.Alphabet, pr)
		}
	}
	return nil
}

// probDistinctAtLeast returns the probability that draws uniform draws from
// an alphabet of n characters contain at least k distinct characters.
func probDistinctAtLeast(draws, n, k int) float64 {
	if k <= 1 {
		return 1
	}
	if k > draws || k > n || draws > MaxPINBytes {
		return 0
	}
	// dist[d] = probability of exactly d distinct characters so far.
	var arr [MaxPINBytes + 1]float64
	dist := arr[:draws+1]
	dist[0] = 1
	for i := 0; i < draws; i++ {
		for d := i + 1; d >= 1; d-- {
			stay := dist[d] * float64(d) / float64(n)
			grow := dist[d-1] * float64(n-(d-1)) / float64(n)
			dist[d] = stay + grow
		}
		dist[0] = 0
	}
	var s float64
	for d := k; d <= draws; d++ {
		s += dist[d]
	}
	return s
}
