package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLine: whatever goes in, Line's output is UTF-8 without an unsafe rune,
// Text's keeps only newlines and tabs of them; both leave safe input as it
// is, so applying them twice changes nothing.
func FuzzLine(f *testing.F) {
	for _, s := range []string{"adele.vance@contoso.test", "\x1b[2J", "a\u202eb", "\xff\xfe", "x\ny\tz\r", "\u2066\u2069\u0085", "👩\u200d💻", "\U000e0001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l := Line(s)
		if !utf8.ValidString(l) || strings.ContainsFunc(l, Unsafe) {
			t.Fatalf("Line(%q) = %q", s, l)
		}
		if Line(l) != l {
			t.Fatalf("Line not idempotent on %q: %q → %q", s, l, Line(l))
		}
		x := Text(s)
		if !utf8.ValidString(x) || strings.ContainsFunc(x, func(r rune) bool { return Unsafe(r) && r != '\n' && r != '\t' }) {
			t.Fatalf("Text(%q) = %q", s, x)
		}
		if Text(x) != x {
			t.Fatalf("Text not idempotent on %q", s)
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, Unsafe) && l != s {
			t.Fatalf("Line changed safe %q to %q", s, l)
		}
	})
}
