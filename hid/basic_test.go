//go:build cgo

package hid_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/keyprep/keyprep/hid"
)

func openT(t testing.TB, path string, opts ...hid.Option) *hid.Device {
	t.Helper()
	d, err := hid.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestEnumerateListsVirtualKeys(t *testing.T) {
	path := plugIn(t, &fakeAuth{})
	devs, err := hid.Enumerate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(devs, func(d hid.DeviceInfo) bool { return d.Path == path }) {
		t.Fatalf("Enumerate = %+v, missing %s", devs, path)
	}
}

func TestOpenInfoAllFields(t *testing.T) {
	d := openT(t, plugIn(t, &fakeAuth{}))
	if d.Path() == "" || !d.IsFIDO2() {
		t.Fatalf("Path=%q IsFIDO2=%v", d.Path(), d.IsFIDO2())
	}
	if d.HasPIN() || !d.SupportsPIN() || !d.SupportsCredMan() || !d.SupportsCredProtect() {
		t.Errorf("getters: HasPIN=%v SupportsPIN=%v CredMan=%v CredProt=%v", d.HasPIN(), d.SupportsPIN(), d.SupportsCredMan(), d.SupportsCredProtect())
	}
	if c := d.CTAPHIDInfo(); c.Protocol != 2 || c.Capabilities&0x04 == 0 {
		t.Errorf("CTAPHIDInfo = %+v", c)
	}
	in, err := d.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &hid.Info{
		Versions:              []string{"FIDO_2_0", "FIDO_2_1"},
		Extensions:            []string{"credProtect", "hmac-secret", "minPinLength"},
		AAGUID:                fakeAAGUID,
		Options:               map[string]bool{"rk": true, "up": true, "clientPin": false, "credMgmt": true, "setMinPINLength": true, "alwaysUv": false},
		PINProtocols:          []int{2, 1},
		MaxMsgSize:            1200,
		MaxCredCountInList:    8,
		MaxCredIDLength:       128,
		Transports:            []string{"usb"},
		Algorithms:            []hid.Algorithm{{Type: "public-key", COSE: -7}, {Type: "public-key", COSE: -257}},
		MaxLargeBlob:          1024,
		ForcePINChange:        true,
		MinPINLength:          6,
		FirmwareVersion:       0x010203,
		MaxCredBlobLength:     32,
		MaxRPIDsMinPINLength:  2,
		UVAttempts:            8,
		UVModality:            4,
		Certifications:        map[string]uint64{"FIDO": 2},
		RemainingResidentKeys: 25,
	}
	if diff := compareInfo(in, want); diff != "" {
		t.Errorf("Info mismatch: %s\n got %+v\nwant %+v", diff, in, want)
	}
	out, inRep := d.ReportStats()
	if out != 3 || inRep < 4 {
		t.Errorf("ReportStats = %d out, %d in; want 3 out (INIT, 2×getInfo), ≥4 in", out, inRep)
	}
}

func compareInfo(a, b *hid.Info) string {
	switch {
	case !slices.Equal(a.Versions, b.Versions):
		return "Versions"
	case !slices.Equal(a.Extensions, b.Extensions):
		return "Extensions"
	case a.AAGUID != b.AAGUID:
		return "AAGUID"
	case len(a.Options) != len(b.Options):
		return "Options"
	case !slices.Equal(a.PINProtocols, b.PINProtocols):
		return "PINProtocols"
	case !slices.Equal(a.Transports, b.Transports):
		return "Transports"
	case !slices.Equal(a.Algorithms, b.Algorithms):
		return "Algorithms"
	case len(a.Certifications) != len(b.Certifications) || a.Certifications["FIDO"] != b.Certifications["FIDO"]:
		return "Certifications"
	}
	for k, v := range b.Options {
		if got, ok := a.Option(k); !ok || got != v {
			return "Options[" + k + "]"
		}
	}
	x, y := *a, *b
	x.Versions, x.Extensions, x.Options, x.PINProtocols, x.Transports, x.Algorithms, x.Certifications = nil, nil, nil, nil, nil, nil, nil
	y.Versions, y.Extensions, y.Options, y.PINProtocols, y.Transports, y.Algorithms, y.Certifications = nil, nil, nil, nil, nil, nil, nil
	if x.MaxMsgSize != y.MaxMsgSize || x.MaxCredCountInList != y.MaxCredCountInList || x.MaxCredIDLength != y.MaxCredIDLength ||
		x.MaxLargeBlob != y.MaxLargeBlob || x.ForcePINChange != y.ForcePINChange || x.MinPINLength != y.MinPINLength ||
		x.FirmwareVersion != y.FirmwareVersion || x.MaxCredBlobLength != y.MaxCredBlobLength ||
		x.MaxRPIDsMinPINLength != y.MaxRPIDsMinPINLength || x.UVAttempts != y.UVAttempts || x.UVModality != y.UVModality ||
		x.RemainingResidentKeys != y.RemainingResidentKeys {
		return "scalar fields"
	}
	return ""
}

func TestOpenUnknownVirtualKey(t *testing.T) {
	_, err := hid.Open(context.Background(), "vkey:does-not-exist")
	if err == nil || hid.CodeOf(err) != hid.CodeNotFound {
		t.Fatalf("Open unknown = %v, want CodeNotFound", err)
	}
}

// A key whose getInfo fails must not be accepted as a U2F device, on any
// thread (fido_init runs in the same C call as fido_dev_open, docs/ctap.md §7.4).
func TestOpenNoU2FFallbackOnEveryThread(t *testing.T) {
	path := plugIn(t, &fakeAuth{failGetInfo: true})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 8 {
				d, err := hid.Open(context.Background(), path)
				if err == nil {
					_ = d.Close()
					errs <- errors.New("open succeeded (silent U2F fallback)")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestTimeoutOption(t *testing.T) {
	auth := &fakeAuth{}
	d := openT(t, plugIn(t, auth), hid.WithTimeout(200*time.Millisecond))
	auth.setDelay(2*time.Second, false)
	start := time.Now()
	_, err := d.Info(context.Background())
	el := time.Since(start)
	if !errors.Is(err, hid.ErrTimeout) || hid.CodeOf(err) != hid.CodeDeadline {
		t.Fatalf("Info on slow key = %v (code %v), want ErrTimeout/CodeDeadline", err, hid.CodeOf(err))
	}
	if el < 150*time.Millisecond || el > time.Second {
		t.Errorf("timed out after %v, want ≈200ms", el)
	}
	// The session recovers: the key was cancelled and stale reports dropped.
	auth.setDelay(0, false)
	if _, err := d.Info(context.Background()); err != nil {
		t.Fatalf("Info after timeout: %v", err)
	}
}

func TestContextDeadline(t *testing.T) {
	auth := &fakeAuth{}
	d := openT(t, plugIn(t, auth))
	auth.setDelay(2*time.Second, false)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Info(ctx)
	if !errors.Is(err, hid.ErrTimeout) {
		t.Fatalf("Info = %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %v", el)
	}
	// An already expired context fails without talking to the key.
	_, err = d.Info(ctx)
	if !errors.Is(err, hid.ErrTimeout) {
		t.Fatalf("Info(expired ctx) = %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		name := "key-honours-cancel"
		if ignore {
			name = "key-ignores-cancel"
		}
		t.Run(name, func(t *testing.T) {
			// The key would answer after 3 s (an answer, not an error,
			// if the cancel were lost); the context is cancelled once
			// the key waits.
			auth := &fakeAuth{}
			d := openT(t, plugIn(t, auth))
			auth.setDelay(3*time.Second, ignore)
			ctx, cancel := context.WithCancel(context.Background())
			waiting := auth.waitingSignal()
			go func() { <-waiting; cancel() }()
			_, err := d.Info(ctx)
			if !errors.Is(err, hid.ErrCancelled) || hid.CodeOf(err) != hid.CodeCancelled {
				t.Fatalf("Info = %v (code %v), want ErrCancelled/CodeCancelled", err, hid.CodeOf(err))
			}
			if !ignore {
				auth.setDelay(0, false)
				if _, err := d.Info(context.Background()); err != nil {
					t.Fatalf("Info after cancel: %v", err)
				}
			}
		})
	}
}

func TestExplicitCancel(t *testing.T) {
	auth := &fakeAuth{}
	d := openT(t, plugIn(t, auth))
	auth.setDelay(3*time.Second, false)
	waiting := auth.waitingSignal()
	go func() { <-waiting; d.Cancel() }()
	_, err := d.Info(context.Background())
	if !errors.Is(err, hid.ErrCancelled) || hid.CodeOf(err) != hid.CodeKeepaliveCancel {
		t.Fatalf("Info = %v, want KEEPALIVE_CANCEL", err)
	}
}

func TestCloseDuringOperation(t *testing.T) {
	auth := &fakeAuth{}
	d, err := hid.Open(context.Background(), plugIn(t, auth))
	if err != nil {
		t.Fatal(err)
	}
	auth.setDelay(3*time.Second, false)
	waiting := auth.waitingSignal()
	done := make(chan error, 1)
	go func() { _, err := d.Info(context.Background()); done <- err }()
	<-waiting // the key is busy with the Info
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, hid.ErrCancelled) {
		t.Errorf("Info = %v", err)
	}
	if _, err := d.Info(context.Background()); err == nil {
		t.Error("Info on closed device succeeded")
	}
	d.Cancel() // no-op
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestPINWithNULRejected(t *testing.T) {
	d := openT(t, plugIn(t, &fakeAuth{}))
	err := d.SetPIN(context.Background(), []byte("12\x0034"))
	if hid.CodeOf(err) != hid.CodeInvalidArgument {
		t.Fatalf("SetPIN(NUL) = %v", err)
	}
	if err := d.SetPIN(context.Background(), nil); hid.CodeOf(err) != hid.CodeInvalidArgument {
		t.Fatalf("SetPIN(nil) = %v", err)
	}
}

// Sessions on different keys run in parallel. (Concurrent sessions on one
// key are not expected to work: like a real key, the CTAPHID device answers
// CHANNEL_BUSY, which libfido2 reports as FIDO_ERR_RX.)
// Each key answers with its own firmware version, so an answer that went to
// the wrong session shows.
func TestConcurrentDevices(t *testing.T) {
	var wg sync.WaitGroup
	auths := make([]*fakeAuth, 4)
	for i := range auths {
		auths[i] = &fakeAuth{}
		auths[i].setResponse(0x04, append([]byte{0}, infoWithFirmware(t, uint64(100+i))...))
		path := plugIn(t, auths[i])
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := hid.Open(context.Background(), path)
			if err != nil {
				t.Error(err)
				return
			}
			defer d.Close()
			for range 20 {
				info, err := d.Info(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if info.FirmwareVersion != uint64(100+i) {
					t.Errorf("%s answered firmware %d, want %d (another key's answer)", path, info.FirmwareVersion, 100+i)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, a := range auths {
		a.mu.Lock()
		n := 0
		for _, c := range a.commands {
			if c == 0x04 {
				n++
			}
		}
		a.mu.Unlock()
		if n < 20 {
			t.Errorf("key %d served %d getInfo, want at least 20 (one per Info)", i, n)
		}
	}
}

// infoWithFirmware is the fake key's getInfo with another firmwareVersion.
func infoWithFirmware(t *testing.T, fw uint64) []byte {
	t.Helper()
	var m map[int]any
	if err := cbor.Unmarshal(fakeInfoCBOR, &m); err != nil {
		t.Fatal(err)
	}
	m[14] = fw
	return mustCanonical(m)
}

// MakeCredential's output decoding against a canned, well-formed answer.
func TestMakeCredentialDecodesCannedAnswer(t *testing.T) {
	auth := &fakeAuth{}
	d := openT(t, plugIn(t, auth))
	auth.setResponse(0x01, validMakeCredResponse("canned.example", true))
	c, err := d.MakeCredential(context.Background(), hid.MakeCredentialRequest{
		ClientDataHash: make([]byte, 32),
		RP:             hid.RelyingParty{ID: "canned.example", Name: "Canned"},
		User:           hid.User{ID: []byte{9}, Name: "u", DisplayName: "U"},
		CredProtect:    hid.CredProtectUVOptionalWithCredID,
		HMACSecret:     true,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != "none" || len(c.ID) != 32 || len(c.PublicKey) != 64 || c.SignCount != 7 || c.Flags != 0xc1 ||
		c.Algorithm != hid.ES256 || c.CredProtect != hid.CredProtectUVOptionalWithCredID || !c.HMACSecret ||
		c.MinPINLength != 6 || [16]byte(c.AAGUID) != fakeAAGUID || len(c.AuthDataCBOR) <= len(c.AuthData) || len(c.AttStmt) == 0 {
		t.Fatalf("credential = %+v", c)
	}
}

func TestDoneContextBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := hid.Enumerate(ctx); !errors.Is(err, hid.ErrCancelled) {
		t.Errorf("Enumerate = %v", err)
	}
	if _, err := hid.Open(ctx, plugIn(t, &fakeAuth{})); !errors.Is(err, hid.ErrCancelled) {
		t.Errorf("Open = %v", err)
	}
}

func TestEnforceCredProtect(t *testing.T) {
	ctx := context.Background()
	req := hid.MakeCredentialRequest{
		ClientDataHash:     make([]byte, 32),
		RP:                 hid.RelyingParty{ID: "canned.example"},
		User:               hid.User{ID: []byte{9}},
		CredProtect:        hid.CredProtectUVRequired,
		EnforceCredProtect: true,
	}
	// The key answers with a lower level than requested.
	auth := &fakeAuth{}
	d := openT(t, plugIn(t, auth))
	auth.setResponse(0x01, validMakeCredResponse("canned.example", true))
	c, err := d.MakeCredential(ctx, req, nil)
	if hid.CodeOf(err) != hid.CodeUnsupportedExtension || c == nil || c.CredProtect != hid.CredProtectUVOptionalWithCredID {
		t.Fatalf("downgraded credProtect: %v, %+v", err, c)
	}
	// A key without credProtect is refused before anything is sent.
	plain := &fakeAuth{}
	plain.setResponse(0x04, append([]byte{0}, mustCanonical(map[int]any{1: []string{"FIDO_2_0"}, 3: fakeAAGUID[:]})...))
	d2 := openT(t, plugIn(t, plain))
	if d2.SupportsCredProtect() {
		t.Fatal("SupportsCredProtect on a key without the extension")
	}
	out0, _ := d2.ReportStats()
	if _, err := d2.MakeCredential(ctx, req, nil); hid.CodeOf(err) != hid.CodeUnsupportedExtension {
		t.Fatalf("no credProtect support: %v", err)
	}
	if out, _ := d2.ReportStats(); out != out0 {
		t.Error("request sent to a key without credProtect")
	}
}

// An enforced credProtect level 1 (userVerificationOptional) is every
// credential's baseline (CTAP 2.1 §12.1): a key that echoes no output has
// applied it, and a key without the extension is not refused for it.
func TestEnforceCredProtectBaseline(t *testing.T) {
	ctx := context.Background()
	req := hid.MakeCredentialRequest{
		ClientDataHash:     make([]byte, 32),
		RP:                 hid.RelyingParty{ID: "canned.example"},
		User:               hid.User{ID: []byte{9}},
		CredProtect:        hid.CredProtectUVOptional,
		EnforceCredProtect: true,
	}
	auth := &fakeAuth{}
	d := openT(t, plugIn(t, auth))
	auth.setResponse(0x01, validMakeCredResponse("canned.example", false))
	c, err := d.MakeCredential(ctx, req, nil)
	if err != nil || c == nil || c.CredProtect != hid.CredProtectNone {
		t.Fatalf("level 1 not echoed: %v, %+v", err, c)
	}
	if got := hid.EffectiveCredProtect(c.CredProtect); got != hid.CredProtectUVOptional {
		t.Errorf("effective level %d, want 1", got)
	}
	// Level 2 not echoed is a downgrade.
	req.CredProtect = hid.CredProtectUVOptionalWithCredID
	if c, err := d.MakeCredential(ctx, req, nil); hid.CodeOf(err) != hid.CodeUnsupportedExtension || c == nil {
		t.Fatalf("level 2 not echoed: %v, %+v", err, c)
	}
	plain := &fakeAuth{}
	plain.setResponse(0x04, append([]byte{0}, mustCanonical(map[int]any{1: []string{"FIDO_2_0"}, 3: fakeAAGUID[:]})...))
	plain.setResponse(0x01, validMakeCredResponse("canned.example", false))
	d2 := openT(t, plugIn(t, plain))
	req.CredProtect = hid.CredProtectUVOptional
	if _, err := d2.MakeCredential(ctx, req, nil); err != nil {
		t.Fatalf("level 1 on a key without credProtect: %v", err)
	}
}

// Windows Hello is never opened as a key, whatever the platform.
func TestOpenPlatformPathRefused(t *testing.T) {
	for _, p := range []string{"windows://hello", "Windows://Hello"} {
		d, err := hid.Open(context.Background(), p)
		if err == nil {
			d.Close()
			t.Fatalf("Open(%s) succeeded", p)
		}
		if !errors.Is(err, hid.ErrNotFound) {
			t.Fatalf("Open(%s) = %v, want ErrNotFound", p, err)
		}
	}
}
