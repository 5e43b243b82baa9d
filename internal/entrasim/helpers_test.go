package entrasim

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/softkey"
	kwebauthn "github.com/keyprep/keyprep/internal/webauthn"
)

const (
	testToken = "test-token"
	betaToken = "beta-token"
)

// clock is a movable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t     *testing.T
	tn    *Tenant
	clock *clock
}

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	clk := newClock()
	// testToken holds the README's least-privileged permissions; under
	// /beta (creationOptions with a challenge lifetime documents only
	// UserAuthenticationMethod.ReadWrite.All) doTok sends betaToken.
	opts := Options{Tokens: map[string]Identity{testToken: {Name: "test"},
		betaToken: {Name: "beta", Permissions: append([]string{"UserAuthenticationMethod.ReadWrite.All"}, LeastPrivileged...)}}, Now: clk.Now}
	if mod != nil {
		mod(&opts)
	}
	tn, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	return &fixture{t: t, tn: tn, clock: clk}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// errMsg returns error.code and error.message.
func (r *resp) errMsg(t *testing.T) (string, string) {
	t.Helper()
	var e struct {
		Error struct {
			Code, Message string
			InnerError    struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Error.InnerError.RequestID == "" || e.Error.InnerError.RequestID != r.header.Get("request-id") {
		t.Fatalf("innerError request-id %q vs header %q", e.Error.InnerError.RequestID, r.header.Get("request-id"))
	}
	return e.Error.Code, e.Error.Message
}

func (f *fixture) doTok(method, path, token string, body any) *resp {
	f.t.Helper()
	if token == testToken && strings.HasPrefix(path, "/beta/") {
		token = betaToken
	}
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	f.tn.ServeHTTP(w, req)
	return &resp{w.Code, w.Header(), w.Body.Bytes()}
}

func (f *fixture) do(method, path string, body any) *resp {
	f.t.Helper()
	return f.doTok(method, path, testToken, body)
}

func (f *fixture) want(r *resp, status int) {
	f.t.Helper()
	if r.status != status {
		f.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}

func (f *fixture) wantErr(r *resp, status int, msgPart string) {
	f.t.Helper()
	f.want(r, status)
	_, msg := r.errMsg(f.t)
	if !strings.Contains(msg, msgPart) {
		f.t.Fatalf("message %q does not contain %q", msg, msgPart)
	}
}

func (f *fixture) patch(policy string, body map[string]any) {
	f.t.Helper()
	typ := map[string]string{"fido2": fido2ConfigType, "temporaryAccessPass": tapConfigType}[policy]
	body["@odata.type"] = typ
	f.want(f.do("PATCH", "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/"+policy, body), 204)
}

// options fetches creationOptions and parses them with keyprep's parser.
func (f *fixture) options(version, user string) (*kwebauthn.CreationOptions, []byte) {
	f.t.Helper()
	p := "/" + version + "/users/" + pathEscape(user) + "/authentication/fido2Methods/creationOptions"
	r := f.do("GET", p, nil)
	f.want(r, 200)
	o, err := kwebauthn.ParseCreationOptions(r.body)
	if err != nil {
		f.t.Fatalf("ParseCreationOptions: %v\n%s", err, r.body)
	}
	return o, r.body
}

func pathEscape(s string) string {
	return strings.NewReplacer("#", "%23", "@", "%40").Replace(s)
}

// authenticator is a minimal test-side FIDO2 authenticator with the
// virtual key's AAGUID and batch attestation.
type authenticator struct {
	rpID        string
	origin      string
	flags       byte
	aaguid      uuid.UUID
	format      string // packed or none
	tamper      bool   // corrupt the attestation signature
	credID      []byte
	key         *ecdsa.PrivateKey
	displayName string
	// attKey and attCert, when set, sign the packed attestation instead of
	// the virtual key's batch attestation key.
	attKey  *ecdsa.PrivateKey
	attCert []byte
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagAT = 0x40
)

func newAuthenticator(t testing.TB) *authenticator {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	rand.Read(id)
	return &authenticator{rpID: RPID, origin: Origin, flags: flagUP | flagUV | flagAT,
		aaguid: uuid.MustParse(softkey.AAGUIDString), format: "packed", credID: id, key: k, displayName: "Test key"}
}

var (
	batchOnce sync.Once
	batchKey  *ecdsa.PrivateKey
	batchCert []byte
)

func loadBatch(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	batchOnce.Do(func() {
		kp, err := os.ReadFile("../softkey/testca/batch-attestation.key.pem")
		if err != nil {
			return
		}
		cp, err := os.ReadFile("../softkey/testca/batch-attestation.pem")
		if err != nil {
			return
		}
		kb, _ := pem.Decode(kp)
		cb, _ := pem.Decode(cp)
		if kb == nil || cb == nil {
			return
		}
		k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return
		}
		batchKey, _ = k.(*ecdsa.PrivateKey)
		batchCert = cb.Bytes
	})
	if batchKey == nil {
		t.Fatal("cannot load the softkey test batch attestation key")
	}
	return batchKey, batchCert
}

var ctapEnc = func() cbor.EncMode {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// register builds the Graph POST body for opts.
func (a *authenticator) register(t testing.TB, opts *kwebauthn.CreationOptions) []byte {
	t.Helper()
	cdj, _ := json.Marshal(map[string]any{"type": "webauthn.create",
		"challenge": base64.RawURLEncoding.EncodeToString(opts.Challenge), "origin": a.origin, "crossOrigin": false})
	rpHash := sha256.Sum256([]byte(a.rpID))
	pub := a.key.PublicKey
	xy, _ := pub.Bytes() // 0x04 || X || Y
	cose, _ := ctapEnc.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: xy[1:33], -3: xy[33:65]})
	ad := append([]byte{}, rpHash[:]...)
	ad = append(ad, a.flags, 0, 0, 0, 0)
	ad = append(ad, a.aaguid[:]...)
	ad = append(ad, byte(len(a.credID)>>8), byte(len(a.credID)))
	ad = append(ad, a.credID...)
	ad = append(ad, cose...)
	var stmt []byte
	switch a.format {
	case "packed":
		k, cert := loadBatch(t)
		if a.attKey != nil {
			k, cert = a.attKey, a.attCert
		}
		cdh := sha256.Sum256(cdj)
		digest := sha256.Sum256(append(append([]byte{}, ad...), cdh[:]...))
		sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		if a.tamper {
			sig[len(sig)-1] ^= 0x55
		}
		stmt, _ = ctapEnc.Marshal(map[string]any{"alg": -7, "sig": sig, "x5c": [][]byte{cert}})
	default:
		stmt = []byte{0xa0}
	}
	ao, err := kwebauthn.AttestationObject(a.format, ad, stmt)
	if err != nil {
		t.Fatal(err)
	}
	body, err := kwebauthn.RegistrationBody(a.displayName, a.credID, cdj, ao, kwebauthn.ClientExtensionResults{})
	if err != nil {
		// displayName too long for the client helper: build it by hand.
		var m map[string]any
		b2, _ := kwebauthn.RegistrationBody("", a.credID, cdj, ao, kwebauthn.ClientExtensionResults{})
		_ = json.Unmarshal(b2, &m)
		m["displayName"] = a.displayName
		body, _ = json.Marshal(m)
	}
	return body
}

func fido2Path(version, user string) string {
	return "/" + version + "/users/" + pathEscape(user) + "/authentication/fido2Methods"
}

func tapPath(user string) string {
	return "/v1.0/users/" + pathEscape(user) + "/authentication/temporaryAccessPassMethods"
}

const (
	adele = "adele.vance@contoso.test"
	alex  = "alex.wilber@contoso.test"
)

// registerOK runs creationOptions + POST for user and returns the method.
func (f *fixture) registerOK(a *authenticator, user string) map[string]any {
	f.t.Helper()
	o, _ := f.options("v1.0", user)
	r := f.do("POST", fido2Path("v1.0", user), a.register(f.t, o))
	f.want(r, 201)
	return r.json(f.t)
}

var parseOptions = kwebauthn.ParseCreationOptions

func (f *fixture) doGzip(method, path string, body []byte) *resp {
	f.t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(body)
	zw.Close()
	req := httptest.NewRequest(method, path, &b)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	w := httptest.NewRecorder()
	f.tn.ServeHTTP(w, req)
	return &resp{w.Code, w.Header(), w.Body.Bytes()}
}
