package cli

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/store"
)

// tapCLI runs a command whose stdout carries a pass by design: only
// stderr goes to the secret scan, and every pass found in stdout becomes a
// secret that no other output, log, journal or audit row may contain.
func (w *world) tapCLI(h hooks, args ...string) cliResult {
	w.t.Helper()
	w.quiet = true
	r := w.cli("", h, args...)
	w.quiet = false
	recordOutput(r.errOut)
	for _, p := range passesIn(r.out) {
		recordSecret(p)
		if strings.Contains(r.errOut, p) {
			w.t.Errorf("the pass appears on stderr:\n%s", strings.ReplaceAll(r.errOut, p, "<PASS>"))
		}
	}
	return r
}

// passesIn finds "temporaryAccessPass": "…" values and "Access pass   …"
// slip lines.
func passesIn(out string) []string {
	var ps []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		for _, pre := range []string{`"temporaryAccessPass": "`, "Access pass   "} {
			if strings.HasPrefix(l, pre) {
				ps = append(ps, strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(l, pre), ","), `"`))
			}
		}
	}
	return ps
}

func (w *world) audit(event string) []store.AuditEvent {
	w.t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(w.state, "keyprep.db"), store.Options{})
	if err != nil {
		w.t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.AuditEvents(context.Background(), 0, 1000)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range evs {
		if e.Event == event {
			out = append(out, e)
		}
	}
	return out
}

// TestTAPCreateJSON is the acceptance point: --json returns the
// pass (policy length), start, expiry and isUsableOnce, and the run's log
// output (at debug level) does not contain the pass.
func TestTAPCreateJSON(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.tapCLI(hooks{}, "--log-level", "debug", "tap", "create", "--user", adele, "--json")
	if r.code != 0 {
		t.Fatalf("tap create: %d\n%s", r.code, r.errOut)
	}
	var got tapJSON
	if err := json.Unmarshal([]byte(r.out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.TemporaryAccessPass) != 8 || got.StartDateTime.IsZero() || got.ExpiryDateTime.Sub(got.StartDateTime).Minutes() != 60 ||
		got.IsUsableOnce || got.MethodID == "" {
		t.Fatalf("result %+v", got)
	}
	if n := countReqs(r.reqs, entrasim.EPCreateTAP); n != 1 {
		t.Errorf("%d TAP creations", n)
	}
	// The audit log records the pass, never its code.
	evs := w.audit("tap.create")
	if len(evs) != 1 {
		t.Fatalf("audit events %+v", evs)
	}
	b, _ := json.Marshal(evs[0])
	if strings.Contains(string(b), got.TemporaryAccessPass) || !strings.Contains(string(b), got.MethodID) {
		t.Errorf("audit event %s", b)
	}

	// The policy's length applies.
	if r := w.cli("", hooks{}, "policy", "set", "tap", "--length", "16", "--yes"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	r = w.tapCLI(hooks{}, "tap", "create", "--user", "alex.wilber@contoso.test", "--json")
	if err := json.Unmarshal([]byte(r.out), &got); err != nil || len(got.TemporaryAccessPass) != 16 {
		t.Fatalf("with length 16: %v %+v", err, got)
	}
}

// TestTAPExitCodes: each refusal has its exit code and a hint.
func TestTAPExitCodes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if r := w.tapCLI(hooks{}, "tap", "create", "--user", adele); r.code != 0 {
		t.Fatal(r.errOut)
	}
	tests := []struct {
		name string
		h    hooks
		args []string
		code ExitCode
		msg  string
		hint string
	}{
		{"valid pass in the way", hooks{}, []string{"--user", adele}, ExitDirectory, "already has a Temporary Access Pass", "--replace"},
		{"lifetime outside the policy", hooks{}, []string{"--user", "megan.bowen@contoso.test", "--lifetime", "12h"}, ExitDirectory, "allowed 1h to 8h", "choose --lifetime between 1h and 8h"},
		{"guest", hooks{}, []string{"--user", "kim_fabrikam.com#EXT#@contoso.test"}, ExitDirectory, "guest user", "home tenant"},
		{"unknown user", hooks{}, []string{"--user", "nobody@contoso.test"}, ExitDirectory, "user not found", "check the UPN"},
		{"missing permission", hooks{tenantOpened: func(tn *entrasim.Tenant) {
			tn.SetFault(entrasim.EPCreateTAP, entrasim.Fault{Status: 403, Code: "accessDenied", Message: "Request Authorization failed"})
		}}, []string{"--user", "lee.gu@contoso.test"}, ExitAuth, "permission", "UserAuthMethod-TAP.ReadWrite.All"},
		{"answer lost", hooks{tenantOpened: func(tn *entrasim.Tenant) {
			tn.SetFault(entrasim.EPCreateTAP, entrasim.Fault{Drop: true, AfterApply: true})
		}}, []string{"--user", "nestor.wilke@contoso.test"}, ExitUnknown, "cannot be read back", "keyprep tap create --replace"},
		{"throttled", hooks{tenantOpened: func(tn *entrasim.Tenant) {
			tn.SetFault(entrasim.EPCreateTAP, entrasim.Fault{Status: 429})
		}}, []string{"--user", "isaiah.langer@contoso.test"}, ExitService, "throttl", "wait and retry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.t = t
			r := w.tapCLI(tt.h, append([]string{"tap", "create"}, tt.args...)...)
			msg, hint := splitReport(r.errOut)
			if tt.msg == "" || tt.hint == "" {
				t.Fatalf("the case names no message or no hint to expect; got message %q, hint %q", msg, hint)
			}
			if r.code != int(tt.code) || !strings.Contains(msg, tt.msg) || !strings.Contains(hint, tt.hint) {
				t.Fatalf("exit %d (want %d), message %q (want %q), hint %q (want %q)\n%s", r.code, tt.code, msg, tt.msg, hint, tt.hint, r.errOut)
			}
			if r.out != "" {
				t.Errorf("stdout on failure: %q", r.out)
			}
		})
	}
	w.t = t
	// A pass whose answer was lost exists but cannot be read back: a new
	// one replaces it.
	r := w.tapCLI(hooks{}, "tap", "create", "--user", "nestor.wilke@contoso.test", "--replace", "--json")
	if r.code != 0 || !strings.Contains(r.out, `"replacedMethodId"`) {
		t.Fatalf("replace after a lost answer: %d\n%s\n%s", r.code, r.out, r.errOut)
	}
}

// TestTAPBatch: one bad UPN and one guest give two clear row errors and
// exit 11; the others get slips (here age-encrypted); a rerun skips them.
func TestTAPBatch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	csv := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(csv, []byte("upn\nadele.vance@contoso.test\nbad upn@contoso.test\nkim_fabrikam.com#EXT#@contoso.test\nalex.wilber@contoso.test\nmegan.bowen@contoso.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "slips")
	args := []string{"tap", "create", "--csv", csv, "--out-dir", out, "--age-recipient", id.Recipient().String(), "--json"}
	r := w.tapCLI(hooks{}, args...)
	if r.code != int(ExitPartial) {
		t.Fatalf("exit %d, want %d\n%s\n%s", r.code, ExitPartial, r.out, r.errOut)
	}
	var sum struct {
		Rows []struct {
			Line           int
			UPN, Status    string
			Detail, Slip   string
			IsUsableOnce   bool
			TemporaryPass  string `json:"temporaryAccessPass"`
			ExpiryDateTime string `json:"expiry"`
		}
		Created, Skipped, Failed int
	}
	if err := json.Unmarshal([]byte(r.out), &sum); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	if sum.Created != 3 || sum.Failed != 2 || len(sum.Rows) != 5 {
		t.Fatalf("summary %+v", sum)
	}
	bad, guest := sum.Rows[1], sum.Rows[2]
	if bad.Line != 3 || bad.Status != "failed" || !strings.Contains(bad.Detail, "not a UPN") {
		t.Errorf("bad UPN row %+v", bad)
	}
	if guest.Line != 4 || guest.Status != "failed" || !strings.Contains(guest.Detail, "guest user") {
		t.Errorf("guest row %+v", guest)
	}
	for _, row := range []int{0, 3, 4} {
		s := sum.Rows[row]
		if s.Status != "created" || s.TemporaryPass != "" || s.ExpiryDateTime == "" {
			t.Fatalf("row %+v", s)
		}
		ct, err := os.ReadFile(s.Slip)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(s.Slip); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", s.Slip, fi.Mode())
		}
		pr, err := age.Decrypt(armor.NewReader(strings.NewReader(string(ct))), id)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := io.ReadAll(pr)
		if !strings.Contains(string(plain), s.UPN) || !strings.Contains(string(plain), "https://aka.ms/mysecurityinfo") {
			t.Errorf("slip of %s:\n%s", s.UPN, plain)
		}
		for _, p := range passesIn(string(plain)) {
			recordSecret(p)
		}
	}
	if n := len(w.audit("tap.create")); n != 3 {
		t.Errorf("%d audit events, want 3", n)
	}
	// Rerun: nothing new is issued.
	r = w.tapCLI(hooks{}, args...)
	if r.code != int(ExitPartial) || countReqs(r.reqs, entrasim.EPCreateTAP) != 1 { // the guest's refused attempt
		t.Fatalf("rerun: exit %d, %d creations\n%s", r.code, countReqs(r.reqs, entrasim.EPCreateTAP), r.out)
	}
	sum.Rows, sum.Created, sum.Skipped = nil, 0, 0
	if err := json.Unmarshal([]byte(r.out), &sum); err != nil || sum.Skipped != 3 || sum.Created != 0 {
		t.Fatalf("rerun summary %+v %v", sum, err)
	}
	// A clean list exits 0.
	if err := os.WriteFile(csv, []byte("upn\nlee.gu@contoso.test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := w.tapCLI(hooks{}, args...); r.code != 0 {
		t.Fatalf("clean batch: %d\n%s", r.code, r.errOut)
	}
}

// TestEnrollWithTAP: the pass comes with the enrollment, checked against
// the TAP policy before the key is touched.
func TestEnrollWithTAP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.tapCLI(hooks{}, "enroll", "--user", "megan.bowen@contoso.test", "--with-tap", "--tap-lifetime", "20h")
	if r.code != int(ExitDirectory) || !strings.Contains(r.errOut, "allowed 1h to 8h") {
		t.Fatalf("out-of-policy TAP: %d\n%s", r.code, r.errOut)
	}
	if pinSet, _ := w.keyState(); pinSet {
		t.Fatal("the key was touched before the TAP policy check")
	}
	r = w.tapCLI(hooks{}, "enroll", "--user", "megan.bowen@contoso.test", "--with-tap", "--tap-once", "--json")
	if r.code != 0 {
		t.Fatalf("enroll --with-tap: %d\n%s", r.code, r.errOut)
	}
	var res struct {
		Verified bool
		TAP      *tapJSON `json:"tap"`
	}
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.TAP == nil || len(res.TAP.TemporaryAccessPass) != 8 || !res.TAP.IsUsableOnce {
		t.Fatalf("result %s", r.out)
	}
	// With an age recipient the slip is encrypted into the state directory.
	id, _ := age.GenerateX25519Identity()
	r = w.tapCLI(hooks{}, "enroll", "--user", "alex.wilber@contoso.test", "--shared-key", "--with-tap", "--age-recipient", id.Recipient().String(), "--json")
	if r.code != 0 {
		t.Fatalf("enroll --with-tap --age-recipient: %d\n%s", r.code, r.errOut)
	}
	res.TAP = nil
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || res.TAP.TemporaryAccessPass != "" || !strings.HasPrefix(res.TAP.Slip, filepath.Join(w.state, "slips")) {
		t.Fatalf("result %s", r.out)
	}
	ct, _ := os.ReadFile(res.TAP.Slip)
	if !strings.HasPrefix(string(ct), "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatalf("slip not encrypted")
	}
}
