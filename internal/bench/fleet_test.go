package bench_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
	"github.com/keyprep/keyprep/internal/store"
)

// serialKeys lists a bench's ports with the keys' serial numbers.
type serialKeys struct{ s *enrolltest.KeySet }

func (k serialKeys) List(context.Context) ([]bench.KeyInfo, error) {
	var out []bench.KeyInfo
	for _, key := range k.s.Attached() {
		out = append(out, bench.KeyInfo{Path: key.Path(), Product: "fake key", Serial: key.Serial()})
	}
	return out, nil
}

// benchOn is a daemon bench named name over its own ports, on the shared
// store of b.
func (b *benchEnv) benchOn(name string, ports *enrolltest.KeySet) *bench.Runner {
	b.t.Helper()
	r, err := bench.New(bench.Options{
		Enroller: &enroll.Enroller{Directory: b.dir, Store: b.st, EscrowDir: filepath.Join(b.tmp, "escrow"),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Keys: serialKeys{ports},
		Open: func(_ context.Context, path string) (bench.Device, error) {
			if k, ok := ports.Key(path); ok {
				return k, nil
			}
			return nil, enrolltest.Err("open", hid.CodeNotFound)
		},
		Bench: name, Poll: 5 * time.Millisecond, RetryDelay: time.Millisecond, Explain: explain,
		Lease: time.Minute, ClaimPoll: 10 * time.Millisecond,
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

// TestFleetKeyMovesBench: a key pulled out of bench A after its user's
// registration began takes the job with it; the user waits for that key
// (the fleet view says where it was last seen), no bench starts them
// afresh, and bench B, where the key is plugged in next, recognises it by
// its serial number and resumes the same job: one passkey.
func TestFleetKeyMovesBench(t *testing.T) {
	b := newBench(t, 2)
	portsA, portsB := &enrolltest.KeySet{}, &enrolltest.KeySet{}
	key := enrolltest.NewKey(enrolltest.KeyConfig{Path: "usb:a1", Serial: "SN-0001"})
	key.UnplugAt(enrolltest.OpGetAssertion, 1, false)
	b.made = append(b.made, key)
	portsA.Plug(key)
	a := b.benchOn("bench-a", portsA)
	if _, _, err := a.Add(b.ctx, "list", rows(b.upns[0])); err != nil {
		t.Fatal(err)
	}
	b.daemon(a)
	s := b.waitFor(a, "the user bound to the pulled key", func(s bench.Snapshot) bool {
		it := item(s, b.upns[0])
		return it.State == bench.ItemPending && it.JobID != ""
	})
	job := item(s, b.upns[0]).JobID
	var f *bench.Fleet
	for {
		var err error
		if f, err = bench.FleetStatus(b.ctx, b.st, time.Now(), time.Minute, time.Minute); err != nil {
			t.Fatal(err)
		}
		if len(f.Waiting) == 1 {
			break
		}
		select {
		case <-b.ctx.Done():
			t.Fatalf("no user waiting for its key: %+v", f)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if w := f.Waiting[0]; w.UPN != b.upns[0] || w.Key != "SN-0001" || w.Bench != "bench-a" || w.JobID != job {
		t.Errorf("waiting = %+v", w)
	}
	if f.Queue.Waiting != 1 || f.Queue.Queued != 0 {
		t.Errorf("queue = %+v", f.Queue)
	}
	// Bench B, with a fresh key of its own and the second user: the fresh
	// key takes the second user, never the waiting one.
	fresh := enrolltest.NewKey(enrolltest.KeyConfig{Path: "usb:b1", Serial: "SN-0002"})
	b.made = append(b.made, fresh)
	portsB.Plug(fresh)
	bb := b.benchOn("bench-b", portsB)
	if _, _, err := bb.Add(b.ctx, "list", rows(b.upns...)); err != nil {
		t.Fatal(err)
	}
	b.daemon(bb)
	b.waitFor(bb, "the second user done", func(s bench.Snapshot) bool { return item(s, b.upns[1]).State == bench.ItemDone })
	if it := item(bb.Snapshot(), b.upns[0]); it.State == bench.ItemDone || it.State == bench.ItemActive {
		t.Fatalf("the waiting user was taken without their key: %+v", it)
	}
	// The key leaves bench A's ports for good and arrives at bench B.
	portsA.Unplug(key.Path())
	portsB.Plug(key)
	s = b.waitFor(bb, "the waiting user done on bench B", func(s bench.Snapshot) bool { return item(s, b.upns[0]).State == bench.ItemDone })
	for _, res := range s.Results {
		if res.UPN == b.upns[0] && (res.JobID != job || res.Serial != "SN-0001") {
			t.Errorf("finished as %+v, want job %s resumed on SN-0001", res, job)
		}
	}
	if n := b.dir.Calls(enrolltest.CallRegister); n != 2 {
		t.Errorf("%d registrations for two users", n)
	}
	b.onePasskeyEach(s)
	js, _ := b.st.Jobs(b.ctx, store.JobFilter{UPN: b.upns[0]})
	if len(js) != 1 || js[0].Bench != "bench-a" {
		t.Errorf("jobs of the moved user = %+v, want one, begun on bench-a", js)
	}
	c, _ := b.st.QueueCounts(b.ctx)
	if c.Done != 2 || c.Waiting+c.Begun+c.Queued+c.Claimed != 0 {
		t.Errorf("queue = %+v", c)
	}
}

// TestFleetKeyWithoutSerialMovesBench: as TestFleetKeyMovesBench, for a
// key that reports no serial number, pulled out of bench A after its
// passkey was made: bench B, where it is plugged in next (at the same
// port name, which means nothing across benches), recognises it by the
// credential the job recorded, found with a silent assertion (no touch,
// no PIN, so no PIN retry spent), and resumes the same job: one passkey.
// A factory-fresh key of bench B is never taken for it.
func TestFleetKeyWithoutSerialMovesBench(t *testing.T) {
	b := newBench(t, 2)
	portsA, portsB := &enrolltest.KeySet{}, &enrolltest.KeySet{}
	key := enrolltest.NewKey(enrolltest.KeyConfig{Path: "usb:1"})
	key.UnplugAt(enrolltest.OpGetAssertion, 1, false) // in the self-test, after the registration
	b.made = append(b.made, key)
	portsA.Plug(key)
	a := b.benchOn("bench-a", portsA)
	if _, _, err := a.Add(b.ctx, "list", rows(b.upns[0])); err != nil {
		t.Fatal(err)
	}
	b.daemon(a)
	s := b.waitFor(a, "the user bound to the pulled key", func(s bench.Snapshot) bool {
		it := item(s, b.upns[0])
		return it.State == bench.ItemPending && it.JobID != ""
	})
	job := item(s, b.upns[0]).JobID
	if j, err := b.st.Job(b.ctx, job); err != nil || j.CredentialID == "" || j.Serial != "" {
		t.Fatalf("job %+v, %v: want one without a serial that made its credential", j, err)
	}
	fresh := enrolltest.NewKey(enrolltest.KeyConfig{Path: "usb:2"})
	b.made = append(b.made, fresh)
	portsB.Plug(fresh)
	bb := b.benchOn("bench-b", portsB)
	if _, _, err := bb.Add(b.ctx, "list", rows(b.upns...)); err != nil {
		t.Fatal(err)
	}
	b.daemon(bb)
	b.waitFor(bb, "the second user done", func(s bench.Snapshot) bool { return item(s, b.upns[1]).State == bench.ItemDone })
	if it := item(bb.Snapshot(), b.upns[0]); it.State == bench.ItemDone || it.State == bench.ItemActive {
		t.Fatalf("the waiting user was taken without their key: %+v", it)
	}
	portsA.Unplug(key.Path())
	portsB.Plug(key)
	s = b.waitFor(bb, "the waiting user done on bench B", func(s bench.Snapshot) bool { return item(s, b.upns[0]).State == bench.ItemDone })
	for _, res := range s.Results {
		if res.UPN == b.upns[0] && res.JobID != job {
			t.Errorf("finished as %+v, want job %s resumed", res, job)
		}
	}
	if n := b.dir.Calls(enrolltest.CallRegister); n != 2 {
		t.Errorf("%d registrations for two users", n)
	}
	b.onePasskeyEach(s)
	c, _ := b.st.QueueCounts(b.ctx)
	if c.Done != 2 || c.Waiting+c.Begun+c.Queued+c.Claimed != 0 {
		t.Errorf("queue = %+v", c)
	}
	if n, err := key.PINRetries(b.ctx); err != nil || n != 8 {
		t.Errorf("the moved key has %d PIN retries left (%v), want all 8: no PIN was guessed", n, err)
	}
}
