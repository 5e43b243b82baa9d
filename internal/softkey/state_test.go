package softkey

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/fileguard"
)

func TestResetWindow(t *testing.T) {
	a, clk := newKey(t, Config{})
	c := newClient(t, a, 2)
	c.setPIN("1234")
	c.makeCred(mcReq{rpID: "example.com", rk: true, token: mustToken(t, c, "1234", PermMakeCredential, "example.com")})
	clk.Advance(11 * time.Second)
	st, _ := c.do(CmdReset, nil)
	wantStatus(t, "reset after 10 s", st, StatusNotAllowed)
	a.PowerCycle()
	a.SetPresence(Denied())
	st, _ = c.do(CmdReset, nil)
	wantStatus(t, "reset denied", st, StatusOperationDenied)
	a.SetPresence(Timeout(10 * time.Millisecond))
	st, _ = c.do(CmdReset, nil)
	wantStatus(t, "reset timeout", st, StatusUserActionTimeout)
	a.SetPresence(Instant())
	// Change settings, then reset restores defaults.
	tok := mustToken(t, c, "1234", PermAuthenticatorCfg, "")
	wantStatus(t, "cfg", c.config(tok, 3, map[int]any{1: 6, 3: true}), StatusOK)
	st, _ = c.do(CmdReset, nil)
	wantStatus(t, "reset", st, StatusOK)
	s := a.Status()
	if s.PINSet || s.ResidentCount != 0 || s.MinPINLength != 4 || s.ForcePINChange || s.PINRetries != 8 || s.AlwaysUV {
		t.Fatalf("after reset %+v", s)
	}
	wantStatus(t, "setPIN after reset", c.setPIN("4321"), StatusOK)
}

func mustToken(t *testing.T, c *testClient, pin string, perms byte, rp string) []byte {
	t.Helper()
	tok, st := c.token(pin, perms, rp)
	wantStatus(t, "token", st, StatusOK)
	return tok
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key.json")
	clk := newFakeClock()
	cfg := Config{Clock: clk.Now}
	a, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// Private: mode 0600, on Windows a private DACL (fileguard).
	if err := fileguard.CheckPath("key state", path, fileguard.Secret, os.Geteuid()); err != nil {
		t.Fatal(err)
	}
	powerUp := a.Status().PowerUp
	c := newClient(t, a, 2)
	wantStatus(t, "setPIN", c.setPIN("1234"), StatusOK)
	_, res := c.makeCred(mcReq{rpID: "example.com", rk: true, token: mustToken(t, c, "1234", PermMakeCredential, "example.com")})
	_, nonRes := c.makeCred(mcReq{rpID: "example.com", token: mustToken(t, c, "1234", PermMakeCredential, "example.com")})
	c.token("0000", 0, "") // one mismatch
	c.token("0000", 0, "") // two
	tok := mustTokenAfterMismatch(t, c)
	_ = tok
	before := a.Status()

	clk.Advance(20 * time.Second)
	b, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	after := b.Status()
	if !after.PINSet || after.PINRetries != before.PINRetries || after.ResidentCount != 1 || !after.PowerUp.Equal(powerUp) ||
		after.SignCount != before.SignCount {
		t.Fatalf("before %+v\nafter %+v", before, after)
	}
	c2 := newClient(t, b, 1)
	st, _ := c2.getAssertion("example.com", [][]byte{nonRes.credID}, nil, nil)
	wantStatus(t, "non-resident after reopen", st, StatusOK)
	st, ga := c2.getAssertion("example.com", nil, nil, nil)
	wantStatus(t, "resident after reopen", st, StatusOK)
	if string(ga.credID) != string(res.credID) {
		t.Fatal("resident credential changed")
	}
	// The power-up time persisted: the reset window is closed ...
	st, _ = c2.do(CmdReset, nil)
	wantStatus(t, "reset after reopen", st, StatusNotAllowed)
	// ... until a power cycle, which is persisted too.
	if err := b.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, _ = newClient(t, d, 2).do(CmdReset, nil)
	wantStatus(t, "reset after power cycle", st, StatusOK)
	e, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if e.Status().PINSet || e.Status().ResidentCount != 0 {
		t.Fatal("reset not persisted")
	}
	// Soft-lock counter persists across Open.
	c3 := newClient(t, e, 2)
	c3.setPIN("1234")
	c3.token("0000", 0, "")
	c3.token("0000", 0, "")
	c3.token("0000", 0, "")
	f, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Status().PowerCycleRequired {
		t.Fatal("soft lock lost on reopen")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("stray files: %v", entries)
	}
	// Corrupt file.
	os.WriteFile(path, []byte("{"), 0o600)
	if _, err := Open(path, cfg); err == nil {
		t.Fatal("corrupt state accepted")
	}
}

func mustTokenAfterMismatch(t *testing.T, c *testClient) []byte {
	return mustToken(t, c, "1234", PermGetAssertion, "example.com")
}

func TestFaults(t *testing.T) {
	a, _ := newKey(t, Config{})
	c := newClient(t, a, 2)
	a.InjectFault(Fault{Command: CmdMakeCredential, Status: StatusKeyStoreFull, Count: 2})
	for i := 0; i < 2; i++ {
		st, _ := c.makeCred(mcReq{rpID: "example.com"})
		wantStatus(t, "injected", st, StatusKeyStoreFull)
	}
	st, _ := c.makeCred(mcReq{rpID: "example.com"})
	wantStatus(t, "after fault", st, StatusOK)
	a.InjectFault(Fault{Command: CmdGetInfo, Corrupt: true})
	resp := c.raw(CmdGetInfo, nil)
	if resp[0] != 0 || len(resp) < 2 {
		t.Fatalf("corrupt response %x", resp)
	}
	var v any
	if err := decMode.Unmarshal(resp[1:], &v); err == nil {
		t.Fatal("corrupt response decodes")
	}
	a.InjectFault(Fault{Status: StatusOther, Count: 5})
	a.ClearFaults()
	wantStatus(t, "cleared", Status(c.raw(CmdGetInfo, nil)[0]), StatusOK)
	a.Wink()
	if a.Status().Winks != 1 {
		t.Fatal("wink")
	}
}

func TestMalformedInput(t *testing.T) {
	a, _ := newKey(t, Config{MaxMsgSize: 256})
	tests := []struct {
		name string
		msg  []byte
		want Status
	}{
		{"empty", nil, StatusInvalidLength},
		{"unknown command", []byte{0x55}, StatusInvalidCommand},
		{"bio enrollment", []byte{0x09, 0xA0}, StatusInvalidCommand},
		{"large blobs", []byte{0x0C, 0xA0}, StatusInvalidCommand},
		{"truncated map", []byte{0x01, 0xA2, 0x01}, StatusInvalidCBOR},
		{"not a map", []byte{0x01, 0x01}, StatusCBORUnexpectedType},
		{"text keys", []byte{0x06, 0xA1, 0x61, 0x61, 0x01}, StatusCBORUnexpectedType},
		{"trailing bytes", []byte{0x06, 0xA0, 0x00}, StatusInvalidCBOR},
		{"duplicate keys", []byte{0x06, 0xA2, 0x02, 0x01, 0x02, 0x01}, StatusInvalidCBOR},
		{"empty makeCredential", []byte{0x01}, StatusMissingParameter},
		{"empty clientPIN", []byte{0x06, 0xA0}, StatusMissingParameter},
		{"subCommand as text", []byte{0x06, 0xA1, 0x02, 0x61, 0x61}, StatusCBORUnexpectedType},
		{"unknown clientPIN subcommand", []byte{0x06, 0xA2, 0x01, 0x02, 0x02, 0x18, 0x20}, StatusInvalidSubcommand},
		{"too large", append([]byte{0x04}, make([]byte, 300)...), StatusRequestTooLarge},
		{"getNextAssertion without state", []byte{0x08}, StatusNotAllowed},
		{"credMgmt GetNextRP without state", []byte{0x0A, 0xA1, 0x01, 0x03}, StatusNotAllowed},
		{"tagged", []byte{0x06, 0xC1, 0xA0}, StatusInvalidCBOR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := a.HandleCBOR(t.Context(), tc.msg, nil)
			if len(resp) != 1 {
				t.Fatalf("response %x", resp)
			}
			wantStatus(t, tc.name, Status(resp[0]), tc.want)
		})
	}
}
