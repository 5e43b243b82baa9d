package bench

import (
	"context"
	"os"
	"time"
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
			return
		case <-t.C:
		}
	}
}
