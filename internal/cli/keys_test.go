package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/hid"
)

// TestFeatures: what `keys` and `info` say a key can take follows its
// getInfo, in the summary line and in the listing.
func TestFeatures(t *testing.T) {
	ctap21 := &hid.Info{Versions: []string{"FIDO_2_0", "FIDO_2_1"}, Extensions: []string{"credProtect", "hmac-secret"},
		Options:      map[string]bool{"rk": true, "clientPin": false, "authnrCfg": true, "setMinPINLength": true, "credMgmt": true, "alwaysUv": false},
		PINProtocols: []int{2, 1}, MinPINLength: 4, MaxRPIDsMinPINLength: 4, RemainingResidentKeys: 25}
	ctap20 := &hid.Info{Versions: []string{"U2F_V2", "FIDO_2_0"}, Extensions: []string{"credProtect", "hmac-secret"},
		Options: map[string]bool{"rk": true, "clientPin": false, "credentialMgmtPreview": true}, PINProtocols: []int{1}, RemainingResidentKeys: -1}
	tests := []struct {
		name        string
		info        *hid.Info
		unavailable string   // "" when the key takes everything
		listing     []string // in printFeatures' output
	}{
		{name: "CTAP 2.1 with authenticatorConfig", info: ctap21,
			listing: []string{"✓ minimum PIN length (--min-pin-length)", "✓ forced PIN change (--force-pin-change)", "credential management (0x0A)"}},
		{name: "CTAP 2.0, preview credential management", info: ctap20,
			unavailable: "no authenticatorConfig: --min-pin-length, --force-pin-change",
			listing:     []string{"✗ minimum PIN length (--min-pin-length)", "✗ forced PIN change (--force-pin-change)", "✓ enroll", "preview (0x41)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, un := features(tt.info)
			if (tt.unavailable == "") != (un == "") || !strings.Contains(un, tt.unavailable) {
				t.Errorf("unavailable %q, want %q", un, tt.unavailable)
			}
			var b bytes.Buffer
			printFeatures(&b, fs, un)
			for _, w := range tt.listing {
				if !strings.Contains(b.String(), w) {
					t.Errorf("listing lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// TestMinPINLengthShown: a key that does not report minPINLength (CTAP
// 2.0) has CTAP's default of 4, shown as such, never 0.
func TestMinPINLengthShown(t *testing.T) {
	tests := []struct {
		reported uint64
		want     string
		def      bool
	}{{0, "4 (default)", true}, {6, "6", false}, {4, "4", false}}
	for _, tt := range tests {
		n, def := minPINLength(&hid.Info{Versions: []string{"FIDO_2_0"}, MinPINLength: tt.reported})
		if got := minPINText(n, def); got != tt.want || def != tt.def {
			t.Errorf("reported %d: %q (default %v), want %q", tt.reported, got, def, tt.want)
		}
	}
}
