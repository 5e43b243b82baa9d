package ctaphid

import (
	"fmt"
	"strings"
)

// Fault names for ParseFaults, one per Faults switch.
const (
	FaultWrongContinuationSeq = "wrong-continuation-seq"
	FaultDropContinuation     = "drop-continuation"
	FaultWrongInitNonce       = "wrong-init-nonce"
)

// ParseFaults reads a comma-separated list of fault names (TEST ONLY: each
// one breaks the framing on purpose, see Faults), e.g. from a hidden
// command-line switch of an end-to-end test. "" and "none" mean no faults.
func ParseFaults(s string) (Faults, error) {
	var f Faults
	for _, name := range strings.Split(s, ",") {
		switch strings.TrimSpace(strings.ToLower(name)) {
		case "", "none":
		case FaultWrongContinuationSeq:
			f.WrongContinuationSeq = true
		case FaultDropContinuation:
			f.DropContinuation = true
		case FaultWrongInitNonce:
			f.WrongInitNonce = true
		default:
			return Faults{}, fmt.Errorf("ctaphid: unknown fault %q (want %s, %s or %s)", strings.TrimSpace(name),
				FaultWrongContinuationSeq, FaultDropContinuation, FaultWrongInitNonce)
		}
	}
	return f, nil
}

// Any reports whether any fault is switched on.
func (f Faults) Any() bool { return f.WrongContinuationSeq || f.DropContinuation || f.WrongInitNonce }
