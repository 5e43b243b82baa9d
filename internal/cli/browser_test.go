package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/bench/api/browsertest"
	"github.com/keyprep/keyprep/internal/escrow"
)

// TestBrowserDaemon is the dashboard test against the real daemon: the
// keyprep process runs `serve` on the simulation (four virtual keys behind
// real libfido2, the emulated tenant over HTTP), Debian's chromium driven
// through chromedriver signs in with the printed token URL, uploads a CSV,
// watches the slots enroll everyone (touch prompts, a guest the directory
// refuses), checks the results table, reveals one PIN through the confirm
// dialog and compares it with the escrow opened by `keyprep pins show`,
// and saves screenshots as artifacts. Skipped unless KEYPREP_BROWSER_TEST=1
// (make e2e-browser), where a missing browser is a failure.
func TestBrowserDaemon(t *testing.T) {
	b := browsertest.Require(t)
	artifacts := filepath.Join(browsertest.ArtifactsDir(t), "daemon")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	cmd := exec.Command(os.Args[0], "--state-dir", state, "--sim", "--sim-keys", "4", "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "KEYPREP_CLI_MAIN=1", "NO_COLOR=1", "KEYPREP_TEST_CRASH=",
		"KEYPREP_SIM_TOUCH=delay=600ms", "KEYPREP_SIM_SWAP=300ms")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stopped sync.Once
	stop := func() {
		stopped.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("keyprep serve ended with %v after SIGINT", err)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Errorf("keyprep serve did not stop on SIGINT")
			}
			recordOutput(out.String() + errb.String())
			if t.Failed() {
				t.Logf("serve stdout:\n%s\nstderr:\n%s", out.String(), tail(errb.String(), 4000))
			}
		})
	}
	t.Cleanup(stop)
	var url string
	err := browsertest.WaitFor(30*time.Second, "keyprep serve to listen", func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(state, URLFile))
		url = strings.TrimSpace(string(b))
		return err == nil && url != "", nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	tok, err := os.ReadFile(filepath.Join(state, TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	recordSecret(token)
	if strings.Contains(out.String(), token) {
		t.Errorf("the token was printed to a non-terminal stdout")
	}

	csv, upns := benchUsers(t, 8, "kim_fabrikam.com#EXT#@contoso.test", "not a upn")
	driver := browsertest.StartDriver(t, b)
	sess := driver.NewSession(t, 1400, 1500)
	start := time.Now()
	browsertest.RunDashboard(t, sess, browsertest.Dashboard{
		URL: url, Token: token, CSV: csv, Added: len(upns) + 1, RowErrors: 1,
		Verified: upns, Failed: []string{"kim_fabrikam.com#EXT#@contoso.test"},
		Timeout: 2 * time.Minute, Artifacts: artifacts, RequireTouch: true,
		PIN: func(upn string) string {
			// pins show prints the PIN by design: only its stderr is scanned.
			c := exec.Command(os.Args[0], "--state-dir", state, "pins", "show", "--user", upn,
				"--identity", filepath.Join(state, "escrow", escrow.BenchIdentityFile))
			c.Env = append(os.Environ(), "KEYPREP_CLI_MAIN=1", "NO_COLOR=1")
			var so, se bytes.Buffer
			c.Stdout, c.Stderr = &so, &se
			if err := c.Run(); err != nil {
				t.Errorf("pins show: %v\n%s", err, se.String())
			}
			recordOutput(se.String())
			p := strings.TrimSpace(so.String())
			recordSecret(p)
			return p
		},
	})
	t.Logf("daemon dashboard scenario: %d users on 4 virtual keys in %v; screenshots in %s", len(upns), time.Since(start).Round(100*time.Millisecond), artifacts)
	stop() // the daemon holds the tenant's and the keys' state
	for u, n := range passkeysPerUser(t, state, upns) {
		if n != 1 {
			t.Errorf("%s has %d passkeys", u, n)
		}
	}
}

// tail is the last n bytes of s, for logs of a failed command.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
