package graph

import (
	"context"
	"math"
	"sync"
	"time"
)

// throttleGate is the client's one throttling budget (all bench slots share
// one client). It does two things:
//
//   - Retry-After: once Graph answers any request with Retry-After, every
//     request of the client waits until then instead of drawing more 429s.
//   - Pacing: Graph does not publish the budget an application has left, and
//     its Retry-After is whole seconds, so a client that keeps sending at
//     full speed after a 429 stalls for a second every time the budget runs
//     dry. After a 429 the gate paces requests below the rate that drew it.
//     The first 429 of a run comes when the service's burst allowance is
//     spent, which says little about the sustained budget, so the pace first
//     doubles every paceDouble until the next 429 (TCP's slow start). After
//     that it follows CUBIC's curve (RFC 9438 §4.2): back quickly at first,
//     flat around the rate that drew the last 429, faster again beyond it,
//     so it spends most of its time just under the budget and probes for
//     more only now and then. Before the first 429, and some minutes after
//     the last one, requests are not paced.
//
// A request books its start with reserve and confirms it with commit when
// that time comes; a 429 in between (a new Retry-After or a new pace) makes
// commit refuse and the request books again.
type throttleGate struct {
	mu    sync.Mutex
	now   func() time.Time // tests; nil means time.Now
	until time.Time        // Retry-After: no request before this
	wmax  float64          // requests per second that drew the last 429; 0: not paced
	slow  bool             // slow start: the first pace since the last 429-free stretch
	cutAt time.Time        // when wmax was set
	next  time.Time        // earliest start of the next paced request
	epoch uint64           // changes with every Retry-After and pace cut
	sent  [sentRing]time.Time
	nsent int // requests started, for the ring
	// unpaced turns pacing off (Retry-After is still honoured): tests
	// compare against it.
	unpaced bool
}

const (
	sentRing = 1024
	// paceCut is the share of the rate that drew a 429 that the pace keeps
	// (CUBIC's beta).
	paceCut = 0.8
	// paceC is CUBIC's C in requests/s³: with 250 requests/s at the 429 the
	// pace is back there after about 12 s.
	paceC = 0.03
	// paceDouble: in slow start the pace doubles this often.
	paceDouble = 2 * time.Second
	// paceForget: this long without a 429 and the pacing ends.
	paceForget = 10 * time.Minute
	// paceMin is the slowest pace, in requests per second.
	paceMin = 1.0
	// paceFrom: a first 429 starts pacing only for a client that sent at
	// least this many requests in the second before it.
	paceFrom = 5.0
)

func (g *throttleGate) clock() time.Time {
	if g.now != nil {
		return g.now()
	}
	return time.Now()
}

// pace is the rate the gate allows at t, 0 when requests are not paced. In
// slow start it is β·Wmax·2^(t/paceDouble); after that
// W(t) = C·(t−K)³ + Wmax with K = ∛(Wmax·(1−β)/C) (RFC 9438 §4.2), so
// W(0) = β·Wmax either way. The caller holds g.mu.
func (g *throttleGate) pace(t time.Time) float64 {
	if g.wmax == 0 {
		return 0
	}
	since := t.Sub(g.cutAt)
	if since >= paceForget {
		g.wmax = 0
		return 0
	}
	s := max(0, since.Seconds())
	if g.slow {
		return max(paceMin, paceCut*g.wmax*math.Exp2(s/paceDouble.Seconds()))
	}
	k := math.Cbrt(g.wmax * (1 - paceCut) / paceC)
	return max(paceMin, paceC*math.Pow(s-k, 3)+g.wmax)
}

// observed is the rate at which requests started over the second before t
// (over the ring's span when more than sentRing started in it). The caller
// holds g.mu.
func (g *throttleGate) observed(t time.Time) float64 {
	n := min(g.nsent, sentRing)
	count := 0
	var oldest time.Time
	for i := 0; i < n; i++ {
		s := g.sent[(g.nsent-1-i)%sentRing]
		if s.After(t) {
			continue
		}
		if t.Sub(s) > time.Second {
			break
		}
		count++
		oldest = s
	}
	if count == sentRing {
		if span := t.Sub(oldest); span > 0 {
			return float64(count) / span.Seconds()
		}
	}
	return float64(count)
}

// reserve books the start time of one request: not before a Retry-After the
// caller has not already waited out itself (covered), and, while paced, one
// pace interval after the request booked before it.
func (g *throttleGate) reserve(covered time.Time) (start time.Time, epoch uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	start = g.clock()
	if g.until.After(covered) && g.until.After(start) {
		start = g.until
	}
	if p := g.pace(start); p > 0 {
		if g.next.After(start) {
			start = g.next
		}
		g.next = start.Add(time.Duration(float64(time.Second) / p))
	}
	return start, g.epoch
}

// commit confirms a booking when its time has come and records the start;
// false means a 429 arrived since the booking and the request books again.
func (g *throttleGate) commit(start time.Time, epoch uint64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if epoch != g.epoch {
		return false
	}
	g.sent[g.nsent%sentRing] = start
	g.nsent++
	return true
}

// wait sleeps until the request may start and returns its start.
func (g *throttleGate) wait(ctx context.Context, sleep func(context.Context, time.Duration) error, covered time.Time) (sentAt time.Time, err error) {
	for {
		start, epoch := g.reserve(covered)
		if d := start.Sub(g.clock()); d > 0 {
			if err := sleep(ctx, d); err != nil {
				return start, err
			}
		}
		if g.commit(start, epoch) {
			return start, nil
		}
	}
}

// throttled records a 429 (or 503/504 with Retry-After) for a request that
// started at sentAt: every request waits d from now, and the pace is cut
// below the rate that drew it. Answers to requests that started before the
// last cut belong to that episode and do not cut again. It returns the
// gate's Retry-After deadline: the request that was told to wait follows its
// own Retry-After and is not held again by the gate.
func (g *throttleGate) throttled(sentAt time.Time, d time.Duration) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock()
	if t := now.Add(d); t.After(g.until) {
		g.until = t
		g.epoch++
	}
	if !g.unpaced && (g.wmax == 0 || !sentAt.Before(g.cutAt)) {
		rate := g.observed(sentAt)
		p := g.pace(sentAt) // 0 when not paced: slow start follows
		if p > 0 && p < rate {
			rate = p
		}
		// A client sending a few requests a second (one enrollment) is
		// throttled by others sharing the budget: Retry-After is enough.
		if p > 0 || rate >= paceFrom {
			g.slow = p == 0
			g.wmax = max(paceMin, rate)
			g.cutAt = now
			g.next = time.Time{} // paced requests start again after the hold
			g.epoch++
		}
	}
	return g.until
}
