package bench

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"time"

	"github.com/keyprep/keyprep/internal/store"
)

// DefaultLease is how long a claim holds without a heartbeat.
const DefaultLease = 60 * time.Second

// DefaultBench is the bench name when none is given: the host name.
func DefaultBench() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "bench"
}

// Bench returns this bench's name in the store's queue.
func (r *Runner) Bench() string { return r.o.Bench }

// BenchReport is what a bench reports with its heartbeat: its keys and
// their slots (no secrets; the fleet view shows it).
type BenchReport struct {
	Keys []SlotReport `json:"keys"`
	// Stopped: the bench's last report, sent as it exits (its keys are no
	// longer worked on).
	Stopped bool `json:"stopped,omitempty"`
}

// SlotReport is one attached key in a BenchReport.
type SlotReport struct {
	Slot   string    `json:"slot"`
	Key    string    `json:"key"`
	Serial string    `json:"serial,omitempty"`
	Model  string    `json:"model,omitempty"`
	State  SlotState `json:"state"`
	UPN    string    `json:"upn,omitempty"`
	Step   string    `json:"step,omitempty"`
}

// report is the bench's heartbeat report now.
func (r *Runner) report() BenchReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := BenchReport{Keys: []SlotReport{}}
	for _, p := range r.order {
		s := r.slots[p]
		if s.State == SlotRemoved {
			continue
		}
		rep.Keys = append(rep.Keys, SlotReport{Slot: s.ID, Key: s.Key, Serial: s.Serial, Model: s.Model, State: s.State, UPN: s.UPN, Step: s.Step})
	}
	return rep
}

// idle reports whether no slot is enrolling.
func (r *Runner) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts().Active == 0
}

// heartbeats renews this bench's leases and reports its keys every
// Heartbeat until ctx ends; the last report marks the bench stopped.
func (r *Runner) heartbeats(ctx context.Context) {
	st := r.o.Enroller.Store
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	t := time.NewTicker(r.o.Heartbeat)
	defer t.Stop()
	for {
		if _, err := st.Heartbeat(ctx, r.o.Bench, started, r.report(), r.o.Lease); err != nil {
			r.storeTrouble(err)
		}
		select {
		case <-ctx.Done():
			// The last report: the keys as they are now, and the leases
			// end at once (claims return to the queue, begun users wait
			// for their keys) instead of when they would have run out.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := st.Heartbeat(fctx, r.o.Bench, started, BenchReport{Keys: []SlotReport{}, Stopped: true}, 0); err != nil {
				r.storeTrouble(err)
			}
			return
		case <-t.C:
		}
	}
}

// Fleet is the whole fleet as the shared store sees it (keyprep fleet
// status, the dashboard's fleet panel).
type Fleet struct {
	Benches []FleetBench      `json:"benches"`
	Queue   store.QueueCounts `json:"queue"`
	// Rate is enrollments per minute over the last RateWindow minutes;
	// ETA the seconds left for the users not yet settled at that rate
	// (null when nothing was enrolled in the window).
	Rate       float64       `json:"rate"`
	RateWindow float64       `json:"rateWindowMinutes"`
	ETA        *float64      `json:"eta"`
	Waiting    []WaitingUser `json:"waiting"`
	Time       time.Time     `json:"time"`
}

// FleetBench is one bench: what its last heartbeat reported.
type FleetBench struct {
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"lastSeen"`
	Alive    bool      `json:"alive"` // heard from within a lease, and not stopped
	// Stopped: the bench exited (its last report said so); not stopped
	// and not alive: it went silent (killed, or cut off from the store).
	Stopped bool         `json:"stopped"`
	Keys    []SlotReport `json:"keys"`
}

// WaitingUser is a begun enrollment waiting for its key: "waiting for
// key K (last seen at bench B)".
type WaitingUser struct {
	UPN      string    `json:"upn"`
	Key      string    `json:"key"` // the serial number, else the device path
	Serial   string    `json:"serial,omitempty"`
	KeyPath  string    `json:"keyPath"`
	Bench    string    `json:"bench"`
	LastSeen time.Time `json:"lastSeen"`
	JobID    string    `json:"jobId"`
}

// FleetStore is what the fleet view reads of the store.
type FleetStore interface {
	Benches(ctx context.Context) ([]store.BenchStatus, error)
	QueueCounts(ctx context.Context) (store.QueueCounts, error)
	FinishedSince(ctx context.Context, t time.Time) (int, error)
	Queue(ctx context.Context, f store.QueueFilter) ([]store.QueueItem, error)
}

// FleetStatus reads the fleet's state at now: benches (alive when heard
// from within lease), queue counts, the enrollment rate over window and
// the ETA, and the begun users waiting for their keys.
func FleetStatus(ctx context.Context, st FleetStore, now time.Time, window, lease time.Duration) (*Fleet, error) {
	if window <= 0 {
		window = 10 * time.Minute
	}
	if lease <= 0 {
		lease = DefaultLease
	}
	f := &Fleet{Benches: []FleetBench{}, Waiting: []WaitingUser{}, RateWindow: window.Minutes(), Time: now.UTC()}
	bs, err := st.Benches(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]time.Time{}
	for _, b := range bs {
		fb := FleetBench{ID: b.ID, Started: b.StartedAt, LastSeen: b.LastSeen, Alive: now.Sub(b.LastSeen) < lease, Keys: []SlotReport{}}
		var rep BenchReport
		if json.Unmarshal(b.Info, &rep) == nil {
			if rep.Keys != nil {
				fb.Keys = rep.Keys
			}
			fb.Stopped = rep.Stopped
			fb.Alive = fb.Alive && !rep.Stopped
		}
		seen[b.ID] = b.LastSeen
		f.Benches = append(f.Benches, fb)
	}
	if f.Queue, err = st.QueueCounts(ctx); err != nil {
		return nil, err
	}
	n, err := st.FinishedSince(ctx, now.Add(-window))
	if err != nil {
		return nil, err
	}
	f.Rate = float64(n) / window.Minutes()
	left := f.Queue.Queued + f.Queue.Claimed + f.Queue.Begun + f.Queue.Waiting
	if f.Rate > 0 {
		eta := math.Round(float64(left) / f.Rate * 60)
		f.ETA = &eta
	} else if left == 0 {
		zero := 0.0
		f.ETA = &zero
	}
	begun, err := st.Queue(ctx, store.QueueFilter{States: []store.QueueState{store.QueueBegun}})
	if err != nil {
		return nil, err
	}
	for _, q := range begun {
		if q.Held(now) {
			continue
		}
		w := WaitingUser{UPN: q.UPN, Key: q.KeyPath, Serial: q.KeySerial, KeyPath: q.KeyPath, Bench: q.Bench, LastSeen: q.UpdatedAt, JobID: q.JobID}
		if q.KeySerial != "" {
			w.Key = q.KeySerial
		}
		if !q.LeaseUntil.IsZero() {
			// The bench went quiet holding it: the key was there then.
			if ls, ok := seen[q.Bench]; ok {
				w.LastSeen = ls
			}
		}
		f.Waiting = append(f.Waiting, w)
	}
	return f, nil
}

// Fleet implements the dashboard's fleet view (api.FleetSource): the
// store's view of every bench, over the last 10 minutes for the rate.
func (r *Runner) Fleet(ctx context.Context) (*Fleet, error) {
	return FleetStatus(ctx, r.o.Enroller.Store, r.o.Now(), 10*time.Minute, r.o.Lease)
}
