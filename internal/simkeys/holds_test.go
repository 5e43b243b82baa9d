package simkeys

import (
	"context"
	"errors"
	"testing"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/softkey"
)

// TestHoldsCredentialVirtualKey drives enroll.HoldsCredential through
// libfido2 against a virtual key whose user refuses every touch: the key
// is asked without a touch (it never asks for one) and without its PIN
// (no retry spent), answers for a credential it holds, NO_CREDENTIALS for
// one it does not or one that needs user verification (credProtect 3).
// With alwaysUv on it still answers (CTAP 2.1 §6.2.2 asks for user
// verification only where it asks for a touch); a key pulled out cannot
// tell, and says so with its error.
func TestHoldsCredentialVirtualKey(t *testing.T) {
	const rp = "login.microsoft.com"
	pin := []byte("58120463")
	p, err := New(Options{Count: 1, InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx := hid.WithVirtual(context.Background(), p)
	d, err := hid.Open(ctx, "vkey:0")
	if errors.Is(err, hid.ErrNoLibfido2) {
		t.Skip("built without libfido2 (cgo)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	a, err := p.Authenticator("vkey:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetPIN(ctx, pin); err != nil {
		t.Fatal(err)
	}
	mk := func(user byte, protect hid.CredProtect) []byte {
		t.Helper()
		c, err := d.MakeCredential(ctx, hid.MakeCredentialRequest{ClientDataHash: make([]byte, 32),
			RP: hid.RelyingParty{ID: rp}, User: hid.User{ID: []byte{user}, Name: "u"}, ResidentKey: true, CredProtect: protect}, pin)
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	held, protected := mk(1, hid.CredProtectNone), mk(2, hid.CredProtect(3))
	notHeld := []byte("a credential id this key never made")
	a.SetPresence(softkey.Presence{Mode: softkey.PresenceDenied})

	for _, tc := range []struct {
		name      string
		alwaysUV  bool
		ids       [][]byte
		maxInList uint64
		wantIndex int
		wantOK    bool
		unplug    bool
		wantErr   error
	}{
		{name: "holds the second of three", ids: [][]byte{notHeld, held, protected}, wantIndex: 1, wantOK: true},
		{name: "held, in the second list", ids: [][]byte{notHeld, protected, held}, maxInList: 2, wantIndex: 2, wantOK: true},
		{name: "holds none", ids: [][]byte{notHeld}, wantIndex: -1},
		{name: "credProtect 3 needs user verification", ids: [][]byte{protected}, wantIndex: -1},
		{name: "alwaysUv: still answered silently", alwaysUV: true, ids: [][]byte{notHeld, held}, wantIndex: 1, wantOK: true},
		{name: "alwaysUv: holds none", alwaysUV: true, ids: [][]byte{notHeld, protected}, wantIndex: -1},
		{name: "pulled out: cannot tell", unplug: true, ids: [][]byte{notHeld, held}, maxInList: 1, wantIndex: -1, wantErr: errKeyLeft},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.alwaysUV && !a.Status().AlwaysUV {
				a.SetPresence(softkey.Presence{Mode: softkey.PresenceInstant})
				if err := d.ToggleAlwaysUV(ctx, pin); err != nil {
					t.Fatal(err)
				}
				a.SetPresence(softkey.Presence{Mode: softkey.PresenceDenied})
			}
			before := a.Status()
			if tc.unplug {
				if err := p.Unplug("vkey:0"); err != nil {
					t.Fatal(err)
				}
			}
			i, ok, err := enroll.HoldsCredential(ctx, d, rp, tc.ids, tc.maxInList)
			if i != tc.wantIndex || ok != tc.wantOK {
				t.Errorf("HoldsCredential = %d, %v; want %d, %v", i, ok, tc.wantIndex, tc.wantOK)
			}
			switch {
			case tc.wantErr == errKeyLeft:
				if c := hid.CodeOf(err); c != hid.CodeTX && c != hid.CodeRX {
					t.Errorf("error %v, want the transport error of a key that left", err)
				}
			case (tc.wantErr == nil && err != nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)):
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			after := a.Status()
			if after.PresenceRequests != before.PresenceRequests {
				t.Errorf("the key asked for %d touches", after.PresenceRequests-before.PresenceRequests)
			}
			if after.PINRetries != before.PINRetries || after.PowerCycleRequired {
				t.Errorf("PIN retries %d, were %d (power cycle required %v)", after.PINRetries, before.PINRetries, after.PowerCycleRequired)
			}
		})
	}
}

// errKeyLeft: the error is the transport error of a key pulled out.
var errKeyLeft = errors.New("the key left")
