package keycaps

import "strings"

// PINRules are the rules a key itself applies to a new PIN, beyond
// minPINLength. getInfo does not declare them: keyprep knows them by model
// (AAGUID) from the vendor's documentation, and otherwise learns of them
// only when the key answers CTAP2_ERR_PIN_POLICY_VIOLATION (CTAP 2.1
// §6.5.5.5, which lets an authenticator enforce "additional PIN policies").
type PINRules struct {
	// MinLength is the shortest PIN the key accepts, in code points.
	MinLength int
	// Known: the model's own complexity rules below are known.
	Known bool
	// Numeric PINs (all digits):
	NumericMinLength int
	// NoArithmeticSequence refuses digits in one constant step, such as
	// 123456, 654321, 135791 or 111111.
	NoArithmeticSequence bool
	// NoPalindrome refuses PINs that read the same backwards (321123).
	NoPalindrome bool
	// MaxIdenticalRun is the longest run of one digit allowed (0: any).
	MaxIdenticalRun int
	// Other PINs: at least AlphanumericMinLength characters from at least
	// AlphanumericClasses of upper case, lower case, digits and symbols.
	AlphanumericMinLength int
	AlphanumericClasses   int
	// Source names the documentation the rules come from.
	Source string
}

// Token2 PIN+ series: the AAGUID of its FIDO metadata statement.
const aaguidToken2PINPlus = "eabb46cce24180bfae9e96fa6d2975cf"

// PINRules returns the rules the key applies to a new PIN.
func (c Capabilities) PINRules() PINRules {
	r := PINRules{MinLength: c.MinPINLength}
	switch normAAGUID(c.AAGUID) {
	case aaguidToken2PINPlus:
		r.Known = true
		r.NumericMinLength = max(6, c.MinPINLength)
		r.MinLength = r.NumericMinLength
		r.NoArithmeticSequence = true
		r.NoPalindrome = true
		r.MaxIdenticalRun = 3
		r.AlphanumericMinLength = max(10, c.MinPINLength)
		r.AlphanumericClasses = 2
		r.Source = "Token2 PIN+ built-in PIN complexity (https://token2.swiss/site/page/token2-fido2-pin-see-the-pin-complexity-in-action)"
	}
	return r
}

func normAAGUID(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "-", ""))
}
