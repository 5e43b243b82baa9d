package onboard

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/userlist"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

func ptr(b bool) *bool { return &b }

func TestCheck(t *testing.T) {
	def := Policy{State: "enabled", DefaultLifetimeInMinutes: 60, MinimumLifetimeInMinutes: 60, MaximumLifetimeInMinutes: 480, DefaultLength: 8}
	once := def
	once.IsUsableOnce = true
	off := def
	off.State = "disabled"
	tests := []struct {
		name  string
		p     Policy
		r     Request
		class error
		msg   string
	}{
		{name: "defaults", p: def},
		{name: "in range", p: def, r: Request{Lifetime: 8 * time.Hour, Once: ptr(false)}},
		{name: "below tenant minimum", p: def, r: Request{Lifetime: 30 * time.Minute}, class: ErrPolicy, msg: "allowed 1h to 8h"},
		{name: "above tenant maximum", p: def, r: Request{Lifetime: 9 * time.Hour}, class: ErrPolicy, msg: "lifetime 9h is outside"},
		{name: "below API minimum", p: def, r: Request{Lifetime: 5 * time.Minute}, class: ErrRequest, msg: "Entra allows 10m to 30d"},
		{name: "above API maximum", p: def, r: Request{Lifetime: 31 * 24 * time.Hour}, class: ErrRequest, msg: "31d out of range"},
		{name: "seconds", p: def, r: Request{Lifetime: time.Hour + time.Second}, class: ErrRequest, msg: "whole minutes"},
		{name: "multi-use against one-time policy", p: once, r: Request{Once: ptr(false)}, class: ErrPolicy, msg: "one-time passes only"},
		{name: "one-time under one-time policy", p: once, r: Request{Once: ptr(true)}},
		{name: "disabled", p: off, class: ErrPolicy, msg: "disabled"},
		{name: "start in the past", p: def, r: Request{Start: t0.Add(-time.Hour)}, class: ErrRequest, msg: "in the past"},
		{name: "start within skew", p: def, r: Request{Start: t0.Add(-time.Minute)}},
		{name: "start tomorrow", p: def, r: Request{Start: t0.Add(24 * time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(&tt.p, tt.r, t0)
			if tt.class == nil {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.class) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Check = %v, want %v with %q", err, tt.class, tt.msg)
			}
			var oe *Error
			if !errors.As(err, &oe) || oe.Hint == "" {
				t.Errorf("no hint in %v", err)
			}
		})
	}
}

func TestParseLifetime(t *testing.T) {
	good := map[string]time.Duration{"1h": time.Hour, "90m": 90 * time.Minute, "2d": 48 * time.Hour, "1d12h": 36 * time.Hour,
		" 8h ": 8 * time.Hour, "30d": 720 * time.Hour, "1h30m": 90 * time.Minute}
	for s, want := range good {
		if got, err := ParseLifetime(s); err != nil || got != want {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "h", "1x", "-1h", "d", "1.5d", "+1d", "1dd", "30s", "1h30s", "1d-1h",
		"0", "0m", "0d", "106752d", "187649984473771d"} {
		if d, err := ParseLifetime(s); err == nil {
			t.Errorf("ParseLifetime(%q) = %v, want an error", s, d)
		}
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", 90 * time.Minute: "1h30m", 48 * time.Hour: "2d", 10 * time.Minute: "10m", 0: "0m"} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseStart(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := map[string]time.Time{
		"2026-12-03T09:00:00Z":      time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC),
		"2026-12-03T09:00:00+01:00": time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC),
		"2026-12-03 09:00":          time.Date(2026, 12, 3, 9, 0, 0, 0, cet),
		"2026-12-03T09:00":          time.Date(2026, 12, 3, 9, 0, 0, 0, cet),
		"+2h":                       t0.Add(2 * time.Hour),
		"+1d":                       t0.Add(24 * time.Hour),
	}
	for s, want := range tests {
		got, err := ParseStart(s, t0, cet)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseStart(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "tomorrow", "2026-13-01 09:00", "+", "+x", "12/03/2026"} {
		if _, err := ParseStart(s, t0, cet); err == nil {
			t.Errorf("ParseStart(%q) accepted", s)
		}
	}
}

func newIssuer(d *fakeDir, now *time.Time) *Issuer {
	return &Issuer{Dir: d, Now: func() time.Time { return *now }}
}

func TestIssueReplaceSemantics(t *testing.T) {
	now := t0
	d := newFakeDir(func() time.Time { return now })
	is := newIssuer(d, &now)
	ctx := context.Background()

	first, err := is.Issue(ctx, "adele.vance@contoso.test", Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Pass.Code) != 8 || first.Replaced != nil || !first.Pass.Expiry().Equal(t0.Add(time.Hour)) {
		t.Fatalf("first pass: %+v", first.Pass)
	}
	// A live pass is not replaced without Replace, and nothing is created.
	_, err = is.Issue(ctx, "adele.vance@contoso.test", Request{})
	if !errors.Is(err, ErrLivePass) || !strings.Contains(err.Error(), "already has a Temporary Access Pass") {
		t.Fatalf("second Issue = %v, want ErrLivePass", err)
	}
	if n := d.count("CreateTAP"); n != 1 {
		t.Fatalf("%d creations, want 1", n)
	}
	second, err := is.Issue(ctx, "adele.vance@contoso.test", Request{Replace: true, Lifetime: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if second.Replaced == nil || second.Replaced.ID != first.Pass.ID || bytes.Equal(second.Pass.Code, first.Pass.Code) {
		t.Fatalf("replace: %+v replaced %+v", second.Pass, second.Replaced)
	}
	// An expired pass is no obstacle.
	now = now.Add(3 * time.Hour)
	third, err := is.Issue(ctx, "adele.vance@contoso.test", Request{})
	if err != nil || third.Replaced != nil {
		t.Fatalf("after expiry: %v, replaced %+v", err, third)
	}
	// The policy is read once per issuer.
	if n := d.count("TAPPolicy"); n != 1 {
		t.Errorf("policy read %d times", n)
	}
	// Wipe clears the code.
	third.Pass.Wipe()
	if third.Pass.Code != nil {
		t.Error("Wipe left the code")
	}
}

func TestIssueOneTimePolicy(t *testing.T) {
	now := t0
	d := newFakeDir(func() time.Time { return now })
	d.policy.IsUsableOnce = true
	is := newIssuer(d, &now)
	iss, err := is.Issue(context.Background(), "alex.wilber@contoso.test", Request{})
	if err != nil || !iss.Pass.Once {
		t.Fatalf("Issue = %+v, %v; want a one-time pass", iss, err)
	}
	_, err = is.Issue(context.Background(), "megan.bowen@contoso.test", Request{Once: ptr(false)})
	if !errors.Is(err, ErrPolicy) {
		t.Fatalf("multi-use: %v", err)
	}
	if d.count("User:megan") != 0 {
		t.Error("the refused request reached the directory")
	}
}

func TestSlipContent(t *testing.T) {
	iss := &Issued{User: &User{UPN: "adele.vance@contoso.test", DisplayName: `Adele <script>alert(1)</script> Vance`},
		Pass: &Pass{Code: []byte("+drkzqAD"), Created: t0, Start: t0, Lifetime: time.Hour, Once: true}}
	s := NewSlip(iss, t0)
	s.Location = time.UTC
	text := string(s.Text())
	for _, want := range []string{"adele.vance@contoso.test", "+drkzqAD", "Wed 2 Dec 2026 09:00 UTC", "Wed 2 Dec 2026 10:00 UTC",
		"one sign-in (one-time pass)", RegistrationURL, "Add sign-in method", "Security key", "10 minutes"} {
		if !strings.Contains(text, want) {
			t.Errorf("text slip lacks %q:\n%s", want, text)
		}
	}
	h, err := s.HTML()
	if err != nil {
		t.Fatal(err)
	}
	html := string(h)
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("display name not escaped:\n%s", html)
	}
	for _, want := range []string{"&#43;drkzqAD", `href="https://aka.ms/mysecurityinfo"`, "<ol>", "10 minutes"} {
		if !strings.Contains(html, want) {
			t.Errorf("html slip lacks %q", want)
		}
	}
	iss.Pass.Once = false
	if strings.Contains(string(NewSlip(iss, t0).Text()), "10 minutes") {
		t.Error("a multi-use slip warns about the one-time window")
	}
	if _, err := s.Render("pdf"); err == nil {
		t.Error("unknown format accepted")
	}
}

func rows(upns ...string) []userlist.Row {
	var rs []userlist.Row
	for i, u := range upns {
		rs = append(rs, userlist.Row{Line: i + 2, UPN: u})
	}
	return rs
}

func TestBatch(t *testing.T) {
	now := t0
	d := newFakeDir(func() time.Time { return now })
	dir := t.TempDir()
	ctx := context.Background()
	batch := func(req Request) []RowResult {
		t.Helper()
		b := &Batch{Issuer: newIssuer(d, &now), Request: req, OutDir: dir, Format: "text"}
		res, err := b.Run(ctx, rows("adele.vance@contoso.test", "nobody@contoso.test", "kim_fabrikam.com#EXT#@contoso.test", "alex.wilber@contoso.test"))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	statuses := func(rs []RowResult) string {
		var s []string
		for _, r := range rs {
			s = append(s, string(r.Status))
		}
		return strings.Join(s, " ")
	}

	res := batch(Request{})
	if got := statuses(res); got != "created failed failed created" {
		t.Fatalf("first run: %s", got)
	}
	if !errors.Is(res[1].Err, errNotFound) || !errors.Is(res[2].Err, errGuest) {
		t.Errorf("row errors: %v / %v", res[1].Err, res[2].Err)
	}
	slip := filepath.Join(dir, "adele.vance@contoso.test.txt")
	fi, err := os.Stat(slip)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("slip: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kim_fabrikam.com_ext_@contoso.test.txt")); err == nil {
		t.Error("a slip for the failed guest row")
	}
	b, _ := os.ReadFile(slip)
	if !strings.Contains(string(b), "Access pass") {
		t.Errorf("slip content:\n%s", b)
	}

	// Re-running skips the users whose pass is valid and whose slip is here.
	before := d.count("CreateTAP")
	res = batch(Request{})
	if got := statuses(res); got != "skipped failed failed skipped" {
		t.Fatalf("rerun: %s", got)
	}
	if d.count("CreateTAP")-before != 1 { // only the guest's (refused) attempt
		t.Errorf("rerun created passes: %d calls", d.count("CreateTAP")-before)
	}

	// A pass issued elsewhere (no slip here) is left alone without Replace.
	if _, err := newIssuer(d, &now).Issue(ctx, "megan.bowen@contoso.test", Request{}); err != nil {
		t.Fatal(err)
	}
	b2 := &Batch{Issuer: newIssuer(d, &now), OutDir: dir, Format: "text"}
	res, _ = b2.Run(ctx, rows("megan.bowen@contoso.test"))
	if res[0].Status != StatusSkipped || !strings.Contains(res[0].Detail, "issued elsewhere") {
		t.Fatalf("foreign pass: %+v", res[0])
	}
	b2.Request.Replace = true
	res, _ = b2.Run(ctx, rows("megan.bowen@contoso.test"))
	if res[0].Status != StatusReplaced {
		t.Fatalf("--replace: %+v", res[0])
	}

	// After the passes expire, a rerun issues new ones and replaces the slips.
	now = now.Add(2 * time.Hour)
	res = batch(Request{})
	if got := statuses(res); got != "created failed failed created" {
		t.Fatalf("after expiry: %s", got)
	}
	b3, _ := os.ReadFile(slip)
	if bytes.Equal(b, b3) {
		t.Error("the slip of the expired pass was not replaced")
	}
}

// TestBatchCrashBeforeSlip: a run that dies after the pass was created but
// before its slip was written leaves a pending marker; the next run
// replaces that undeliverable pass instead of skipping the user.
func TestBatchCrashBeforeSlip(t *testing.T) {
	now := t0
	d := newFakeDir(func() time.Time { return now })
	dir := t.TempDir()
	ctx := context.Background()
	// The slip cannot be written: its path is a directory.
	slip := filepath.Join(dir, "adele.vance@contoso.test.txt")
	if err := os.MkdirAll(filepath.Join(slip, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	b := &Batch{Issuer: newIssuer(d, &now), OutDir: dir, Format: "text"}
	res, _ := b.Run(ctx, rows("adele.vance@contoso.test"))
	if res[0].Status != StatusFailed || !strings.Contains(res[0].Err.Error(), "write the slip") {
		t.Fatalf("first run: %+v", res[0])
	}
	if _, err := os.Stat(filepath.Join(dir, pendingDir, "adele.vance@contoso.test")); err != nil {
		t.Fatalf("no pending marker: %v", err)
	}
	os.RemoveAll(slip)
	res, _ = b.Run(ctx, rows("adele.vance@contoso.test"))
	if res[0].Status != StatusReplaced || !strings.Contains(res[0].Detail, "interrupted run") {
		t.Fatalf("second run: %+v", res[0])
	}
	if _, err := os.Stat(filepath.Join(dir, pendingDir, "adele.vance@contoso.test")); err == nil {
		t.Error("pending marker left after delivery")
	}
	// A definitive refusal leaves no marker.
	res, _ = b.Run(ctx, rows("kim_fabrikam.com#EXT#@contoso.test"))
	if res[0].Status != StatusFailed {
		t.Fatal(res[0])
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, pendingDir)); len(ents) != 0 {
		t.Errorf("markers left: %v", ents)
	}
	// An unknown outcome keeps it.
	d.fail["CreateTAP:alex.wilber@contoso.test"] = ErrOutcomeUnknown
	res, _ = b.Run(ctx, rows("alex.wilber@contoso.test"))
	if res[0].Status != StatusFailed {
		t.Fatal(res[0])
	}
	if _, err := os.Stat(filepath.Join(dir, pendingDir, "alex.wilber@contoso.test")); err != nil {
		t.Errorf("marker after an unknown outcome: %v", err)
	}
}

func TestBatchSealed(t *testing.T) {
	now := t0
	d := newFakeDir(func() time.Time { return now })
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	b := &Batch{Issuer: newIssuer(d, &now), OutDir: dir, Format: "html",
		Seal: func(p []byte) ([]byte, error) { return escrow.SealDocument(p, []age.Recipient{id.Recipient()}) }}
	res, err := b.Run(context.Background(), rows("adele.vance@contoso.test"))
	if err != nil || res[0].Status != StatusCreated || !strings.HasSuffix(res[0].File, ".html.age") {
		t.Fatalf("%+v %v", res, err)
	}
	ct, _ := os.ReadFile(res[0].File)
	if !bytes.HasPrefix(ct, []byte("-----BEGIN AGE ENCRYPTED FILE-----")) || bytes.Contains(ct, []byte("Access pass")) {
		t.Fatalf("not encrypted:\n%s", ct)
	}
	r, err := age.Decrypt(armorReader(ct), id)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if _, err := plain.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plain.String(), "<!DOCTYPE html>") || !strings.Contains(plain.String(), "adele.vance@contoso.test") {
		t.Errorf("decrypted slip:\n%s", plain.String())
	}
}

func TestBatchPolicyRefusedUpFront(t *testing.T) {
	now := t0
	d := newFakeDir(func() time.Time { return now })
	b := &Batch{Issuer: newIssuer(d, &now), OutDir: t.TempDir(), Request: Request{Lifetime: 10 * time.Hour}}
	_, err := b.Run(context.Background(), rows("adele.vance@contoso.test"))
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "allowed 1h to 8h") {
		t.Fatalf("Run = %v", err)
	}
	if d.count("User:") != 0 {
		t.Error("rows were processed")
	}
}

func TestSlipName(t *testing.T) {
	for in, want := range map[string]string{
		"Adele.Vance@contoso.test":           "adele.vance@contoso.test",
		"kim_fabrikam.com#EXT#@contoso.test": "kim_fabrikam.com_ext_@contoso.test",
		"../../etc/passwd@x.y":               ".._.._etc_passwd@x.y",
	} {
		if got := SlipName(in); got != want {
			t.Errorf("SlipName(%q) = %q, want %q", in, got, want)
		}
	}
}

func armorReader(ct []byte) io.Reader { return armor.NewReader(bytes.NewReader(ct)) }

// TestSlipWording: every slip says to use a private browser window, that
// a USB or NFC key works, and to wait a few minutes when the pass is not
// asked for (replication); the slip of a pass issued with an enrollment
// (Backup) keeps the pass as a backup and does not ask to register the key.
func TestSlipWording(t *testing.T) {
	common := []string{"private browser window", "USB or NFC", "wait a few minutes and try again", RegistrationURL, "+drkzqAD"}
	tests := []struct {
		name    string
		backup  bool
		want    []string
		notWant []string
	}{
		{name: "onboarding", want: []string{"Security key setup", "Add sign-in method", "hold it to the reader (NFC)"},
			notWant: []string{"already registered", "backup"}},
		{name: "backup", backup: true, want: []string{"Backup sign-in", "already registered", "backup", "Do not register the key again"},
			notWant: []string{"Add sign-in method", "Insert your security key", "to register the key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := &Issued{User: &User{UPN: "adele.vance@contoso.test", DisplayName: "Adele Vance"},
				Pass: &Pass{Code: []byte("+drkzqAD"), Created: t0, Start: t0, Lifetime: time.Hour, Once: true}}
			for _, format := range []string{"text", "html"} {
				d, err := Delivery{Format: format, Backup: tt.backup}.Deliver(iss, t0)
				if err != nil {
					t.Fatal(err)
				}
				out := strings.ReplaceAll(string(d.Data), "&#43;", "+")
				for _, w := range append(common, tt.want...) {
					if !strings.Contains(out, w) {
						t.Errorf("%s slip lacks %q:\n%s", format, w, out)
					}
				}
				for _, w := range tt.notWant {
					if strings.Contains(out, w) {
						t.Errorf("%s slip says %q:\n%s", format, w, out)
					}
				}
			}
		})
	}
}

// TestPreflightNamesBlockedPass: a live multi-use pass under a one-time
// policy is named as blocked when it stands in the way of a new one.
func TestPreflightNamesBlockedPass(t *testing.T) {
	now := t0
	d := newFakeDir(func() time.Time { return now })
	is := newIssuer(d, &now)
	if _, err := is.Issue(context.Background(), "adele.vance@contoso.test", Request{Once: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	d.policy.IsUsableOnce = true
	is = newIssuer(d, &now)
	_, _, err := is.Preflight(context.Background(), "adele.vance@contoso.test", Request{})
	if !errors.Is(err, ErrLivePass) || !strings.Contains(err.Error(), "blocked by the one-time-only policy") {
		t.Fatalf("Preflight = %v", err)
	}
}
