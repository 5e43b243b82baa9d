package keycaps

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// readmeBlock replaces or checks the README's text between
// "<!-- NAME:begin -->" and "<!-- NAME:end -->". With
// KEYPREP_UPDATE_README=1 it rewrites the README; otherwise it fails when
// the block differs from want (the README must not drift from what the
// code decides).
func readmeBlock(t *testing.T, name, want string) {
	t.Helper()
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- "+name+":begin -->\n", "<!-- "+name+":end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q … %q block", strings.TrimSpace(begin), end)
	}
	got := s[i+len(begin) : j]
	if got == want {
		return
	}
	if os.Getenv("KEYPREP_UPDATE_README") == "1" {
		if err := os.WriteFile(path, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's %s block is out of date; rerun with KEYPREP_UPDATE_README=1.\ngot:\n%s\nwant:\n%s", name, got, want)
}

// TestREADMECertifiedSummary keeps the README's summary over the 151
// certified models (testdata/mds-getinfo.json) equal to what Decide says.
func TestREADMECertifiedSummary(t *testing.T) {
	var total, enrollable, settings, alwaysUV, ctap20, proto1 int
	refused := map[string]int{}
	cm := map[CredMgmtKind]int{}
	for _, e := range loadMDS(t) {
		var gi GetInfo
		if err := json.Unmarshal(e.GetInfo, &gi); err != nil {
			t.Fatal(err)
		}
		total++
		c := Of(&gi)
		d := Decide(c, Want{}, false)
		if !d.Enrollable {
			for _, r := range d.Refusals {
				refused[r.Missing]++
			}
			continue
		}
		enrollable++
		if Decide(c, Want{MinPINLength: 8, ForcePINChange: true}, false).Enrollable {
			settings++
		}
		if Decide(c, Want{AlwaysUV: true}, false).Enrollable {
			alwaysUV++
		}
		if !c.CTAP21 && !gi.HasVersion("FIDO_2_1_PRE") {
			ctap20++
		}
		if len(c.PINProtocols) == 1 && c.PINProtocols[0] == 1 {
			proto1++
		}
		cm[c.CredMgmt]++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "- **%d of %d** can be enrolled with keyprep's defaults. The others are refused before anything is written:", enrollable, total)
	var lack []string
	for _, k := range []string{"clientPin", "discoverable credentials (rk)", "ES256 or RS256", "CTAP2", "a free discoverable-credential slot"} {
		if n := refused[k]; n > 0 {
			lack = append(lack, fmt.Sprintf("%d lack %s", n, k))
		}
	}
	b.WriteString(" " + strings.Join(lack, ", ") + " (a model may lack several; many are platform or phone authenticators, or statements that omit their options).\n")
	fmt.Fprintf(&b, "- **%d of those %d** take `--min-pin-length` and `--force-pin-change` (authenticatorConfig with setMinPINLength); on the other %d both are refused before the PIN is set, or skipped and recorded with `--skip-unsupported`. %d take `--always-uv`.\n",
		settings, enrollable, enrollable-settings, alwaysUV)
	fmt.Fprintf(&b, "- Credential management, which keyprep uses to list a key's passkeys and to remove one a failed enrollment left: full (0x0A) on %d, the FIDO_2_1_PRE preview (0x41) on %d, none on %d (keyprep then names the orphaned credential in the journal; only a reset removes it).\n",
		cm[CredMgmtFull], cm[CredMgmtPreview], cm[CredMgmtNone])
	fmt.Fprintf(&b, "- %d speak only CTAP 2.0 and %d only PIN/UV auth protocol 1; both work.\n", ctap20, proto1)
	readmeBlock(t, "certified-models", b.String())
}
