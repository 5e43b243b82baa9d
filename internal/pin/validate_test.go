package pin

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

const (
	eNFC = "\u00e9"  // é, precomposed: 1 code point, 2 bytes
	eNFD = "e\u0301" // é, decomposed: 2 code points, 3 bytes
)

func withPolicy(f func(*Policy)) Policy {
	p := Default()
	if f != nil {
		f(&p)
	}
	return p
}

var (
	pDefault = Default()
	pMin4    = withPolicy(func(p *Policy) { p.MinLength = 4 })
	pAlnum   = withPolicy(func(p *Policy) { p.Alphabet = Alphanumeric })
	// pUni: Unicode alphabet, length rules only.
	pUni = Policy{Length: 8, MinLength: 4, Alphabet: Unicode}
)

type ruleCase struct {
	name   string
	pol    Policy
	pin    string
	want   Rule // 0: valid
	limit  int  // checked when want != 0 and limit != 0
	actual int  // checked when want != 0 and actual != 0
}

func ruleCases() []ruleCase {
	pat63 := strings.Repeat("135792468", 7) // 63 digits, no rule broken
	return []ruleCase{
		// Encoding.
		{name: "NUL byte", pol: pDefault, pin: "274\x0095813", want: RuleEncoding},
		{name: "NUL byte unicode", pol: pUni, pin: "abcd\x00", want: RuleEncoding},
		{name: "invalid UTF-8", pol: pUni, pin: "abcd\xff\xfe", want: RuleEncoding},
		{name: "truncated UTF-8", pol: pUni, pin: "abcd\xc3", want: RuleEncoding},

		// Length in bytes (NFC).
		{name: "63 digits", pol: pDefault, pin: pat63},
		{name: "64 digits", pol: pDefault, pin: pat63 + "1", want: RuleTooLong, limit: 63, actual: 64},
		{name: "63 bytes multibyte", pol: pUni, pin: strings.Repeat(eNFC, 31) + "a"},
		{name: "64 bytes multibyte", pol: pUni, pin: strings.Repeat(eNFC, 32), want: RuleTooLong, limit: 63, actual: 64},
		{name: "NFD over 63 bytes but NFC fits", pol: pUni, pin: strings.Repeat(eNFD, 25)},
		{name: "NFD too long after NFC", pol: pUni, pin: strings.Repeat(eNFD, 32), want: RuleTooLong, limit: 63, actual: 64},

		// Charset.
		{name: "letter in digits", pol: pDefault, pin: "2749a813", want: RuleCharset},
		{name: "space in digits", pol: pDefault, pin: "2749 813", want: RuleCharset},
		{name: "fullwidth digits", pol: pDefault, pin: "２７４９５８", want: RuleCharset},
		{name: "alnum ok", pol: pAlnum, pin: "Ab3dE6g8"},
		{name: "alnum punctuation", pol: pAlnum, pin: "Ab3d-6g8", want: RuleCharset},
		{name: "alnum non-ASCII letter", pol: pAlnum, pin: "Ab3d" + eNFC + "6g8", want: RuleCharset},
		{name: "unicode control", pol: pUni, pin: "abc\tdef", want: RuleCharset},
		{name: "unicode DEL", pol: pUni, pin: "abc\x7fdef", want: RuleCharset},
		{name: "unicode C1 control", pol: pUni, pin: "abc\u0085def", want: RuleCharset},
		{name: "unicode text ok", pol: pUni, pin: "Grüße, 日本"},

		// Minimum length in code points.
		{name: "empty", pol: pDefault, pin: "", want: RuleTooShort, limit: 6, actual: 0},
		{name: "5 of 6", pol: pDefault, pin: "27495", want: RuleTooShort, limit: 6, actual: 5},
		{name: "6 of 6", pol: pDefault, pin: "274958"},
		{name: "edge 4", pol: pMin4, pin: "2749"},
		{name: "3 of 4", pol: pMin4, pin: "274", want: RuleTooShort, limit: 4, actual: 3},
		{name: "5 code points NFC short", pol: pUni.with(func(p *Policy) { p.MinLength = 6 }),
			pin: strings.Repeat(eNFC, 5), want: RuleTooShort, limit: 6, actual: 5},
		{name: "5 code points NFD short", pol: pUni.with(func(p *Policy) { p.MinLength = 6 }),
			pin: strings.Repeat(eNFD, 5), want: RuleTooShort, limit: 6, actual: 5},
		{name: "5 code points NFC ok", pol: pUni.with(func(p *Policy) { p.MinLength = 5 }), pin: strings.Repeat(eNFC, 5)},
		{name: "5 code points NFD ok", pol: pUni.with(func(p *Policy) { p.MinLength = 5 }), pin: strings.Repeat(eNFD, 5)},
		{name: "edge 63 code points", pol: pUni.with(func(p *Policy) { p.MinLength, p.Length = 63, 63 }), pin: strings.Repeat("x", 63)},
		{name: "62 of 63 code points", pol: pUni.with(func(p *Policy) { p.MinLength, p.Length = 63, 63 }),
			pin: strings.Repeat("x", 62), want: RuleTooShort, limit: 63, actual: 62},
		{name: "4 code points 8 bytes", pol: pUni, pin: "日本" + eNFC + eNFC},

		// Key minimum.
		{name: "below key minimum", pol: pDefault.with(func(p *Policy) { p.KeyMinPINLength = 10 }),
			pin: "27495813", want: RuleKeyMinimum, limit: 10, actual: 8},
		{name: "below both minimums", pol: pDefault.with(func(p *Policy) { p.KeyMinPINLength = 10 }),
			pin: "2749", want: RuleKeyMinimum, limit: 10, actual: 4},
		{name: "at key minimum", pol: pDefault.with(func(p *Policy) { p.KeyMinPINLength = 10 }), pin: "2749581306"},
		{name: "key minimum below policy", pol: pDefault.with(func(p *Policy) { p.KeyMinPINLength = 4 }),
			pin: "27495", want: RuleTooShort, limit: 6, actual: 5},
		{name: "key minimum counts code points", pol: pUni.with(func(p *Policy) { p.KeyMinPINLength = 6 }),
			pin: strings.Repeat(eNFD, 5), want: RuleKeyMinimum, limit: 6, actual: 5},

		// Leading zero.
		{name: "leading zero allowed by default", pol: pDefault, pin: "02749581"},
		{name: "leading zero", pol: pDefault.with(func(p *Policy) { p.NoLeadingZero = true }), pin: "02749581", want: RuleLeadingZero},
		{name: "inner zero", pol: pDefault.with(func(p *Policy) { p.NoLeadingZero = true }), pin: "20749581"},
		{name: "leading letter O", pol: pAlnum.with(func(p *Policy) { p.NoLeadingZero = true }), pin: "O2749581"},

		// Repeat.
		{name: "run of 3", pol: pDefault, pin: "27772958", want: RuleRepeat, limit: 2, actual: 3},
		{name: "run of 5", pol: pDefault, pin: "2777779", want: RuleRepeat, limit: 2, actual: 5},
		{name: "run at end", pol: pDefault, pin: "27495888", want: RuleRepeat, limit: 2, actual: 3},
		{name: "runs of 2", pol: pDefault, pin: "27729958"},
		{name: "repeat off", pol: pDefault.with(func(p *Policy) { p.NoRepeat = false }), pin: "27772958"},
		{name: "letter run", pol: pAlnum, pin: "xaaa2b9y", want: RuleRepeat, actual: 3},
		{name: "case differs", pol: pAlnum, pin: "xaAa2b9y"},
		{name: "NFD run", pol: pUni.with(func(p *Policy) { p.NoRepeat = true }),
			pin: "x" + strings.Repeat(eNFD, 3) + "y1", want: RuleRepeat, actual: 3},
		{name: "NFD pairs", pol: pUni.with(func(p *Policy) { p.NoRepeat = true }), pin: "x" + strings.Repeat(eNFD, 2) + "y1"},

		// Sequence.
		{name: "ascending 4", pol: pDefault, pin: "27123495", want: RuleSequence, limit: 3, actual: 4},
		{name: "ascending 3", pol: pDefault, pin: "27123952"},
		{name: "descending 4", pol: pDefault, pin: "29876153", want: RuleSequence, actual: 4},
		{name: "ascending 6", pol: pDefault, pin: "123456", want: RuleSequence, actual: 6},
		{name: "wrap 7890", pol: pDefault, pin: "27890453", want: RuleSequence, actual: 4},
		{name: "wrap 8901", pol: pDefault, pin: "28901537", want: RuleSequence, actual: 4},
		{name: "wrap 9012", pol: pDefault, pin: "59012737", want: RuleSequence, actual: 4},
		{name: "wrap descending 1098", pol: pDefault, pin: "31098537", want: RuleSequence, actual: 4},
		{name: "wrap 890 only", pol: pDefault, pin: "58905737"},
		{name: "sequence off", pol: pDefault.with(func(p *Policy) { p.NoSequence = false }), pin: "27123495"},
		{name: "letters abcd", pol: pAlnum, pin: "xabcd927", want: RuleSequence, actual: 4},
		{name: "letters mixed case", pol: pAlnum, pin: "xaBcD927", want: RuleSequence, actual: 4},
		{name: "letters descending", pol: pAlnum, pin: "9ZYXW2k7", want: RuleSequence, actual: 4},
		{name: "letters no wrap", pol: pAlnum, pin: "8xyzab27"},
		{name: "digits then letters", pol: pAlnum, pin: "25789abc"},
		{name: "greek letters", pol: pUni.with(func(p *Policy) { p.NoSequence = true }), pin: "xαβγδ1", want: RuleSequence, actual: 4},

		// Distinct.
		{name: "2 distinct", pol: pDefault, pin: "27272727", want: RuleDistinct, limit: 3, actual: 2},
		{name: "3 distinct", pol: pDefault, pin: "27272728"},
		{name: "distinct off", pol: pDefault.with(func(p *Policy) { p.MinDistinct = 0 }), pin: "27272727"},
		{name: "distinct 6 of 6", pol: pDefault.with(func(p *Policy) { p.MinDistinct = 6 }), pin: "274958"},
		{name: "distinct 5 of 6", pol: pDefault.with(func(p *Policy) { p.MinDistinct = 6 }), pin: "274952", want: RuleDistinct, limit: 6, actual: 5},
		{name: "distinct case-sensitive", pol: pAlnum.with(func(p *Policy) { p.MinDistinct = 4 }), pin: "aAbBaAbB"},
		{name: "distinct counts NFC", pol: pUni.with(func(p *Policy) { p.MinDistinct = 3 }),
			pin: strings.Repeat(eNFD+"e", 3), want: RuleDistinct, limit: 3, actual: 2},

		// Blocklist.
		{name: "11223344", pol: pDefault, pin: "11223344", want: RuleBlocklist},
		{name: "147258369", pol: pDefault, pin: "147258369", want: RuleBlocklist},
		{name: "159753", pol: pDefault, pin: "159753", want: RuleBlocklist},
		{name: "123123", pol: pDefault, pin: "123123", want: RuleBlocklist},
		{name: "112233", pol: pDefault, pin: "112233", want: RuleBlocklist},
		{name: "121212 distinct first", pol: pDefault, pin: "121212", want: RuleDistinct},
		{name: "1357913579", pol: pDefault, pin: "1357913579", want: RuleBlocklist},
		{name: "2580", pol: pMin4, pin: "2580", want: RuleBlocklist},
		{name: "year 1984", pol: pMin4, pin: "1984", want: RuleBlocklist},
		{name: "year 2024", pol: pMin4, pin: "2024", want: RuleBlocklist},
		{name: "not a listed year", pol: pMin4, pin: "2100"},
		{name: "password any case", pol: pAlnum, pin: "PassWord", want: RuleBlocklist},
		{name: "blocklist off", pol: pDefault.with(func(p *Policy) { p.Blocklist = nil }), pin: "11223344"},
		{name: "blocklist only with rules off", pol: Policy{Length: 8, MinLength: 4, Blocklist: DefaultBlocklist()},
			pin: "00000000", want: RuleBlocklist},
		{name: "custom blocklist", pol: pDefault.with(func(p *Policy) { p.Blocklist = []string{"274958"} }),
			pin: "274958", want: RuleBlocklist},
		{name: "custom blocklist NFD input", pol: pUni.with(func(p *Policy) { p.Blocklist = []string{"caf" + eNFC + "1"} }),
			pin: "caf" + eNFD + "1", want: RuleBlocklist},

		// A key's own rules (Token2 PIN+ style: pKeyRules).
		{name: "palindrome", pol: pKeyRules, pin: "3217123", want: RulePalindrome},
		{name: "even palindrome", pol: pKeyRules, pin: "32711723", want: RulePalindrome},
		{name: "not a palindrome", pol: pKeyRules, pin: "32711724"},
		{name: "palindrome off", pol: pRules0, pin: "3217123"},
		{name: "arithmetic step 2 wrapping", pol: pKeyRules, pin: "1357913", want: RuleArithmetic},
		{name: "arithmetic step 3", pol: pKeyRules, pin: "0369258", want: RuleArithmetic},
		{name: "arithmetic descending", pol: pKeyRules.with(func(p *Policy) { p.NoSequence = false }), pin: "9876543", want: RuleArithmetic},
		{name: "arithmetic step 0", pol: pKeyRules.with(func(p *Policy) {
			p.NoRepeat, p.MaxRepeat, p.MinDistinct, p.Blocklist, p.NoPalindrome = false, 0, 0, nil, false
		}), pin: "5555555", want: RuleArithmetic},
		{name: "almost arithmetic", pol: pKeyRules, pin: "1357914"},
		{name: "arithmetic off", pol: pRules0, pin: "1357913"},
		{name: "arithmetic only for digits", pol: pKeyAlnum, pin: "aceg1357Z9"},
		{name: "run of 4 over MaxRepeat 3", pol: pRules0.with(func(p *Policy) { p.MaxRepeat = 3 }), pin: "99904444", want: RuleRepeat, limit: 3, actual: 4},
		{name: "run of 3 within MaxRepeat 3", pol: pRules0.with(func(p *Policy) { p.MaxRepeat = 3 }), pin: "99904441"},
		{name: "NoRepeat stricter than MaxRepeat", pol: pKeyRules, pin: "9990417", want: RuleRepeat, limit: 2, actual: 3},
		{name: "non-numeric too short", pol: pKeyAlnum, pin: "ab3De6g8j", want: RuleClasses, limit: 10, actual: 9},
		{name: "non-numeric one class", pol: pKeyAlnum, pin: "abkdefhgjw", want: RuleClasses, limit: 2, actual: 1},
		{name: "non-numeric two classes", pol: pKeyAlnum, pin: "abkdefhg7w"},
		{name: "numeric ignores classes", pol: pKeyAlnum, pin: "27495813"},

		// Precedence: the first rule in Rule order is reported.
		{name: "sequence before blocklist", pol: pDefault, pin: "12345678", want: RuleSequence},
		{name: "repeat before blocklist", pol: pDefault, pin: "11111111", want: RuleRepeat},
		{name: "charset before short", pol: pDefault, pin: "a", want: RuleCharset},
	}
}

func (p Policy) with(f func(*Policy)) Policy {
	p.Blocklist = append([]string(nil), p.Blocklist...)
	f(&p)
	return p
}

var allRules = []Rule{RuleEncoding, RuleTooLong, RuleCharset, RuleTooShort, RuleKeyMinimum,
	RuleLeadingZero, RuleRepeat, RuleSequence, RuleDistinct, RuleBlocklist, RulePalindrome, RuleArithmetic, RuleClasses}

var (
	// pKeyRules: keyprep's default with a key's numeric rules.
	pKeyRules = withPolicy(func(p *Policy) {
		p.MinLength, p.NoPalindrome, p.NoArithmeticSequence, p.MaxRepeat = 6, true, true, 3
	})
	// pKeyAlnum: alphanumeric with a key's rules for PINs with letters.
	pKeyAlnum = withPolicy(func(p *Policy) {
		p.Alphabet, p.Length, p.NoArithmeticSequence, p.NonNumericMinLength, p.NonNumericMinClasses = Alphanumeric, 10, true, 10, 2
	})
	// pRules0: length and charset only.
	pRules0 = Policy{Length: 8, MinLength: 4}
)

func TestValidateRules(t *testing.T) {
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.pol.Check(); err != nil {
				t.Fatalf("test policy invalid: %v", err)
			}
			in := []byte(tc.pin)
			err := tc.pol.Validate(in)
			if string(in) != tc.pin {
				t.Fatal("Validate modified its input")
			}
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Validate = %v (%T), want *RuleError %v", err, err, tc.want)
			}
			if re.Rule != tc.want {
				t.Fatalf("rule = %v (%v), want %v", re.Rule, err, tc.want)
			}
			for _, r := range allRules {
				if got := errors.Is(err, r); got != (r == tc.want) {
					t.Errorf("errors.Is(err, %v) = %v", r, got)
				}
			}
			if tc.limit != 0 && re.Limit != tc.limit {
				t.Errorf("Limit = %d, want %d", re.Limit, tc.limit)
			}
			if tc.actual != 0 && re.Actual != tc.actual {
				t.Errorf("Actual = %d, want %d", re.Actual, tc.actual)
			}
			assertNoPIN(t, err.Error(), tc.pin)
			// Wrapping keeps the rule visible.
			if w := errorsJoin(err); !errors.Is(w, tc.want) {
				t.Errorf("wrapped error lost rule %v", tc.want)
			}
		})
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("context"), err) }

// assertNoPIN fails if msg contains the PIN, its NFC form, or any
// substring of either of 3 or more bytes that is not ordinary message prose.
func assertNoPIN(t *testing.T, msg, pin string) {
	t.Helper()
	for _, form := range []string{pin, norm.NFC.String(pin)} {
		if len(form) < 3 {
			continue
		}
		for i := 0; i+3 <= len(form); i++ {
			for j := i + 3; j <= len(form); j++ {
				sub := form[i:j]
				if strings.Contains(msg, sub) && !proseLike([]byte(sub)) {
					t.Errorf("error message %q contains PIN fragment %q", msg, sub)
					return
				}
			}
		}
	}
}

// proseLike reports whether b could legitimately appear in a fixed message
// template: printable ASCII with a letter or space and no run of 3+
// digits. Every number in a message is a limit or count below 1000 for
// inputs short enough to be contained in it, so a 3-digit run, any
// non-ASCII or control byte, or a digits-and-punctuation string in a
// message can only have come from the PIN.
func proseLike(b []byte) bool {
	word, digits := false, 0
	for _, c := range b {
		switch {
		case c < 0x20 || c >= 0x7f:
			return false
		case '0' <= c && c <= '9':
			digits++
			if digits >= 3 {
				return false
			}
			continue
		case c == ' ' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			word = true
		}
		digits = 0
	}
	return word
}

func TestRuleErrorMessages(t *testing.T) {
	tests := []struct {
		err  *RuleError
		want string
	}{
		{&RuleError{Rule: RuleRepeat, Limit: MaxIdenticalRun, Actual: 3}, "PIN has a run of 3 identical characters (no run of 3+ allowed)"},
		{&RuleError{Rule: RuleSequence, Limit: MaxSequenceRun, Actual: 5}, "PIN has an ascending or descending run of 5 characters (no run of 4+ allowed)"},
		{&RuleError{Rule: RuleTooShort, Limit: 6, Actual: 5}, "PIN is 5 characters long (minimum 6)"},
		{&RuleError{Rule: RuleKeyMinimum, Limit: 10, Actual: 8}, "PIN is 8 characters long but the security key requires at least 10"},
		{&RuleError{Rule: RuleTooLong, Limit: 63, Actual: 64}, "PIN is 64 bytes in UTF-8 (maximum 63 bytes)"},
		{&RuleError{Rule: RuleDistinct, Limit: 3, Actual: 2}, "PIN has 2 distinct characters (at least 3 required)"},
		{&RuleError{Rule: RuleBlocklist}, "PIN is on the list of commonly used PINs"},
		{&RuleError{Rule: RuleLeadingZero}, "PIN starts with a zero (a leading zero is not allowed)"},
		{&RuleError{Rule: RuleEncoding, detail: detailNUL}, "PIN contains a NUL byte"},
		{&RuleError{Rule: RuleEncoding, detail: detailUTF8}, "PIN is not valid UTF-8"},
		{&RuleError{Rule: RuleCharset, detail: detailDigits}, "PIN contains characters other than the digits 0-9"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%v: Error() = %q, want %q", tc.err.Rule, got, tc.want)
		}
	}
}

// TestRuleErrorCarriesNoPINData pins down that a RuleError can only hold
// integers, so nothing derived from a PIN but counts can reach its message.
func TestRuleErrorCarriesNoPINData(t *testing.T) {
	typ := reflect.TypeFor[RuleError]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		switch f.Type.Kind() {
		case reflect.Int, reflect.Uint8:
		default:
			t.Errorf("RuleError.%s has kind %v; only integers are allowed", f.Name, f.Type.Kind())
		}
	}
}

func TestRuleNamesAndErrorsIs(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range allRules {
		s := r.String()
		if strings.HasPrefix(s, "Rule(") || seen[s] {
			t.Errorf("rule %d has bad or duplicate name %q", int(r), s)
		}
		seen[s] = true
		if !strings.Contains(r.Error(), s) {
			t.Errorf("%v.Error() = %q", r, r.Error())
		}
		err := &RuleError{Rule: r}
		if !errors.Is(err, r) {
			t.Errorf("errors.Is(&RuleError{%v}, %v) = false", r, r)
		}
	}
	if got := Rule(99).String(); got != "Rule(99)" {
		t.Errorf("Rule(99).String() = %q", got)
	}
}

func TestValidateInvalidPolicy(t *testing.T) {
	err := Policy{}.Validate([]byte("27495813"))
	var pe *PolicyError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("Validate with zero policy = %v, want *PolicyError", err)
	}
	if strings.Contains(err.Error(), "27495813") {
		t.Fatalf("policy error %q contains the PIN", err)
	}
}

func TestCheck(t *testing.T) {
	valid := []struct {
		name string
		pol  Policy
	}{
		{"default", Default()},
		{"edge 4", withPolicy(func(p *Policy) { p.Length, p.MinLength = 4, 4 })},
		{"edge 63", withPolicy(func(p *Policy) { p.Length, p.MinLength = 63, 63 })},
		{"key min 63", withPolicy(func(p *Policy) { p.KeyMinPINLength = 63 })},
		{"unicode", pUni},
		{"10 distinct digits of 10", withPolicy(func(p *Policy) { p.Length, p.MinDistinct = 10, 10 })},
		{"distinct raised by key min", withPolicy(func(p *Policy) { p.KeyMinPINLength, p.MinDistinct = 10, 9 })},
		{"alnum 20 distinct of 20", withPolicy(func(p *Policy) { p.Alphabet, p.Length, p.MinDistinct = Alphanumeric, 20, 20 })},
	}
	for _, tc := range valid {
		if err := tc.pol.Check(); err != nil {
			t.Errorf("%s: Check = %v, want nil", tc.name, err)
		}
	}
	invalid := []struct {
		name  string
		pol   Policy
		field string
	}{
		{"zero policy", Policy{}, "Length"},
		{"length 3", withPolicy(func(p *Policy) { p.Length, p.MinLength = 3, 4 }), "Length"},
		{"length 64", withPolicy(func(p *Policy) { p.Length = 64 }), "Length"},
		{"min length 3", withPolicy(func(p *Policy) { p.MinLength = 3 }), "MinLength"},
		{"min length 64", withPolicy(func(p *Policy) { p.MinLength = 64 }), "MinLength"},
		{"length below min", withPolicy(func(p *Policy) { p.Length, p.MinLength = 6, 8 }), "Length"},
		{"key min negative", withPolicy(func(p *Policy) { p.KeyMinPINLength = -1 }), "KeyMinPINLength"},
		{"key min 64", withPolicy(func(p *Policy) { p.KeyMinPINLength = 64 }), "KeyMinPINLength"},
		{"unknown alphabet", withPolicy(func(p *Policy) { p.Alphabet = 7 }), "Alphabet"},
		{"distinct negative", withPolicy(func(p *Policy) { p.MinDistinct = -1 }), "MinDistinct"},
		{"distinct above digits", withPolicy(func(p *Policy) { p.Length, p.MinDistinct = 12, 11 }), "MinDistinct"},
		{"distinct above length", withPolicy(func(p *Policy) { p.MinDistinct = 9 }), "MinDistinct"},
		{"distinct too unlikely", withPolicy(func(p *Policy) { p.Alphabet, p.Length, p.MinDistinct = Alphanumeric, 40, 40 }), "MinDistinct"},
	}
	for _, tc := range invalid {
		err := tc.pol.Check()
		var pe *PolicyError
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: Check = %v, want *PolicyError", tc.name, err)
			continue
		}
		if pe.Field != tc.field {
			t.Errorf("%s: Field = %q, want %q (%v)", tc.name, pe.Field, tc.field, err)
		}
	}
}

func TestProbDistinctAtLeast(t *testing.T) {
	tests := []struct {
		draws, n, k int
		want        float64
	}{
		{2, 10, 2, 0.9},
		{3, 10, 3, 0.72},
		{10, 10, 10, 3628800 / 1e10},
		{5, 10, 0, 1},
		{5, 3, 4, 0},
	}
	for _, tc := range tests {
		got := probDistinctAtLeast(tc.draws, tc.n, tc.k)
		if d := got - tc.want; d > 1e-12 || d < -1e-12 {
			t.Errorf("probDistinctAtLeast(%d, %d, %d) = %g, want %g", tc.draws, tc.n, tc.k, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	in := []byte("caf" + eNFD)
	out := Normalize(in)
	if string(out) != "caf"+eNFC {
		t.Fatalf("Normalize = %q", out)
	}
	if string(in) != "caf"+eNFD {
		t.Fatal("Normalize modified its input")
	}
	already := []byte("2749")
	n := Normalize(already)
	n[0] = 'x'
	if already[0] != '2' {
		t.Fatal("Normalize returned its input instead of a copy")
	}
}

func TestDefaultBlocklist(t *testing.T) {
	l := DefaultBlocklist()
	set := map[string]bool{}
	for _, e := range l {
		set[e] = true
	}
	for _, want := range []string{"123456", "12345678", "11111111", "00000000", "123123", "121212",
		"654321", "112233", "147258369", "159753", "246810", "13579", "1357913579", "12341234",
		"87654321", "11223344", "147258", "258369", "2580", "1900", "1999", "2000", "2099", "0000", "9999"} {
		if !set[want] {
			t.Errorf("default blocklist lacks %q", want)
		}
	}
	if set["1899"] || set["2100"] {
		t.Error("years outside 1900-2099 are blocked")
	}
	l[0] = "mutated"
	if DefaultBlocklist()[0] == "mutated" {
		t.Error("DefaultBlocklist returns shared storage")
	}
	if d := Default(); len(d.Blocklist) != len(l) {
		t.Error("Default does not use the default blocklist")
	}
}

func TestWipe(t *testing.T) {
	b := []byte("27495813")
	Wipe(b)
	for i, c := range b {
		if c != 0 {
			t.Fatalf("byte %d = %d after Wipe", i, c)
		}
	}
	Wipe(nil) // must not panic
}

func TestAlphabetString(t *testing.T) {
	for a, want := range map[Alphabet]string{Digits: "digits", Alphanumeric: "alphanumeric", Unicode: "unicode", 9: "Alphabet(9)"} {
		if got := a.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(a), got, want)
		}
	}
}
