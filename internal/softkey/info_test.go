package softkey

import (
	"bytes"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

type infoView struct {
	versions   []string
	extensions []string
	aaguid     []byte
	options    map[string]bool
	protocols  []int
	minPIN     int
	forcePIN   bool
	remaining  int
	maxMsg     int
}

func getInfo(t testing.TB, c *testClient) infoView {
	t.Helper()
	st, m := c.do(CmdGetInfo, nil)
	wantStatus(t, "getInfo", st, StatusOK)
	var v infoView
	for k, dst := range map[int]any{1: &v.versions, 2: &v.extensions, 3: &v.aaguid, 4: &v.options,
		5: &v.maxMsg, 6: &v.protocols, 0x0C: &v.forcePIN, 0x0D: &v.minPIN, 0x14: &v.remaining} {
		raw, ok := m[k]
		if !ok {
			t.Fatalf("getInfo lacks key 0x%02x", k)
		}
		if err := cbor.Unmarshal(raw, dst); err != nil {
			t.Fatalf("getInfo key 0x%02x: %v", k, err)
		}
	}
	return v
}

func TestGetInfo(t *testing.T) {
	a, _ := newKey(t, Config{ResidentCapacity: 3})
	c := newClient(t, a, 2)
	v := getInfo(t, c)
	id := AAGUID()
	if !bytes.Equal(v.aaguid, id[:]) {
		t.Fatalf("aaguid %x", v.aaguid)
	}
	if len(v.protocols) != 2 || v.protocols[0] != 2 || v.protocols[1] != 1 {
		t.Fatalf("protocols %v", v.protocols)
	}
	for _, want := range []string{"FIDO_2_0", "FIDO_2_1"} {
		found := false
		for _, s := range v.versions {
			found = found || s == want
		}
		if !found {
			t.Fatalf("versions %v lack %s", v.versions, want)
		}
	}
	wantOpts := map[string]bool{"rk": true, "up": true, "plat": false, "clientPin": false, "pinUvAuthToken": true,
		"credMgmt": true, "authnrCfg": true, "setMinPINLength": true, "makeCredUvNotRqd": true, "alwaysUv": false}
	for k, want := range wantOpts {
		got, ok := v.options[k]
		if !ok || got != want {
			t.Fatalf("option %s = %v (present %v), want %v", k, got, ok, want)
		}
	}
	if _, ok := v.options["uv"]; ok {
		t.Fatal("uv option must be absent")
	}
	if v.minPIN != 4 || v.forcePIN || v.remaining != 3 || v.maxMsg != 1200 {
		t.Fatalf("info %+v", v)
	}
	c.setPIN("1234")
	if v := getInfo(t, c); !v.options["clientPin"] {
		t.Fatal("clientPin not true after setPIN")
	}
}

func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig()
	if d.ForcePINChangeOn09 != 0x37 || d.ForcePINChangeOn05 != 0x31 || d.PermissionWithoutRPID != 0x02 ||
		d.UnsupportedProtocol != 0x02 || d.GetRetriesWithoutPIN != 0x35 || d.ResidentCapacity != 25 ||
		d.MaxMsgSize != 1200 || d.AlwaysUV {
		t.Fatalf("defaults %+v", d)
	}
	if _, err := New(Config{PINProtocols: []int{3}}); err == nil {
		t.Fatal("protocol 3 accepted")
	}
}
