//go:build cgo

package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/simkeys"
	"github.com/keyprep/keyprep/internal/softkey"
	"github.com/keyprep/keyprep/internal/store"
)

// BenchmarkEnroll measures keyprep's own cost of one enrollment against a
// zero-latency emulated tenant (entrasim on a loopback httptest server) and
// an instant virtual key (softkey behind CTAPHID framing, presence given at
// once), so ns/op is keyprep's overhead per key, not the network's or the
// user's.
//
// One op is what one `keyprep enroll --user UPN --key vkey:0` does after
// its process has started, opened the store and built the Graph client:
// hid.Open of a factory-fresh key, Enroller.Enroll (user lookup, FIDO2 policy
// read and group check, key inspection, PIN generated, age-escrowed to the
// bench identity and set, creationOptions, makeCredential, local checks,
// registration, self-test assertion, result recorded, every step journaled
// in the store) and Close. Each op uses a fresh graphDirectory, so the
// policy is read once per enrollment as in one CLI run.
//
// Every op is the same first-enrollment path: between ops, with the timer
// stopped, the key is replaced by a factory-fresh one and the passkey just
// registered is deleted from the tenant, so each of the default seed's
// members is enrolled again with no passkey yet and the tenant never grows.
// (Re-enrolling a key keyprep set up before — the escrowed-PIN path — is
// not measured: its PIN lookup scans every stored result of the key's model,
// so its cost depends on the bench's history, not on the enrollment.)
//
// Metrics besides ns/op and the allocations (which include the emulated
// tenant's and the virtual key's, all in this process): graph-req/op
// (requests the tenant served for the enrollment), hid-out/op and hid-in/op
// (64-byte HID reports through libfido2's I/O hooks, open included) and
// hid-reports/op, their sum. hid-out/op is a little above a whole number
// because one of the 25 users has a name long enough for one more
// continuation report in makeCredential.
//
// key-ms/op is the time spent inside the key operations (every
// enroll.Device call, timed by a decorator; hid.Open and Close are not
// included): libfido2, the CTAPHID framing through its I/O hooks and the
// virtual key's own work. The virtual key keeps its state in memory
// (simkeys.Options.InMemory), as a real key keeps it in its own flash: its
// state file's writes would be the simulation's cost, not keyprep's.
// tenant-ms/op is the emulated tenant's own work (its HTTP handler's time,
// the part Entra does in production). overhead-ratio is keyprep's own cost
// per unit of key time: (ns/op − key time − tenant time) / key time — the
// store's journal, the Graph client and both ends of the loopback HTTP
// exchange, JSON, the local attestation checks, the age escrow.
//
// The store syncs each journal transaction to disk (four for a fresh key:
// the job with the escrow record and the PIN's begin; makeCredential's
// begin; the registration's begin; the result with its begin and done),
// so ns/op and the ratio depend
// on the disk under $TMPDIR (b.TempDir): on tmpfs they are much smaller.
func BenchmarkEnroll(b *testing.B) {
	b.Run("fresh-key", func(b *testing.B) {
		benchEnroll(b, enroll.Request{})
	})
	b.Run("fresh-key+min-pin+force-change", func(b *testing.B) {
		benchEnroll(b, enroll.Request{MinPINLength: 6, MinPINLengthRPID: true, ForcePINChange: true})
	})
}

type benchEnv struct {
	tenant *entrasim.Tenant
	client *graph.Client
	keys   *simkeys.Provider
	// keyPath is the plugged-in virtual key; freshKey swaps it.
	keyPath string
	// tenantTime is the emulated tenant's time in its HTTP handler.
	tenantTime atomic.Int64
	dbPath     string
	e          *enroll.Enroller
	users      []entrasim.User
}

func newBenchEnv(b testing.TB) *benchEnv {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	token := entrasim.NewToken()
	tenant, err := entrasim.Open(entrasim.Options{Tokens: map[string]entrasim.Identity{token: {Name: "bench"}}})
	if err != nil {
		b.Fatal(err)
	}
	env := &benchEnv{tenant: tenant, keyPath: hid.VirtualScheme + "0", dbPath: filepath.Join(dir, "keyprep.db")}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		tenant.ServeHTTP(w, r)
		env.tenantTime.Add(int64(time.Since(start)))
	}))
	b.Cleanup(func() {
		srv.Close()
		_ = tenant.Close()
	})
	cred, err := graph.NewStaticToken(token)
	if err != nil {
		b.Fatal(err)
	}
	client, err := graph.New(ctx, graph.Options{BaseURL: srv.URL, Credential: cred})
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(dir, "keyprep.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	keys, err := simkeys.New(simkeys.Options{Count: 1, Key: softkey.Config{}, InMemory: true})
	if err != nil {
		b.Fatal(err)
	}
	hid.RegisterVirtual(keys)
	b.Cleanup(func() {
		hid.RegisterVirtual(nil)
		_ = keys.Close()
	})
	env.client, env.keys = client, keys
	for _, u := range tenant.Users() {
		if u.InFido2Scope && u.UserType == "Member" {
			env.users = append(env.users, u)
		}
	}
	if len(env.users) == 0 {
		b.Fatal("no user of the default seed is in the FIDO2 policy's scope")
	}
	env.e = &enroll.Enroller{
		Store:     st,
		PINs:      benchPINs{},
		EscrowDir: filepath.Join(dir, "escrow"),
		Log:       slog.New(slog.DiscardHandler),
		ModelName: func(aaguid [16]byte) string {
			if aaguid == softkey.AAGUID() {
				return softkey.ModelName
			}
			return ""
		},
	}
	return env
}

// freshKey replaces the virtual key with a factory-fresh one, loaded and
// ready, so that opening it costs what opening a plugged-in key costs.
func (env *benchEnv) freshKey(b testing.TB) {
	b.Helper()
	path, err := env.keys.Swap(env.keyPath)
	if err != nil {
		b.Fatal(err)
	}
	env.keyPath = path
	if _, err := env.keys.Authenticator(path); err != nil {
		b.Fatal(err)
	}
}

func benchEnroll(b *testing.B, base enroll.Request) {
	ctx := context.Background()
	env := newBenchEnv(b)
	start := len(env.tenant.Requests())
	var hidOut, hidIn uint64
	var keyTime time.Duration
	var cleanupTenant int64 // the tenant's time for the clean-up between ops, timer stopped
	i := 0
	env.freshKey(b)
	for b.Loop() { // b.Loop resets the timer on its first call
		u := env.users[i%len(env.users)]
		i++
		req := base
		req.UPN, req.KeyPath, req.PINMode = u.UPN, env.keyPath, enroll.PINGenerate
		env.e.Directory = &graphDirectory{c: env.client} // one policy read per enrollment, as per CLI run

		d, err := hid.Open(ctx, env.keyPath)
		if err != nil {
			b.Fatal(err)
		}
		res, _, err := env.e.Enroll(ctx, timedDevice{d: d, spent: &keyTime}, req)
		out, in := d.ReportStats()
		_ = d.Close()
		if err != nil {
			b.Fatalf("enroll %s: %v", u.UPN, err)
		}
		pin.Wipe(res.PIN)

		b.StopTimer()
		hidOut += out
		hidIn += in
		if !res.Verified || res.PINEscrow == nil || res.PINEscrow.Source != enroll.SourceSet || res.ForcePINChange != base.ForcePINChange {
			b.Fatalf("enroll %s: unexpected result %+v", u.UPN, res)
		}
		before := env.tenantTime.Load()
		if err := env.client.DeleteFido2Method(ctx, res.UserID, res.MethodID); err != nil {
			b.Fatal(err)
		}
		cleanupTenant += env.tenantTime.Load() - before
		env.freshKey(b)
		b.StartTimer()
	}
	reqs := 0
	for _, r := range env.tenant.Requests()[start:] {
		if r.Endpoint != entrasim.EPDeleteFido2 { // the clean-up between ops
			reqs++
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(reqs)/n, "graph-req/op")
	b.ReportMetric(float64(hidOut)/n, "hid-out/op")
	b.ReportMetric(float64(hidIn)/n, "hid-in/op")
	b.ReportMetric(float64(hidOut+hidIn)/n, "hid-reports/op")
	// See BenchmarkEnroll for key-ms/op, tenant-ms/op and overhead-ratio.
	if keyTime > 0 {
		total := b.Elapsed()
		tenant := time.Duration(env.tenantTime.Load() - cleanupTenant)
		b.ReportMetric(keyTime.Seconds()*1e3/n, "key-ms/op")
		b.ReportMetric(tenant.Seconds()*1e3/n, "tenant-ms/op")
		b.ReportMetric(float64(total-keyTime-tenant)/float64(keyTime), "overhead-ratio")
	}
}

// benchPINs refuses: generated PINs never ask the operator.
type benchPINs struct{}

func (benchPINs) Current(context.Context, string) ([]byte, error) {
	return nil, errors.New("bench: no operator PIN")
}

func (benchPINs) New(context.Context, string) ([]byte, error) {
	return nil, errors.New("bench: no operator PIN")
}

// timedDevice is an enroll.Device that adds the time spent in each key
// operation (libfido2, the CTAPHID framing and the virtual key's own work)
// to *spent, so the benchmark can tell the key's time from keyprep's.
type timedDevice struct {
	d     enroll.Device
	spent *time.Duration
}

func (t timedDevice) since(start time.Time) { *t.spent += time.Since(start) }

func (t timedDevice) Path() string { return t.d.Path() }

func (t timedDevice) Info(ctx context.Context) (*hid.Info, error) {
	defer t.since(time.Now())
	return t.d.Info(ctx)
}

func (t timedDevice) PINRetries(ctx context.Context) (int, error) {
	defer t.since(time.Now())
	return t.d.PINRetries(ctx)
}

func (t timedDevice) SetPIN(ctx context.Context, pin []byte) error {
	defer t.since(time.Now())
	return t.d.SetPIN(ctx, pin)
}

func (t timedDevice) Reset(ctx context.Context) error {
	defer t.since(time.Now())
	return t.d.Reset(ctx)
}

func (t timedDevice) SetMinPINLength(ctx context.Context, n int, pin []byte) error {
	defer t.since(time.Now())
	return t.d.SetMinPINLength(ctx, n, pin)
}

func (t timedDevice) SetMinPINLengthRPIDs(ctx context.Context, rpIDs []string, pin []byte) error {
	defer t.since(time.Now())
	return t.d.SetMinPINLengthRPIDs(ctx, rpIDs, pin)
}

func (t timedDevice) ForcePINChange(ctx context.Context, pin []byte) error {
	defer t.since(time.Now())
	return t.d.ForcePINChange(ctx, pin)
}

func (t timedDevice) MakeCredential(ctx context.Context, req hid.MakeCredentialRequest, pin []byte) (*hid.Credential, error) {
	defer t.since(time.Now())
	return t.d.MakeCredential(ctx, req, pin)
}

func (t timedDevice) GetAssertion(ctx context.Context, req hid.AssertionRequest, pin []byte) ([]hid.Assertion, error) {
	defer t.since(time.Now())
	return t.d.GetAssertion(ctx, req, pin)
}

func (t timedDevice) Credentials(ctx context.Context, rpID string, pin []byte) ([]hid.ResidentCredential, error) {
	defer t.since(time.Now())
	return t.d.Credentials(ctx, rpID, pin)
}

func (t timedDevice) DeleteCredential(ctx context.Context, credID []byte, pin []byte) error {
	defer t.since(time.Now())
	return t.d.DeleteCredential(ctx, credID, pin)
}

// ToggleAlwaysUV forwards to the key (enroll.AlwaysUVToggler), so
// --always-uv behaves as on the real device; a key without it is refused
// as unsupported.
func (t timedDevice) ToggleAlwaysUV(ctx context.Context, pin []byte) error {
	defer t.since(time.Now())
	if a, ok := t.d.(enroll.AlwaysUVToggler); ok {
		return a.ToggleAlwaysUV(ctx, pin)
	}
	return fmt.Errorf("%s: toggleAlwaysUv: %w", t.d.Path(), hid.ErrUnsupported)
}

// Serial forwards the key's USB serial number string
// (enroll.SerialReporter; "" when the key has none).
func (t timedDevice) Serial() string {
	if s, ok := t.d.(enroll.SerialReporter); ok {
		return s.Serial()
	}
	return ""
}

// TestTimedDeviceForwards: the benchmark's wrapper passes on the optional
// interfaces enroll uses, and does not claim them for a key without them.
func TestTimedDeviceForwards(t *testing.T) {
	var spent time.Duration
	key := enrolltest.NewKey(enrolltest.KeyConfig{Serial: "SN-0042"})
	key.Edit(func(s *enrolltest.KeyState) { s.PIN = "27495813" })
	var dev enroll.Device = timedDevice{d: key, spent: &spent}
	if s, ok := dev.(enroll.SerialReporter); !ok || s.Serial() != "SN-0042" {
		t.Fatalf("serial not forwarded (%v)", ok)
	}
	a, ok := dev.(enroll.AlwaysUVToggler)
	if !ok {
		t.Fatal("timedDevice is no AlwaysUVToggler")
	}
	if err := a.ToggleAlwaysUV(context.Background(), []byte("27495813")); err != nil || !key.AlwaysUV() || key.Calls(enrolltest.OpToggleAlwaysUV) != 1 {
		t.Fatalf("toggleAlwaysUv: %v, alwaysUv %v", err, key.AlwaysUV())
	}
	// A Device with neither: no serial, and --always-uv unsupported.
	bare := timedDevice{d: struct{ enroll.Device }{key}, spent: &spent}
	if bare.Serial() != "" {
		t.Errorf("serial %q from a device without one", bare.Serial())
	}
	if err := bare.ToggleAlwaysUV(context.Background(), []byte("27495813")); !errors.Is(err, hid.ErrUnsupported) {
		t.Errorf("toggleAlwaysUv on a device without it: %v", err)
	}
}
