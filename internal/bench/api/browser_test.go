package api_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/bench/api"
	"github.com/keyprep/keyprep/internal/bench/api/browsertest"
)

// TestBrowserDashboard drives the dashboard in headless chromium against
// the API backed by the simulated engine: sign in with the token URL,
// upload a CSV, watch four slots work it off (touch prompts, one user the
// directory refuses), check the results table, take screenshots, reveal a
// PIN. Skipped unless KEYPREP_BROWSER_TEST=1 (make e2e-browser).
func TestBrowserDashboard(t *testing.T) {
	b := browsertest.Require(t)
	artifacts := browsertest.ArtifactsDir(t)
	t.Logf("artifacts: %s", artifacts)

	e := newEnvSlots(t, api.Options{}, 4)
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() { e.engine.simulate(ctx, 150*time.Millisecond); close(simDone) }()
	t.Cleanup(func() { cancel(); <-simDone })

	// Display names that would be markup or a formula if not escaped.
	users := []struct{ upn, name string }{
		{"adele.vance@contoso.test", "Adele Vance"},
		{"alex.wilber@contoso.test", "Alex Wilber"},
		{"megan.bowen@contoso.test", "Megan Bowen"},
		{"lee.gu@contoso.test", "Lee Gu"},
		{"nestor.wilke@contoso.test", "Nestor Wilke"},
		{"diego.siciliani@contoso.test", `<img src=x onerror="document.title='pwned'">`},
		{"grady.archie@contoso.test", `=HYPERLINK("http://evil.example","x")`},
		{"henrietta.mueller@contoso.test", "Henrietta Müller"},
		{"isaiah.langer@contoso.test", "Isaiah Langer"},
		{"key.fail@contoso.test", "Refused Key"},
	}
	var csv strings.Builder
	csv.WriteString("userPrincipalName,displayName\n")
	var verified []string
	for _, u := range users {
		csv.WriteString(u.upn + ",\"" + strings.ReplaceAll(u.name, `"`, `""`) + "\"\n")
		if !strings.Contains(u.upn, "fail") {
			verified = append(verified, u.upn)
		}
	}
	csv.WriteString("not-a-upn\n")
	path := filepath.Join(t.TempDir(), "bench-users.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	driver := browsertest.StartDriver(t, b)
	sess := driver.NewSession(t, 1400, 1500)
	start := time.Now()
	browsertest.RunDashboard(t, sess, browsertest.Dashboard{
		URL: e.ts.URL, Token: e.token, CSV: path,
		Added: len(users), RowErrors: 1,
		Verified: verified, Failed: []string{"key.fail@contoso.test"},
		Timeout: time.Minute, Artifacts: artifacts, RequireTouch: true,
		PIN: func(upn string) string {
			e.engine.mu.Lock()
			defer e.engine.mu.Unlock()
			return e.engine.pins[strings.ToLower(upn)]
		},
	})
	t.Logf("dashboard scenario: %d users in %v", len(users), time.Since(start).Round(100*time.Millisecond))

	// The hostile display name is text in the table, not an element.
	var escaped struct {
		Title string `json:"title"`
		Imgs  int    `json:"imgs"`
		Cell  bool   `json:"cell"`
	}
	if err := sess.Execute(&escaped, `return {title: document.title, imgs: document.querySelectorAll('#results img').length,
		cell: [...document.querySelectorAll('table#results td')].some((td) => td.textContent.startsWith('<img src=x'))}`); err != nil {
		t.Fatal(err)
	}
	if escaped.Title == "pwned" || escaped.Imgs != 0 || !escaped.Cell {
		t.Fatalf("display name not escaped: %+v", escaped)
	}
	if got := e.engine.resultUPNs(); !slices.Equal(got, sorted(verified)) {
		t.Fatalf("engine results %v", got)
	}
	if len(e.engine.revealed) != 1 {
		t.Fatalf("PIN reveals: %d, want 1", len(e.engine.revealed))
	}

	// The engine drops the page's subscription (as for a subscriber that
	// fell behind) and work goes on meanwhile: the page reconnects, gets a
	// fresh snapshot and shows the result recorded in between.
	e.engine.dropSubscribers()
	// Recorded while no one is subscribed: only the snapshot carries it.
	e.engine.addResult(bench.Result{UPN: "late.user@contoso.test", User: "Late User", Model: "keyprep virtual key", Key: "vkey:0", JobID: "late", Verified: true, CreatedDateTime: time.Now()}, "")
	err := browsertest.WaitFor(30*time.Second, "the page to reconnect and show the late user", func() (bool, error) {
		var n int
		err := sess.Execute(&n, `return document.querySelectorAll('table#results tbody tr[data-upn="late.user@contoso.test"]').length
			* (document.querySelector('#conn').dataset.state === 'live' ? 1 : 0)`)
		return n == 1, err
	})
	if err != nil {
		t.Fatal(err)
	}
	checkDashboardHistory(t, e, sess)
}

// checkDashboardHistory: after the scenario, keys pulled out leave the
// slots for a collapsed history with a count, a long UPN in a card wraps
// only after its '@' and dots, and "Clear failed" empties the failed
// users.
func checkDashboardHistory(t *testing.T, e *env, sess *browsertest.Session) {
	t.Helper()
	for i := range 9 {
		e.engine.setSlot(bench.Slot{ID: fmt.Sprintf("gone-%d", i), Key: fmt.Sprintf("vkey:%d", 10+i), State: bench.SlotWorking, UPN: "u@contoso.test", Since: time.Now()})
		e.engine.setSlot(bench.Slot{ID: fmt.Sprintf("gone-%d", i), Key: fmt.Sprintf("vkey:%d", 10+i), State: bench.SlotRemoved, UPN: "u@contoso.test", Since: time.Now()})
	}
	long := "maximilian.alexander.featherstonehaugh-wolfeschlegelsteinhausen@research.emea.contoso.onmicrosoft.test"
	e.engine.setSlot(bench.Slot{ID: "long", Key: "vkey:9", Model: "keyprep virtual key", State: bench.SlotWorking, UPN: long, Since: time.Now()})
	var got struct {
		Cards   int      `json:"cards"`
		Removed int      `json:"removed"`
		Count   string   `json:"count"`
		Open    bool     `json:"open"`
		Lines   int      `json:"lines"`
		Bad     []string `json:"bad"`
	}
	err := browsertest.WaitFor(30*time.Second, "the removed keys in the history and the long UPN shown", func() (bool, error) {
		err := sess.Execute(&got, `
const cards = document.querySelectorAll('[data-testid="slot"]');
const user = document.querySelector('[data-slot-id="long"] .slot-user');
let lines = 0, bad = [];
if (user) {
  const chars = [];
  const tw = document.createTreeWalker(user, NodeFilter.SHOW_TEXT);
  while (tw.nextNode()) {
    const t = tw.currentNode;
    for (let i = 0; i < t.length; i++) {
      const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + 1);
      chars.push({ ch: t.data[i], top: r.getBoundingClientRect().top });
    }
  }
  lines = chars.length ? 1 : 0;
  for (let i = 1; i < chars.length; i++) {
    if (chars[i].top > chars[i - 1].top + 2) {
      lines++;
      if (!'@.-'.includes(chars[i - 1].ch)) bad.push(chars.slice(Math.max(0, i - 5), i + 5).map((c) => c.ch).join(''));
    }
  }
}
return { cards: cards.length, removed: document.querySelectorAll('[data-testid="removed-key"]').length,
  count: document.querySelector('#slot-history-count').textContent, open: document.querySelector('#slot-history').open,
  lines, bad };`)
		return err == nil && got.Lines > 0 && got.Count == "9 keys removed", err
	})
	if err != nil {
		t.Fatalf("%v: %+v", err, got)
	}
	if got.Cards != 5 || got.Removed != 9 || got.Open {
		t.Errorf("%d cards (want the 5 live keys), %d removed keys listed in a history open=%v (want 9, collapsed)", got.Cards, got.Removed, got.Open)
	}
	if got.Lines < 2 || len(got.Bad) > 0 {
		t.Errorf("the long UPN took %d lines, broken inside a word at %q", got.Lines, got.Bad)
	}
	if png, err := sess.Screenshot(); err == nil {
		_ = os.WriteFile(filepath.Join(browsertest.ArtifactsDir(t), "dashboard-history.png"), png, 0o644)
	}

	if err := sess.Click("#clear-failed"); err != nil {
		t.Fatal(err)
	}
	err = browsertest.WaitFor(30*time.Second, "the failed users cleared", func() (bool, error) {
		var failed string
		err := sess.Execute(&failed, `return document.querySelector('#count-failed').textContent + '/' + document.querySelectorAll('#problems li').length`)
		return failed == "0/0", err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.engine.Snapshot().Queue); n != 9 {
		t.Errorf("%d users left in the queue after clearing the failed one, want 9", n)
	}
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
