package cli

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/softkey"
)

// complete runs `keyprep __complete ARGS` (what the shell scripts of
// `keyprep completion` call at each TAB) in-process on a fresh state
// directory and returns the candidates without their descriptions.
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	var out, errOut bytes.Buffer
	argv := append([]string{"__complete", "--state-dir", t.TempDir()}, args...)
	if code := run(context.Background(), argv, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, wiring{}); code != 0 {
		t.Fatalf("keyprep %q: exit %d\n%s", argv, code, errOut.String())
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, ":") { // the directive ends the list
			break
		}
		value, _, _ := strings.Cut(line, "\t")
		got = append(got, value)
	}
	return got
}

func TestCompleteValues(t *testing.T) {
	var models, listed []string
	for _, m := range softkey.Models() {
		models = append(models, m.Name)
		listed = append(listed, "yubikey-5.4,"+m.Name)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"virtual keys", []string{"--sim-keys", "2", "enroll", "--key", ""}, []string{"vkey:0", "vkey:1"}},
		{"--sim key after the command", []string{"pin", "set", "--sim", "--key", "vk"}, []string{"vkey:0"}},
		{"key models", []string{"--sim-key-model", ""}, models},
		{"key model list", []string{"--sim-key-models", "yubikey-5.4,"}, listed},
		{"log level", []string{"keys", "--log-level", ""}, []string{"debug", "info", "warn", "error"}},
		{"log format", []string{"--log-format", ""}, []string{"text", "json"}},
		{"auth", []string{"user", "show", "--auth", ""}, graph.AuthMethods},
		{"slip format", []string{"tap", "create", "--format", ""}, []string{"text", "html"}},
		{"enroll slip format", []string{"enroll", "--tap-format", ""}, []string{"text", "html"}},
		{"pin source", []string{"enroll", "--pin", ""}, []string{"generate", "prompt", "stdin"}},
		{"always-uv", []string{"config", "--always-uv", ""}, []string{"on", "off"}},
		{"policy show", []string{"policy", "show", ""}, []string{"fido2", "tap"}},
		{"policy check", []string{"policy", "check", ""}, []string{"fido2", "tap"}},
		{"policy set", []string{"policy", "set", ""}, []string{"fido2", "tap"}},
		{"command names still", []string{"vers"}, []string{"version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := complete(t, tt.args...); !slices.Equal(got, tt.want) {
				t.Errorf("completing %q: %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

// TestCompletedValuesAccepted: every value a flag completes is one its
// check accepts: a bad value's usage error names exactly the completed
// ones (in the same order), so the two lists cannot drift apart.
func TestCompletedValuesAccepted(t *testing.T) {
	tests := []struct {
		flag string
		args []string // with the bad value
	}{
		{"log-level", []string{"--log-level", "bogus", "keys"}},
		{"log-format", []string{"--log-format", "bogus", "keys"}},
		{"format", []string{"--sim", "tap", "create", "--user", "adele.vance@contoso.test", "--format", "bogus"}},
		{"tap-format", []string{"--sim", "enroll", "--user", "adele.vance@contoso.test", "--with-tap", "--tap-format", "bogus"}},
		{"pin", []string{"--sim", "enroll", "--user", "adele.vance@contoso.test", "--pin", "bogus"}},
		{"always-uv", []string{"--sim", "config", "--always-uv", "bogus"}},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			var out, errOut bytes.Buffer
			argv := append([]string{"--state-dir", t.TempDir()}, tt.args...)
			code := run(context.Background(), argv, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, wiring{})
			if code != int(ExitUsage) {
				t.Fatalf("keyprep %q: exit %d, want %d (usage)\n%s", argv, code, ExitUsage, errOut.String())
			}
			var values []string
			for _, c := range flagChoices[tt.flag] {
				values = append(values, c.value)
			}
			want := "want " + strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
			if len(values) == 2 {
				want = "want " + values[0] + " or " + values[1]
			}
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("keyprep %q says:\n%s\nwant it to name the completed values: %q", argv, errOut.String(), want)
			}
		})
	}
}

// TestVersion: `version` and `--version` show the stamped version, commit
// and date, the Go version and the libfido2 loaded, with --json too.
func TestVersion(t *testing.T) {
	defer func(v, c, d, l string) { Version, Commit, Date, Libfido2 = v, c, d, l }(Version, Commit, Date, Libfido2)
	Version, Commit, Date, Libfido2 = "1.2.3", "0123456789abcdef0123456789abcdef01234567", "2026-01-02T03:04:05Z", "1.12.0"
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"version"}, []string{"keyprep 1.2.3\n", "commit:    0123456789abcdef0123456789abcdef01234567\n", "date:      2026-01-02T03:04:05Z\n", "go:        go1.", "libfido2:  1.", "built against 1.12.0"}},
		{[]string{"--version"}, []string{"keyprep 1.2.3 (commit 0123456789ab, 2026-01-02T03:04:05Z), go1.", ", libfido2 1."}},
		{[]string{"--json", "version"}, []string{`"version": "1.2.3"`, `"commit": "0123456789abcdef0123456789abcdef01234567"`, `"date": "2026-01-02T03:04:05Z"`, `"libfido2Build": "1.12.0"`, `"libfido2Path": "/`}},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		// No $HOME and no state directory: version needs neither.
		t.Setenv("HOME", "")
		t.Setenv("XDG_STATE_HOME", "")
		t.Setenv("KEYPREP_STATE_DIR", "")
		if code := run(context.Background(), tt.args, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, wiring{}); code != 0 {
			t.Fatalf("keyprep %q: exit %d\n%s", tt.args, code, errOut.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("keyprep %q:\n%s\nlacks %q", tt.args, out.String(), w)
			}
		}
	}
}
