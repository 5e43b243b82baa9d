package enroll_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
)

// asked records the assertions HoldsCredential asks a key for, and can
// make the key's answers leave out the credential id (as CTAP 2.1 §6.2.2
// allows for an allow list of one).
type asked struct {
	*enrolltest.Key
	omitID bool

	mu   sync.Mutex
	reqs []hid.AssertionRequest
	pins [][]byte
}

func (a *asked) GetAssertion(ctx context.Context, req hid.AssertionRequest, p []byte) ([]hid.Assertion, error) {
	a.mu.Lock()
	a.reqs = append(a.reqs, req)
	a.pins = append(a.pins, p)
	a.mu.Unlock()
	as, err := a.Key.GetAssertion(ctx, req, p)
	if a.omitID {
		for i := range as {
			as[i].CredentialID = nil
		}
	}
	return as, err
}

func randomIDs(t *testing.T, n int) [][]byte {
	t.Helper()
	ids := make([][]byte, n)
	for i := range ids {
		ids[i] = make([]byte, 32)
		if _, err := rand.Read(ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// TestHoldsCredential: which of several credential ids a key holds, asked
// without a touch and without its PIN (no retry spent), in allow lists no
// longer than the key takes; a key that cannot tell says so with its error
// class, and NO_CREDENTIALS is "not this key", never an error.
func TestHoldsCredential(t *testing.T) {
	const rp = "login.microsoft.com"
	const keyPIN = "48213957"
	type keyCreds struct {
		held, other, protected, otherRP []byte // on the key: credProtect 1, 1 (not asked for), 3, another RP's
	}
	for _, tc := range []struct {
		name string
		// ids builds the ids asked for from the key's credentials.
		ids       func(c keyCreds, t *testing.T) [][]byte
		maxInList uint64
		prepare   func(k *asked)
		wantIndex int
		wantOK    bool
		wantErr   error // nil: err must be nil; errAny: any error
		wantLeft  bool  // err is the transport error of a key that left
		wantCalls int
	}{
		{name: "holds one of several, in the third list", maxInList: 4, wantIndex: 10, wantOK: true, wantCalls: 3,
			ids: func(c keyCreds, t *testing.T) [][]byte { return slices.Insert(randomIDs(t, 11), 10, c.held) }},
		{name: "holds the first", maxInList: 4, wantIndex: 0, wantOK: true, wantCalls: 1,
			ids: func(c keyCreds, t *testing.T) [][]byte { return append([][]byte{c.held}, randomIDs(t, 5)...) }},
		{name: "no maxCredentialCountInList: lists of 8", wantIndex: 9, wantOK: true, wantCalls: 2,
			ids: func(c keyCreds, t *testing.T) [][]byte { return slices.Insert(randomIDs(t, 9), 9, c.held) }},
		{name: "holds none", maxInList: 4, wantIndex: -1, wantCalls: 3,
			ids: func(c keyCreds, t *testing.T) [][]byte { return randomIDs(t, 9) }},
		{name: "no ids", maxInList: 4, wantIndex: -1, wantCalls: 0,
			ids: func(c keyCreds, t *testing.T) [][]byte { return nil }},
		{name: "another relying party's credential", maxInList: 4, wantIndex: -1, wantCalls: 1,
			ids: func(c keyCreds, t *testing.T) [][]byte { return [][]byte{c.otherRP} }},
		{name: "credProtect 3 answers only with user verification", maxInList: 4, wantIndex: -1, wantCalls: 1,
			ids: func(c keyCreds, t *testing.T) [][]byte { return [][]byte{c.protected} }},
		{name: "the key answers an error", maxInList: 4, wantIndex: -1, wantErr: hid.ErrPINRequired, wantCalls: 2,
			ids: func(c keyCreds, t *testing.T) [][]byte { return append(randomIDs(t, 4), c.held) },
			prepare: func(k *asked) {
				k.FailCall(enrolltest.OpGetAssertion, 2, enrolltest.Err("get assertion", hid.CodePINRequired))
			}},
		{name: "an error in one list, held in the next", maxInList: 4, wantIndex: 4, wantOK: true, wantCalls: 2,
			ids: func(c keyCreds, t *testing.T) [][]byte { return append(randomIDs(t, 4), c.held) },
			prepare: func(k *asked) {
				k.FailCall(enrolltest.OpGetAssertion, 1, enrolltest.Err("get assertion", hid.CodeOperationDenied))
			}},
		{name: "the key left: not asked further", maxInList: 4, wantIndex: -1, wantLeft: true, wantCalls: 1,
			ids:     func(c keyCreds, t *testing.T) [][]byte { return append(randomIDs(t, 4), c.held) },
			prepare: func(k *asked) { k.Unplug() }},
		{name: "the credential left out of the answer to a list of one", maxInList: 4, wantIndex: 0, wantOK: true, wantCalls: 1,
			ids:     func(c keyCreds, t *testing.T) [][]byte { return [][]byte{c.held} },
			prepare: func(k *asked) { k.omitID = true }},
		{name: "the credential left out of the answer to a longer list", maxInList: 4, wantIndex: -1, wantErr: errAny, wantCalls: 1,
			ids:     func(c keyCreds, t *testing.T) [][]byte { return [][]byte{c.other, c.held} },
			prepare: func(k *asked) { k.omitID = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			key := &asked{Key: enrolltest.NewKey(enrolltest.KeyConfig{Path: "fake:0"})}
			if err := key.SetPIN(ctx, []byte(keyPIN)); err != nil {
				t.Fatal(err)
			}
			mk := func(rpID string, user byte, protect hid.CredProtect) []byte {
				c, err := key.MakeCredential(ctx, hid.MakeCredentialRequest{ClientDataHash: make([]byte, 32),
					RP: hid.RelyingParty{ID: rpID}, User: hid.User{ID: []byte{user}, Name: "u"}, ResidentKey: true, CredProtect: protect}, []byte(keyPIN))
				if err != nil {
					t.Fatal(err)
				}
				return c.ID
			}
			c := keyCreds{held: mk(rp, 1, hid.CredProtectNone), other: mk(rp, 2, hid.CredProtectNone),
				protected: mk(rp, 3, hid.CredProtect(3)), otherRP: mk("example.com", 4, hid.CredProtectNone)}
			ids := tc.ids(c, t)
			if tc.prepare != nil {
				tc.prepare(key)
			}
			retries := key.State().Retries

			i, ok, err := enroll.HoldsCredential(ctx, key, rp, ids, tc.maxInList)

			if i != tc.wantIndex || ok != tc.wantOK {
				t.Errorf("HoldsCredential = %d, %v; want %d, %v", i, ok, tc.wantIndex, tc.wantOK)
			}
			switch {
			case tc.wantLeft:
				if hid.CodeOf(err) != hid.CodeTX {
					t.Errorf("error %v, want the key's transport error", err)
				}
			case tc.wantErr == nil:
				if err != nil {
					t.Errorf("error %v, want none", err)
				}
			case tc.wantErr == errAny:
				if err == nil {
					t.Error("no error, want the key's answer named as one")
				}
			case !errors.Is(err, tc.wantErr):
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			if errors.Is(err, hid.ErrNoCredentials) {
				t.Errorf("error %v: NO_CREDENTIALS is an answer, not an error", err)
			}
			if len(key.reqs) != tc.wantCalls {
				t.Errorf("%d assertions asked for, want %d", len(key.reqs), tc.wantCalls)
			}
			perList := int(tc.maxInList)
			if perList == 0 {
				perList = 8
			}
			var asked [][]byte
			for n, req := range key.reqs {
				if !req.NoUP || req.UP || req.UV || key.pins[n] != nil {
					t.Errorf("assertion %d: NoUP %v UP %v UV %v PIN given %v, want a silent one (up=false, no PIN)",
						n, req.NoUP, req.UP, req.UV, key.pins[n] != nil)
				}
				if req.RPID != rp || len(req.ClientDataHash) != 32 {
					t.Errorf("assertion %d: RP %q, client data hash of %d bytes", n, req.RPID, len(req.ClientDataHash))
				}
				if len(req.AllowList) == 0 || len(req.AllowList) > perList {
					t.Errorf("assertion %d: allow list of %d, want 1 to %d", n, len(req.AllowList), perList)
				}
				asked = append(asked, req.AllowList...)
			}
			if !slices.EqualFunc(asked, ids[:len(asked)], slices.Equal) {
				t.Error("the allow lists are not the ids in order")
			}
			key.Replug()
			if got := key.State().Retries; got != retries {
				t.Errorf("PIN retries %d, were %d: a retry was spent", got, retries)
			}
			if n := key.Calls(enrolltest.OpSetPIN) + key.Calls(enrolltest.OpReset) + key.Calls(enrolltest.OpDeleteCredential); n != 1 {
				t.Errorf("%d calls that change the key besides the setup's setPIN", n-1)
			}
		})
	}
}

// errAny: any error will do.
var errAny = errors.New("any error")
