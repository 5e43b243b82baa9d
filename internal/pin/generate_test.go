package pin

import (
	"errors"
	"strings"
	"testing"
)

func TestGenerateDefaultValidAndUniform(t *testing.T) {
	const n = 2000
	p := Default()
	var counts [DefaultLength][10]int
	for range n {
		g, err := p.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(g) != DefaultLength {
			t.Fatalf("generated length %d, want %d", len(g), DefaultLength)
		}
		if err := p.Validate(g); err != nil {
			t.Fatalf("generated PIN fails validation: %v", err)
		}
		for i, c := range g {
			if c < '0' || c > '9' {
				t.Fatalf("generated non-digit %q", c)
			}
			counts[i][c-'0']++
		}
		Wipe(g)
	}
	// Each cell expects n/10 = 200 (sd ≈ 13.4). The rejection rules are
	// symmetric under shifting every digit (sequences wrap 9↔0), so only
	// the blocklist skews the distribution, negligibly. Bounds of ±100
	// (over 7 sd) and a chi-square bound of 60 on 9 degrees of freedom
	// (p < 1e-9 per position) cannot flake.
	const exp = n / 10
	for pos := range counts {
		chi := 0.0
		for d, c := range counts[pos] {
			if c < exp-100 || c > exp+100 {
				t.Errorf("position %d digit %d: %d occurrences, want %d±100", pos, d, c, exp)
			}
			diff := float64(c - exp)
			chi += diff * diff / exp
		}
		if chi > 60 {
			t.Errorf("position %d: chi-square %.1f over 9 d.o.f. exceeds 60: %v", pos, chi, counts[pos])
		}
	}
}

func TestGenerateAlphanumeric(t *testing.T) {
	p := Default()
	p.Alphabet = Alphanumeric
	p.NoLeadingZero = true
	seen := map[byte]bool{}
	for range 1000 {
		g, err := p.Generate()
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Validate(g); err != nil {
			t.Fatalf("generated PIN fails validation: %v", err)
		}
		for _, c := range g {
			if !strings.ContainsRune(alphanumChars, rune(c)) {
				t.Fatalf("generated %q outside the alphabet", c)
			}
			seen[c] = true
		}
		if g[0] == '0' {
			t.Fatal("generated a leading zero")
		}
	}
	if len(seen) != len(alphanumChars) {
		t.Errorf("8000 draws hit %d of %d characters", len(seen), len(alphanumChars))
	}
}

func TestGenerateLengths(t *testing.T) {
	tests := []struct {
		name string
		pol  Policy
		want int
	}{
		{"default", Default(), 8},
		{"edge 4", withPolicy(func(p *Policy) { p.Length, p.MinLength = 4, 4 }), 4},
		{"edge 63", withPolicy(func(p *Policy) { p.Length, p.MinLength = 63, 63 }), 63},
		{"key min raises length", withPolicy(func(p *Policy) { p.KeyMinPINLength = 12 }), 12},
		{"key min 63", withPolicy(func(p *Policy) { p.KeyMinPINLength = 63 }), 63},
		{"key min below length", withPolicy(func(p *Policy) { p.KeyMinPINLength = 4 }), 8},
		{"all ten digits distinct", withPolicy(func(p *Policy) { p.Length, p.MinDistinct = 10, 10 }), 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pol.GeneratedLength(); got != tc.want {
				t.Fatalf("GeneratedLength = %d, want %d", got, tc.want)
			}
			for range 50 {
				g, err := tc.pol.Generate()
				if err != nil {
					t.Fatal(err)
				}
				if len(g) != tc.want {
					t.Fatalf("len = %d, want %d", len(g), tc.want)
				}
				if err := tc.pol.Validate(g); err != nil {
					t.Fatalf("generated PIN fails validation: %v", err)
				}
			}
		})
	}
}

func TestGeneratedPINMeetsKeyMinimum(t *testing.T) {
	p := Default()
	p.KeyMinPINLength = 12
	g, err := p.Generate()
	if err != nil {
		t.Fatal(err)
	}
	// The same PIN cut to the policy's Length fails against the key.
	if err := p.Validate(g[:p.Length]); !errors.Is(err, RuleKeyMinimum) {
		t.Fatalf("8-digit PIN against key minimum 12: %v, want RuleKeyMinimum", err)
	}
	if p.EffectiveMinLength() != 12 {
		t.Fatalf("EffectiveMinLength = %d", p.EffectiveMinLength())
	}
}

func TestGenerateUnsatisfiable(t *testing.T) {
	tests := []struct {
		name string
		pol  Policy
	}{
		{"more distinct than digits", withPolicy(func(p *Policy) { p.Length, p.MinDistinct = 12, 11 })},
		{"more distinct than length", withPolicy(func(p *Policy) { p.MinDistinct = 9 })},
		{"length below minimum", withPolicy(func(p *Policy) { p.Length, p.MinLength = 6, 8 })},
		{"distinct too unlikely", withPolicy(func(p *Policy) { p.Alphabet, p.Length, p.MinDistinct = Alphanumeric, 50, 50 })},
		{"unicode alphabet", pUni},
		{"zero policy", Policy{}},
	}
	for _, tc := range tests {
		g, err := tc.pol.Generate()
		if g != nil || !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%s: Generate = %q, %v; want nil, ErrInvalidPolicy", tc.name, g, err)
		}
	}
}

func TestSamplerUniform(t *testing.T) {
	var s sampler
	defer s.wipe()
	for _, n := range []int{10, 62} {
		counts := make([]int, n)
		draws := 1000 * n
		for range draws {
			i, err := s.index(n)
			if err != nil {
				t.Fatal(err)
			}
			counts[i]++
		}
		// Expect 1000 each (sd ≈ 31.6); ±250 is nearly 8 sd.
		for i, c := range counts {
			if c < 750 || c > 1250 {
				t.Errorf("n=%d: index %d drawn %d times, want 1000±250", n, i, c)
			}
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	p := Default()
	for b.Loop() {
		g, err := p.Generate()
		if err != nil {
			b.Fatal(err)
		}
		Wipe(g)
	}
}

func BenchmarkValidate(b *testing.B) {
	p := Default()
	in := []byte("27495813")
	for b.Loop() {
		if err := p.Validate(in); err != nil {
			b.Fatal(err)
		}
	}
}

// Generated PINs under a key's own rules (Token2 PIN+ style) break none
// of them, and a policy that cannot generate PINs the key accepts is
// refused.
func TestGenerateUnderKeyRules(t *testing.T) {
	for _, p := range []Policy{pKeyRules, pKeyAlnum, pKeyRules.with(func(p *Policy) { p.Length = 6 })} {
		for range 2000 {
			b, err := p.Generate()
			if err != nil {
				t.Fatal(err)
			}
			rs := []rune(string(b))
			if palindrome(rs) && p.NoPalindrome || allDigits(rs) && arithmetic(rs) || longestRun(rs, func(a, b rune) bool { return a == b }) > 2 ||
				!allDigits(rs) && (len(rs) < p.NonNumericMinLength || classes(rs) < p.NonNumericMinClasses) {
				t.Fatalf("generated PIN breaks a key rule (length %d)", len(rs))
			}
		}
	}
	short := pKeyAlnum.with(func(p *Policy) { p.Length = 8 })
	if _, err := short.Generate(); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("alphanumeric PINs shorter than NonNumericMinLength: %v", err)
	}
}
