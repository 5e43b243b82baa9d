package graph

import (
	"container/heap"
	"math"
	"testing"
	"time"
)

// bucket is Graph's throttling as the emulated tenant models it: a token
// bucket answering 429 with whole seconds of Retry-After (at least 1).
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (b *bucket) take(t time.Time) (ok bool, retryAfter time.Duration) {
	b.tokens = math.Min(b.burst, b.tokens+t.Sub(b.last).Seconds()*b.rate)
	b.last = t
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration(max(1, math.Ceil((1-b.tokens)/b.rate))) * time.Second
}

type simEvent struct {
	at      time.Time
	slot    int
	send    bool      // the booked request reaches the service
	sentAt  time.Time // for send events
	covered time.Time // Retry-After this slot waited itself
	epoch   uint64    // for send events: the booking's
}

type eventQueue []simEvent

func (q eventQueue) Len() int           { return len(q) }
func (q eventQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q eventQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)        { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type paceResult struct{ ok, throttled int }

// simulatePacing runs slots that each send a request, wait think for the
// answer's processing, and send the next one, through one gate against a
// bucket, in simulated time, and counts answers.
func simulatePacing(g *throttleGate, b *bucket, slots int, think, d time.Duration) paceResult {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	now := t0
	g.now = func() time.Time { return now }
	b.last, b.tokens = t0, b.burst
	q := &eventQueue{}
	for i := 0; i < slots; i++ {
		heap.Push(q, simEvent{at: t0.Add(time.Duration(i) * time.Millisecond), slot: i})
	}
	var r paceResult
	for q.Len() > 0 {
		e := heap.Pop(q).(simEvent)
		if e.at.After(t0.Add(d)) {
			break
		}
		now = e.at
		if !e.send {
			start, epoch := g.reserve(e.covered)
			heap.Push(q, simEvent{at: start, slot: e.slot, send: true, sentAt: start, epoch: epoch, covered: e.covered})
			continue
		}
		if !g.commit(e.sentAt, e.epoch) { // a 429 since the booking: book again
			heap.Push(q, simEvent{at: now, slot: e.slot, covered: e.covered})
			continue
		}
		ok, ra := b.take(now)
		if ok {
			r.ok++
			heap.Push(q, simEvent{at: now.Add(think), slot: e.slot})
			continue
		}
		r.throttled++
		covered := g.throttled(e.sentAt, ra)
		heap.Push(q, simEvent{at: now.Add(ra), slot: e.slot, covered: covered})
	}
	return r
}

// TestPacingAvoidsThrottleStalls: sixteen slots that want 800 requests/s
// against a 250/s budget. Holding every request for the whole-second
// Retry-After alone loses much of the budget; with pacing the client runs
// close to the budget and draws few 429s.
func TestPacingAvoidsThrottleStalls(t *testing.T) {
	const rate, burst, slots, think, d = 250.0, 50.0, 16, 20 * time.Millisecond, 120 * time.Second
	budget := burst + rate*d.Seconds()

	held := simulatePacing(&throttleGate{unpaced: true}, &bucket{rate: rate, burst: burst}, slots, think, d)
	paced := simulatePacing(&throttleGate{}, &bucket{rate: rate, burst: burst}, slots, think, d)
	t.Logf("budget %.0f requests in %v; Retry-After only: %d ok (%.0f %%), %d 429s; paced: %d ok (%.0f %%), %d 429s",
		budget, d, held.ok, 100*float64(held.ok)/budget, held.throttled, paced.ok, 100*float64(paced.ok)/budget, paced.throttled)

	if float64(paced.ok) < 0.85*budget {
		t.Errorf("paced: %d requests answered, want at least 85 %% of the %.0f the budget allows", paced.ok, budget)
	}
	if paced.throttled > int(d/time.Second)/2 {
		t.Errorf("paced: %d 429s in %v, want fewer than one every two seconds", paced.throttled, d)
	}
	if paced.ok <= held.ok {
		t.Errorf("pacing answered %d requests, Retry-After alone %d", paced.ok, held.ok)
	}
}

// TestPacingTable: the pace after a 429, slow start, the CUBIC curve after
// the next 429, and the end of pacing.
func TestPacingTable(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	now := t0
	g := &throttleGate{now: func() time.Time { return now }}
	book := func() time.Time {
		s, epoch := g.reserve(time.Time{})
		if !g.commit(s, epoch) {
			t.Fatal("commit refused without a 429")
		}
		return s
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want/100 {
			t.Errorf("%s: %.2f, want %.2f", what, got, want)
		}
	}
	if p := g.pace(now); p != 0 {
		t.Fatalf("pace before any 429: %v", p)
	}
	// 100 requests in the last second, then a 429: slow start at 80/s.
	for i := 0; i < 100; i++ {
		now = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		book()
	}
	sentAt := now
	// A request booked before the 429 must book again after it.
	early, earlyEpoch := g.reserve(time.Time{})
	until := g.throttled(sentAt, time.Second)
	if !until.Equal(now.Add(time.Second)) {
		t.Errorf("Retry-After deadline %v, want %v", until, now.Add(time.Second))
	}
	if g.commit(early, earlyEpoch) {
		t.Error("a booking made before the 429 was confirmed after it")
	}
	near("pace right after the first 429", g.pace(now), 80)
	near("slow start after one doubling period", g.pace(now.Add(paceDouble)), 160)
	// Answers to requests of the same episode do not cut again.
	g.throttled(sentAt.Add(-time.Millisecond), time.Second)
	near("pace after a second 429 of the same episode", g.pace(now), 80)
	// The first request after the hold starts at its end; the next one a
	// pace interval later.
	if s := book(); !s.Equal(until) {
		t.Errorf("first request after the 429 starts %v, want %v", s, until)
	}
	if s, want := book(), time.Duration(float64(time.Second)/g.pace(until)); s.Sub(until) != want {
		t.Errorf("second request %v after the first, want %v", s.Sub(until), want)
	}

	// The next 429 ends slow start: the pace drops to β of the rate that
	// drew it and follows CUBIC: fast at first, flat around that rate
	// after K = ∛(Wmax·(1−β)/C), then probing beyond it.
	now = now.Add(2 * paceDouble) // slow start is at 320/s
	for i := 0; i < 200; i++ {
		now = now.Add(5 * time.Millisecond)
		book()
	}
	g.throttled(now, time.Second) // 200 requests in the last second
	near("pace after the second 429", g.pace(now), 160)
	k := time.Duration(math.Cbrt(200*(1-paceCut)/paceC) * float64(time.Second))
	for _, tc := range []struct {
		after    time.Duration
		min, max float64
	}{
		{k / 2, 190, 199},
		{k, 199.9, 200.1},
		{k + k/2, 201, 210},
		{3 * k, 400, math.Inf(1)},
	} {
		if p := g.pace(now.Add(tc.after)); p < tc.min || p > tc.max {
			t.Errorf("pace %v after the second 429: %.1f, want %.0f to %.0f", tc.after, p, tc.min, tc.max)
		}
	}
	now = now.Add(paceForget)
	if p := g.pace(now); p != 0 {
		t.Errorf("pace %v after the 429: %.1f, want none", paceForget, p)
	}
	// A client sending a request now and then is not paced: Retry-After
	// holds it, and the next request goes right after the hold.
	g2 := &throttleGate{now: func() time.Time { return now }}
	s, e := g2.reserve(time.Time{})
	g2.commit(s, e)
	until = g2.throttled(now, time.Second)
	if p := g2.pace(now); p != 0 {
		t.Errorf("pace after a lone 429: %v, want none", p)
	}
	if s, _ := g2.reserve(time.Time{}); !s.Equal(until) {
		t.Errorf("after a lone 429 the next request starts %v, want %v", s, until)
	}
}
