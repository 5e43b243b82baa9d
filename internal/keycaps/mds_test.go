package keycaps

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// mdsEntry is one entry of testdata/mds-getinfo.json (see its README).
type mdsEntry struct {
	AAGUID      string          `json:"aaguid"`
	Description string          `json:"description"`
	GetInfo     json.RawMessage `json:"authenticatorGetInfo"`
}

func loadMDS(t testing.TB) []mdsEntry {
	t.Helper()
	b, err := os.ReadFile("testdata/mds-getinfo.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Source  string     `json:"source"`
		Entries []mdsEntry `json:"entries"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Source, "FIDO Metadata Service") || len(f.Entries) != 151 {
		t.Fatalf("testdata/mds-getinfo.json: source %q, %d entries; want the MDS BLOB 78 extract of 151", f.Source, len(f.Entries))
	}
	return f.Entries
}

// declared is what a getInfo object declares, read from the raw JSON
// without GetInfo or Of: the test's own reading of the CTAP 2.1 §6.4
// members, to check the decision against.
type declared struct {
	versions []string
	options  map[string]bool
	algs     []int // nil: not declared
	remain   *int
	minPIN   int
}

func declare(t *testing.T, raw json.RawMessage) declared {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var d declared
	_ = json.Unmarshal(m["versions"], &d.versions)
	_ = json.Unmarshal(m["options"], &d.options)
	if a, ok := m["algorithms"]; ok {
		var list []map[string]any
		_ = json.Unmarshal(a, &list)
		d.algs = []int{}
		for _, e := range list {
			if f, ok := e["alg"].(float64); ok {
				d.algs = append(d.algs, int(f))
			}
		}
	}
	if r, ok := m["remainingDiscoverableCredentials"]; ok {
		var n int
		_ = json.Unmarshal(r, &n)
		d.remain = &n
	}
	_ = json.Unmarshal(m["minPINLength"], &d.minPIN)
	return d
}

func (d declared) option(name string) (v, ok bool) { v, ok = d.options[name]; return }

// TestCertifiedModels takes, for each of the 151 certified models, the
// decision keyprep takes before touching such a key, and checks it
// against what the model's getInfo declares: enrollable with the defaults
// exactly when it is a FIDO2 key that stores discoverable credentials,
// supports a PIN, signs with an algorithm Entra accepts and has a free
// slot; --min-pin-length 8 and --force-pin-change refused (saying which
// capability is missing) exactly when it lacks authenticatorConfig's
// setMinPINLength.
func TestCertifiedModels(t *testing.T) {
	var enrollable, settings, ctap20, preview, full int
	for _, e := range loadMDS(t) {
		t.Run(e.Description+"/"+e.AAGUID, func(t *testing.T) {
			var gi GetInfo
			if err := json.Unmarshal(e.GetInfo, &gi); err != nil {
				t.Fatalf("GetInfo does not decode a certified model's getInfo: %v", err)
			}
			dec := declare(t, e.GetInfo)
			c := Of(&gi)

			fido2 := slices.ContainsFunc(dec.versions, func(v string) bool { return strings.HasPrefix(v, "FIDO_2_") })
			rk, _ := dec.option("rk")
			_, pin := dec.option("clientPin")
			alg := dec.algs == nil || slices.Contains(dec.algs, -7) || slices.Contains(dec.algs, -257)
			free := dec.remain == nil || *dec.remain > 0
			want := fido2 && rk && pin && alg && free

			d := Decide(c, Want{}, false)
			if d.Enrollable != want {
				t.Fatalf("enrollable = %v, want %v (fido2 %v rk %v clientPin %v alg %v free %v): %+v", d.Enrollable, want, fido2, rk, pin, alg, free, d.Refusals)
			}
			if !want {
				if len(d.Refusals) == 0 || d.Refusals[0].Msg == "" || d.Refusals[0].Hint == "" {
					t.Fatalf("refused without a message and a hint: %+v", d.Refusals)
				}
				return
			}
			enrollable++
			if !slices.Contains(dec.versions, "FIDO_2_1_PRE") && !slices.Contains(dec.versions, "FIDO_2_1") {
				ctap20++
			}
			switch {
			case dec.options["credMgmt"]:
				full++
			case dec.options["credentialMgmtPreview"]:
				preview++
			}

			cfg, _ := dec.option("authnrCfg")
			smpl, _ := dec.option("setMinPINLength")
			can := cfg && smpl
			d = Decide(c, Want{MinPINLength: 8, ForcePINChange: true}, false)
			var wantRefused []string
			if !can {
				if max(dec.minPIN, 4) < 8 {
					wantRefused = append(wantRefused, FlagMinPINLength)
				}
				wantRefused = append(wantRefused, FlagForcePINChange)
			}
			if got := keys(d.Refusals); !slices.Equal(got, wantRefused) {
				t.Fatalf("--min-pin-length 8 --force-pin-change: refused %q, want %q", got, wantRefused)
			}
			for _, r := range d.Refusals {
				missing := "authenticatorConfig"
				if cfg {
					missing = "setMinPINLength"
				}
				if r.Missing != missing || !strings.Contains(r.Msg, missing) || !strings.Contains(r.Msg, r.Flag) || !strings.Contains(r.Hint, "--skip-unsupported") {
					t.Errorf("refusal %+v does not name %s and the flag, or gives no hint", r, missing)
				}
			}
			if can {
				settings++
			}
			// With --skip-unsupported the same enrollment goes ahead and
			// records what it skipped.
			d = Decide(c, Want{MinPINLength: 8, ForcePINChange: true}, true)
			if !d.Enrollable || len(d.Skipped) != len(wantRefused) {
				t.Errorf("--skip-unsupported: %+v", d)
			}
		})
	}
	// The counts the README's summary states, as a short script of its own
	// counted them over the same file: 120 FIDO2 keys with rk, clientPin,
	// ES256/RS256 and a free slot; 33 of them with setMinPINLength.
	if enrollable != 120 || settings != 33 {
		t.Errorf("enrollable %d (want 120), with --min-pin-length and --force-pin-change %d (want 33)", enrollable, settings)
	}
	t.Logf("enrollable %d; with settings %d; CTAP 2.0 only %d; credential management full %d, preview %d", enrollable, settings, ctap20, full, preview)
}
