package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/keycaps"
	"github.com/keyprep/keyprep/internal/simkeys"
	"github.com/keyprep/keyprep/internal/softkey"
)

// TestModelMatrix runs keyprep against every built-in key model
// (internal/softkey/models, docs/key-models.md), each as a separate key:
//
//   - defaults: enroll succeeds, verified, under the model's own AAGUID (a
//     model that attests itself is first refused by the default passkey
//     profile's attestation enforcement, naming the profile, and enrolls
//     once the profile stops enforcing it, as an admin would do);
//   - --min-pin-length 8 --force-pin-change on a factory-fresh key: applied
//     where the model has authenticatorConfig's setMinPINLength (the key
//     then reports both), refused before anything is written otherwise
//     (exit 6, the missing capability named, the key still without a PIN),
//     and enrolled without them under --skip-unsupported;
//   - --reset on the used key after a replug: enrolls a second user on the
//     factory-reset key;
//
// and TestModelMatrixBench runs benches of three mixed models.
func TestModelMatrix(t *testing.T) {
	t.Parallel()
	for _, m := range softkey.Models() {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			aaguid := modelAAGUID(t, m)
			model := []string{"--sim-key-model", m.Name}

			// Defaults.
			w := newWorld(t)
			if m.Attestation.Format != softkey.AttestationPacked {
				r := w.cli("", hooks{}, append(model, "enroll", "--user", "adele.vance@contoso.test")...)
				msg, hint := splitReport(r.errOut)
				if r.code != int(ExitDirectory) || !strings.Contains(msg, "Default passkey profile") || !strings.Contains(hint, "--enforce-attestation off") {
					t.Fatalf("a self-attesting %s under the enforcing default profile: exit %d, want %d naming the profile\n%s", m.Name, r.code, ExitDirectory, r.errOut)
				}
				r = w.cli("", hooks{}, "policy", "set", "fido2", "--profile", "Default passkey profile", "--enforce-attestation", "off", "--yes")
				if r.code != 0 {
					t.Fatalf("policy set: %d\n%s", r.code, r.errOut)
				}
			}
			res := enrollJSON(t, w, model, "adele.vance@contoso.test")
			if !res.Verified || res.AAGUID != aaguid {
				t.Errorf("defaults: verified %v, AAGUID %s (want %s)", res.Verified, res.AAGUID, aaguid)
			}

			// --reset on the used key, replugged first (keys accept a reset
			// only within seconds of power-up).
			replug := hooks{keysReady: func(p *simkeys.Provider) {
				if err := p.Replug("vkey:0"); err != nil {
					t.Errorf("replug: %v", err)
				}
			}}
			r := w.cli("", replug, append(model, "enroll", "--user", "alex.wilber@contoso.test", "--reset", "--json")...)
			if r.code != 0 {
				t.Fatalf("--reset: exit %d\n%s", r.code, r.errOut)
			}
			var reset struct{ Verified bool }
			if err := json.Unmarshal([]byte(r.out), &reset); err != nil || !reset.Verified {
				t.Errorf("--reset: %v %s", err, r.out)
			}
			if creds := w.residentCreds(t, m); creds != 1 {
				t.Errorf("after --reset the key holds %d passkeys, want only the new one", creds)
			}

			// --min-pin-length 8 --force-pin-change on a fresh key.
			w2 := newWorld(t)
			if m.Attestation.Format != softkey.AttestationPacked {
				w2.cli("", hooks{}, "policy", "set", "fido2", "--profile", "Default passkey profile", "--enforce-attestation", "off", "--yes")
			}
			d := keycaps.Decide(keycaps.Of(&m.GetInfo), keycaps.Want{MinPINLength: 8, ForcePINChange: true}, false)
			args := append(append([]string{}, model...), "enroll", "--user", "megan.bowen@contoso.test", "--min-pin-length", "8", "--force-pin-change", "--json")
			r = w2.cli("", hooks{}, args...)
			if d.Enrollable {
				if r.code != 0 {
					t.Fatalf("--min-pin-length 8 --force-pin-change on a key that can take them: exit %d\n%s", r.code, r.errOut)
				}
				k := w2.keySummary(t, model)
				if k.MinPINLength != 8 || !k.ForcePINChange {
					t.Errorf("the key reports minPINLength %d, forcePINChange %v; want 8 and true", k.MinPINLength, k.ForcePINChange)
				}
				return
			}
			msg, hint := splitReport(r.errOut)
			if r.code != int(ExitUnsupported) || !strings.Contains(msg, d.Refusals[0].Missing) || !strings.Contains(hint, "--skip-unsupported") {
				t.Fatalf("a key without %s: exit %d, want %d naming it with a hint\n%s", d.Refusals[0].Missing, r.code, ExitUnsupported, r.errOut)
			}
			if k := w2.keySummary(t, model); k.PINSet {
				t.Errorf("the refused enrollment set a PIN on the key")
			}
			if n := len(w2.escrows()); n != 0 {
				t.Errorf("the refused enrollment escrowed %d PINs", n)
			}
			// The same with --skip-unsupported: enrolled, and the result
			// says what was skipped.
			r = w2.cli("", hooks{}, append(args, "--skip-unsupported")...)
			var skipped struct {
				Verified bool
				Skipped  []string
			}
			if err := json.Unmarshal([]byte(r.out), &skipped); r.code != 0 || err != nil || !skipped.Verified || len(skipped.Skipped) != len(d.Refusals) {
				t.Errorf("--skip-unsupported: exit %d, %+v (want %d skipped)\n%s", r.code, skipped, len(d.Refusals), r.errOut)
			}
		})
	}
}

// TestModelMatrixBench runs a bench of three keys of different models
// (the ports cycle through the built-in models, so every model is on a
// bench) enrolling six users: every user gets one verified passkey, each
// under the AAGUID of the model in its port.
func TestModelMatrixBench(t *testing.T) {
	t.Parallel()
	models := softkey.Models()
	for i := 0; i < len(models); i += 3 {
		var names []string
		for j := 0; j < 3; j++ {
			names = append(names, models[(i+j)%len(models)].Name)
		}
		t.Run(strings.Join(names, "+"), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			if r := w.cli("", hooks{}, "policy", "set", "fido2", "--profile", "Default passkey profile", "--enforce-attestation", "off", "--yes"); r.code != 0 {
				t.Fatalf("policy set: %s", r.errOut)
			}
			csv, _ := benchUsers(t, 6)
			r := w.cli("", hooks{}, "--sim-key-models", strings.Join(names, ","), "enroll", "--csv", csv, "--json")
			if r.code != 0 {
				t.Fatalf("bench: exit %d\n%s", r.code, r.errOut)
			}
			_, sum := jsonLines(t, r.out)
			want := map[string]bool{}
			for _, n := range names {
				m, _ := softkey.LookupModel(n)
				want[modelAAGUID(t, m)] = true
			}
			seen := map[string]bool{}
			for _, res := range sum.Results {
				if !res.Verified {
					t.Errorf("%s not verified", res.UPN)
				}
				seen[res.AAGUID] = true
			}
			if sum.Counts.Done != 6 || len(seen) != len(want) {
				t.Errorf("%d done, models used %v, want %v", sum.Counts.Done, seen, want)
			}
		})
	}
}

func modelAAGUID(t *testing.T, m *softkey.Model) string {
	t.Helper()
	b, err := m.GetInfo.AAGUIDBytes()
	if err != nil {
		t.Fatal(err)
	}
	return uuid.UUID(b).String()
}

type enrollResult struct {
	Verified bool
	AAGUID   string
	Skipped  []string
}

func enrollJSON(t *testing.T, w *world, model []string, upn string) enrollResult {
	t.Helper()
	r := w.cli("", hooks{}, append(append([]string{}, model...), "enroll", "--user", upn, "--json")...)
	if r.code != 0 {
		t.Fatalf("enroll %s: exit %d\n%s", upn, r.code, r.errOut)
	}
	var res enrollResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("enroll --json: %v\n%s", err, r.out)
	}
	return res
}

func (w *world) keySummary(t *testing.T, model []string) keySummary {
	t.Helper()
	r := w.cli("", hooks{}, append(append([]string{}, model...), "keys", "--json")...)
	var out struct{ Keys []keySummary }
	if err := json.Unmarshal([]byte(r.out), &out); err != nil || len(out.Keys) != 1 {
		t.Fatalf("keys --json: %v %q\n%s", err, r.out, r.errOut)
	}
	return out.Keys[0]
}

// residentCreds counts the discoverable credentials on the world's key,
// read from the virtual key itself.
func (w *world) residentCreds(t *testing.T, m *softkey.Model) int {
	t.Helper()
	n := -1
	w.cli("", hooks{keysReady: func(p *simkeys.Provider) {
		a, err := p.Authenticator("vkey:0")
		if err != nil {
			t.Errorf("authenticator: %v", err)
			return
		}
		n = a.Status().ResidentCount
	}}, "--sim-key-model", m.Name, "keys")
	return n
}
