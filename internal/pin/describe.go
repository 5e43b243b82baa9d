package pin

import "fmt"

// Describe states the policy's rules in plain words, one per line, for the
// person about to choose a PIN (no example PIN is given: it would be a PIN
// someone might choose).
func (p Policy) Describe() []string {
	var out []string
	length := fmt.Sprintf("at least %d characters", p.EffectiveMinLength())
	switch p.Alphabet {
	case Digits:
		length = fmt.Sprintf("at least %d digits (0-9 only)", p.EffectiveMinLength())
	case Alphanumeric:
		length = fmt.Sprintf("at least %d characters, letters A-Z, a-z and digits only", p.EffectiveMinLength())
	}
	out = append(out, length+fmt.Sprintf(", at most %d bytes", MaxPINBytes))
	if p.MinDistinct > 1 {
		out = append(out, fmt.Sprintf("at least %d different characters", p.MinDistinct))
	}
	run := 0
	if p.NoRepeat {
		run = MaxIdenticalRun
	}
	if p.MaxRepeat > 0 && (run == 0 || p.MaxRepeat < run) {
		run = p.MaxRepeat
	}
	if run > 0 {
		out = append(out, fmt.Sprintf("no character more than %d times in a row", run))
	}
	if p.NoSequence {
		out = append(out, fmt.Sprintf("no run of more than %d ascending or descending characters", MaxSequenceRun))
	}
	if p.NoArithmeticSequence {
		out = append(out, "not digits that go up or down by one fixed step")
	}
	if p.NoPalindrome {
		out = append(out, "not the same read backwards")
	}
	if p.NoLeadingZero {
		out = append(out, "not starting with 0")
	}
	if p.NonNumericMinLength > 0 || p.NonNumericMinClasses > 0 {
		out = append(out, fmt.Sprintf("with a letter or symbol: at least %d characters from %d of upper case, lower case, digits, others",
			p.NonNumericMinLength, p.NonNumericMinClasses))
	}
	if len(p.Blocklist) > 0 {
		out = append(out, "not a commonly used PIN (a list of them is refused)")
	}
	return out
}
