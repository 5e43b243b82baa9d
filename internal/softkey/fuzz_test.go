package softkey

import (
	"context"
	"crypto/sha256"
	"testing"
)

func fuzzSeeds(t testing.TB) [][]byte {
	enc := func(cmd byte, v any) []byte {
		msg := []byte{cmd}
		if v != nil {
			msg = append(msg, encode(v)...)
		}
		return msg
	}
	cdh := sha256.Sum256([]byte("seed"))
	ka := map[int]any{1: 2, 3: -25, -1: 1, -2: make([]byte, 32), -3: make([]byte, 32)}
	c := &testClient{t: t, proto: 2}
	return [][]byte{
		enc(CmdGetInfo, nil),
		enc(CmdMakeCredential, c.mcRequest(mcReq{rpID: "example.com", rk: true,
			ext: map[string]any{"credProtect": 2, "hmac-secret": true, "minPinLength": true}})),
		enc(CmdMakeCredential, c.mcRequest(mcReq{rpID: "example.com", exclude: [][]byte{{1, 2}}, zeroLenAuth: true})),
		enc(CmdGetAssertion, map[int]any{1: "example.com", 2: cdh[:], 3: []map[string]any{{"type": "public-key", "id": []byte{1}}},
			5: map[string]bool{"up": false}}),
		enc(CmdGetAssertion, map[int]any{1: "example.com", 2: cdh[:], 4: map[string]any{"hmac-secret": map[int]any{1: ka, 2: make([]byte, 48), 3: make([]byte, 32)}}}),
		enc(CmdGetNextAssertion, nil),
		enc(CmdClientPIN, map[int]any{1: 2, 2: 1}),
		enc(CmdClientPIN, map[int]any{1: 1, 2: 2}),
		enc(CmdClientPIN, map[int]any{1: 2, 2: 3, 3: ka, 4: make([]byte, 32), 5: make([]byte, 80)}),
		enc(CmdClientPIN, map[int]any{1: 1, 2: 4, 3: ka, 4: make([]byte, 16), 5: make([]byte, 64), 6: make([]byte, 16)}),
		enc(CmdClientPIN, map[int]any{1: 1, 2: 5, 3: ka, 6: make([]byte, 16)}),
		enc(CmdClientPIN, map[int]any{1: 2, 2: 9, 3: ka, 6: make([]byte, 32), 9: 3, 10: "example.com"}),
		enc(CmdReset, nil),
		enc(CmdCredentialManagement, map[int]any{1: 1, 3: 2, 4: make([]byte, 32)}),
		enc(CmdCredentialManagement, map[int]any{1: 4, 2: map[int]any{1: cdh[:]}, 3: 2, 4: make([]byte, 32)}),
		enc(CmdCredentialMgmtPreview, map[int]any{1: 3}),
		enc(CmdSelection, nil),
		enc(CmdConfig, map[int]any{1: 3, 2: map[int]any{1: 6, 2: []string{"example.com"}, 3: true}}),
		enc(CmdConfig, map[int]any{1: 2}),
		{0x55},
		{0x01, 0xA2, 0x01},
	}
}

// FuzzHandleCBOR checks that no input panics (the recover would show up as
// 0x7F) and every response is a status byte, optionally followed by exactly
// one well-formed CBOR map after a 0x00 status.
func FuzzHandleCBOR(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		a, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		// Run the input twice: once factory-new, once with a PIN and
		// a resident credential present.
		for round := 0; round < 2; round++ {
			resp := a.HandleCBOR(context.Background(), msg, nil)
			if len(resp) == 0 {
				t.Fatal("empty response")
			}
			if Status(resp[0]) == StatusOther {
				t.Fatalf("0x7F (internal error/panic) for %x", msg)
			}
			if len(resp) > 1 {
				if resp[0] != 0 {
					t.Fatalf("error status 0x%02x with a body", resp[0])
				}
				var m map[int]any
				if err := decMode.Unmarshal(resp[1:], &m); err != nil {
					t.Fatalf("malformed response body: %v", err)
				}
			}
			if round == 0 {
				c := newClient(t, a, 2)
				if c.setPIN("1234") != StatusOK {
					// the fuzz input may have set a PIN or changed policy
					continue
				}
				tok, _ := c.token("1234", PermMakeCredential, "example.com")
				c.makeCred(mcReq{rpID: "example.com", rk: true, token: tok})
			}
		}
	})
}
