package simkeys

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyprep/keyprep/internal/softkey"
)

// ParseTouch parses the simulated person at the key, as given in
// KEYPREP_SIM_TOUCH: "instant" (default), "delay=2s", "deny", "timeout" or
// "timeout=5s".
func ParseTouch(s string) (softkey.Presence, error) {
	name, arg, hasArg := strings.Cut(strings.TrimSpace(strings.ToLower(s)), "=")
	var d time.Duration
	if hasArg {
		var err error
		if d, err = time.ParseDuration(arg); err != nil || d < 0 {
			return softkey.Presence{}, fmt.Errorf("touch %q: %q is not a duration such as 2s", s, arg)
		}
	}
	switch name {
	case "", "instant":
		if hasArg {
			break
		}
		return softkey.Instant(), nil
	case "delay":
		if !hasArg {
			return softkey.Presence{}, fmt.Errorf("touch %q: give the delay, e.g. delay=2s", s)
		}
		return softkey.Delayed(d), nil
	case "deny":
		if hasArg {
			break
		}
		return softkey.Denied(), nil
	case "timeout":
		return softkey.Timeout(d), nil
	}
	return softkey.Presence{}, fmt.Errorf("touch %q: want instant, delay=DURATION, deny or timeout[=DURATION]", s)
}

// ParseFinger parses the simulated finger at a bio key's sensor, as given
// in KEYPREP_SIM_FINGER: a comma-separated sequence of samples, each
// "good", "poor" or "timeout", taken one per capture (enrollment sample or
// user verification) with the last repeating; "" is always good. A
// "timeout=DURATION" entry makes a missing finger wait that long before
// the key gives up (default: at once).
func ParseFinger(s string) (softkey.Finger, error) {
	var f softkey.Finger
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return f, nil
	}
	for _, part := range strings.Split(s, ",") {
		name, arg, hasArg := strings.Cut(strings.TrimSpace(part), "=")
		switch {
		case name == "good" && !hasArg:
			f.Samples = append(f.Samples, softkey.FingerGood)
		case name == "poor" && !hasArg:
			f.Samples = append(f.Samples, softkey.FingerPoor)
		case name == "timeout":
			if hasArg {
				d, err := time.ParseDuration(arg)
				if err != nil || d < 0 {
					return softkey.Finger{}, fmt.Errorf("finger %q: %q is not a duration such as 2s", s, arg)
				}
				f.Delay = d
			}
			f.Samples = append(f.Samples, softkey.FingerTimeout)
		default:
			return softkey.Finger{}, fmt.Errorf("finger %q: want good, poor or timeout[=DURATION], or a comma-separated sequence such as poor,good", s)
		}
	}
	return f, nil
}
