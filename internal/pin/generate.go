package pin

import (
	"crypto/rand"
	"errors"
	"runtime"
)

// maxAttempts bounds Generate's rejection loop. Check only accepts policies
// whose acceptance probability makes reaching it vanishingly unlikely.
const maxAttempts = 1 << 20

// ErrExhausted is returned by Generate when no PIN satisfying the policy
// was drawn within its attempt limit. Policies that pass Check do not hit
// it in practice.
var ErrExhausted = errors.New("pin: no PIN satisfying the policy found within the attempt limit")

// Wipe overwrites b with zeros. Use it on PINs once they are no longer
// needed.
func Wipe(b []byte) {
	clear(b)
	runtime.KeepAlive(b)
}

// Generate returns a random PIN of GeneratedLength() characters that passes
// Validate, drawn with crypto/rand. Each character is chosen uniformly from
// the alphabet by rejection sampling; PINs breaking a rule are discarded
// and redrawn, so the result is uniform over the PINs the policy accepts.
// The caller should Wipe the result. It fails with a *PolicyError if Check
// does, or if the alphabet is Unicode.
func (p Policy) Generate() ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	chars := p.Alphabet.chars()
	if chars == "" {
		return nil, policyErr("Alphabet", "PINs cannot be generated from the %s alphabet", p.Alphabet)
	}
	var src sampler
	defer src.wipe()
	out := make([]byte, p.GeneratedLength())
	for range maxAttempts {
		for i := range out {
			c, err := src.index(len(chars))
			if err != nil {
				Wipe(out)
				return nil, err
			}
			out[i] = chars[c]
		}
		if p.validate(out) == nil {
			return out, nil
		}
	}
	Wipe(out)
	return nil, ErrExhausted
}

// sampler draws uniform indices from a buffer of crypto/rand bytes.
type sampler struct {
	buf [64]byte
	pos int // next unused byte; len(buf) when empty
	ok  bool
}

// index returns a uniform integer in [0, n) for 1 ≤ n ≤ 256. Bytes at or
// above the largest multiple of n are discarded, so every result is equally
// likely (no modulo bias).
func (s *sampler) index(n int) (int, error) {
	limit := 256 - 256%n
	for {
		if !s.ok || s.pos == len(s.buf) {
			if _, err := rand.Read(s.buf[:]); err != nil {
				return 0, err
			}
			s.pos, s.ok = 0, true
		}
		b := int(s.buf[s.pos])
		s.buf[s.pos] = 0
		s.pos++
		if b < limit {
			return b % n, nil
		}
	}
}

func (s *sampler) wipe() {
	clear(s.buf[:])
	runtime.KeepAlive(s)
}
