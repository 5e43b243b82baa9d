package softkey

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// This file holds a minimal test-side CTAP 2.1 platform ("client") that
// drives HandleCBOR the way libfido2 or python-fido2 would.

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testClient struct {
	t     testing.TB
	a     *Authenticator
	proto int
	ctx   context.Context
}

func newKey(t testing.TB, cfg Config) (*Authenticator, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	if cfg.Clock == nil {
		cfg.Clock = clk.Now
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

func newClient(t testing.TB, a *Authenticator, proto int) *testClient {
	return &testClient{t: t, a: a, proto: proto, ctx: context.Background()}
}

// raw sends cmd with the CBOR encoding of req (nil → no parameters).
func (c *testClient) raw(cmd byte, req any) []byte {
	c.t.Helper()
	msg := []byte{cmd}
	if req != nil {
		b, err := encMode.Marshal(req)
		if err != nil {
			c.t.Fatal(err)
		}
		msg = append(msg, b...)
	}
	return c.a.HandleCBOR(c.ctx, msg, nil)
}

// do sends a command and decodes the response map.
func (c *testClient) do(cmd byte, req any) (Status, map[int]cbor.RawMessage) {
	c.t.Helper()
	resp := c.raw(cmd, req)
	if len(resp) == 0 {
		c.t.Fatalf("empty response to 0x%02x", cmd)
	}
	st := Status(resp[0])
	if len(resp) == 1 {
		return st, nil
	}
	if st != StatusOK {
		c.t.Fatalf("error status %v with a body", st)
	}
	var m map[int]cbor.RawMessage
	if err := cbor.Unmarshal(resp[1:], &m); err != nil {
		c.t.Fatalf("response to 0x%02x is not a CBOR map: %v", cmd, err)
	}
	// Responses must be canonical: re-encoding gives the same bytes.
	var generic any
	if err := cbor.Unmarshal(resp[1:], &generic); err != nil {
		c.t.Fatal(err)
	}
	if again, _ := encMode.Marshal(generic); !bytes.Equal(again, resp[1:]) {
		c.t.Fatalf("response to 0x%02x is not canonical CBOR", cmd)
	}
	return st, m
}

func (c *testClient) proto_() pinProtocol { return protocolFor(c.proto) }

// keyAgreement runs getKeyAgreement and returns the platform COSE key and
// the shared secret.
func (c *testClient) keyAgreement() (map[int]any, []byte) {
	c.t.Helper()
	st, m := c.do(CmdClientPIN, map[int]any{1: c.proto, 2: 2})
	if st != StatusOK {
		c.t.Fatalf("getKeyAgreement: %v", st)
	}
	pub, err := parseCOSEKeyAgreement(m[1])
	if err != nil {
		c.t.Fatalf("authenticator key: %v", err)
	}
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	shared, err := ecdhShared(c.proto_(), priv, pub)
	if err != nil {
		c.t.Fatal(err)
	}
	return coseKeyAgreement(priv.PublicKey()), shared
}

func (c *testClient) enc(shared, pt []byte) []byte {
	c.t.Helper()
	ct, err := c.proto_().encrypt(shared, pt, rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	return ct
}

func padPIN(pin string) []byte {
	b := make([]byte, 64)
	copy(b, pin)
	return b
}

func pinHash(pin string) []byte {
	h := sha256.Sum256([]byte(pin))
	return h[:16]
}

func (c *testClient) setPIN(pin string) Status {
	c.t.Helper()
	ka, shared := c.keyAgreement()
	newPinEnc := c.enc(shared, padPIN(pin))
	st, _ := c.do(CmdClientPIN, map[int]any{
		1: c.proto, 2: 3, 3: ka,
		4: c.proto_().authenticate(shared, newPinEnc),
		5: newPinEnc,
	})
	return st
}

func (c *testClient) changePIN(old, pin string) Status {
	c.t.Helper()
	ka, shared := c.keyAgreement()
	newPinEnc := c.enc(shared, padPIN(pin))
	pinHashEnc := c.enc(shared, pinHash(old))
	st, _ := c.do(CmdClientPIN, map[int]any{
		1: c.proto, 2: 4, 3: ka,
		4: c.proto_().authenticate(shared, append(append([]byte{}, newPinEnc...), pinHashEnc...)),
		5: newPinEnc,
		6: pinHashEnc,
	})
	return st
}

// token gets a pinUvAuthToken; perms 0 uses the legacy getPinToken (0x05).
func (c *testClient) token(pin string, perms byte, rpID string) ([]byte, Status) {
	c.t.Helper()
	ka, shared := c.keyAgreement()
	req := map[int]any{1: c.proto, 2: 5, 3: ka, 6: c.enc(shared, pinHash(pin))}
	if perms != 0 {
		req[2] = 9
		req[9] = perms
		if rpID != "" {
			req[10] = rpID
		}
	}
	st, m := c.do(CmdClientPIN, req)
	if st != StatusOK {
		return nil, st
	}
	var enc []byte
	if err := cbor.Unmarshal(m[2], &enc); err != nil {
		c.t.Fatal(err)
	}
	tok, err := c.proto_().decrypt(shared, enc)
	if err != nil || len(tok) != 32 {
		c.t.Fatalf("token decrypt: %v (len %d)", err, len(tok))
	}
	return tok, StatusOK
}

func (c *testClient) retries() (int, Status) {
	c.t.Helper()
	st, m := c.do(CmdClientPIN, map[int]any{1: c.proto, 2: 1})
	if st != StatusOK {
		return -1, st
	}
	var n int
	if err := cbor.Unmarshal(m[3], &n); err != nil {
		c.t.Fatal(err)
	}
	return n, st
}

type mcReq struct {
	rpID        string
	userID      []byte
	userName    string
	rk          bool
	token       []byte
	exclude     [][]byte
	ext         map[string]any
	cdh         []byte
	zeroLenAuth bool
}

func (c *testClient) mcRequest(r mcReq) map[int]any {
	if r.cdh == nil {
		h := sha256.Sum256([]byte("client data " + r.rpID))
		r.cdh = h[:]
	}
	if r.userID == nil {
		r.userID = []byte("user-1")
	}
	if r.userName == "" {
		r.userName = "alice@contoso.test"
	}
	req := map[int]any{
		1: r.cdh,
		2: map[string]any{"id": r.rpID, "name": "RP " + r.rpID},
		3: map[string]any{"id": r.userID, "name": r.userName, "displayName": "Alice"},
		4: []map[string]any{{"type": "public-key", "alg": -7}},
	}
	if r.rk {
		req[7] = map[string]bool{"rk": true}
	}
	if len(r.exclude) > 0 {
		var l []map[string]any
		for _, id := range r.exclude {
			l = append(l, map[string]any{"type": "public-key", "id": id})
		}
		req[5] = l
	}
	if r.ext != nil {
		req[6] = r.ext
	}
	if r.token != nil {
		req[8] = c.proto_().authenticate(r.token, r.cdh)
		req[9] = c.proto
	}
	if r.zeroLenAuth {
		req[8] = []byte{}
		req[9] = c.proto
	}
	return req
}

type mcResult struct {
	fmt      string
	authData []byte
	attStmt  map[string]any
	credID   []byte
	flags    byte
	counter  uint32
	ext      map[string]any
	cdh      []byte
}

func (c *testClient) makeCred(r mcReq) (Status, *mcResult) {
	c.t.Helper()
	req := c.mcRequest(r)
	st, m := c.do(CmdMakeCredential, req)
	if st != StatusOK {
		return st, nil
	}
	res := &mcResult{cdh: req[1].([]byte)}
	if err := cbor.Unmarshal(m[1], &res.fmt); err != nil {
		c.t.Fatal(err)
	}
	if err := cbor.Unmarshal(m[2], &res.authData); err != nil {
		c.t.Fatal(err)
	}
	if err := cbor.Unmarshal(m[3], &res.attStmt); err != nil {
		c.t.Fatal(err)
	}
	ad := res.authData
	res.flags = ad[32]
	res.counter = uint32(ad[33])<<24 | uint32(ad[34])<<16 | uint32(ad[35])<<8 | uint32(ad[36])
	n := int(ad[53])<<8 | int(ad[54])
	res.credID = ad[55 : 55+n]
	rest := ad[55+n:]
	var cose map[int]any
	restAfter, err := cbor.UnmarshalFirst(rest, &cose)
	if err != nil {
		c.t.Fatal(err)
	}
	if res.flags&flagED != 0 {
		if err := cbor.Unmarshal(restAfter, &res.ext); err != nil {
			c.t.Fatal(err)
		}
	} else if len(restAfter) != 0 {
		c.t.Fatal("trailing bytes in authData")
	}
	return st, res
}

type gaResult struct {
	credID   []byte
	authData []byte
	sig      []byte
	user     map[string]any
	count    int
}

func decodeGA(t testing.TB, m map[int]cbor.RawMessage) *gaResult {
	t.Helper()
	r := &gaResult{}
	var cred map[string]any
	if err := cbor.Unmarshal(m[1], &cred); err != nil {
		t.Fatal(err)
	}
	r.credID, _ = cred["id"].([]byte)
	if err := cbor.Unmarshal(m[2], &r.authData); err != nil {
		t.Fatal(err)
	}
	if err := cbor.Unmarshal(m[3], &r.sig); err != nil {
		t.Fatal(err)
	}
	if raw, ok := m[4]; ok {
		if err := cbor.Unmarshal(raw, &r.user); err != nil {
			t.Fatal(err)
		}
	}
	if raw, ok := m[5]; ok {
		if err := cbor.Unmarshal(raw, &r.count); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (c *testClient) getAssertion(rpID string, allow [][]byte, tok []byte, extra map[int]any) (Status, *gaResult) {
	c.t.Helper()
	cdh := sha256.Sum256([]byte("assert " + rpID))
	req := map[int]any{1: rpID, 2: cdh[:]}
	if len(allow) > 0 {
		var l []map[string]any
		for _, id := range allow {
			l = append(l, map[string]any{"type": "public-key", "id": id})
		}
		req[3] = l
	}
	if tok != nil {
		req[6] = c.proto_().authenticate(tok, cdh[:])
		req[7] = c.proto
	}
	for k, v := range extra {
		req[k] = v
	}
	st, m := c.do(CmdGetAssertion, req)
	if st != StatusOK {
		return st, nil
	}
	return st, decodeGA(c.t, m)
}

// authParam computes a pinUvAuthParam for credMgmt / config messages.
func (c *testClient) authParam(tok, msg []byte) []byte {
	return c.proto_().authenticate(tok, msg)
}

func (c *testClient) config(tok []byte, sub byte, sp map[int]any) Status {
	c.t.Helper()
	req := map[int]any{1: sub}
	msg := append(bytes.Repeat([]byte{0xFF}, 32), 0x0D, sub)
	if sp != nil {
		b, _ := encMode.Marshal(sp)
		req[2] = cbor.RawMessage(b)
		msg = append(msg, b...)
	}
	if tok != nil {
		req[3] = c.proto
		req[4] = c.authParam(tok, msg)
	}
	st, _ := c.do(CmdConfig, req)
	return st
}

func wantStatus(t testing.TB, what string, got, want Status) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: got %v (0x%02X), want %v (0x%02X)", what, got, byte(got), want, byte(want))
	}
}
