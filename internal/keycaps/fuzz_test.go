package keycaps

import (
	"encoding/json"
	"testing"
)

// FuzzDecide feeds arbitrary getInfo JSON through Of, Decide, Features and
// PINRules: nothing may panic, a decision is enrollable exactly when
// nothing refuses it, and every refusal has a message and a hint.
func FuzzDecide(f *testing.F) {
	for _, g := range []GetInfo{yk54(), yk57(), titan()} {
		b, _ := json.Marshal(g)
		f.Add(b, 8, true, false)
	}
	f.Add([]byte(`{"versions":["FIDO_2_0"],"options":{"rk":true},"algorithms":[{"alg":-8}]}`), 0, false, true)
	f.Fuzz(func(t *testing.T, data []byte, minPIN int, force, skip bool) {
		var g GetInfo
		if json.Unmarshal(data, &g) != nil {
			return
		}
		c := Of(&g)
		d := Decide(c, Want{MinPINLength: minPIN, ForcePINChange: force, MinPINLengthRPID: force, AlwaysUV: skip}, skip)
		if d.Enrollable != (len(d.Refusals) == 0) {
			t.Fatalf("Enrollable %v with refusals %+v", d.Enrollable, d.Refusals)
		}
		for _, r := range append(d.Refusals, d.Skipped...) {
			if r.Msg == "" || r.Hint == "" || r.Missing == "" {
				t.Fatalf("incomplete refusal %+v", r)
			}
		}
		_ = c.Features()
		_ = c.Unavailable()
		if r := c.PINRules(); r.MinLength < 1 {
			t.Fatalf("PINRules.MinLength %d", r.MinLength)
		}
	})
}
