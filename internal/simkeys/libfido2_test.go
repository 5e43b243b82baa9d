package simkeys

import (
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/hid/ctaphid"
	"github.com/keyprep/keyprep/internal/keycaps"
	"github.com/keyprep/keyprep/internal/softkey"
)

// recorder wraps a softkey and records the CTAP commands a host sends
// (clientPIN as 0x06/subcommand).
type recorder struct {
	*softkey.Authenticator
	mu   sync.Mutex
	cmds []string
}

func (r *recorder) HandleCBOR(ctx context.Context, msg []byte, ka func(byte)) []byte {
	name := ""
	if len(msg) > 0 {
		name = string(rune(msg[0]))
		if msg[0] == softkey.CmdClientPIN {
			var m map[int]any
			if cbor.Unmarshal(msg[1:], &m) == nil {
				if sub, ok := m[2].(uint64); ok {
					name += string(rune(0x100 + sub))
				}
			}
		}
	}
	r.mu.Lock()
	r.cmds = append(r.cmds, name)
	r.mu.Unlock()
	return r.Authenticator.HandleCBOR(ctx, msg, ka)
}

func (r *recorder) sent(cmd byte, sub ...uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := string(rune(cmd))
	if len(sub) > 0 {
		want += string(rune(0x100 + sub[0]))
	}
	return slices.Contains(r.cmds, want)
}

// recProvider serves one recorded key per model through the hid package's
// virtual transport, with the model's USB identity (List) as simkeys
// reports it.
type recProvider struct {
	devs map[string]*ctaphid.Device
	info []hid.DeviceInfo
}

func (p *recProvider) List() []hid.DeviceInfo { return p.info }
func (p *recProvider) Open(name string) (hid.ReportConn, error) {
	return p.devs[name].Connect(), nil
}

// TestLibfido2FollowsModel drives models through libfido2 (the hid
// binding): a preview-only key gets credential management as 0x41 (never
// 0x0A), a key without pinUvAuthToken gets getPinToken (0x05, never 0x09),
// a CTAP 2.1 key subcommand 0x09; the CTAPHID_INIT version and the USB
// identity follow the model.
func TestLibfido2FollowsModel(t *testing.T) {
	const pin = "83920571"
	for _, tc := range []struct {
		model    string
		tokenSub uint64
	}{
		{"yubikey-5.2", 0x05},
		{"feitian-epass-fido2", 0x05},
		{"minimal-ctap20-self", 0x05},
		{"solo-1", 0x05},
		{"yubikey-5.7", 0x09},
		{"nitrokey-3-1.8", 0x09},
		{"token2-pinplus", 0x09},
	} {
		t.Run(tc.model, func(t *testing.T) {
			m := lookup(t, tc.model)
			p, err := New(Options{Count: 1, InMemory: true, Models: []*softkey.Model{m}})
			if err != nil {
				t.Fatal(err)
			}
			a, err := p.Authenticator("vkey:0")
			if err != nil {
				t.Fatal(err)
			}
			_, hc := p.keyConfig(0)
			rec := &recorder{Authenticator: a}
			dev := ctaphid.NewDevice(rec, hc)
			t.Cleanup(func() { _ = dev.Close() })
			rp := &recProvider{devs: map[string]*ctaphid.Device{"0": dev}, info: p.List()}
			ctx := hid.WithVirtual(context.Background(), rp)
			ds, err := hid.Enumerate(ctx)
			if err != nil || len(ds) != 1 || ds[0].Product != m.USB.Product || ds[0].VendorID != uint16(m.USB.VendorID) {
				t.Fatalf("enumerate %+v %v", ds, err)
			}
			d, err := hid.Open(ctx, "vkey:0")
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			v, _ := m.DeviceVersion()
			if ci := d.CTAPHIDInfo(); ci.Major != v[0] || ci.Minor != v[1] || ci.Build != v[2] {
				t.Fatalf("CTAPHID_INIT version %d.%d.%d, model %s", ci.Major, ci.Minor, ci.Build, m.USB.DeviceVersion)
			}
			info, err := d.Info(ctx)
			if err != nil || info.AAGUID != m.AAGUID() {
				t.Fatalf("info %v %v", info, err)
			}
			// What libfido2 reads is the profile's getInfo (factory state).
			got, want := hid.GetInfoOf(info), m.GetInfo
			if !slices.Equal(got.Versions, want.Versions) || !slices.Equal(got.Extensions, want.Extensions) ||
				!maps.Equal(got.Options, want.Options) || !slices.Equal(got.PINUVAuthProtocols, want.PINUVAuthProtocols) ||
				got.MaxMsgSize != want.MaxMsgSize || got.MaxRPIDsForSetMinPIN != want.MaxRPIDsForSetMinPIN ||
				max(got.MinPINLength, 4) != max(want.MinPINLength, 4) ||
				(got.RemainingDiscoverableCredentials == nil) != (want.RemainingDiscoverableCredentials == nil) {
				t.Fatalf("libfido2 getInfo %+v\nprofile %+v", got, want)
			}
			caps := keycaps.Of(&got)
			if caps.PINUVAuthToken != (tc.tokenSub == 0x09) || caps.Config != m.Behaviour.Config {
				t.Fatalf("capabilities %+v", caps)
			}
			if err := d.SetPIN(ctx, []byte(pin)); err != nil {
				t.Fatal(err)
			}
			cdh := sha256.Sum256([]byte("cdh"))
			cred, err := d.MakeCredential(ctx, hid.MakeCredentialRequest{ClientDataHash: cdh[:],
				RP: hid.RelyingParty{ID: "login.microsoft.com", Name: "Microsoft"}, User: hid.User{ID: []byte("u1"), Name: "alice", DisplayName: "Alice"},
				ResidentKey: true, UV: true, CredProtect: 2, EnforceCredProtect: true, HMACSecret: m.GetInfo.HasExtension("hmac-secret")}, []byte(pin))
			if err != nil {
				t.Fatalf("makeCredential: %v", err)
			}
			if cred.Format != "packed" {
				t.Fatalf("format %s", cred.Format)
			}
			md, err := d.CredentialMetadata(ctx, []byte(pin))
			if err != nil {
				t.Fatalf("credential metadata: %v", err)
			}
			if md.Existing != 1 {
				t.Fatalf("metadata %+v", md)
			}
			// A preview-only key is managed through 0x41 and never sent
			// 0x0A (libfido2 1.12 sends 0x41 to every key; newer releases
			// send 0x0A when getInfo lists credMgmt).
			if m.Behaviour.CredMgmt == softkey.CredMgmtPreview {
				if !rec.sent(softkey.CmdCredentialMgmtPreview) || rec.sent(softkey.CmdCredentialManagement) {
					t.Errorf("preview-only key: 0x41 sent %v, 0x0A sent %v", rec.sent(softkey.CmdCredentialMgmtPreview), rec.sent(softkey.CmdCredentialManagement))
				}
			} else if !rec.sent(softkey.CmdCredentialMgmtPreview) && !rec.sent(softkey.CmdCredentialManagement) {
				t.Error("no credential management command sent")
			}
			if !rec.sent(softkey.CmdClientPIN, tc.tokenSub) {
				t.Errorf("libfido2 did not use clientPIN subcommand 0x%02X", tc.tokenSub)
			}
			if tc.tokenSub == 0x05 && rec.sent(softkey.CmdClientPIN, 0x09) {
				t.Error("libfido2 sent 0x09 to a key without pinUvAuthToken")
			}
		})
	}
}
