package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/simkeys"
	"github.com/keyprep/keyprep/internal/store"
)

// benchUsers writes a CSV of n members of the default seed who can get a
// passkey, plus extra lines, and returns its path and the UPNs.
func benchUsers(t *testing.T, n int, extra ...string) (string, []string) {
	t.Helper()
	var upns []string
	for _, u := range entrasim.DefaultSeed() {
		if u.UserType != "Member" || !strings.Contains(strings.Join(u.Groups, ","), "Passkey Users") {
			continue
		}
		upns = append(upns, u.UPN)
		if len(upns) == n {
			break
		}
	}
	if len(upns) != n {
		t.Fatalf("the seed has %d eligible members, want %d", len(upns), n)
	}
	p := filepath.Join(t.TempDir(), "users.csv")
	body := "userPrincipalName\n" + strings.Join(upns, "\n") + "\n" + strings.Join(extra, "\n")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, upns
}

type benchSummary struct {
	Type              string
	Counts            bench.Counts
	Results           []bench.Result
	Queue             []bench.Item
	OptionsPrefetched int
}

// jsonLines splits --json bench output into events and the summary.
func jsonLines(t *testing.T, out string) ([]bench.Event, benchSummary) {
	t.Helper()
	var evs []bench.Event
	var sum benchSummary
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var probe struct{ Type string }
		if err := json.Unmarshal([]byte(l), &probe); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		switch probe.Type {
		case "summary":
			if err := json.Unmarshal([]byte(l), &sum); err != nil {
				t.Fatal(err)
			}
		case "row-error":
		default:
			var ev bench.Event
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatal(err)
			}
			evs = append(evs, ev)
		}
	}
	if sum.Type != "summary" {
		t.Fatalf("no summary line in:\n%s", out)
	}
	return evs, sum
}

// passkeysPerUser counts each user's passkeys in the tenant's state file
// and checks that the store records every one of them.
func passkeysPerUser(t *testing.T, state string, upns []string) map[string]int {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(state, "keyprep.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	out := map[string]int{}
	w := &world{t: t, state: state}
	for _, u := range upns {
		r := w.cli("", hooks{}, "methods", "list", "--user", u, "--json")
		var ml struct {
			Methods []struct{ ID string } `json:"methods"`
		}
		if err := json.Unmarshal([]byte(r.out), &ml); err != nil {
			t.Fatalf("methods list %s: %v\n%s", u, err, r.errOut)
		}
		out[u] = len(ml.Methods)
		rs, _ := st.Results(ctx, store.ResultFilter{UPN: u})
		for _, m := range ml.Methods {
			found := false
			for _, res := range rs {
				found = found || res.MethodID == m.ID
			}
			if !found {
				t.Errorf("%s: passkey %s in Entra is not recorded", u, m.ID)
			}
		}
	}
	return out
}

// TestBenchAcceptance: four virtual keys, the twenty users of
// testdata/bench-users-20.csv, all enrolled and verified, in parallel, one
// passkey each; a rerun skips them all.
func TestBenchAcceptance(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	csv := filepath.Join("..", "..", "testdata", "bench-users-20.csv")
	rows, _, err := readUserList(csv)
	if err != nil {
		t.Fatal(err)
	}
	var upns []string
	for _, r := range rows {
		upns = append(upns, r.UPN)
	}
	var mu sync.Mutex
	maxActive, active := 0, map[string]bool{}
	h := hooks{event: func(_ *world, ev enroll.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Step {
		case enroll.StepResolve:
			active[ev.JobID] = true
		case enroll.StepRecord:
			delete(active, ev.JobID)
		}
		maxActive = max(maxActive, len(active))
	}}
	r := w.cli("", h, "--sim-keys", "4", "enroll", "--csv", csv, "--json")
	if r.code != 0 {
		t.Fatalf("enroll --csv: %d\n%s", r.code, r.errOut)
	}
	evs, sum := jsonLines(t, r.out)
	if sum.Counts.Done != 20 || len(sum.Results) != 20 {
		t.Fatalf("counts %+v, %d results", sum.Counts, len(sum.Results))
	}
	keys := map[string]bool{}
	for _, res := range sum.Results {
		if !res.Verified {
			t.Errorf("%s not verified", res.UPN)
		}
		keys[res.Key] = true
	}
	if len(keys) != 20 {
		t.Errorf("%d distinct keys for 20 users (one key each, swapped by the simulated operator)", len(keys))
	}
	// Graph pacing: options fetched while other keys waited for a touch
	// were used, and hardly any were fetched for nothing.
	if n := countReqs(r.reqs, entrasim.EPCreationOptions); sum.OptionsPrefetched == 0 || n > 20+4 {
		t.Errorf("%d creationOptions for 20 users, %d prefetched", n, sum.OptionsPrefetched)
	}
	if maxActive < 2 {
		t.Errorf("at most %d enrollments ran at once: the slots did not work in parallel", maxActive)
	}
	var touch, seqOK = 0, true
	for i, ev := range evs {
		if ev.Type == bench.EventSlot && ev.Slot.State == bench.SlotTouch {
			touch++
		}
		if i > 0 && ev.Seq != evs[i-1].Seq+1 {
			seqOK = false
		}
	}
	if touch < 20 || !seqOK {
		t.Errorf("%d touch prompts, events in sequence: %v", touch, seqOK)
	}
	for u, n := range passkeysPerUser(t, w.state, upns) {
		if n != 1 {
			t.Errorf("%s has %d passkeys", u, n)
		}
	}
	// Rerun: every user is skipped, nothing touches a key or Graph's POST.
	r = w.cli("", hooks{}, "--sim-keys", "4", "enroll", "--csv", csv, "--json")
	_, sum = jsonLines(t, r.out)
	if r.code != 0 || sum.Counts.Skipped != 20 || countReqs(r.reqs, entrasim.EPRegisterFido2) != 0 {
		t.Fatalf("rerun: %d %+v\n%s", r.code, sum.Counts, r.errOut)
	}
}

// TestBenchCrashResume kills the bench (SIGKILL) right after a passkey was
// registered but before the journal says so, while the other slots are
// mid-way; the rerun finishes everyone, resuming the interrupted jobs on
// their keys, with exactly one passkey per user, each recorded.
func TestBenchCrashResume(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns keyprep processes")
	}
	state := t.TempDir()
	csv, upns := benchUsers(t, 12)
	r := keyprep(t, state, []string{"KEYPREP_TEST_CRASH=register:effect"}, "", "--sim-keys", "4", "enroll", "--csv", csv)
	if !r.killed {
		t.Fatalf("not killed (exit %d)\n%s", r.exit, r.stderr)
	}
	r = keyprep(t, state, nil, "", "journal", "list")
	if !strings.Contains(r.stdout, "interrupted") {
		t.Fatalf("no interrupted job after the crash:\n%s", r.stdout)
	}
	r = keyprep(t, state, nil, "", "--sim-keys", "4", "enroll", "--csv", csv, "--json")
	if r.exit != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.exit, r.stderr)
	}
	_, sum := jsonLines(t, r.stdout)
	if sum.Counts.Done+sum.Counts.Skipped != 12 || sum.Counts.Failed != 0 {
		t.Fatalf("rerun counts %+v", sum.Counts)
	}
	if sum.Counts.Done == 0 {
		t.Errorf("nothing enrolled by the rerun: %+v", sum.Counts)
	}
	for u, n := range passkeysPerUser(t, state, upns) {
		if n != 1 {
			t.Errorf("%s has %d passkeys after crash and rerun", u, n)
		}
	}
	r = keyprep(t, state, nil, "", "journal", "list")
	if !strings.Contains(r.stdout+r.stderr, "no unfinished jobs") {
		t.Errorf("unfinished jobs left:\n%s%s", r.stdout, r.stderr)
	}
}

var touchKey = regexp.MustCompile(`touch the key (vkey:\d+) now`)

// TestBenchHotPlug pulls a key out while it waits for the touch: the step
// fails cleanly (journaled), the user goes back to the queue and is
// enrolled on another key; a new key joins.
func TestBenchHotPlug(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	csv, upns := benchUsers(t, 6)
	var prov *simkeys.Provider
	var once sync.Once
	var pulled, victim string
	h := hooks{
		keysReady: func(p *simkeys.Provider) { prov = p },
		event: func(_ *world, ev enroll.Event) {
			if ev.Phase != "touch" {
				return
			}
			once.Do(func() {
				pulled = touchKey.FindStringSubmatch(ev.Message)[1]
				victim = ev.Message[strings.LastIndex(ev.Message, " ")+1:]
				if _, err := prov.Swap(pulled); err != nil {
					t.Error(err)
				}
			})
		},
	}
	r := w.cli("", h, "--sim-keys", "2", "enroll", "--csv", csv, "--json")
	evs, sum := jsonLines(t, r.out)
	if r.code != 0 {
		t.Fatalf("enroll --csv: %d\n%s\n%+v", r.code, r.errOut, sum.Queue)
	}
	if sum.Counts.Done != 6 {
		t.Fatalf("counts %+v\n%+v", sum.Counts, sum.Queue)
	}
	requeued, removed := false, false
	for _, ev := range evs {
		if ev.Type == bench.EventItem && ev.Item.UPN == victim && ev.Item.State == bench.ItemPending && ev.Item.Attempts > 0 {
			requeued = true
		}
		if ev.Type == bench.EventSlot && ev.Slot.Key == pulled && ev.Slot.State == bench.SlotRemoved {
			removed = true
		}
	}
	if !requeued || !removed {
		t.Errorf("pulled %s during %s: requeued %v, slot removed %v", pulled, victim, requeued, removed)
	}
	for _, res := range sum.Results {
		if res.UPN == victim && res.Key == pulled {
			t.Errorf("%s enrolled on the pulled key", victim)
		}
	}
	for u, n := range passkeysPerUser(t, w.state, upns) {
		if n != 1 {
			t.Errorf("%s has %d passkeys", u, n)
		}
	}
}

// TestBenchRowErrors: malformed, duplicate and unknown users are reported
// per row before any key is touched; the rest are enrolled; exit 11.
func TestBenchRowErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	csv, _ := benchUsers(t, 2, "adele.vance@contoso.test", "not a upn", "nobody@contoso.test")
	r := w.cli("", hooks{}, "--sim-keys", "2", "enroll", "--csv", csv)
	if r.code != int(ExitPartial) {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	for _, want := range []string{"line 4 (adele.vance@contoso.test): listed twice (first on line 2)", "line 5 (not a upn): not a UPN",
		"line 6 (nobody@contoso.test): graph: get user: user not found"} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.errOut)
		}
	}
	first := strings.Index(r.errOut, "line 4")
	if touch := strings.Index(r.errOut, "touch the key"); touch < first {
		t.Errorf("a key was touched before the row errors were reported")
	}
	if !strings.Contains(r.out, "2 enrolled, 0 skipped, 0 failed, 3 invalid rows") {
		t.Errorf("summary:\n%s", r.out)
	}
}

// TestBenchAttended: the people at the bench choose their PINs (here piped,
// one line per key); each PIN is checked against the policy, set, and
// escrowed like a generated one.
func TestBenchAttended(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	csv, upns := benchUsers(t, 2)
	pins := []string{"48152690", "73916284"}
	for _, p := range pins {
		recordSecret(p)
	}
	r := w.cli(strings.Join(pins, "\n")+"\n", hooks{}, "--sim-keys", "2", "enroll", "--csv", csv, "--attended", "--json")
	if r.code != 0 {
		t.Fatalf("enroll --csv --attended: %d\n%s", r.code, r.errOut)
	}
	_, sum := jsonLines(t, r.out)
	if sum.Counts.Done != 2 {
		t.Fatalf("counts %+v", sum.Counts)
	}
	got := map[string]bool{}
	for _, u := range upns {
		w.quiet = true // pins show prints the PIN by design
		pr := w.cli("", hooks{}, "pins", "show", "--user", u, "--identity", filepath.Join(w.state, "escrow", escrow.BenchIdentityFile))
		w.quiet = false
		recordOutput(pr.errOut)
		got[strings.TrimSpace(pr.out)] = true
	}
	if !got[pins[0]] || !got[pins[1]] {
		t.Errorf("the escrowed PINs are not the ones the people chose")
	}
	// Each reveal is audited once, as the one reveal event, from the
	// terminal side of keyprep.
	if evs := w.audit(enroll.EventPINReveal); len(evs) != 2 {
		t.Errorf("%d %s audit events, want 2", len(evs), enroll.EventPINReveal)
	} else {
		var ev enroll.RevealEvent
		if err := json.Unmarshal(evs[0].Data, &ev); err != nil || ev.Via != enroll.RevealViaTerminal || ev.Who == "" || ev.EscrowID == "" {
			t.Errorf("reveal audit data %s (%v)", evs[0].Data, err)
		}
	}
	// A weak PIN is refused by the policy before it reaches a key.
	w2 := newWorld(t)
	csv2, _ := benchUsers(t, 1)
	r = w2.cli("12345678\n", hooks{}, "--sim-keys", "1", "enroll", "--csv", csv2, "--attended", "--json")
	_, sum = jsonLines(t, r.out)
	if r.code != int(ExitPartial) || sum.Counts.Failed != 1 {
		t.Fatalf("weak PIN: exit %d %+v", r.code, sum.Counts)
	}
	if !strings.Contains(sum.Queue[0].Error, "PIN") {
		t.Errorf("weak PIN error: %q", sum.Queue[0].Error)
	}
}

// TestBenchKeyRefuses: every key refuses the touch. Each refusal sends the
// user to another key and the slot to attention (the simulated operator
// swaps its key); after three keys the user fails and the run ends — it
// never waits forever for a key that will not do.
func TestBenchKeyRefuses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	csv, _ := benchUsers(t, 1)
	r := w.cli("", hooks{keyConfig: touch(t, "deny")}, "--sim-keys", "2", "enroll", "--csv", csv, "--json")
	evs, sum := jsonLines(t, r.out)
	if r.code != int(ExitPartial) || sum.Counts.Failed != 1 || sum.Queue[0].Attempts != 3 {
		t.Fatalf("exit %d, %+v", r.code, sum.Queue)
	}
	if !strings.Contains(sum.Queue[0].Error, "refused") {
		t.Errorf("error %q", sum.Queue[0].Error)
	}
	attention := 0
	for _, ev := range evs {
		if ev.Type == bench.EventSlot && ev.Slot.State == bench.SlotAttention {
			attention++
		}
	}
	if attention != 3 {
		t.Errorf("%d slots needed attention, want 3", attention)
	}
}
