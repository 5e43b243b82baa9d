package hid_test

import (
	"reflect"
	"testing"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/keycaps"
)

// GetInfoOf and InfoOf carry every field both ways, and an unreported
// remainingDiscoverableCredentials stays unreported.
func TestGetInfoRoundTrip(t *testing.T) {
	n := 25
	cases := []keycaps.GetInfo{
		{Versions: []string{"FIDO_2_0", "U2F_V2"}, Extensions: []string{"credProtect", "hmac-secret"},
			AAGUID: "42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3", Options: map[string]bool{"rk": true, "clientPin": false},
			MaxMsgSize: 2200, PINUVAuthProtocols: []int{1}},
		{Versions: []string{"FIDO_2_1"}, AAGUID: "ab32f0c6-2239-afbb-c470-d2ef4e254db7",
			Options:            map[string]bool{"credMgmt": true, "authnrCfg": true, "setMinPINLength": true},
			PINUVAuthProtocols: []int{2, 1}, MaxCredentialCountInList: 8, MaxCredentialIDLength: 96,
			Transports: []string{"usb", "nfc"}, Algorithms: []keycaps.Algorithm{{Type: "public-key", Alg: -7}},
			MaxSerializedLargeBlob: 2048, ForcePINChange: true, MinPINLength: 6, FirmwareVersion: 256,
			MaxCredBlobLength: 32, MaxRPIDsForSetMinPIN: 6, PreferredPlatformUVTries: 3, UVModality: 2,
			Certifications: map[string]int{"FIDO": 1}, RemainingDiscoverableCredentials: &n},
	}
	for _, g := range cases {
		info, err := hid.InfoOf(&g)
		if err != nil {
			t.Fatal(err)
		}
		if g.RemainingDiscoverableCredentials == nil && info.RemainingResidentKeys != -1 {
			t.Errorf("unreported remaining credentials became %d", info.RemainingResidentKeys)
		}
		back := hid.GetInfoOf(info)
		if !reflect.DeepEqual(back, g) {
			t.Errorf("round trip:\n got %+v\nwant %+v", back, g)
		}
	}
	if _, err := hid.InfoOf(&keycaps.GetInfo{AAGUID: "nope"}); err == nil {
		t.Error("a malformed AAGUID was accepted")
	}
}
