package duration

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"90m", 90 * time.Minute},
		{"2h", 2 * time.Hour},
		{"30d", 30 * Day},
		{"1d12h", 36 * time.Hour},
		{" 8h ", 8 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"45s", 45 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{"1m30s", 90 * time.Second},
		{"0d1h", time.Hour},
		{"106751d", 106751 * Day},
	} {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tt := range []struct{ in, msg string }{
		{"", "empty"},
		{"0", "zero duration"},
		{"000", "zero duration"},
		{"0m", "zero"},
		{"0d0h", "zero"},
		{"-1h", "negative"},
		{"1d-1h", "unknown or out of order"},
		{"1.5d", "unknown"},
		{"1x", "unknown"},
		{"h", "want whole numbers"},
		{"1h1d", "out of order"},
		{"1h1h", "out of order"},
		{"90", "no unit"},
		{"106752d", "too long: at most 106751d"},
		{"187649984473771d", "too long"},
		{"9223372036854775807ms", "too long"},
		{"99999999999999999999999h", "too long"},
		{"106751d24h", "too long"},
		{"106751d23h", "too long"},
		{"1 h", "unknown"},
	} {
		d, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", tt.in, d)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Parse(%q): %v, want %q in it", tt.in, err, tt.msg)
		}
	}
	if _, err := Parse("0m"); !errors.Is(err, ErrZero) {
		t.Errorf("Parse(0m): %v, want ErrZero", err)
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{90 * time.Minute, "1h30m"},
		{721 * time.Hour, "30d1h"},
		{30 * Day, "30d"},
		{45 * time.Second, "45s"},
		{1500 * time.Millisecond, "1s500ms"},
		{time.Microsecond, "0"},
		{-2 * time.Hour, "-2h"},
		{Max, "106751d"},
	} {
		if got := Format(tt.d); got != tt.want {
			t.Errorf("Format(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestValue(t *testing.T) {
	d := 30 * time.Second
	v := NewValue(&d)
	if v.String() != "30s" || v.Type() != "duration" {
		t.Fatalf("String %q Type %q", v.String(), v.Type())
	}
	if err := v.Set("2h"); err != nil || d != 2*time.Hour {
		t.Fatalf("Set(2h): %v, %v", err, d)
	}
	if err := v.Set("0m"); err == nil || d != 2*time.Hour {
		t.Fatalf("Set(0m): %v, %v", err, d)
	}
}
