package pin

import (
	"slices"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	key := Default()
	key.KeyMinPINLength = 10
	token2 := Default()
	token2.MaxRepeat = 1
	token2.NoPalindrome = true
	token2.NoArithmeticSequence = true
	token2.NoLeadingZero = true
	bare := Policy{Length: 6, MinLength: 4, Alphabet: Alphanumeric}
	tests := []struct {
		name string
		p    Policy
		want []string // substrings, in this order, each in its own line
		not  []string
	}{
		{"default", Default(), []string{"at least 6 digits (0-9 only)", "at least 3 different characters", "no character more than 2 times in a row",
			"no run of more than 3 ascending or descending", "commonly used PIN"}, []string{"backwards", "starting with 0"}},
		{"key minimum wins", key, []string{"at least 10 digits"}, nil},
		{"key rules", token2, []string{"no character more than 1 times in a row", "fixed step", "backwards", "starting with 0"}, nil},
		{"bare", bare, []string{"at least 4 characters, letters A-Z, a-z and digits only"}, []string{"different", "in a row", "ascending", "commonly"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.p.Describe()
			i := 0
			for _, w := range tt.want {
				j := slices.IndexFunc(got[i:], func(l string) bool { return strings.Contains(l, w) })
				if j < 0 {
					t.Fatalf("no line %q in order in %q", w, got)
				}
				i += j + 1
			}
			for _, n := range tt.not {
				if slices.ContainsFunc(got, func(l string) bool { return strings.Contains(l, n) }) {
					t.Errorf("line with %q in %q", n, got)
				}
			}
		})
	}
}
