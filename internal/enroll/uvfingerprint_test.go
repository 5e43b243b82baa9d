package enroll_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
	"github.com/keyprep/keyprep/internal/keycaps"
)

// bioKey is pinPlus with the given getInfo options added (a bio key's uv,
// bioEnroll) or removed (false in drop).
func bioKey(opts map[string]bool, drop ...string) *keycaps.GetInfo {
	g := pinPlus()
	g.Options = maps.Clone(g.Options)
	maps.Copy(g.Options, opts)
	for _, o := range drop {
		delete(g.Options, o)
	}
	return g
}

// TestUVFingerprintRefusedAtInspect: --uv-fingerprint on a key that cannot
// verify its user by fingerprint now is refused before any side effect.
func TestUVFingerprintRefusedAtInspect(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  *keycaps.GetInfo
		msg  string
		hint string
	}{
		{"no sensor", pinPlus(), "no built-in user verification", "verifies its user by PIN only"},
		{"no fingerprint enrolled", bioKey(map[string]bool{"uv": false, "bioEnroll": false}), "no enrolled fingerprint (getInfo uv is false)", "keyprep bio enroll --key fake:0"},
		{"no pinUvAuthToken", bioKey(map[string]bool{"uv": true, "bioEnroll": true}, "pinUvAuthToken"), "cannot issue a token by fingerprint", "drop --uv-fingerprint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, enrolltest.KeyConfig{Profile: tc.key})
			_, err := v.enroll(adele, enroll.Request{UVFingerprint: true})
			if !errors.Is(err, enroll.ErrUnsupportedSetting) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want ErrUnsupportedSetting with %q", err, tc.msg)
			}
			var ee *enroll.Error
			if !errors.As(err, &ee) || !strings.Contains(ee.Hint, tc.hint) {
				t.Fatalf("hint %q, want %q", ee.Hint, tc.hint)
			}
			s := v.key.State()
			if n := v.key.Calls(enrolltest.OpSetPIN) + v.key.Calls(enrolltest.OpMakeCredential); n != 0 || s.PIN != "" || len(s.Credentials) != 0 || len(v.escrows()) != 0 {
				t.Fatalf("side effects before the refusal: %d calls, state %+v", n, s)
			}
		})
	}
}
