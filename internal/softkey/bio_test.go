package softkey

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// bioClient is a test client on a factory-new YubiKey Bio model with a PIN.
func bioClient(t *testing.T, f Finger) (*Authenticator, *testClient) {
	t.Helper()
	a, _ := newKey(t, Config{Model: must(LookupModel("yubikey-bio-5.5")), Finger: f})
	c := newClient(t, a, 2)
	wantStatus(t, "set PIN", c.setPIN(goodPIN), StatusOK)
	return a, c
}

// bio sends an authenticatorBioEnrollment request (cmd 0x09 or 0x40)
// authenticated with tok (nil: no pinUvAuthParam).
func (c *testClient) bio(cmd byte, tok []byte, sub byte, sp map[int]any) (Status, map[int]cbor.RawMessage) {
	c.t.Helper()
	req := map[int]any{1: 1, 2: sub}
	msg := []byte{1, sub}
	if sp != nil {
		b, _ := encMode.Marshal(sp)
		req[3] = cbor.RawMessage(b)
		msg = append(msg, b...)
	}
	if tok != nil {
		req[4] = c.proto
		req[5] = c.authParam(tok, msg)
	}
	return c.do(cmd, req)
}

type bioResult struct {
	id        []byte
	status    int
	remaining int
}

func decodeBio(t *testing.T, m map[int]cbor.RawMessage) bioResult {
	t.Helper()
	var r bioResult
	if raw, ok := m[4]; ok {
		cbor.Unmarshal(raw, &r.id)
	}
	cbor.Unmarshal(m[5], &r.status)
	cbor.Unmarshal(m[6], &r.remaining)
	return r
}

func optionOf(t *testing.T, c *testClient, name string) bool {
	t.Helper()
	gi, _ := decodeGetInfo(t, c)
	v, ok := gi.Option(name)
	if !ok {
		t.Fatalf("getInfo has no option %q", name)
	}
	return v
}

// enroll runs a whole enrollment and returns the template id and the
// statuses reported per sample.
func (c *testClient) enroll(cmd byte, tok []byte) ([]byte, []int, Status) {
	c.t.Helper()
	st, m := c.bio(cmd, tok, bioSubEnrollBegin, map[int]any{3: 10000})
	if st != StatusOK {
		return nil, nil, st
	}
	r := decodeBio(c.t.(*testing.T), m)
	id, seen := r.id, []int{r.status}
	for r.remaining > 0 {
		if len(seen) > 50 {
			c.t.Fatal("enrollment does not end")
		}
		st, m = c.bio(cmd, tok, bioSubEnrollNextSample, map[int]any{1: id, 3: 10000})
		if st != StatusOK {
			return id, seen, st
		}
		r = decodeBio(c.t.(*testing.T), m)
		seen = append(seen, r.status)
	}
	return id, seen, StatusOK
}

func TestBioEnrollmentSamples(t *testing.T) {
	G, P, T := FingerGood, FingerPoor, FingerTimeout
	for _, tc := range []struct {
		name    string
		cmd     byte
		samples []FingerSample
		want    []int  // lastEnrollSampleStatus per sample
		status  Status // of the whole enrollment
		stored  int    // templates afterwards
		pending bool
	}{
		{"all good", CmdBioEnrollment, nil, []int{0, 0, 0, 0, 0}, StatusOK, 1, false},
		{"preview command", CmdBioEnrollmentPreview, []FingerSample{G}, []int{0, 0, 0, 0, 0}, StatusOK, 1, false},
		{"poor samples are retried", CmdBioEnrollment, []FingerSample{P, G, P, P, G}, []int{7, 0, 7, 7, 0, 0, 0, 0}, StatusOK, 1, false},
		{"timeout at the first sample", CmdBioEnrollment, []FingerSample{T}, nil, StatusUserActionTimeout, 0, true},
		{"timeout midway", CmdBioEnrollment, []FingerSample{G, G, T}, []int{0, 0}, StatusUserActionTimeout, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, c := bioClient(t, Finger{Samples: tc.samples})
			if optionOf(t, c, "uv") || optionOf(t, c, "bioEnroll") {
				t.Fatal("uv/bioEnroll true before any enrollment")
			}
			tok, st := c.token(goodPIN, PermBioEnrollment, "")
			wantStatus(t, "be token", st, StatusOK)
			_, seen, st := c.enroll(tc.cmd, tok)
			wantStatus(t, "enroll", st, tc.status)
			if !equalInts(seen, tc.want) {
				t.Fatalf("sample statuses %v, want %v", seen, tc.want)
			}
			s := a.Status()
			if len(s.Fingerprints) != tc.stored || s.EnrollmentPending != tc.pending {
				t.Fatalf("after: %d fingerprints, pending %v; want %d, %v", len(s.Fingerprints), s.EnrollmentPending, tc.stored, tc.pending)
			}
			if got := optionOf(t, c, "uv"); got != (tc.stored > 0) {
				t.Fatalf("uv option %v with %d fingerprints", got, tc.stored)
			}
			if got := optionOf(t, c, "bioEnroll"); got != (tc.stored > 0) {
				t.Fatalf("bioEnroll option %v with %d fingerprints", got, tc.stored)
			}
			// Cancel leaves nothing half-enrolled.
			st, _ = c.bio(tc.cmd, nil, bioSubCancelEnrollment, nil)
			wantStatus(t, "cancel", st, StatusOK)
			if a.Status().EnrollmentPending {
				t.Fatal("enrollment still pending after cancel")
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBioManageTemplates(t *testing.T) {
	a, c := bioClient(t, Finger{})
	tok, st := c.token(goodPIN, PermBioEnrollment, "")
	wantStatus(t, "be token", st, StatusOK)
	st, _ = c.bio(CmdBioEnrollment, tok, bioSubEnumerate, nil)
	wantStatus(t, "enumerate none", st, StatusInvalidOption)
	id1, _, st := c.enroll(CmdBioEnrollment, tok)
	wantStatus(t, "enroll 1", st, StatusOK)
	id2, _, st := c.enroll(CmdBioEnrollment, tok)
	wantStatus(t, "enroll 2", st, StatusOK)
	if bytes.Equal(id1, id2) {
		t.Fatal("two templates with one id")
	}
	wantStatus(t, "rename", statusOnly(c.bio(CmdBioEnrollment, tok, bioSubSetFriendlyName, map[int]any{1: id1, 2: "left index"})), StatusOK)
	st, m := c.bio(CmdBioEnrollment, tok, bioSubEnumerate, nil)
	wantStatus(t, "enumerate", st, StatusOK)
	var infos []map[int]cbor.RawMessage
	if err := cbor.Unmarshal(m[7], &infos); err != nil || len(infos) != 2 {
		t.Fatalf("templateInfos %v (%v)", infos, err)
	}
	var name string
	cbor.Unmarshal(infos[0][2], &name)
	if name != "left index" {
		t.Fatalf("name %q", name)
	}
	if _, ok := infos[1][2]; ok {
		t.Fatal("unnamed template reports a name")
	}

	for _, tc := range []struct {
		what string
		tok  []byte
		sub  byte
		sp   map[int]any
		want Status
	}{
		{"rename unknown id", tok, bioSubSetFriendlyName, map[int]any{1: []byte{9, 9, 9}, 2: "x"}, StatusInvalidOption},
		{"rename too long", tok, bioSubSetFriendlyName, map[int]any{1: id1, 2: string(bytes.Repeat([]byte("n"), BioMaxFriendlyName+1))}, StatusInvalidParameter},
		{"rename without name", tok, bioSubSetFriendlyName, map[int]any{1: id1}, StatusMissingParameter},
		{"remove unknown id", tok, bioSubRemoveEnrollment, map[int]any{1: []byte{9, 9, 9}}, StatusInvalidOption},
		{"next sample without enrollment", tok, bioSubEnrollNextSample, map[int]any{1: id1}, StatusInvalidParameter},
		{"unknown subcommand", tok, 0x09, nil, StatusInvalidSubcommand},
		{"no token", nil, bioSubEnumerate, nil, StatusPUATRequired},
		{"wrong token", bytes.Repeat([]byte{1}, 32), bioSubEnumerate, nil, StatusPINAuthInvalid},
	} {
		st, _ := c.bio(CmdBioEnrollment, tc.tok, tc.sub, tc.sp)
		wantStatus(t, tc.what, st, tc.want)
	}

	wantStatus(t, "remove", statusOnly(c.bio(CmdBioEnrollment, tok, bioSubRemoveEnrollment, map[int]any{1: id1})), StatusOK)
	if got := a.Status().Fingerprints; len(got) != 1 || got[0] != "" {
		t.Fatalf("fingerprints after remove: %q", got)
	}
	wantStatus(t, "remove last", statusOnly(c.bio(CmdBioEnrollment, tok, bioSubRemoveEnrollment, map[int]any{1: id2})), StatusOK)
	if optionOf(t, c, "uv") {
		t.Fatal("uv still true without fingerprints")
	}
}

func statusOnly(st Status, _ map[int]cbor.RawMessage) Status { return st }

func TestBioPermissionAndLimits(t *testing.T) {
	_, c := bioClient(t, Finger{})
	// A token without be (0x08) is refused.
	tok, st := c.token(goodPIN, PermCredentialMgmt, "")
	wantStatus(t, "cm token", st, StatusOK)
	st, _ = c.bio(CmdBioEnrollment, tok, bioSubEnrollBegin, nil)
	wantStatus(t, "begin with a cm token", st, StatusPINAuthInvalid)

	tok, _ = c.token(goodPIN, PermBioEnrollment, "")
	for i := range BioMaxTemplates {
		if _, _, st := c.enroll(CmdBioEnrollment, tok); st != StatusOK {
			t.Fatalf("enroll %d: %v", i, st)
		}
	}
	st, _ = c.bio(CmdBioEnrollment, tok, bioSubEnrollBegin, nil)
	wantStatus(t, "one too many", st, StatusFPDatabaseFull)

	// Sensor info and modality need no token.
	st, m := c.bio(CmdBioEnrollment, nil, bioSubGetSensorInfo, nil)
	wantStatus(t, "sensor info", st, StatusOK)
	var samples int
	cbor.Unmarshal(m[3], &samples)
	if samples != BioSamplesPerEnrollment {
		t.Fatalf("maxCaptureSamplesRequiredForEnroll %d", samples)
	}
	st, _ = c.do(CmdBioEnrollment, map[int]any{1: 2, 2: bioSubGetSensorInfo})
	wantStatus(t, "modality 2", st, StatusInvalidParameter)

	// A model without the preview option has no 0x40.
	d, _ := newKey(t, Config{})
	wantStatus(t, "0x40 on keyprep-virtual", Status(d.HandleCBOR(context.Background(), []byte{0x40, 0xA1, 0x06, 0xF5}, nil)[0]), StatusInvalidCommand)
}

// uvToken runs getPinUvAuthTokenUsingUvWithPermissions (0x06).
func (c *testClient) uvToken(perms byte, rpID string) ([]byte, Status) {
	c.t.Helper()
	ka, shared := c.keyAgreement()
	req := map[int]any{1: c.proto, 2: 6, 3: ka, 9: perms}
	if rpID != "" {
		req[10] = rpID
	}
	st, m := c.do(CmdClientPIN, req)
	if st != StatusOK {
		return nil, st
	}
	var enc []byte
	cbor.Unmarshal(m[2], &enc)
	tok, err := c.proto_().decrypt(shared, enc)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok, st
}

func (c *testClient) uvRetries() int {
	c.t.Helper()
	st, m := c.do(CmdClientPIN, map[int]any{1: c.proto, 2: 7})
	wantStatus(c.t, "getUVRetries", st, StatusOK)
	var n int
	cbor.Unmarshal(m[5], &n)
	return n
}

func TestBioUserVerification(t *testing.T) {
	a, c := bioClient(t, Finger{})
	_, st := c.uvToken(PermMakeCredential, "example.com")
	wantStatus(t, "UV token before enrollment", st, StatusNotAllowed)
	tok, _ := c.token(goodPIN, PermBioEnrollment, "")
	if _, _, st := c.enroll(CmdBioEnrollment, tok); st != StatusOK {
		t.Fatal(st)
	}

	// makeCredential through a UV token (what libfido2 does with uv and
	// no PIN on a key with pinUvAuthToken).
	uvTok, st := c.uvToken(PermMakeCredential, "example.com")
	wantStatus(t, "UV token", st, StatusOK)
	st, res := c.makeCred(mcReq{rpID: "example.com", rk: true, token: uvTok})
	wantStatus(t, "makeCredential with UV token", st, StatusOK)
	if res.flags&flagUV == 0 {
		t.Fatal("UV flag not set")
	}
	// getAssertion with the uv option and no token: built-in UV.
	st, ga := c.getAssertion("example.com", nil, nil, map[int]any{5: map[string]bool{"uv": true}})
	wantStatus(t, "getAssertion uv:true", st, StatusOK)
	if ga.authData[32]&flagUV == 0 {
		t.Fatal("assertion without UV flag")
	}

	// A poor finger uses attempts until UV is blocked; the PIN restores it.
	a.SetFinger(Finger{Samples: []FingerSample{FingerPoor}})
	for i, want := range []Status{StatusUVInvalid, StatusUVInvalid, StatusUVBlocked, StatusUVBlocked} {
		_, st := c.uvToken(PermGetAssertion, "example.com")
		wantStatus(t, "poor finger", st, want)
		if got, wantN := c.uvRetries(), max(maxUVRetries-(i+1), 0); got != wantN {
			t.Fatalf("uvRetries %d after %d poor samples, want %d", got, i+1, wantN)
		}
	}
	a.SetFinger(Finger{})
	_, st = c.uvToken(PermGetAssertion, "example.com")
	wantStatus(t, "blocked until the PIN is used", st, StatusUVBlocked)
	if _, st := c.token(goodPIN, PermGetAssertion, "example.com"); st != StatusOK {
		t.Fatal(st)
	}
	_, st = c.uvToken(PermGetAssertion, "example.com")
	wantStatus(t, "after PIN", st, StatusOK)

	a.SetFinger(Finger{Samples: []FingerSample{FingerTimeout}})
	_, st = c.uvToken(PermGetAssertion, "example.com")
	wantStatus(t, "no finger", st, StatusUserActionTimeout)
	if c.uvRetries() != maxUVRetries {
		t.Fatal("a timeout used a UV attempt")
	}
}

func TestBioTimeoutWaitsAndCancels(t *testing.T) {
	// A timeout sample with a delay waits (keepalive UPNEEDED) until the
	// host cancels.
	_, c := bioClient(t, Finger{Samples: []FingerSample{FingerTimeout}, Delay: time.Hour})
	tok, _ := c.token(goodPIN, PermBioEnrollment, "")
	ctx, cancel := context.WithCancel(context.Background())
	c.ctx = ctx
	msg := []byte{1, bioSubEnrollBegin}
	req := map[int]any{1: 1, 2: bioSubEnrollBegin, 4: 2, 5: c.authParam(tok, msg)}
	b, _ := encMode.Marshal(req)
	got := c.a.HandleCBOR(ctx, append([]byte{CmdBioEnrollment}, b...), func(s byte) {
		if s == 2 {
			cancel()
		}
	})
	wantStatus(t, "cancelled capture", Status(got[0]), StatusKeepaliveCancel)
}

func TestBioStatePersists(t *testing.T) {
	path := t.TempDir() + "/bio.json"
	m := must(LookupModel("yubikey-bio-5.5"))
	a, err := Open(path, Config{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, a, 2)
	c.setPIN(goodPIN)
	tok, _ := c.token(goodPIN, PermBioEnrollment, "")
	if _, _, st := c.enroll(CmdBioEnrollment, tok); st != StatusOK {
		t.Fatal(st)
	}
	b, err := Open(path, Config{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(b.Status().Fingerprints); n != 1 {
		t.Fatalf("%d fingerprints after reopening", n)
	}
}

func FuzzParseBioRequest(f *testing.F) {
	for _, v := range []map[int]any{
		{6: true},
		{1: 1, 2: 7},
		{1: 1, 2: 1, 3: map[int]any{3: 10000}, 4: 2, 5: make([]byte, 32)},
		{1: 1, 2: 2, 3: map[int]any{1: []byte{1, 2}, 3: 10000}, 4: 1, 5: make([]byte, 16)},
		{1: 1, 2: 5, 3: map[int]any{1: []byte{1, 2}, 2: "thumb"}, 4: 2, 5: make([]byte, 32)},
		{1: 1, 2: 3},
	} {
		f.Add(encode(v))
	}
	f.Add([]byte{0xA1, 0x03, 0xF6})
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseBioRequest(body)
		if err != nil {
			if statusOf(err) == StatusOther {
				t.Fatalf("parse error without a CTAP status: %v", err)
			}
			return
		}
		if r.hasID && r.rawSub == nil {
			t.Fatal("templateId without subCommandParams")
		}
		// A bio key answers every parsed request with a status, never a panic.
		a, err := New(Config{Model: must(LookupModel("yubikey-bio-5.5"))})
		if err != nil {
			t.Fatal(err)
		}
		resp := a.HandleCBOR(context.Background(), append([]byte{CmdBioEnrollment}, body...), nil)
		if len(resp) == 0 || Status(resp[0]) == StatusOther {
			t.Fatalf("response %x", resp)
		}
	})
}
