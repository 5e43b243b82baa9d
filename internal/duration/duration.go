// Package duration is keyprep's one grammar for durations on the command
// line and in environment variables, read and written the same way: one or
// more whole numbers each followed by a unit, largest unit first, e.g. 90m,
// 2h, 30d, 1d12h, 45s, 250ms. Units: d (24 hours), h, m, s, ms.
//
// Parse refuses what has no sensible meaning for a flag instead of guessing:
// zero, negatives, fractions, a unit repeated or out of order, and values
// that do not fit in a time.Duration (about 106751 days) — reading them with
// wrap-around arithmetic would turn a typo into a different, valid duration.
// Format renders a duration back in the same grammar, so errors quote what
// the user can type.
package duration

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Day is the d unit.
const Day = 24 * time.Hour

// Max is the longest duration Parse accepts: time.Duration's limit rounded
// down to whole days.
const Max = time.Duration(math.MaxInt64) / Day * Day

var units = []struct {
	name string
	d    time.Duration
}{{"d", Day}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}}

// Examples is the grammar as a hint quotes it.
const Examples = "e.g. 90m, 2h or 30d"

// ErrZero is wrapped by Parse's error for a zero duration.
var ErrZero = errors.New("zero duration")

// Parse reads a positive duration in the grammar (surrounding space is
// ignored).
func Parse(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty duration: want %s", Examples)
	}
	var total time.Duration
	next := 0 // index in units of the largest unit still allowed
	for rest := t; rest != ""; {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			if rest[0] == '-' {
				return 0, fmt.Errorf("%q: negative durations have no meaning here: want %s", t, Examples)
			}
			return 0, fmt.Errorf("%q: want whole numbers with units d, h, m, s or ms, %s", t, Examples)
		}
		digits := rest[:i]
		rest = rest[i:]
		j := 0
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		name := rest[:j]
		rest = rest[j:]
		u := -1
		for k := next; k < len(units); k++ {
			if units[k].name == name {
				u = k
				break
			}
		}
		if u < 0 {
			if name == "" && strings.Trim(t, "0") == "" {
				return 0, fmt.Errorf("%q: %w: give a positive duration, %s, or leave the flag out for the default", t, ErrZero, Examples)
			}
			if name == "" {
				return 0, fmt.Errorf("%q: %s has no unit: want %s", t, digits, Examples)
			}
			return 0, fmt.Errorf("%q: unit %q unknown or out of order: want whole numbers with units d, h, m, s or ms, largest first, %s", t, name, Examples)
		}
		next = u + 1
		// n*unit ≤ Max - total, checked without overflowing.
		limit := uint64((Max - total) / units[u].d)
		var n uint64
		for _, c := range digits {
			if uint64(c-'0') > limit || n > (limit-uint64(c-'0'))/10 {
				return 0, fmt.Errorf("%q: too long: at most %s", t, Format(Max))
			}
			n = n*10 + uint64(c-'0')
		}
		total += time.Duration(n) * units[u].d
	}
	if total == 0 {
		return 0, fmt.Errorf("%q: %w: give a positive duration, %s, or leave the flag out for the default", t, ErrZero, Examples)
	}
	return total, nil
}

// Format renders d in the grammar: 1d12h, 1h30m, 45s, 250ms; 0 for zero.
// A negative d (never parsed) renders with a leading minus sign. Parts below
// a millisecond are dropped.
func Format(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	var b strings.Builder
	u := uint64(d)
	if d < 0 {
		b.WriteByte('-')
		u = uint64(-(d + 1)) + 1 // no overflow at math.MinInt64
	}
	for _, unit := range units {
		if n := u / uint64(unit.d); n > 0 {
			fmt.Fprintf(&b, "%d%s", n, unit.name)
			u -= n * uint64(unit.d)
		}
	}
	if b.Len() == 0 || b.String() == "-" {
		return "0"
	}
	return b.String()
}

// Value is a flag value (the pflag.Value and flag.Value interfaces) that
// reads the grammar into a time.Duration. A flag whose default is 0 means
// "not given"; giving 0 is refused like any other zero.
type Value struct{ p *time.Duration }

// NewValue is a Value storing into p, which holds the default.
func NewValue(p *time.Duration) Value { return Value{p} }

// Set parses s (the flag package calls it).
func (v Value) Set(s string) error {
	d, err := Parse(s)
	if err != nil {
		return err
	}
	*v.p = d
	return nil
}

// String is the current value in the grammar.
func (v Value) String() string {
	if v.p == nil {
		return "0"
	}
	return Format(*v.p)
}

// Type names the value in help output.
func (v Value) Type() string { return "duration" }
