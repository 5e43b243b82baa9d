package graph

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/softkey"
	"github.com/keyprep/keyprep/internal/webauthn"
)

// The client against the emulated tenant: the same HTTP the CLI and the
// workflow use, with the tenant verifying every registration with
// go-webauthn.

type simEnv struct {
	tenant *entrasim.Tenant
	srv    *httptest.Server
	client *Client
	token  string
	mu     sync.Mutex
	now    time.Time
}

func newSimEnv(t *testing.T, perms []string, mod ...func(*entrasim.Options)) *simEnv {
	t.Helper()
	e := &simEnv{token: entrasim.NewToken(), now: time.Now()}
	o := entrasim.Options{
		Tokens: map[string]entrasim.Identity{e.token: {Name: "test", Permissions: perms}},
		Now:    func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now },
	}
	for _, m := range mod {
		m(&o)
	}
	tn, err := entrasim.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	e.tenant = tn
	e.srv = httptest.NewServer(tn)
	t.Cleanup(func() { e.srv.Close(); _ = tn.Close() })
	tok, _ := NewStaticToken(e.token)
	e.client, err = New(context.Background(), Options{BaseURL: e.srv.URL, Credential: tok,
		Retry: RetryPolicy{MaxRetries: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Second}, ReconcileDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *simEnv) advance(d time.Duration) { e.mu.Lock(); e.now = e.now.Add(d); e.mu.Unlock() }

// testKey is a minimal test-side authenticator with the virtual key's AAGUID
// and its packed batch attestation (internal/softkey/testca).
type testKey struct {
	leaf []byte
	key  *ecdsa.PrivateKey
}

func loadTestKey(t *testing.T) *testKey {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "softkey", "testca", name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		return blk.Bytes
	}
	k, err := x509.ParsePKCS8PrivateKey(read("batch-attestation.key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{leaf: read("batch-attestation.pem"), key: k.(*ecdsa.PrivateKey)}
}

// register builds the Graph registration body for opts as a real key would
// (rk credential, UP|UV|AT, packed attestation).
func (k *testKey) register(t *testing.T, raw []byte, name string) ([]byte, []byte) {
	t.Helper()
	opts, err := webauthn.ParseCreationOptions(raw)
	if err != nil {
		t.Fatal(err)
	}
	cdj := webauthn.ClientDataJSON(opts)
	credKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	credID := make([]byte, 32)
	_, _ = rand.Read(credID)
	pt, err := credKey.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	cose, _ := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pt[1:33], -3: pt[33:65]})
	rpHash := sha256.Sum256([]byte(opts.RP.ID))
	aaguid := uuid.MustParse(softkey.AAGUIDString)
	ad := append([]byte{}, rpHash[:]...)
	ad = append(ad, 0x45) // UP|UV|AT
	ad = binary.BigEndian.AppendUint32(ad, 1)
	ad = append(ad, aaguid[:]...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(credID)))
	ad = append(ad, credID...)
	ad = append(ad, cose...)
	cdh := sha256.Sum256(cdj)
	digest := sha256.Sum256(append(append([]byte{}, ad...), cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	stmt, _ := cbor.Marshal(map[string]any{"alg": -7, "sig": sig, "x5c": [][]byte{k.leaf}})
	att, err := webauthn.AttestationObject("packed", ad, stmt)
	if err != nil {
		t.Fatal(err)
	}
	body, err := webauthn.RegistrationBody(name, credID, cdj, att, webauthn.ClientExtensionResults{})
	if err != nil {
		t.Fatal(err)
	}
	return body, credID
}

func TestSimRegistrationLifecycle(t *testing.T) {
	// The least-privileged set, and what the beta creationOptions (a
	// challenge lifetime) documents.
	e := newSimEnv(t, append([]string{"UserAuthenticationMethod.ReadWrite.All"}, entrasim.LeastPrivileged...))
	c, ctx := e.client, context.Background()
	k := loadTestKey(t)
	u, err := c.GetUser(ctx, "Adele.Vance@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	if u.DisplayName != "Adele Vance" || u.IsGuest() {
		t.Fatalf("user %+v", u)
	}
	raw, err := c.CreationOptions(ctx, u.UserPrincipalName, 0)
	if err != nil {
		t.Fatal(err)
	}
	body, credID := k.register(t, raw, "keyprep test key")
	m, err := c.RegisterFido2Method(ctx, u.ID, body)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if m.AAGUID != softkey.AAGUIDString || m.AttestationLevel != "attested" || m.DisplayName != "keyprep test key" || m.Model == "" {
		t.Errorf("created %+v", m)
	}
	// The challenge was single-use: a new credential, made over the same
	// options (so not already registered), is refused for its challenge.
	again, _ := k.register(t, raw, "keyprep test key 2")
	if _, err := c.RegisterFido2Method(ctx, u.ID, again); !errors.Is(err, ErrChallengeExpired) {
		t.Errorf("a second credential over a used challenge: %v, want ErrChallengeExpired", err)
	}
	// Replaying the same body is refused too (for its challenge or as a
	// credential already registered), and registers nothing.
	if _, err := c.RegisterFido2Method(ctx, u.ID, body); !errors.Is(err, ErrChallengeExpired) && !errors.Is(err, ErrAlreadyRegistered) {
		t.Errorf("replay: %v", err)
	}
	if ms, err := c.ListFido2Methods(ctx, u.ID); err != nil || len(ms) != 1 {
		t.Errorf("after the refused registrations: %d methods, %v; want 1", len(ms), err)
	}
	// The next options exclude the registered credential, in every live
	// encoding, and internal/webauthn decodes each.
	for _, enc := range []string{"base64url", "std", "digit"} {
		if err := e.tenant.SetQuirks(entrasim.Quirks{ExcludeEncoding: enc, WrapValue: enc == "digit", ODataTypes: enc == "std"}); err != nil {
			t.Fatal(err)
		}
		raw, err := c.CreationOptions(ctx, u.ID, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		opts, err := webauthn.ParseCreationOptions(raw)
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		// The digit-suffix form is ambiguous; the decoder offers both
		// readings (AltID) and both go into the key's exclude list.
		if len(opts.ExcludeCredentials) != 1 || (string(opts.ExcludeCredentials[0].ID) != string(credID) && string(opts.ExcludeCredentials[0].AltID) != string(credID)) {
			t.Errorf("%s: exclude list %+v", enc, opts.ExcludeCredentials)
		}
	}
	ms, err := c.ListFido2Methods(ctx, u.UserPrincipalName)
	if err != nil || len(ms) != 1 || ms[0].ID != m.ID {
		t.Fatalf("list: %v %+v", err, ms)
	}
	if err := c.DeleteFido2Method(ctx, u.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteFido2Method(ctx, u.ID, m.ID); !errors.Is(err, ErrMethodNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestSimExpiredChallengeAndGuest(t *testing.T) {
	e := newSimEnv(t, nil)
	c, ctx := e.client, context.Background()
	raw, err := c.CreationOptions(ctx, "lee.gu@contoso.test", 0)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := loadTestKey(t).register(t, raw, "late")
	e.advance(6 * time.Minute)
	_, err = c.RegisterFido2Method(ctx, "lee.gu@contoso.test", body)
	if !errors.Is(err, ErrChallengeExpired) || Hint(err) == "" {
		t.Errorf("expired challenge: %v", err)
	}
	_, err = c.CreationOptions(ctx, "kim_fabrikam.com#EXT#@contoso.test", 0)
	if !errors.Is(err, ErrGuestUser) {
		t.Errorf("guest: %v", err)
	}
	_, err = c.CreationOptions(ctx, "outside.user@contoso.test", 0)
	if !errors.Is(err, ErrMethodDisabled) {
		t.Errorf("outside the policy: %v", err)
	}
	fp, err := c.GetFido2Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fp.IsSelfServiceRegistrationAllowed = false
	if err := c.UpdateFido2Policy(ctx, fp); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreationOptions(ctx, "lee.gu@contoso.test", 0)
	if !errors.Is(err, ErrSelfServiceSetupOff) {
		t.Errorf("self-service off: %v", err)
	}
}

// An ambiguous POST (applied, then the connection dropped) is not repeated:
// listing the user's methods finds it.
func TestSimAmbiguousRegistrationReconciled(t *testing.T) {
	e := newSimEnv(t, nil)
	c, ctx := e.client, context.Background()
	raw, err := c.CreationOptions(ctx, "megan.bowen@contoso.test", 0)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := loadTestKey(t).register(t, raw, "bench 7")
	e.tenant.SetFault("registerFido2", entrasim.Fault{Drop: true, AfterApply: true, Count: 1})
	m, err := c.RegisterFido2Method(ctx, "megan.bowen@contoso.test", body)
	if err != nil {
		t.Fatalf("not reconciled: %v", err)
	}
	if !m.Reconciled || m.DisplayName != "bench 7" {
		t.Errorf("method %+v", m)
	}
	// The dropped request's record is written when its handler returns,
	// which may be after the client has moved on.
	posts := 0
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		posts = 0
		for _, r := range e.tenant.Requests() {
			if r.Endpoint == entrasim.EPRegisterFido2 {
				posts++
			}
		}
		if posts != 0 || time.Now().After(deadline) {
			break
		}
	}
	if posts != 1 {
		t.Errorf("POST sent %d times", posts)
	}
}

// Throttling: GETs wait out Retry-After and succeed; a throttled POST is
// returned to the caller, never repeated.
func TestSimThrottling(t *testing.T) {
	// Real time here: the bucket refills with the wall clock.
	e := newSimEnv(t, nil, func(o *entrasim.Options) { o.Throttle = entrasim.Throttle{Rate: 1, Burst: 2}; o.Now = nil })
	c, ctx := e.client, context.Background()
	var slept []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		return sleepCtx(ctx, d)
	}
	start := time.Now()
	for i := 0; i < 3; i++ {
		if _, err := c.GetUser(ctx, "alex.wilber@contoso.test"); err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
	}
	if len(slept) == 0 || slept[0] < time.Second || time.Since(start) < 900*time.Millisecond {
		t.Errorf("Retry-After not honoured: slept %v", slept)
	}
	// Drain the bucket, then POST: the 429 comes back as ErrThrottled.
	e.tenant.SetFault("createTAP", entrasim.Fault{Status: 429, Count: 1})
	before := len(e.tenant.Requests())
	_, err := c.CreateTAP(ctx, "alex.wilber@contoso.test", TAPRequest{})
	if !errors.Is(err, ErrThrottled) {
		t.Errorf("throttled POST: %v", err)
	}
	if n := len(e.tenant.Requests()) - before; n != 1 {
		t.Errorf("throttled POST sent %d times", n)
	}
}

// A token without the needed permission: the error names the
// least-privileged permission.
func TestSimMissingPermission(t *testing.T) {
	e := newSimEnv(t, []string{"User.Read.All", "UserAuthMethod-Passkey.Read.All"})
	c, ctx := e.client, context.Background()
	if _, err := c.ListFido2Methods(ctx, "adele.vance@contoso.test"); err != nil {
		t.Fatalf("allowed read: %v", err)
	}
	for _, tc := range []struct {
		call func() error
		perm string
	}{
		{func() error { _, err := c.CreationOptions(ctx, "adele.vance@contoso.test", 0); return err }, "UserAuthMethod-Passkey.ReadWrite.All"},
		{func() error { _, err := c.CreateTAP(ctx, "adele.vance@contoso.test", TAPRequest{}); return err }, "UserAuthMethod-TAP.ReadWrite.All"},
		{func() error { _, err := c.GetFido2Policy(ctx); return err }, "Policy.Read.AuthenticationMethod"},
	} {
		err := tc.call()
		if !errors.Is(err, ErrPermission) || !strings.Contains(Hint(err), tc.perm) {
			t.Errorf("want permission error naming %s, got %v / %s", tc.perm, err, Hint(err))
		}
	}
}

func TestSimTAPAndPolicies(t *testing.T) {
	e := newSimEnv(t, nil)
	c, ctx := e.client, context.Background()
	tp, err := c.GetTAPPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateTAP(ctx, "nestor.wilke@contoso.test", TAPRequest{LifetimeMinutes: 30})
	if !errors.Is(err, ErrTAPPolicy) || !strings.Contains(err.Error(), "60") || !strings.Contains(err.Error(), "480") {
		t.Errorf("lifetime below the policy minimum: %v", err)
	}
	pass, err := c.CreateTAP(ctx, "nestor.wilke@contoso.test", TAPRequest{LifetimeMinutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	if len([]rune(pass.Pass.Reveal())) != tp.DefaultLength || !pass.IsUsable {
		t.Errorf("pass %+v of length %d", pass, len(pass.Pass.Reveal()))
	}
	second, err := c.CreateTAP(ctx, "nestor.wilke@contoso.test", TAPRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := c.ListTAPs(ctx, "nestor.wilke@contoso.test")
	if err != nil || len(ts) != 1 || ts[0].ID != second.ID || !ts[0].Pass.Empty() {
		t.Fatalf("one pass per user, code not returned: %v %+v", err, ts)
	}
	tp.IsUsableOnce = true
	if err := c.UpdateTAPPolicy(ctx, tp); err != nil {
		t.Fatal(err)
	}
	multi := false
	if _, err := c.CreateTAP(ctx, "nestor.wilke@contoso.test", TAPRequest{IsUsableOnce: &multi}); !errors.Is(err, ErrTAPPolicy) {
		t.Errorf("multi-use under a one-time policy: %v", err)
	}
	if _, err := c.CreateTAP(ctx, "kim_fabrikam.com#EXT#@contoso.test", TAPRequest{}); !errors.Is(err, ErrGuestUser) {
		t.Errorf("guest TAP: %v", err)
	}
	if err := c.DeleteTAP(ctx, "nestor.wilke@contoso.test", second.ID); err != nil {
		t.Fatal(err)
	}
	g, err := c.FindGroup(ctx, "passkey users")
	if err != nil {
		t.Fatal(err)
	}
	in, err := c.CheckMemberGroups(ctx, "adele.vance@contoso.test", []string{g.ID})
	if err != nil || len(in) != 1 {
		t.Errorf("membership: %v %v", err, in)
	}
	out, err := c.CheckMemberGroups(ctx, "outside.user@contoso.test", []string{g.ID})
	if err != nil || len(out) != 0 {
		t.Errorf("outside user membership: %v %v", err, out)
	}
	if _, err := c.FindGroup(ctx, "No Such Group"); !errors.Is(err, ErrGroupNotFound) {
		t.Errorf("missing group: %v", err)
	}
}
