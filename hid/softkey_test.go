//go:build cgo

package hid_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/softkey"
)

var (
	testPIN  = []byte("1234")
	testPIN2 = []byte("987654")
	wrongPIN = []byte("0000")
)

// fakeClock is a settable clock for the softkey (reset window tests).
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
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

// newSoftKey plugs in a factory-new softkey and returns it with its path.
func newSoftKey(tb testing.TB, cfg softkey.Config) (*softkey.Authenticator, string) {
	tb.Helper()
	a, err := softkey.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return a, plugIn(tb, a)
}

// openSoftKey returns an open session on a new softkey, optionally with a PIN.
func openSoftKey(tb testing.TB, cfg softkey.Config, pin []byte, opts ...hid.Option) (*softkey.Authenticator, *hid.Device) {
	tb.Helper()
	a, path := newSoftKey(tb, cfg)
	d := openT(tb, path, opts...)
	if pin != nil {
		if err := d.SetPIN(context.Background(), pin); err != nil {
			tb.Fatalf("SetPIN: %v", err)
		}
	}
	return a, d
}

func cdh(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func mcReq(rp string, user byte, rk bool) hid.MakeCredentialRequest {
	return hid.MakeCredentialRequest{
		ClientDataHash: cdh("mc"),
		RP:             hid.RelyingParty{ID: rp, Name: rp},
		User:           hid.User{ID: []byte{user, 0xaa}, Name: "user" + string('0'+rune(user)), DisplayName: "User " + string('0'+rune(user))},
		ResidentKey:    rk,
	}
}

func wantErr(t *testing.T, what string, err error, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got %v (code %v), want %v", what, err, hid.CodeOf(err), target)
	}
	var he *hid.Error
	if !errors.As(err, &he) || he.Op == "" || he.Msg == "" {
		t.Fatalf("%s: error %#v lacks Op/Msg", what, err)
	}
}

func retries(t *testing.T, d *hid.Device) int {
	t.Helper()
	n, err := d.PINRetries(context.Background())
	if err != nil {
		t.Fatalf("PINRetries: %v", err)
	}
	return n
}

func TestSoftkeyInfo(t *testing.T) {
	_, d := openSoftKey(t, softkey.Config{}, nil)
	in, err := d.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in.AAGUID != softkey.AAGUID() || !slices.Contains(in.Versions, "FIDO_2_1") || in.MaxMsgSize != 1200 ||
		in.MinPINLength != 4 || in.RemainingResidentKeys != 25 || !slices.Equal(in.PINProtocols, []int{2, 1}) {
		t.Fatalf("Info = %+v", in)
	}
	if v, ok := in.Option("clientPin"); !ok || v {
		t.Errorf("clientPin = %v,%v before SetPIN", v, ok)
	}
	if d.HasPIN() || !d.SupportsPIN() || !d.SupportsCredMan() || !d.SupportsPermissions() {
		t.Errorf("getters wrong")
	}
	// No built-in UV on the softkey.
	if _, err := d.UVRetries(context.Background()); err != nil {
		var he *hid.Error
		if !errors.As(err, &he) {
			t.Fatalf("UVRetries: untyped %v", err)
		}
	}
}

func TestSoftkeyPINLifecycle(t *testing.T) {
	a, d := openSoftKey(t, softkey.Config{}, testPIN)
	ctx := context.Background()
	if n := retries(t, d); n != 8 {
		t.Fatalf("retries = %d", n)
	}
	// CTAP 2.1 §6.5.5.5: setPIN on a key with a PIN is PIN_AUTH_INVALID.
	if err := d.SetPIN(ctx, testPIN2); hid.CodeOf(err) != hid.CodePINAuthInvalid {
		t.Fatalf("SetPIN twice = %v", err)
	}
	wantErr(t, "ChangePIN wrong", d.ChangePIN(ctx, wrongPIN, testPIN2), hid.ErrPINInvalid)
	if n := retries(t, d); n != 7 {
		t.Fatalf("retries after a wrong PIN = %d, want 7", n)
	}
	if err := d.ChangePIN(ctx, testPIN, testPIN2); err != nil {
		t.Fatal(err)
	}
	if n := retries(t, d); n != 8 {
		t.Fatalf("retries after success = %d, want 8", n)
	}
	// Reopen: libfido2 sees the PIN now.
	d2 := openT(t, d.Path())
	if !d2.HasPIN() {
		t.Error("HasPIN false after SetPIN")
	}
	if !a.Status().PINSet {
		t.Error("softkey has no PIN")
	}
}

func TestSoftkeyPINAuthBlockedAndBlocked(t *testing.T) {
	a, d := openSoftKey(t, softkey.Config{}, testPIN)
	ctx := context.Background()
	wrong := func() error { return d.ChangePIN(ctx, wrongPIN, testPIN2) }
	wantErr(t, "1st wrong", wrong(), hid.ErrPINInvalid)
	wantErr(t, "2nd wrong", wrong(), hid.ErrPINInvalid)
	wantErr(t, "3rd wrong", wrong(), hid.ErrPINAuthBlocked)
	// Soft-locked: even the right PIN is refused until power cycle.
	_, err := d.CredentialMetadata(ctx, testPIN)
	wantErr(t, "right PIN while soft-locked", err, hid.ErrPINAuthBlocked)
	if n := retries(t, d); n != 5 {
		t.Fatalf("retries = %d, want 5", n)
	}
	if err := a.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	d = openT(t, d.Path())
	if _, err := d.CredentialMetadata(ctx, testPIN); err != nil {
		t.Fatalf("after power cycle: %v", err)
	}
	if n := retries(t, d); n != 8 {
		t.Fatalf("retries after success = %d, want 8", n)
	}
	// Burn all 8 retries (power-cycling after every soft lock).
	var last error
	for i := 0; i < 8; i++ {
		last = wrong()
		if errors.Is(last, hid.ErrPINAuthBlocked) {
			if err := a.PowerCycle(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := retries(t, d); n != 0 {
		t.Fatalf("retries = %d, want 0 (last error %v)", n, last)
	}
	wantErr(t, "right PIN when blocked", d.ChangePIN(ctx, testPIN, testPIN2), hid.ErrPINBlocked)
	_, err = d.MakeCredential(ctx, mcReq("blocked.example", 1, false), testPIN)
	wantErr(t, "make credential when blocked", err, hid.ErrPINBlocked)
}

func TestSoftkeyMinPINLength(t *testing.T) {
	_, d := openSoftKey(t, softkey.Config{DefaultMinPINLength: 6}, nil)
	ctx := context.Background()
	wantErr(t, "short PIN", d.SetPIN(ctx, []byte("12345")), hid.ErrPINPolicyViolation)
	if err := d.SetPIN(ctx, []byte("123456")); err != nil {
		t.Fatal(err)
	}
	if err := d.SetMinPINLength(ctx, 8, []byte("123456")); err != nil {
		t.Fatal(err)
	}
	in, err := d.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in.MinPINLength != 8 || !in.ForcePINChange {
		t.Fatalf("minPINLength=%d forcePINChange=%v, want 8/true (PIN now too short)", in.MinPINLength, in.ForcePINChange)
	}
	wantErr(t, "change to a short PIN", d.ChangePIN(ctx, []byte("123456"), []byte("1234567")), hid.ErrPINPolicyViolation)
	if err := d.ChangePIN(ctx, []byte("123456"), []byte("12345678")); err != nil {
		t.Fatal(err)
	}
	// Lowering is refused by the key.
	wantErr(t, "lower min length", d.SetMinPINLength(ctx, 4, []byte("12345678")), hid.ErrPINPolicyViolation)

	// minPinLength extension: output only for the allowed RP IDs.
	if err := d.SetMinPINLengthRPIDs(ctx, []string{"allowed.example"}, []byte("12345678")); err != nil {
		t.Fatal(err)
	}
	req := mcReq("allowed.example", 1, false)
	req.MinPINLengthExt = true
	c, err := d.MakeCredential(ctx, req, []byte("12345678"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MinPINLength != 8 {
		t.Errorf("minPinLength output = %d, want 8", c.MinPINLength)
	}
}

func TestSoftkeyForcePINChange(t *testing.T) {
	_, d := openSoftKey(t, softkey.Config{}, testPIN)
	ctx := context.Background()
	if err := d.ForcePINChange(ctx, testPIN); err != nil {
		t.Fatal(err)
	}
	in, err := d.Info(ctx)
	if err != nil || !in.ForcePINChange {
		t.Fatalf("Info = %+v, %v; want forcePINChange", in, err)
	}
	_, err = d.MakeCredential(ctx, mcReq("force.example", 1, false), testPIN)
	wantErr(t, "make credential before change", err, hid.ErrPINPolicyViolation)
	_, err = d.CredentialMetadata(ctx, testPIN)
	wantErr(t, "credman before change", err, hid.ErrPINPolicyViolation)
	if err := d.ChangePIN(ctx, testPIN, testPIN2); err != nil {
		t.Fatal(err)
	}
	if _, err := d.MakeCredential(ctx, mcReq("force.example", 1, false), testPIN2); err != nil {
		t.Fatalf("after change: %v", err)
	}
}

func TestSoftkeyResetWindow(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a, d := openSoftKey(t, softkey.Config{Clock: clk.Now}, testPIN)
	ctx := context.Background()
	clk.Advance(11 * time.Second)
	wantErr(t, "reset after 11 s", d.Reset(ctx), hid.ErrNotAllowed)
	if err := a.PowerCycle(); err != nil {
		t.Fatal(err)
	}
	a.SetPresence(softkey.Denied())
	wantErr(t, "reset denied", d.Reset(ctx), hid.ErrOperationDenied)
	a.SetPresence(softkey.Instant())
	if err := d.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Status().PINSet {
		t.Fatal("PIN survived reset")
	}
}

func verifyES256(t *testing.T, pub []byte, msg, sig []byte) {
	t.Helper()
	if len(pub) != 64 {
		t.Fatalf("public key length %d", len(pub))
	}
	pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, pub...))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pk, h[:], sig) {
		t.Fatal("signature does not verify")
	}
}

func TestSoftkeyMakeCredentialGetAssertion(t *testing.T) {
	a, d := openSoftKey(t, softkey.Config{}, testPIN)
	ctx := context.Background()
	req := mcReq("example.com", 1, true)
	req.UV = true
	req.CredProtect = hid.CredProtectUVOptionalWithCredID
	req.EnforceCredProtect = true
	req.HMACSecret = true
	c, err := d.MakeCredential(ctx, req, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != "packed" || len(c.X5C) != 1 || len(c.Sig) == 0 || len(c.AttStmt) == 0 || len(c.ID) == 0 ||
		[16]byte(c.AAGUID) != softkey.AAGUID() || c.Algorithm != hid.ES256 || c.Flags&0xc5 != 0xc5 ||
		c.CredProtect != hid.CredProtectUVOptionalWithCredID || !c.HMACSecret {
		t.Fatalf("credential = %+v", c)
	}
	if !bytes.Contains(c.AuthDataCBOR, c.AuthData) {
		t.Error("AuthDataCBOR does not wrap AuthData")
	}
	// packed attestation: sig over authData ‖ clientDataHash by the x5c leaf.
	cert, err := x509.ParseCertificate(c.X5C[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignature(x509.ECDSAWithSHA256, append(append([]byte(nil), c.AuthData...), req.ClientDataHash...), c.Sig); err != nil {
		t.Fatalf("attestation signature: %v", err)
	}

	// A second discoverable credential for the same RP.
	c2, err := d.MakeCredential(ctx, mcReq("example.com", 2, true), testPIN)
	if err != nil {
		t.Fatal(err)
	}

	// Allow-list assertion.
	as, err := d.GetAssertion(ctx, hid.AssertionRequest{RPID: "example.com", ClientDataHash: cdh("ga"), AllowList: [][]byte{c.ID}, UP: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || !bytes.Equal(as[0].CredentialID, c.ID) || as[0].Flags&0x01 == 0 {
		t.Fatalf("assertions = %+v", as)
	}
	verifyES256(t, c.PublicKey, append(append([]byte(nil), as[0].AuthData...), cdh("ga")...), as[0].Sig)
	if as[0].SignCount <= c.SignCount {
		t.Errorf("sign count %d not above %d", as[0].SignCount, c.SignCount)
	}

	// Discoverable assertion with UV by PIN: both credentials, with users.
	as, err = d.GetAssertion(ctx, hid.AssertionRequest{RPID: "example.com", ClientDataHash: cdh("ga2"), UV: true}, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 2 {
		t.Fatalf("%d assertions, want 2", len(as))
	}
	ids := [][]byte{as[0].CredentialID, as[1].CredentialID}
	if !slices.ContainsFunc(ids, func(b []byte) bool { return bytes.Equal(b, c.ID) }) ||
		!slices.ContainsFunc(ids, func(b []byte) bool { return bytes.Equal(b, c2.ID) }) {
		t.Fatalf("assertion IDs %x", ids)
	}
	for _, x := range as {
		if len(x.UserID) == 0 || x.Flags&0x04 == 0 {
			t.Errorf("assertion %+v lacks user ID or UV flag", x)
		}
	}

	// Silent assertion.
	a.SetPresence(softkey.Denied())
	as, err = d.GetAssertion(ctx, hid.AssertionRequest{RPID: "example.com", ClientDataHash: cdh("ga3"), AllowList: [][]byte{c.ID}, NoUP: true}, nil)
	if err != nil {
		t.Fatalf("silent assertion: %v", err)
	}
	if as[0].Flags&0x01 != 0 {
		t.Error("UP flag set on a silent assertion")
	}
	a.SetPresence(softkey.Instant())

	// Unknown RP.
	_, err = d.GetAssertion(ctx, hid.AssertionRequest{RPID: "other.example", ClientDataHash: cdh("ga")}, testPIN)
	wantErr(t, "assertion for unknown RP", err, hid.ErrNoCredentials)

	// RS256 is not supported by the softkey.
	rs := mcReq("example.com", 3, false)
	rs.Algorithm = hid.RS256
	_, err = d.MakeCredential(ctx, rs, testPIN)
	wantErr(t, "RS256", err, hid.ErrUnsupported)
}

func TestSoftkeyExcludeListAndStoreFull(t *testing.T) {
	_, d := openSoftKey(t, softkey.Config{ResidentCapacity: 2}, testPIN)
	ctx := context.Background()
	c, err := d.MakeCredential(ctx, mcReq("ex.example", 1, true), testPIN)
	if err != nil {
		t.Fatal(err)
	}
	req := mcReq("ex.example", 2, true)
	req.ExcludeList = [][]byte{bytes.Repeat([]byte{7}, 16), c.ID}
	_, err = d.MakeCredential(ctx, req, testPIN)
	wantErr(t, "excluded", err, hid.ErrCredentialExcluded)
	if _, err := d.MakeCredential(ctx, mcReq("ex.example", 2, true), testPIN); err != nil {
		t.Fatal(err)
	}
	_, err = d.MakeCredential(ctx, mcReq("ex.example", 3, true), testPIN)
	wantErr(t, "store full", err, hid.ErrKeyStoreFull)
	// Non-discoverable credentials need no storage.
	if _, err := d.MakeCredential(ctx, mcReq("ex.example", 3, false), testPIN); err != nil {
		t.Fatal(err)
	}
}

func TestSoftkeyPresence(t *testing.T) {
	a, d := openSoftKey(t, softkey.Config{}, nil, hid.WithTouchTimeout(5*time.Second))
	ctx := context.Background()

	a.SetPresence(softkey.Denied())
	_, err := d.MakeCredential(ctx, mcReq("p.example", 1, false), nil)
	wantErr(t, "denied", err, hid.ErrOperationDenied)

	a.SetPresence(softkey.Timeout(200 * time.Millisecond))
	_, err = d.MakeCredential(ctx, mcReq("p.example", 1, false), nil)
	wantErr(t, "user action timeout", err, hid.ErrUserActionTimeout)

	// ctx cancel during a slow touch: prompt ErrCancelled.
	a.SetPresence(softkey.Delayed(10 * time.Second))
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err = d.MakeCredential(cctx, mcReq("p.example", 1, false), nil)
	wantErr(t, "cancelled", err, hid.ErrCancelled)
	if el := time.Since(start); el > time.Second {
		t.Errorf("cancel took %v", el)
	}

	// ctx deadline during a slow touch: ErrTimeout.
	tctx, tcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer tcancel()
	_, err = d.MakeCredential(tctx, mcReq("p.example", 1, false), nil)
	wantErr(t, "ctx deadline", err, hid.ErrTimeout)

	// The session is still usable.
	a.SetPresence(softkey.Instant())
	if _, err := d.MakeCredential(ctx, mcReq("p.example", 1, false), nil); err != nil {
		t.Fatalf("after cancel/timeouts: %v", err)
	}

	// Touch timeout option.
	_, d2 := openSoftKey(t, softkey.Config{Presence: softkey.Delayed(10 * time.Second)}, nil, hid.WithTouchTimeout(250*time.Millisecond))
	start = time.Now()
	_, err = d2.MakeCredential(ctx, mcReq("p.example", 1, false), nil)
	wantErr(t, "touch timeout", err, hid.ErrTimeout)
	if el := time.Since(start); el < 200*time.Millisecond || el > 2*time.Second {
		t.Errorf("touch timeout after %v", el)
	}
}

func TestSoftkeySelection(t *testing.T) {
	a, d := openSoftKey(t, softkey.Config{}, nil, hid.WithTouchTimeout(3*time.Second))
	ctx := context.Background()
	if err := d.Selection(ctx); err != nil {
		t.Fatalf("Selection: %v", err)
	}
	a.SetPresence(softkey.Delayed(10 * time.Second))
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	wantErr(t, "selection cancelled", d.Selection(cctx), hid.ErrCancelled)
	if el := time.Since(start); el > time.Second {
		t.Errorf("cancel took %v", el)
	}
}

func TestSoftkeyCredentialManagement(t *testing.T) {
	_, d := openSoftKey(t, softkey.Config{}, testPIN)
	ctx := context.Background()
	var ids [][]byte
	for i, rp := range []string{"a.example", "a.example", "b.example"} {
		req := mcReq(rp, byte(i+1), true)
		req.CredProtect = hid.CredProtectUVRequired
		c, err := d.MakeCredential(ctx, req, testPIN)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	md, err := d.CredentialMetadata(ctx, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if md.Existing != 3 || md.Remaining != 22 {
		t.Fatalf("metadata = %+v", md)
	}
	rps, err := d.RelyingParties(ctx, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if len(rps) != 2 {
		t.Fatalf("RPs = %+v", rps)
	}
	for _, rp := range rps {
		if h := sha256.Sum256([]byte(rp.ID)); !bytes.Equal(rp.IDHash, h[:]) {
			t.Errorf("RP %q hash %x", rp.ID, rp.IDHash)
		}
	}
	creds, err := d.Credentials(ctx, "a.example", testPIN)
	if err != nil {
		t.Fatal(err)
	}
	if len(creds) != 2 {
		t.Fatalf("credentials = %+v", creds)
	}
	for _, c := range creds {
		if c.CredProtect != hid.CredProtectUVRequired || len(c.PublicKey) != 64 || c.Algorithm != hid.ES256 || len(c.UserID) == 0 || c.UserName == "" {
			t.Errorf("credential %+v", c)
		}
	}
	if err := d.UpdateUser(ctx, ids[0], hid.User{ID: []byte{1, 0xaa}, Name: "renamed", DisplayName: "Renamed"}, testPIN); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	creds, _ = d.Credentials(ctx, "a.example", testPIN)
	if !slices.ContainsFunc(creds, func(c hid.ResidentCredential) bool { return c.UserName == "renamed" && c.DisplayName == "Renamed" }) {
		t.Errorf("update not visible: %+v", creds)
	}
	if err := d.DeleteCredential(ctx, ids[2], testPIN); err != nil {
		t.Fatal(err)
	}
	_, err = d.Credentials(ctx, "b.example", testPIN)
	wantErr(t, "credentials of emptied RP", err, hid.ErrNoCredentials)
	wantErr(t, "delete twice", d.DeleteCredential(ctx, ids[2], testPIN), hid.ErrNoCredentials)
	_, err = d.CredentialMetadata(ctx, wrongPIN)
	wantErr(t, "metadata with wrong PIN", err, hid.ErrPINInvalid)
}

func TestSoftkeyConfig(t *testing.T) {
	_, d := openSoftKey(t, softkey.Config{}, testPIN)
	ctx := context.Background()
	if err := d.ToggleAlwaysUV(ctx, testPIN); err != nil {
		t.Fatal(err)
	}
	in, err := d.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := in.Option("alwaysUv"); !v {
		t.Errorf("alwaysUv = %v after toggle", v)
	}
	wantErr(t, "config with wrong PIN", d.ToggleAlwaysUV(ctx, wrongPIN), hid.ErrPINInvalid)
	// The softkey has no enterprise attestation.
	err = d.EnableEnterpriseAttestation(ctx, testPIN)
	var he *hid.Error
	if err == nil || !errors.As(err, &he) {
		t.Fatalf("EnableEnterpriseAttestation = %v, want a typed error", err)
	}
}

func TestSoftkeySelectionTimeout(t *testing.T) {
	a, d := openSoftKey(t, softkey.Config{Presence: softkey.Delayed(10 * time.Second)}, nil, hid.WithTouchTimeout(300*time.Millisecond))
	start := time.Now()
	wantErr(t, "selection timeout", d.Selection(context.Background()), hid.ErrTimeout)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
	a.SetPresence(softkey.Instant())
	if _, err := d.MakeCredential(context.Background(), mcReq("sel.example", 1, false), nil); err != nil {
		t.Fatalf("after selection timeout: %v", err)
	}
}

// Cancel and Close hammered from other goroutines while operations run.
func TestSoftkeyCancelCloseRace(t *testing.T) {
	a, d := openSoftKey(t, softkey.Config{}, nil)
	a.SetPresence(softkey.Delayed(20 * time.Millisecond))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				d.Cancel()
				_ = d.HasPIN()
				time.Sleep(time.Millisecond)
			}
		}
	}()
	for i := 0; i < 20; i++ {
		_, err := d.MakeCredential(context.Background(), mcReq("race.example", 1, false), nil)
		if err != nil && !errors.Is(err, hid.ErrCancelled) {
			var he *hid.Error
			if !errors.As(err, &he) {
				t.Fatalf("untyped %v", err)
			}
		}
	}
	go func() { time.Sleep(10 * time.Millisecond); _ = d.Close() }()
	for i := 0; i < 5; i++ {
		_, _ = d.Info(context.Background())
	}
	close(stop)
	wg.Wait()
}
