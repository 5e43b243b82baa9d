package duration

import (
	"testing"
	"time"
)

// FuzzParse: whatever parses is positive, at most Max, and Format renders
// it back to the same value (whole milliseconds always are).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"90m", "2h", "30d", "1d12h", "0m", "-1h", "106752d", "187649984473771d", "1h30s", "250ms", "1d-1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		if d <= 0 || d > Max || d%time.Millisecond != 0 {
			t.Fatalf("Parse(%q) = %v", s, d)
		}
		back, err := Parse(Format(d))
		if err != nil || back != d {
			t.Fatalf("round trip %q → %v → %q → %v, %v", s, d, Format(d), back, err)
		}
	})
}
