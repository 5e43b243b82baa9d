package pin

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var fuzzPolicies = []Policy{
	Default(),
	withPolicy(func(p *Policy) { p.Alphabet, p.NoLeadingZero, p.MinLength = Alphanumeric, true, 4 }),
	withPolicy(func(p *Policy) { p.Alphabet, p.KeyMinPINLength = Unicode, 10 }),
	pUni,
	pKeyRules,
	pKeyAlnum,
}

func FuzzValidate(f *testing.F) {
	for _, tc := range ruleCases() {
		f.Add([]byte(tc.pin))
	}
	for _, s := range []string{"", "\x00", "\xff", "0000", "2749", strings.Repeat("9", 200), strings.Repeat(eNFD, 40)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		nfc := Normalize(in)
		for _, p := range fuzzPolicies {
			err := p.Validate(in)
			if !bytes.Equal(in, orig) {
				t.Fatal("Validate modified its input")
			}
			// Normalising first never changes the verdict.
			if err2 := p.Validate(nfc); (err == nil) != (err2 == nil) ||
				(err != nil && err.Error() != err2.Error()) {
				t.Fatalf("Validate(input) = %v but Validate(NFC(input)) = %v", err, err2)
			}
			if err == nil {
				if len(nfc) > MaxPINBytes || len([]rune(string(nfc))) < p.EffectiveMinLength() {
					t.Fatalf("accepted a PIN of %d bytes", len(nfc))
				}
				rs := []rune(string(nfc))
				if p.NoPalindrome && palindrome(rs) {
					t.Fatal("accepted a palindrome")
				}
				if p.NoArithmeticSequence && allDigits(rs) && arithmetic(rs) {
					t.Fatal("accepted an arithmetic sequence")
				}
				if !allDigits(rs) && (len(rs) < p.NonNumericMinLength || classes(rs) < p.NonNumericMinClasses) {
					t.Fatal("accepted a short or one-class PIN with letters")
				}
				continue
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Validate returned %T, want *RuleError", err)
			}
			msg := err.Error()
			if len(in) >= 4 {
				for _, form := range [][]byte{in, nfc} {
					if bytes.Contains([]byte(msg), form) && !proseLike(form) {
						t.Fatalf("error message %q contains the input", msg)
					}
				}
			}
		}
	})
}
