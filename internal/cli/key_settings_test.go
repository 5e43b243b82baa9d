package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/enroll"
)

// Key settings some keys cannot take (--min-pin-length, --force-pin-change,
// --always-uv): refused before the key is touched (exit 6), or with
// --skip-unsupported enrolled without them and the skipped settings shown.
func TestEnrollKeySettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		args    []string
		code    ExitCode
		out     []string // in stdout
		errOut  []string // in stderr
		pinSet  bool     // the key has a PIN afterwards
		checkFn func(t *testing.T, w *world, r cliResult)
	}{
		{name: "setting the key cannot take: refused untouched",
			args:   []string{"--sim-key-model", "yubikey-5.4", "enroll", "--user", adele, "--min-pin-length", "8"},
			code:   ExitUnsupported,
			errOut: []string{"this key has no authenticatorConfig", "hint: ", "--skip-unsupported"}},
		{name: "--always-uv on a key without authenticatorConfig: refused untouched",
			args:   []string{"--sim-key-model", "yubikey-5.4", "enroll", "--user", adele, "--always-uv"},
			code:   ExitUnsupported,
			errOut: []string{"--always-uv"}},
		{name: "--skip-unsupported: enrolled, the skipped settings shown",
			args:   []string{"--sim-key-model", "yubikey-5.4", "enroll", "--user", adele, "--min-pin-length", "8", "--force-pin-change", "--skip-unsupported"},
			out:    []string{"Enrolled " + adele, "skipped      --min-pin-length: this key has no authenticatorConfig", "skipped      --force-pin-change: ", "PIN change   not required"},
			pinSet: true},
		{name: "--skip-unsupported in --json",
			args:   []string{"--sim-key-model", "yubikey-5.4", "--json", "enroll", "--user", adele, "--always-uv", "--skip-unsupported"},
			pinSet: true,
			checkFn: func(t *testing.T, w *world, r cliResult) {
				var res enroll.Result
				if err := json.Unmarshal([]byte(r.out), &res); err != nil {
					t.Fatal(err)
				}
				if len(res.Skipped) != 1 || !strings.HasPrefix(res.Skipped[0], "--always-uv: ") {
					t.Errorf("skipped %q", res.Skipped)
				}
			}},
		{name: "--always-uv on a key that takes it",
			args:   []string{"enroll", "--user", adele, "--always-uv"},
			out:    []string{"Enrolled " + adele},
			pinSet: true,
			checkFn: func(t *testing.T, w *world, r cliResult) {
				if i := w.cli("", hooks{}, "info"); !strings.Contains(i.out, "alwaysUv=true") {
					t.Errorf("alwaysUv is not on:\n%s", i.out)
				}
			}},
		{name: "the key's serial and firmware in the result",
			args: []string{"--sim-key-model", "solo-1", "enroll", "--user", adele, "--display-name", "{serial}"},
			out:  []string{"key          serial "}, pinSet: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			r := w.cli("", hooks{}, tc.args...)
			if ExitCode(r.code) != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.code, r.out, r.errOut)
			}
			for _, s := range tc.out {
				if !strings.Contains(r.out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.out)
				}
			}
			for _, s := range tc.errOut {
				if !strings.Contains(r.errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.errOut)
				}
			}
			model := []string{}
			if len(tc.args) > 1 && tc.args[0] == "--sim-key-model" {
				model = tc.args[:2]
			}
			if pinSet, _ := w.keyStateArgs(model...); pinSet != tc.pinSet {
				t.Errorf("PIN set %v, want %v", pinSet, tc.pinSet)
			}
			if tc.checkFn != nil {
				tc.checkFn(t, w, r)
			}
		})
	}
}

// keyStateArgs is keyState with global flags (the key's model).
func (w *world) keyStateArgs(global ...string) (pinSet bool, retries int) {
	w.t.Helper()
	r := w.cli("", hooks{}, append(global, "keys", "--json")...)
	var kl struct {
		Keys []struct {
			PINSet     bool `json:"pinSet"`
			PINRetries *int `json:"pinRetries"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.out), &kl); err != nil || len(kl.Keys) == 0 {
		w.t.Fatalf("keys --json: %v %q %s", err, r.out, r.errOut)
	}
	if kl.Keys[0].PINRetries != nil {
		retries = *kl.Keys[0].PINRetries
	}
	return kl.Keys[0].PINSet, retries
}

// A bench run takes the same settings: a mixed bench with
// --skip-unsupported enrolls every key and names what each skipped.
func TestBenchKeySettings(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	csv, _ := benchUsers(t, 2)
	r := w.cli("", hooks{}, "--sim-key-models", "yubikey-5.4,keyprep-virtual", "enroll", "--csv", csv,
		"--min-pin-length", "8", "--always-uv", "--skip-unsupported", "--json")
	if r.code != 0 {
		t.Fatalf("enroll --csv: %d\n%s", r.code, r.errOut)
	}
	_, sum := jsonLines(t, r.out)
	if sum.Counts.Done != 2 {
		t.Fatalf("counts %+v", sum.Counts)
	}
	skipped := 0
	for _, res := range sum.Results {
		if len(res.Skipped) > 0 {
			skipped++
			if !strings.Contains(strings.Join(res.Skipped, "|"), "--min-pin-length: this key has no authenticatorConfig") {
				t.Errorf("%s skipped %q", res.UPN, res.Skipped)
			}
		}
	}
	if skipped != 1 {
		t.Errorf("%d results with skipped settings, want 1 (the yubikey-5.4): %+v", skipped, sum.Results)
	}
	// serve takes the flags too, into the same request template.
	g := &globals{}
	for _, name := range []string{"always-uv", "skip-unsupported"} {
		if newServeCmd(g).Flags().Lookup(name) == nil {
			t.Errorf("serve has no --%s", name)
		}
	}
	req, err := (&enrollOptions{pinMode: "generate", alwaysUV: true, skipUnsupported: true}).benchRequest()
	if err != nil || !req.AlwaysUV || !req.SkipUnsupported {
		t.Errorf("bench request %+v %v", req, err)
	}
}

// TestClassifyEnrollErrors: the workflow's new classes get their exit
// codes and hints, and passkeys left on a key are named with what to do.
func TestClassifyEnrollErrors(t *testing.T) {
	wrap := func(sentinel error) error { return fmt.Errorf("%w: %w", sentinel, hid.ErrUnsupported) }
	cases := []struct {
		name string
		err  *enroll.Error
		code ExitCode
		msg  string // the message exactly (before the job id)
		hint string // in the hint
	}{
		{name: "unsupported setting keeps the workflow's hint",
			err:  &enroll.Error{Msg: "vkey:0: this key has no authenticatorConfig", Hint: "drop --min-pin-length, or add --skip-unsupported", Err: wrap(enroll.ErrUnsupportedSetting)},
			code: ExitUnsupported, msg: "vkey:0: this key has no authenticatorConfig", hint: "add --skip-unsupported"},
		{name: "unsupported setting without a hint",
			err:  &enroll.Error{Msg: "m", Err: wrap(enroll.ErrUnsupportedSetting)},
			code: ExitUnsupported, msg: "m", hint: "keyprep info"},
		{name: "no serial is a usage error",
			err:  &enroll.Error{Msg: "vkey:0 reports no USB serial number", Err: enroll.ErrNoSerial},
			code: ExitUsage, msg: "vkey:0 reports no USB serial number", hint: "without {serial}"},
		{name: "reset window passed",
			err:  &enroll.Error{Msg: "vkey:0 refused the reset", Err: fmt.Errorf("%w: %w", enroll.ErrResetWindow, &hid.Error{Op: "reset", Code: hid.CodeNotAllowed})},
			code: ExitKeyRefused, msg: "vkey:0 refused the reset", hint: "plug it back in and run again within 10 seconds"},
		{name: "the key's own PIN rules",
			err:  &enroll.Error{Msg: "vkey:0 refused the new PIN", Err: fmt.Errorf("%w: %w", enroll.ErrKeyPINRules, &hid.Error{Op: "set PIN", Code: hid.CodePINPolicyViolation})},
			code: ExitPIN, msg: "vkey:0 refused the new PIN", hint: "PIN rules"},
		{name: "orphans named with what to do",
			err:  &enroll.Error{Msg: "attestation is enforced", Hint: "use a certified key model", Err: enroll.ErrAttestation, Orphans: []string{"Y3JlZC0x"}},
			code: ExitDirectory, msg: "attestation is enforced",
			hint: "use a certified key model; the key keeps the unregistered passkey Y3JlZC0x (journaled): keyprep journal resume removes it"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := classify(fmt.Errorf("enroll: %w", tc.err))
			if e.Code != tc.code || e.Msg != tc.msg || !strings.Contains(e.Hint, tc.hint) {
				t.Errorf("got %d %q hint %q; want %d %q hint with %q", e.Code, e.Msg, e.Hint, tc.code, tc.msg, tc.hint)
			}
			if len(tc.err.Orphans) > 0 {
				j, _ := json.Marshal(e.json())
				if !strings.Contains(string(j), `"orphans":["Y3JlZC0x"]`) {
					t.Errorf("--json error %s", j)
				}
			}
			if !errors.Is(e, tc.err.Err) {
				t.Errorf("the cause is lost")
			}
		})
	}
}
