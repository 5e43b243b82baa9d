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
