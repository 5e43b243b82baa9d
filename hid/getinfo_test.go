package hid

import "testing"

func TestInfoGetInfo(t *testing.T) {
	i := &Info{Versions: []string{"FIDO_2_0", "FIDO_2_1_PRE"}, Extensions: []string{"credProtect"},
		AAGUID: [16]byte{0x2f, 0xc0, 15: 0x2a}, Options: map[string]bool{"rk": true, "clientPin": false, "credentialMgmtPreview": true},
		PINProtocols: []int{1}, MinPINLength: 0, RemainingResidentKeys: -1, FirmwareVersion: 0x050201,
		Algorithms: []Algorithm{{Type: "public-key", COSE: ES256}}}
	g := i.GetInfo()
	if g.AAGUID != "2fc0000000000000000000000000002a" {
		t.Errorf("AAGUID %q", g.AAGUID)
	}
	if g.RemainingDiscoverableCredentials != nil {
		t.Error("an unreported remainingDiscoverableCredentials became a number")
	}
	if g.Algorithms[0].Alg != ES256 || g.FirmwareVersion != 0x050201 || !g.HasExtension("credProtect") {
		t.Errorf("GetInfo = %+v", g)
	}
	i.Options["rk"] = false
	if !g.Options["rk"] {
		t.Error("GetInfo shares the options map with Info")
	}
	i.RemainingResidentKeys = 0
	if g := i.GetInfo(); g.RemainingDiscoverableCredentials == nil || *g.RemainingDiscoverableCredentials != 0 {
		t.Error("a reported 0 was lost")
	}
}
