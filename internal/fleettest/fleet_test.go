//go:build cgo

package fleettest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/store"
)

// fleetUsers is the size of the tests' user list.
const fleetUsers = 60

// What a bench prints on stderr while the database is away, and when it
// is back.
var (
	pauseMsg  = regexp.MustCompile(`store unavailable: .*; retrying`)
	resumeMsg = regexp.MustCompile(`store reachable again after [0-9.]+m?s; carrying on`)
)

// loadList loads the fleet's list with `keyprep fleet load` and returns
// the added and duplicate counts.
func loadList(f *fleet) (added, dup int) {
	f.t.Helper()
	code, out, errOut := f.keyprep("fleet", "load", f.csv, "--json")
	if code != 0 {
		f.t.Fatalf("fleet load: exit %d\n%s\n%s", code, out, errOut)
	}
	var r struct {
		Added     int `json:"added"`
		Duplicate int `json:"duplicate"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		f.t.Fatalf("fleet load --json: %v\n%s", err, out)
	}
	return r.Added, r.Duplicate
}

// TestFleetThreeBenches: three benches (processes, four virtual keys
// each; two join while the first is at work) enroll one list of 60 users
// from one PostgreSQL store against one emulated tenant. Every user ends with exactly one passkey, one job that
// began, one escrow that opens the key they were enrolled on, never on
// two benches at once, and the shared audit chain verifies.
func TestFleetThreeBenches(t *testing.T) {
	f := newFleet(t, newSchema(t, needPostgres(t)), fleetUsers)
	if added, dup := loadList(f); added != fleetUsers || dup != 0 {
		t.Fatalf("fleet load: %d added, %d duplicate; want %d, 0", added, dup, fleetUsers)
	}
	if added, dup := loadList(f); added != 0 || dup != fleetUsers {
		t.Fatalf("fleet load again: %d added, %d duplicate; want 0, %d", added, dup, fleetUsers)
	}
	// Benches join as their operators arrive: b and c once a is at work
	// (holding users whose enrollment has begun).
	st, err := store.Open(context.Background(), f.store, store.Options{Actor: "fleettest"})
	must(t, err)
	defer st.Close()
	runs := []*benchRun{f.startBench("a")}
	eventually(t, 90*time.Second, "bench a to begin enrollments", func() bool {
		_, begun := heldBy(t, st, "a")
		return len(begun) > 0
	})
	runs = append(runs, f.startBench("b"), f.startBench("c"))
	f.waitAll(runs...)
	total := 0
	for _, r := range runs {
		n := r.doneCount()
		total += n
		if n == 0 {
			t.Errorf("bench %s enrolled nobody: the list was not shared", r.bench)
		}
	}
	if total != fleetUsers {
		t.Errorf("the benches reported %d enrollments, want %d", total, fleetUsers)
	}
	s := f.status()
	if s.Queue.Done != fleetUsers || s.Queue.Queued+s.Queue.Claimed+s.Queue.Begun+s.Queue.Waiting+s.Queue.Failed != 0 || len(s.Waiting) != 0 {
		t.Errorf("fleet status after the run: %+v, waiting %v", s.Queue, s.Waiting)
	}
	f.checkOutcome(f.users[0], f.users[fleetUsers-1])
}

// TestFleetBenchKilled: one of three benches is killed (SIGKILL) while it
// has enrollments under way. The other two finish every user it had not
// begun (its claims come back when their lease expires); the users it had
// begun wait for their keys, shown by fleet status, and are finished when
// the bench restarts on the same state directory with the same keys
// plugged in.
func TestFleetBenchKilled(t *testing.T) {
	f := newFleet(t, newSchema(t, needPostgres(t)), fleetUsers)
	st, err := store.Open(context.Background(), f.store, store.Options{Actor: "fleettest"})
	must(t, err)
	defer st.Close()
	a, b := f.startBench("a"), f.startBench("b")
	// Bench c's keys are slow (every command takes 300 ms) and its
	// person slow to touch: it holds users it claimed and has not begun
	// yet, and users it began (PIN escrowed and set) waiting for the
	// touch, when it is killed.
	c := f.startBench("c", "KEYPREP_SIM_TOUCH=delay=3s", "KEYPREP_SIM_KEY_LATENCY=300ms")
	var claimed, begun map[string]bool
	eventually(t, 90*time.Second, "bench c to hold a claim it has not begun and one it has", func() bool {
		claimed, begun = heldBy(t, st, "c")
		return len(claimed) > 0 && len(begun) > 0
	})
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := c.exitCode(); code != -1 {
		t.Fatalf("bench c was not killed: exit %d", code)
	}
	claimed, begun = heldBy(t, st, "c")
	if len(claimed) == 0 || len(begun) == 0 {
		t.Fatalf("bench c was killed holding %d claims not begun and %d begun: this test needs both", len(claimed), len(begun))
	}
	t.Logf("bench c killed holding %d users claimed, %d begun", len(claimed), len(begun))

	f.waitAll(a, b)
	s := f.status()
	waiting := map[string]bool{}
	for _, w := range s.Waiting {
		waiting[strings.ToLower(w.UPN)] = true
		if w.Bench != "c" || w.Key == "" {
			t.Errorf("waiting %s: key %q, last seen at bench %q; want a key of bench c", w.UPN, w.Key, w.Bench)
		}
	}
	for upn := range begun {
		if !waiting[upn] {
			t.Errorf("%s was begun on bench c and is not waiting for its key (waiting: %v)", upn, keys(waiting))
		}
	}
	if len(waiting) != len(begun) {
		t.Errorf("waiting for their key: %v; bench c had begun %v", keys(waiting), keys(begun))
	}
	// The users bench c had claimed and not begun were taken over.
	for upn := range claimed {
		qs, err := st.Queue(context.Background(), store.QueueFilter{UPN: upn})
		if err != nil {
			t.Fatal(err)
		}
		if len(qs) != 1 || qs[0].State != store.QueueDone || qs[0].Bench == "c" {
			t.Errorf("%s, claimed by bench c when it died: %+v; want done by another bench", upn, qs)
		}
	}
	if s.Queue.Queued != 0 || s.Queue.Claimed != 0 || s.Queue.Failed != 0 || s.Queue.Done+len(s.Waiting) != fleetUsers {
		t.Errorf("after benches a and b finished: queue %+v with %d waiting; want every user done but those waiting for bench c's keys", s.Queue, len(s.Waiting))
	}
	for _, upn := range f.users {
		if waiting[strings.ToLower(upn)] {
			continue
		}
		if n, err := f.passkeys(upn); err != nil || n != 1 {
			t.Errorf("%s (not waiting) has %d passkeys (%v) after benches a and b finished, want 1", upn, n, err)
		}
	}

	c2 := f.startBench("c")
	f.waitAll(c2)
	resumed := map[string]bool{}
	for _, res := range c2.results() {
		resumed[strings.ToLower(res.UPN)] = true
	}
	for upn := range waiting {
		if !resumed[upn] {
			t.Errorf("%s waited for bench c's key and was not finished by bench c's restart", upn)
		}
	}
	if s := f.status(); s.Queue.Done != fleetUsers || len(s.Waiting) != 0 {
		t.Errorf("fleet status at the end: %+v, waiting %v", s.Queue, s.Waiting)
	}
	f.checkOutcome(keys(waiting)...)
}

// TestFleetPostgresRestart: PostgreSQL is restarted (a cluster of the
// test's own, stopped for longer than a lease) while three benches work.
// Each says it waits for the store, carries on when it is back, and the
// outcome is that of an undisturbed run: nothing lost, nothing done twice.
func TestFleetPostgresRestart(t *testing.T) {
	needPostgres(t)
	pg := startCluster(t)
	f := newFleet(t, newSchema(t, pg.url()), fleetUsers)
	runs := []*benchRun{f.startBench("a"), f.startBench("b"), f.startBench("c")}
	eventually(t, 90*time.Second, "10 enrollments", func() bool {
		n := 0
		for _, r := range runs {
			n += r.doneCount()
		}
		return n >= 10
	})
	for _, r := range runs {
		if !r.running() {
			t.Fatalf("bench %s finished before the database went away (exit %d): the run is too short for this test", r.bench, r.exitCode())
		}
	}
	if err := pg.stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	eventually(t, 60*time.Second, "every bench to say it pauses", func() bool {
		for _, r := range runs {
			if !pauseMsg.MatchString(r.stderr.String()) {
				return false
			}
		}
		return true
	})
	// Down for longer than a lease: no bench can renew its claims.
	time.Sleep(3*time.Second - time.Since(down))
	if err := pg.start(); err != nil {
		t.Fatal(err)
	}
	f.waitAll(runs...)
	for _, r := range runs {
		// The pause, then the end of it, in that order.
		log := r.stderr.String()
		p, b := pauseMsg.FindStringIndex(log), resumeMsg.FindAllStringIndex(log, -1)
		if p == nil || len(b) == 0 || b[len(b)-1][0] < p[0] {
			t.Errorf("bench %s did not say it paused and then that it carried on:\n%s", r.bench, tail(log, 3000))
		}
	}
	f.checkOutcome()
}

// heldBy returns the users bench holds in the store's queue: claimed
// (nothing done yet) and begun, by lower-case UPN.
func heldBy(t *testing.T, st *store.Store, bench string) (claimed, begun map[string]bool) {
	t.Helper()
	qs, err := st.Queue(context.Background(), store.QueueFilter{States: []store.QueueState{store.QueueClaimed, store.QueueBegun}})
	if err != nil {
		t.Fatal(err)
	}
	claimed, begun = map[string]bool{}, map[string]bool{}
	for _, q := range qs {
		if q.Bench != bench {
			continue
		}
		if q.State == store.QueueBegun {
			begun[strings.ToLower(q.UPN)] = true
		} else {
			claimed[strings.ToLower(q.UPN)] = true
		}
	}
	return claimed, begun
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestFleetStoreRefused: a bench pointed at a PostgreSQL server it cannot
// reach, or one that refuses its password, stops at start, before any key
// is touched, with the message, a hint and the exit code of its class:
// 9 (unavailable: retrying later may succeed) and 7 (the credentials). So
// does a bench that could not open the PIN escrows it would write (2).
func TestFleetStoreRefused(t *testing.T) {
	base := needPostgres(t)
	f := newFleet(t, newSchema(t, base), 3)
	// A loopback port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	closed := l.Addr().String()
	must(t, l.Close())
	const password = "wrong-horse-battery"
	tests := []struct {
		name  string
		store string
		code  int
		msg   string
		hint  string
		args  []string
	}{
		{"unreachable", "postgres://keyprep@" + closed + "/keyprep?sslmode=disable&connect_timeout=5", 9,
			"the database server cannot be reached", "server is running and reachable", nil},
		// scripts/pg.sh's cluster asks keyprep_pwtest for its password;
		// a server that does not know the role refuses it too.
		{"wrong password", withParam(t, base, "user", "keyprep_pwtest"), 7,
			"the database refused the connection", "PGPASSWORD or ~/.pgpass", nil},
		// A bench that could not open the escrows it writes could not
		// resume its begun enrollments, here or on another bench.
		{"escrows to recipients only", f.store, 2, "no --identity to open them with", "--identity fleet.key",
			[]string{"--age-recipient", f.recip}},
		{"an identity that opens none", f.store, 2, "no --identity of this bench opens", "--identity fleet.key",
			[]string{"--age-recipient", f.recip, "--identity", f.fleetKey}},
		{"escrows to this machine only", f.store, 2, "sealed to this machine's own bench key", "--identity fleet.key", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			args := append([]string{"--store", tc.store, "--state-dir", state, "--sim-keys", "2",
				"--graph-url", f.graphURL, "--auth", "token",
				"enroll", "--csv", f.csv, "--bench", "x", "--json"}, tc.args...)
			code, out, errOut := run(t, append(f.env(), "PGPASSWORD="+password, "PGPASSFILE="+filepath.Join(state, "none")), "", args...)
			if code == 0 && tc.code == 7 {
				t.Skip("the server let keyprep_pwtest in with a wrong password (it does not check passwords)")
			}
			if code != tc.code || !strings.Contains(errOut, tc.msg) || !strings.Contains(errOut, "\nhint: ") || !strings.Contains(errOut, tc.hint) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, %q and a hint with %q", code, errOut, tc.code, tc.msg, tc.hint)
			}
			if strings.Contains(out+errOut, password) {
				t.Errorf("the password is in the output:\n%s%s", out, errOut)
			}
			for _, m := range jsonLines(out) {
				if m["type"] == "slot" || m["type"] == "result" {
					t.Errorf("the bench started work before it had a store: %v", m)
				}
			}
		})
	}
}

// TestFleetKeyWithoutSerialMovesBench: virtual keys report no USB serial
// number. Bench c is killed while enrollments it began wait for Entra to
// answer their registration (their passkeys made); those keys are then
// plugged into bench d, which recognises each by the passkey the job
// recorded (a silent assertion: no touch, no PIN) and finishes the same
// job there. Bench c, restarted, finishes what it had begun on the keys
// it kept; the outcome is that of an undisturbed run.
func TestFleetKeyWithoutSerialMovesBench(t *testing.T) {
	const n = 16
	f := newFleetTenant(t, newSchema(t, needPostgres(t)), n, func(ten *entrasim.Tenant) {
		// Registrations take a while: bench c is killed during one.
		ten.SetFault(entrasim.EPRegisterFido2, entrasim.Fault{Latency: 1500 * time.Millisecond})
	})
	ctx := context.Background()
	st, err := store.Open(ctx, f.store, store.Options{Actor: "fleettest"})
	must(t, err)
	defer st.Close()
	ofC := func() []store.BegunCredential {
		bc, err := st.BegunCredentials(ctx)
		must(t, err)
		var out []store.BegunCredential
		for _, b := range bc {
			if b.Bench == "c" {
				out = append(out, b)
			}
		}
		return out
	}
	c := f.startBench("c")
	eventually(t, 90*time.Second, "bench c to hold an enrollment whose passkey is made", func() bool { return len(ofC()) > 0 })
	must(t, c.cmd.Process.Signal(syscall.SIGKILL))
	if code := c.exitCode(); code != -1 {
		t.Fatalf("bench c was not killed: exit %d", code)
	}
	moved := ofC()
	if len(moved) == 0 {
		t.Fatal("bench c finished its enrollments before it was killed: this test needs one under way")
	}
	// The keys of those enrollments leave bench c for bench d's ports.
	cKeys := filepath.Join(f.benches["c"], "sim", "keys")
	dKeys := filepath.Join(f.dir, "bench-d", "sim", "keys")
	must(t, os.MkdirAll(dKeys, 0o700))
	for i, m := range moved {
		j, err := st.Job(ctx, m.JobID)
		must(t, err)
		if j.Serial != "" {
			t.Fatalf("job %s: serial %q; the virtual keys report none", j.ID, j.Serial)
		}
		from := filepath.Join(cKeys, strings.TrimPrefix(j.KeyPath, "vkey:")+".json")
		must(t, os.Rename(from, filepath.Join(dKeys, fmt.Sprintf("%d.json", i))))
	}
	f.moved = map[string]bool{}
	for _, m := range moved {
		f.moved[m.JobID] = true
	}
	t.Logf("bench c killed during %d registrations; their keys move to bench d", len(moved))
	d := f.startBench("d")
	f.waitAll(d)
	done := d.results()
	for _, m := range moved {
		res, ok := done[m.JobID]
		if !ok {
			t.Errorf("%s: job %s (passkey made on bench c) was not finished on bench d, where its key went\nbench d's stderr:\n%s", m.UPN, m.JobID, tail(d.stderr.String(), 4000))
			continue
		}
		if !strings.EqualFold(res.UPN, m.UPN) {
			t.Errorf("job %s finished for %s, want %s", m.JobID, res.UPN, m.UPN)
		}
	}
	// Bench c restarts with the keys it kept: what it had begun on them
	// (by their port there) is finished.
	f.waitAll(f.startBench("c"))
	if s := f.status(); s.Queue.Done != n || len(s.Waiting) != 0 {
		t.Errorf("fleet status at the end: %+v, waiting %v", s.Queue, s.Waiting)
	}
	f.checkOutcome(moved[0].UPN)
}
