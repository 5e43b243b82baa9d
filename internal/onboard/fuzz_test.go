package onboard

import (
	"testing"
	"time"
)

// FuzzParseLifetime: a lifetime that parses is whole minutes, not negative,
// and Duration renders it back to the same value.
func FuzzParseLifetime(f *testing.F) {
	for _, s := range []string{"1h", "90m", "2d", "1d12h", "30d", "0m", "1d-1h", "9999999d", "1h30s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseLifetime(s)
		if err != nil {
			return
		}
		if d < 0 || d%time.Minute != 0 {
			t.Fatalf("ParseLifetime(%q) = %v", s, d)
		}
		if d > 0 {
			back, err := ParseLifetime(Duration(d))
			if err != nil || back != d {
				t.Fatalf("round trip %q → %v → %q → %v, %v", s, d, Duration(d), back, err)
			}
		}
	})
}

// FuzzParseStart: never panics; a relative start is never before now.
func FuzzParseStart(f *testing.F) {
	for _, s := range []string{"+2h", "2026-12-03 09:00", "2026-12-03T09:00:00Z", "+", "+-1h"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseStart(s, now, time.UTC)
		if err == nil && len(s) > 0 && s[0] == '+' && got.Before(now.Truncate(time.Minute)) {
			t.Fatalf("ParseStart(%q) = %v, before now", s, got)
		}
	})
}
