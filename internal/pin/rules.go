package pin

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Rule identifies one PIN rule. Rules are checked in the order of these
// constants. A Rule is an error, so errors.Is(err, RuleRepeat) tells
// whether err is a *RuleError for that rule.
type Rule int

const (
	// RuleEncoding: the PIN is not valid UTF-8 or contains a NUL byte.
	RuleEncoding Rule = iota + 1
	// RuleTooLong: the NFC form is longer than MaxPINBytes bytes of UTF-8.
	// Limit is MaxPINBytes, Actual the byte length.
	RuleTooLong
	// RuleCharset: a character is outside the policy's Alphabet.
	RuleCharset
	// RuleTooShort: fewer than MinLength code points. Limit is MinLength,
	// Actual the length in code points.
	RuleTooShort
	// RuleKeyMinimum: fewer code points than the key's minPINLength
	// (KeyMinPINLength, when it exceeds MinLength). Limit is
	// KeyMinPINLength, Actual the length in code points.
	RuleKeyMinimum
	// RuleLeadingZero: NoLeadingZero is set and the PIN starts with 0.
	RuleLeadingZero
	// RuleRepeat: NoRepeat is set and the PIN has a run of more than
	// MaxIdenticalRun identical characters. Limit is MaxIdenticalRun,
	// Actual the length of the longest run.
	RuleRepeat
	// RuleSequence: NoSequence is set and the PIN has an ascending or
	// descending run of more than MaxSequenceRun characters. Limit is
	// MaxSequenceRun, Actual the length of the longest such run.
	RuleSequence
	// RuleDistinct: fewer than MinDistinct distinct characters. Limit is
	// MinDistinct, Actual the number of distinct characters.
	RuleDistinct
	// RuleBlocklist: the PIN is on the policy's Blocklist.
	RuleBlocklist
	// RulePalindrome: NoPalindrome is set and the PIN reads the same
	// backwards.
	RulePalindrome
	// RuleArithmetic: NoArithmeticSequence is set and the all-digit PIN
	// follows one constant step.
	RuleArithmetic
	// RuleClasses: a PIN with a non-digit is shorter than
	// NonNumericMinLength (Limit that length, Actual the PIN's) or uses
	// fewer than NonNumericMinClasses character classes (Limit the
	// classes, Actual the PIN's; detailClasses).
	RuleClasses
)

var ruleNames = [...]string{
	RuleEncoding:    "encoding",
	RuleTooLong:     "too-long",
	RuleCharset:     "charset",
	RuleTooShort:    "too-short",
	RuleKeyMinimum:  "key-minimum",
	RuleLeadingZero: "leading-zero",
	RuleRepeat:      "repeat",
	RuleSequence:    "sequence",
	RuleDistinct:    "distinct",
	RuleBlocklist:   "blocklist",
	RulePalindrome:  "palindrome",
	RuleArithmetic:  "arithmetic",
	RuleClasses:     "classes",
}

// String returns the rule's short name, e.g. "repeat".
func (r Rule) String() string {
	if r >= RuleEncoding && int(r) < len(ruleNames) {
		return ruleNames[r]
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// Error makes a Rule usable as an errors.Is target.
func (r Rule) Error() string { return "pin: " + r.String() + " rule" }

// detail distinguishes the wording of a rule's message where one rule has
// several causes. It is chosen by the package, never derived from the PIN.
type detail uint8

const (
	detailNone detail = iota
	detailNUL
	detailUTF8
	detailDigits
	detailAlphanumeric
	detailControl
	detailClasses
)

// RuleError reports the first rule a PIN breaks. Its fields and message
// describe the rule and its limit, and at most a count measured on the PIN;
// never the PIN's content. It unwraps to its Rule.
type RuleError struct {
	Rule   Rule
	Limit  int // the policy limit involved; 0 when the rule has none
	Actual int // the measured count (length, run, distinct); 0 when not applicable
	detail detail
}

func (e *RuleError) Unwrap() error { return e.Rule }

// Error describes the failure. The text is built only from the rule, the
// limit and the count.
func (e *RuleError) Error() string {
	switch e.Rule {
	case RuleEncoding:
		if e.detail == detailNUL {
			return "PIN contains a NUL byte"
		}
		return "PIN is not valid UTF-8"
	case RuleTooLong:
		return fmt.Sprintf("PIN is %d bytes in UTF-8 (maximum %d bytes)", e.Actual, e.Limit)
	case RuleCharset:
		switch e.detail {
		case detailDigits:
			return "PIN contains characters other than the digits 0-9"
		case detailAlphanumeric:
			return "PIN contains characters other than ASCII letters and digits"
		case detailControl:
			return "PIN contains control characters"
		}
		return "PIN contains characters outside the allowed alphabet"
	case RuleTooShort:
		return fmt.Sprintf("PIN is %d characters long (minimum %d)", e.Actual, e.Limit)
	case RuleKeyMinimum:
		return fmt.Sprintf("PIN is %d characters long but the security key requires at least %d", e.Actual, e.Limit)
	case RuleLeadingZero:
		return "PIN starts with a zero (a leading zero is not allowed)"
	case RuleRepeat:
		return fmt.Sprintf("PIN has a run of %d identical characters (no run of %d+ allowed)", e.Actual, e.Limit+1)
	case RuleSequence:
		return fmt.Sprintf("PIN has an ascending or descending run of %d characters (no run of %d+ allowed)", e.Actual, e.Limit+1)
	case RuleDistinct:
		return fmt.Sprintf("PIN has %d distinct characters (at least %d required)", e.Actual, e.Limit)
	case RuleBlocklist:
		return "PIN is on the list of commonly used PINs"
	case RulePalindrome:
		return "PIN reads the same backwards (a palindrome is not allowed)"
	case RuleArithmetic:
		return "PIN's digits follow one constant step (an arithmetic sequence is not allowed)"
	case RuleClasses:
		if e.detail == detailClasses {
			return fmt.Sprintf("PIN with letters or symbols uses %d kinds of characters (at least %d of upper case, lower case, digits, symbols required)", e.Actual, e.Limit)
		}
		return fmt.Sprintf("PIN with letters or symbols is %d characters long (minimum %d)", e.Actual, e.Limit)
	}
	return "PIN breaks " + e.Rule.String() + " rule"
}

// Validate checks pin against the policy and returns nil, a *RuleError for
// the first rule it breaks (see Rule for the order), or a *PolicyError if
// the policy itself is invalid. pin is not modified or retained.
func (p Policy) Validate(pin []byte) error {
	if err := p.Check(); err != nil {
		return err
	}
	if re := p.validate(pin); re != nil {
		return re
	}
	return nil
}

// Normalize returns the NFC form of pin, the form CTAP 2.1 sends to the
// key, as a new slice the caller should Wipe. It does not validate.
func Normalize(pin []byte) []byte {
	// NFC expands UTF-8 by at most a factor of 3, so Append should never
	// outgrow buf; if it did, the abandoned buffer is wiped.
	buf := make([]byte, 0, 3*len(pin)+utf8.UTFMax)
	out := norm.NFC.Append(buf, pin...)
	if cap(out) != cap(buf) {
		Wipe(buf[:cap(buf)])
	}
	return out
}

// validate applies the rules of an already checked policy.
func (p Policy) validate(pin []byte) *RuleError {
	if bytes.IndexByte(pin, 0) >= 0 {
		return &RuleError{Rule: RuleEncoding, detail: detailNUL}
	}
	if !utf8.Valid(pin) {
		return &RuleError{Rule: RuleEncoding, detail: detailUTF8}
	}
	s := pin
	if !norm.NFC.IsNormal(pin) {
		s = Normalize(pin)
		defer Wipe(s)
	}
	if len(s) > MaxPINBytes {
		return &RuleError{Rule: RuleTooLong, Limit: MaxPINBytes, Actual: len(s)}
	}

	// At most MaxPINBytes code points from here on.
	var arr [MaxPINBytes]rune
	defer clear(arr[:])
	rs := arr[:0]
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRune(s[i:])
		rs = append(rs, r)
		i += n
	}

	for _, r := range rs {
		if d := p.Alphabet.reject(r); d != detailNone {
			return &RuleError{Rule: RuleCharset, detail: d}
		}
	}
	if n := len(rs); n < p.EffectiveMinLength() {
		if p.KeyMinPINLength > p.MinLength {
			return &RuleError{Rule: RuleKeyMinimum, Limit: p.KeyMinPINLength, Actual: n}
		}
		return &RuleError{Rule: RuleTooShort, Limit: p.MinLength, Actual: n}
	}
	if p.NoLeadingZero && rs[0] == '0' {
		return &RuleError{Rule: RuleLeadingZero}
	}
	if p.NoRepeat || p.MaxRepeat > 0 {
		limit := p.MaxRepeat
		if p.NoRepeat && (limit == 0 || limit > MaxIdenticalRun) {
			limit = MaxIdenticalRun
		}
		if run := longestRun(rs, func(a, b rune) bool { return a == b }); run > limit {
			return &RuleError{Rule: RuleRepeat, Limit: limit, Actual: run}
		}
	}
	if p.NoSequence {
		up := longestRun(rs, func(a, b rune) bool { return successor(a, b) })
		down := longestRun(rs, func(a, b rune) bool { return successor(b, a) })
		if run := max(up, down); run > MaxSequenceRun {
			return &RuleError{Rule: RuleSequence, Limit: MaxSequenceRun, Actual: run}
		}
	}
	if p.MinDistinct > 1 {
		if d := countDistinct(rs); d < p.MinDistinct {
			return &RuleError{Rule: RuleDistinct, Limit: p.MinDistinct, Actual: d}
		}
	}
	for _, e := range p.Blocklist {
		if len(e) == len(s) && equalFoldASCII(s, e) {
			return &RuleError{Rule: RuleBlocklist}
		}
	}
	if p.NoPalindrome && palindrome(rs) {
		return &RuleError{Rule: RulePalindrome}
	}
	numeric := allDigits(rs)
	if p.NoArithmeticSequence && numeric && arithmetic(rs) {
		return &RuleError{Rule: RuleArithmetic}
	}
	if !numeric {
		if n := len(rs); n < p.NonNumericMinLength {
			return &RuleError{Rule: RuleClasses, Limit: p.NonNumericMinLength, Actual: n}
		}
		if c := classes(rs); c < p.NonNumericMinClasses {
			return &RuleError{Rule: RuleClasses, Limit: p.NonNumericMinClasses, Actual: c, detail: detailClasses}
		}
	}
	return nil
}

// palindrome reports whether rs reads the same backwards.
func palindrome(rs []rune) bool {
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		if rs[i] != rs[j] {
			return false
		}
	}
	return true
}

func allDigits(rs []rune) bool {
	for _, r := range rs {
		if !isDigit(r) {
			return false
		}
	}
	return true
}

// arithmetic reports whether the digits rs (at least two) follow one
// constant step modulo 10.
func arithmetic(rs []rune) bool {
	if len(rs) < 2 {
		return false
	}
	step := (rs[1] - rs[0] + 10) % 10
	for i := 2; i < len(rs); i++ {
		if (rs[i]-rs[i-1]+10)%10 != step {
			return false
		}
	}
	return true
}

// classes counts the character classes in rs: upper case, lower case,
// digits, anything else.
func classes(rs []rune) int {
	var upper, lower, digit, other bool
	for _, r := range rs {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case isDigit(r):
			digit = true
		default:
			other = true
		}
	}
	n := 0
	for _, b := range []bool{upper, lower, digit, other} {
		if b {
			n++
		}
	}
	return n
}

// reject returns why r is outside the alphabet, or detailNone.
func (a Alphabet) reject(r rune) detail {
	switch a {
	case Digits:
		if r < '0' || r > '9' {
			return detailDigits
		}
	case Alphanumeric:
		if !isASCIIAlnum(r) {
			return detailAlphanumeric
		}
	case Unicode:
		if unicode.IsControl(r) {
			return detailControl
		}
	}
	return detailNone
}

func isASCIIAlnum(r rune) bool {
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
}

// longestRun returns the length of the longest run of rs in which every
// adjacent pair satisfies next.
func longestRun(rs []rune, next func(a, b rune) bool) int {
	if len(rs) == 0 {
		return 0
	}
	best, cur := 1, 1
	for i := 1; i < len(rs); i++ {
		if next(rs[i-1], rs[i]) {
			cur++
			best = max(best, cur)
		} else {
			cur = 1
		}
	}
	return best
}

// successor reports whether b directly follows a: digits modulo 10
// ("9" then "0"), letters by lowercase code point without wrapping. Digits
// and letters never follow one another.
func successor(a, b rune) bool {
	if isDigit(a) && isDigit(b) {
		return (a-'0'+1)%10 == b-'0'
	}
	if unicode.IsLetter(a) && unicode.IsLetter(b) {
		return unicode.ToLower(a)+1 == unicode.ToLower(b)
	}
	return false
}

func isDigit(r rune) bool { return '0' <= r && r <= '9' }

// countDistinct counts distinct code points in rs (at most MaxPINBytes).
func countDistinct(rs []rune) int {
	n := 0
	for i, r := range rs {
		seen := false
		for _, q := range rs[:i] {
			if q == r {
				seen = true
				break
			}
		}
		if !seen {
			n++
		}
	}
	return n
}

// equalFoldASCII compares b and s, folding ASCII letters only. It does not
// allocate, so no copy of the PIN is made.
func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
