package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/bench"
)

// TestFleetLoadStatus: fleet load adds a list once; a bench given the same
// list adds nothing more and enrolls everyone from the queue; fleet status
// shows the bench (stopped once it exited), the counts, the rate and the
// ETA.
func TestFleetLoadStatus(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	csv, upns := benchUsers(t, 3)
	type loaded struct {
		Batch            string
		Added, Duplicate int
	}
	for i, want := range []loaded{{"users.csv", 3, 0}, {"users.csv", 0, 3}} {
		r := w.cli("", hooks{}, "fleet", "load", csv, "--json")
		var got loaded
		if r.code != 0 || json.Unmarshal([]byte(r.out), &got) != nil || got != want {
			t.Fatalf("fleet load #%d = %+v (exit %d)\n%s%s", i+1, got, r.code, r.out, r.errOut)
		}
	}
	status := func() bench.Fleet {
		t.Helper()
		r := w.cli("", hooks{}, "fleet", "status", "--json")
		var f bench.Fleet
		if r.code != 0 || json.Unmarshal([]byte(r.out), &f) != nil {
			t.Fatalf("fleet status: exit %d\n%s%s", r.code, r.out, r.errOut)
		}
		return f
	}
	if f := status(); f.Queue.Queued != 3 || len(f.Benches) != 0 || f.ETA != nil {
		t.Fatalf("status before any bench = %+v", f)
	}
	r := w.cli("", hooks{}, "--sim-keys", "2", "enroll", "--csv", csv, "--bench", "bench-a", "--json")
	if r.code != 0 {
		t.Fatalf("enroll: exit %d\n%s", r.code, r.errOut)
	}
	_, sum := jsonLines(t, r.out)
	if sum.Counts.Done != len(upns) {
		t.Errorf("summary counts = %+v", sum.Counts)
	}
	f := status()
	if f.Queue.Done != 3 || f.Queue.Queued+f.Queue.Claimed+f.Queue.Begun+f.Queue.Waiting != 0 {
		t.Errorf("queue = %+v", f.Queue)
	}
	// The bench exited: its last report says so, with no keys (it works
	// on none any more), and it is not taken for a bench gone silent.
	if len(f.Benches) != 1 || f.Benches[0].ID != "bench-a" || !f.Benches[0].Stopped || f.Benches[0].Alive || len(f.Benches[0].Keys) != 0 {
		t.Errorf("benches = %+v, want bench-a stopped without keys", f.Benches)
	}
	if f.Rate <= 0 || f.ETA == nil || *f.ETA != 0 {
		t.Errorf("rate %v, eta %v", f.Rate, f.ETA)
	}
	// Plain output names the bench and the counts.
	r = w.cli("", hooks{}, "fleet", "status")
	if r.code != 0 || !strings.Contains(r.out, "bench-a") || !strings.Contains(r.out, "(stopped)") || !strings.Contains(r.out, "3 done") {
		t.Errorf("fleet status:\n%s%s", r.out, r.errOut)
	}
}
