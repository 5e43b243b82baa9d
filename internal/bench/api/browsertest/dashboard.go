package browsertest

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Dashboard is one run of the dashboard scenario: sign in with the token
// URL, upload a user list, watch the slots work it off, check the results
// table, take screenshots, optionally reveal one PIN.
type Dashboard struct {
	// URL is the daemon's base URL, http://127.0.0.1:PORT/, without a fragment.
	URL string
	// Token is the daemon's API token (never logged).
	Token string
	// CSV is the path of the user list to upload.
	CSV string
	// Added is how many users the upload must queue.
	Added int
	// RowErrors is how many rows of CSV the upload must report.
	RowErrors int
	// Verified are the UPNs that must end with a verified result;
	// Failed those that must end failed (listed under "needs attention").
	Verified, Failed []string
	// Timeout bounds the wait for the queue to finish (default 2 min).
	Timeout time.Duration
	// Artifacts is the directory for dashboard-running.png and
	// dashboard-done.png.
	Artifacts string
	// RequireTouch: the "touch the key now" prompt must be seen at least
	// once while the queue runs (the simulation makes touches visible).
	RequireTouch bool
	// PIN, when set, gives the PIN the daemon must reveal for a UPN of
	// Verified; the scenario then reveals the first result's PIN through
	// the confirm dialog and compares (the value is never logged).
	PIN func(upn string) string
}

// pageState is what the scenario polls from the page.
type pageState struct {
	Href       string   `json:"href"`
	Cookie     string   `json:"cookie"`
	Conn       string   `json:"conn"`
	AppShown   bool     `json:"appShown"`
	LoginShown bool     `json:"loginShown"`
	Complete   string   `json:"complete"`
	Progress   string   `json:"progress"`
	Total      string   `json:"total"`
	Done       string   `json:"done"`
	Failed     string   `json:"failed"`
	SlotStates []string `json:"slotStates"`
	Touch      int      `json:"touch"`
	Results    []struct {
		UPN      string   `json:"upn"`
		Verified string   `json:"verified"`
		Cells    []string `json:"cells"`
	} `json:"results"`
	Problems []string `json:"problems"`
	CSP      string   `json:"csp"`
}

const pageStateJS = `
const q = (s) => document.querySelector(s);
const txt = (s) => { const e = q(s); return e ? e.textContent : ''; };
return {
  href: location.href,
  cookie: document.cookie,
  conn: q('#conn') ? q('#conn').dataset.state : '',
  appShown: !!q('#app') && !q('#app').hidden,
  loginShown: !!q('#login') && !q('#login').hidden,
  complete: q('#progress') ? (q('#progress').dataset.complete || '') : '',
  progress: txt('#progress-text'),
  total: txt('#count-total'), done: txt('#count-done'), failed: txt('#count-failed'),
  slotStates: [...document.querySelectorAll('[data-slot-state]')].map((e) => e.dataset.slotState),
  touch: document.querySelectorAll('[data-slot-state="touch"] [data-testid="touch-prompt"]').length,
  results: [...document.querySelectorAll('table#results tbody tr')].map((tr) => ({
    upn: tr.dataset.upn, verified: tr.dataset.verified,
    cells: [...tr.cells].map((c) => c.textContent),
  })),
  problems: [...document.querySelectorAll('#problems li')].map((li) => li.textContent),
  csp: document.documentElement.dataset.cspViolations || '',
};`

func (s *Session) state(t testing.TB) (pageState, error) {
	var st pageState
	err := s.Execute(&st, pageStateJS)
	return st, err
}

// RunDashboard runs the scenario in s; failures end t.
func RunDashboard(t testing.TB, s *Session, d Dashboard) {
	t.Helper()
	if d.Timeout == 0 {
		d.Timeout = 2 * time.Minute
	}
	fail := func(format string, args ...any) {
		t.Helper()
		shot(t, s, filepath.Join(d.Artifacts, "dashboard-failure.png"))
		t.Fatalf(format, args...)
	}

	// 1. Sign in with the token in the fragment.
	if err := s.Navigate(strings.TrimSuffix(d.URL, "/") + "/#token=" + d.Token); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	var st pageState
	err := WaitFor(20*time.Second, "the dashboard to sign in and go live", func() (bool, error) {
		var err error
		st, err = s.state(t)
		return err == nil && st.AppShown && st.Conn == "live", err
	})
	if err != nil {
		fail("%v (login shown: %v, connection %q)", err, st.LoginShown, st.Conn)
	}
	if strings.Contains(st.Href, d.Token) || strings.Contains(st.Href, "#") {
		fail("the token is still in the address bar")
	}
	if strings.Contains(st.Cookie, "keyprep_session") || strings.Contains(st.Cookie, d.Token) {
		fail("the session cookie is readable by script (not HttpOnly)")
	}

	// 2. Upload the user list.
	abs, err := filepath.Abs(d.CSV)
	if err != nil {
		t.Fatal(err)
	}
	input, err := s.Find("#upload-file")
	if err != nil {
		fail("%v", err)
	}
	if err := input.SendKeys(abs); err != nil {
		fail("choose the file: %v", err)
	}
	button, err := s.Find("#upload-button")
	if err != nil {
		fail("%v", err)
	}
	if err := button.Click(); err != nil {
		fail("click upload: %v", err)
	}
	var summary string
	err = WaitFor(20*time.Second, "the upload summary", func() (bool, error) {
		el, err := s.Find("[data-testid=upload-summary]")
		if err != nil {
			if IsNoSuchElement(err) {
				if e2, err2 := s.Find("[data-testid=upload-error]"); err2 == nil {
					msg, _ := e2.Text()
					fail("the upload was refused: %s", msg)
				}
				return false, nil
			}
			return false, err
		}
		summary, err = el.Text()
		return err == nil, err
	})
	if err != nil {
		fail("%v", err)
	}
	if !strings.HasPrefix(summary, "Queued "+itoa(d.Added)+" user") {
		fail("upload summary %q, want %d users queued", summary, d.Added)
	}
	if d.RowErrors > 0 {
		rows, err := s.FindAll("[data-testid=row-errors] li")
		if err != nil || len(rows) != d.RowErrors {
			fail("row errors shown: %d (%v), want %d", len(rows), err, d.RowErrors)
		}
	}

	// 3. Watch the slots work the queue off.
	sawTouch, shotRunning := false, false
	err = WaitFor(d.Timeout, "the queue to finish", func() (bool, error) {
		var err error
		st, err = s.state(t)
		if err != nil {
			return false, err
		}
		if st.Touch > 0 {
			sawTouch = true
			if !shotRunning {
				shotRunning = true
				shot(t, s, filepath.Join(d.Artifacts, "dashboard-running.png"))
			}
		}
		busy := slices.ContainsFunc(st.SlotStates, func(v string) bool { return v == "working" || v == "touch" })
		return st.Complete == "true" && !busy && len(st.Results) == len(d.Verified), nil
	})
	if err != nil {
		fail("%v (progress %q, %s of %s done, %d results, slots %v)", err, st.Progress, st.Done, st.Total, len(st.Results), st.SlotStates)
	}
	if d.RequireTouch && !sawTouch {
		fail("the touch prompt was never shown")
	}
	if st.CSP != "" {
		fail("the page reported Content-Security-Policy violations: %s", st.CSP)
	}

	// 4. The results table and the problems list.
	if st.Progress != "100 %" || st.Done != itoa(len(d.Verified)) || st.Failed != itoa(len(d.Failed)) {
		fail("progress %q, done %s, failed %s; want 100 %%, %d, %d", st.Progress, st.Done, st.Failed, len(d.Verified), len(d.Failed))
	}
	var got []string
	for _, r := range st.Results {
		got = append(got, strings.ToLower(r.UPN))
		if r.Verified != "true" || len(r.Cells) < 7 || !strings.Contains(r.Cells[4], "verified") || r.Cells[0] != r.UPN || r.Cells[6] == "" {
			fail("result row %q: verified %s, cells %q", r.UPN, r.Verified, r.Cells)
		}
	}
	want := make([]string, len(d.Verified))
	for i, u := range d.Verified {
		want[i] = strings.ToLower(u)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		fail("results table UPNs %v, want %v", got, want)
	}
	for _, u := range d.Failed {
		if !slices.ContainsFunc(st.Problems, func(p string) bool { return strings.Contains(strings.ToLower(p), strings.ToLower(u)) }) {
			fail("failed user %s is not under needs attention (%q)", u, st.Problems)
		}
	}
	shot(t, s, filepath.Join(d.Artifacts, "dashboard-done.png"))

	// 5. Reveal one PIN through the confirm dialog (after the screenshots).
	if d.PIN != nil && len(st.Results) > 0 {
		revealOne(t, s, st.Results[0].UPN, d.PIN, fail)
	}
}

func revealOne(t testing.TB, s *Session, upn string, pinOf func(string) string, fail func(string, ...any)) {
	t.Helper()
	if err := s.Click(`table#results tbody tr[data-upn="` + upn + `"] [data-testid=reveal]`); err != nil {
		fail("reveal button for %s: %v", upn, err)
	}
	var open bool
	if err := s.Execute(&open, `return document.querySelector('#reveal-dialog').open && document.querySelector('#reveal-pin').textContent === ''`); err != nil || !open {
		fail("the confirm dialog did not open empty (%v)", err)
	}
	confirm, err := s.Find("#reveal-confirm")
	if err != nil {
		fail("%v", err)
	}
	if err := confirm.Click(); err != nil {
		fail("click confirm: %v", err)
	}
	var shown string
	err = WaitFor(10*time.Second, "the PIN to show", func() (bool, error) {
		err := s.Execute(&shown, `return document.querySelector('#reveal-pin').textContent`)
		return err == nil && shown != "", err
	})
	if err != nil {
		fail("%v", err)
	}
	if shown != pinOf(upn) {
		fail("the dialog shows a different PIN than the daemon holds for %s (values not shown)", upn)
	}
	closeBtn, err := s.Find("#reveal-close")
	if err != nil {
		fail("%v", err)
	}
	if err := closeBtn.Click(); err != nil {
		fail("close the dialog: %v", err)
	}
	// The input events of a click and the dialog's close event are separate
	// tasks in the page, so the state is polled briefly rather than read once.
	var state string
	err = WaitFor(3*time.Second, "the dialog to close and the PIN to leave the page", func() (bool, error) {
		err := s.Execute(&state, `const pin = arguments[0];
			const parts = [];
			if (document.querySelector('#reveal-dialog').open) parts.push('dialog still open');
			if (document.querySelector('#reveal-pin').textContent !== '') parts.push('PIN still in the dialog');
			if (document.body.innerText.includes(pin)) parts.push('PIN in the page text');
			if (document.documentElement.outerHTML.includes(pin)) parts.push('PIN in the markup');
			return parts.join(', ');`, shown)
		return err == nil && state == "", err
	})
	if err != nil {
		fail("after closing the dialog: %s (%v)", state, err)
	}
}

func shot(t testing.TB, s *Session, path string) {
	t.Helper()
	png, err := s.Screenshot()
	if err != nil {
		t.Logf("screenshot %s: %v", path, err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot %s: %v", path, err)
		return
	}
	t.Logf("screenshot: %s", path)
}

func itoa(n int) string { return strconv.Itoa(n) }
