// Package browsertest drives Debian's headless chromium through
// chromedriver with a minimal W3C WebDriver client (HTTP and JSON, no
// dependencies), for the dashboard's browser tests: the one against the
// API with a simulated engine in internal/bench/api, and the one against
// the real daemon.
//
// Tests using it call Require first: without KEYPREP_BROWSER_TEST=1 they
// are skipped; with it, a missing chromium or chromedriver fails the test.
// Artifacts (screenshots) go to KEYPREP_ARTIFACTS, default a temporary
// directory; the test log says where.
//
// Nothing here logs a URL or chromedriver's output: the dashboard URL
// carries the API token in its fragment.
package browsertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Browser names the programs to use.
type Browser struct {
	Chromium     string
	Chromedriver string
}

// Require skips t unless KEYPREP_BROWSER_TEST=1 and then insists on
// chromium and chromedriver (KEYPREP_CHROMIUM and KEYPREP_CHROMEDRIVER
// override /usr/bin/chromium and /usr/bin/chromedriver).
func Require(t testing.TB) Browser {
	t.Helper()
	if os.Getenv("KEYPREP_BROWSER_TEST") != "1" {
		t.Skip("browser test: set KEYPREP_BROWSER_TEST=1 (make e2e-browser) to run it")
	}
	b := Browser{Chromium: envOr("KEYPREP_CHROMIUM", "/usr/bin/chromium"), Chromedriver: envOr("KEYPREP_CHROMEDRIVER", "/usr/bin/chromedriver")}
	for _, p := range []string{b.Chromium, b.Chromedriver} {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			t.Fatalf("browser test: %s is missing or not executable (install Debian's chromium and chromium-driver: scripts/browser-test.sh does)", p)
		}
	}
	return b
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// ArtifactsDir returns KEYPREP_ARTIFACTS (created) or a temporary
// directory, and logs which.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KEYPREP_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// Driver is a running chromedriver.
type Driver struct {
	base   string
	client *http.Client
	b      Browser
}

// StartDriver runs chromedriver on a free loopback port until t ends.
func StartDriver(t testing.TB, b Browser) *Driver {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(b.Chromedriver, "--port="+strconv.Itoa(port), "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard // its log would show the token URL
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	d := &Driver{base: fmt.Sprintf("http://127.0.0.1:%d", port), client: &http.Client{Timeout: 90 * time.Second}, b: b}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct {
			Ready bool `json:"ready"`
		}
		if err := d.call(http.MethodGet, "/status", nil, &st); err == nil && st.Ready {
			return d
		}
		select {
		case err := <-exited:
			t.Fatalf("chromedriver exited: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("chromedriver did not become ready in 20s")
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Error is a WebDriver error answer.
type Error struct {
	Status  int
	Code    string // e.g. "no such element"
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("webdriver: %s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// IsNoSuchElement says whether err is WebDriver's "no such element".
func IsNoSuchElement(err error) bool {
	var we *Error
	return errors.As(err, &we) && we.Code == "no such element"
}

// call sends one command; out receives the answer's "value".
func (d *Driver) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, d.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("webdriver %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("webdriver %s %s: HTTP %d, not JSON", method, path, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		var we struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		json.Unmarshal(env.Value, &we)
		return &Error{Status: resp.StatusCode, Code: we.Error, Message: firstLine(we.Message)}
	}
	if out != nil {
		return json.Unmarshal(env.Value, out)
	}
	return nil
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Session is one browser.
type Session struct {
	d  *Driver
	id string
}

// NewSession starts headless chromium with a fresh profile (closed when
// t ends) and a window of width×height.
func (d *Driver) NewSession(t testing.TB, width, height int) *Session {
	t.Helper()
	profile := t.TempDir()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-dev-shm-usage", "--password-store=basic",
		"--user-data-dir=" + profile, fmt.Sprintf("--window-size=%d,%d", width, height),
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"pageLoadStrategy":   "normal",
		"goog:chromeOptions": map[string]any{"binary": d.b.Chromium, "args": args},
	}}}
	var out struct {
		SessionID string `json:"sessionId"`
	}
	if err := d.call(http.MethodPost, "/session", caps, &out); err != nil {
		t.Fatalf("new browser session: %v", err)
	}
	s := &Session{d: d, id: out.SessionID}
	t.Cleanup(func() { d.call(http.MethodDelete, "/session/"+s.id, nil, nil) })
	return s
}

func (s *Session) path(p string) string { return "/session/" + s.id + p }

// Navigate loads url.
func (s *Session) Navigate(url string) error {
	return s.d.call(http.MethodPost, s.path("/url"), map[string]string{"url": url}, nil)
}

// Element is a found element.
type Element struct {
	s  *Session
	id string
}

// elementKey is the W3C web element identifier.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// Find returns the first element matching the CSS selector.
func (s *Session) Find(css string) (*Element, error) {
	var out map[string]string
	if err := s.d.call(http.MethodPost, s.path("/element"), map[string]string{"using": "css selector", "value": css}, &out); err != nil {
		return nil, fmt.Errorf("find %q: %w", css, err)
	}
	return &Element{s, out[elementKey]}, nil
}

// FindAll returns every element matching the CSS selector.
func (s *Session) FindAll(css string) ([]*Element, error) {
	var out []map[string]string
	if err := s.d.call(http.MethodPost, s.path("/elements"), map[string]string{"using": "css selector", "value": css}, &out); err != nil {
		return nil, fmt.Errorf("find all %q: %w", css, err)
	}
	els := make([]*Element, len(out))
	for i, m := range out {
		els[i] = &Element{s, m[elementKey]}
	}
	return els, nil
}

// Click clicks the element.
func (e *Element) Click() error {
	return e.s.d.call(http.MethodPost, e.s.path("/element/"+e.id+"/click"), map[string]any{}, nil)
}

// Click finds the element matching css and clicks it, finding it again
// when the page replaced it in between (a live page re-renders).
func (s *Session) Click(css string) error {
	var err error
	for range 5 {
		var e *Element
		if e, err = s.Find(css); err != nil {
			return err
		}
		if err = e.Click(); err == nil || !isStale(err) {
			return err
		}
	}
	return err
}

func isStale(err error) bool {
	var we *Error
	return errors.As(err, &we) && we.Code == "stale element reference"
}

// SendKeys types text into the element; for a file input, text is the
// absolute path of the file to choose.
func (e *Element) SendKeys(text string) error {
	return e.s.d.call(http.MethodPost, e.s.path("/element/"+e.id+"/value"), map[string]string{"text": text}, nil)
}

// Text is the element's rendered text.
func (e *Element) Text() (string, error) {
	var out string
	err := e.s.d.call(http.MethodGet, e.s.path("/element/"+e.id+"/text"), nil, &out)
	return out, err
}

// Attribute is one of the element's attributes ("" when absent).
func (e *Element) Attribute(name string) (string, error) {
	var out *string
	if err := e.s.d.call(http.MethodGet, e.s.path("/element/"+e.id+"/attribute/"+name), nil, &out); err != nil {
		return "", err
	}
	if out == nil {
		return "", nil
	}
	return *out, nil
}

// Execute runs script (a function body; arguments in `arguments`) in the
// page and decodes its return value into out (nil: ignored).
func (s *Session) Execute(out any, script string, args ...any) error {
	if args == nil {
		args = []any{}
	}
	return s.d.call(http.MethodPost, s.path("/execute/sync"), map[string]any{"script": script, "args": args}, out)
}

// Screenshot returns the viewport as PNG.
func (s *Session) Screenshot() ([]byte, error) {
	var b64 string
	if err := s.d.call(http.MethodGet, s.path("/screenshot"), nil, &b64); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(b64)
}

// WaitFor polls cond every 100ms until it is true, returns an error or
// timeout passes.
func WaitFor(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("timed out after %v waiting for %s (last error: %v)", timeout, what, last)
			}
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
