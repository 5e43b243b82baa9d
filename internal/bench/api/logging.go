package api

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// maxLogValue bounds every string the daemon's API logs (messages and
// attribute values alike): requests choose their paths, headers and
// bodies, and must not choose the size of the log.
const maxLogValue = 200

// boundedHandler clips every string of a record to maxLogValue bytes.
type boundedHandler struct{ h slog.Handler }

func (b boundedHandler) Enabled(ctx context.Context, l slog.Level) bool { return b.h.Enabled(ctx, l) }

func (b boundedHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, clipLog(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(boundAttr(a))
		return true
	})
	return b.h.Handle(ctx, out)
}

func (b boundedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	bs := make([]slog.Attr, len(as))
	for i, a := range as {
		bs[i] = boundAttr(a)
	}
	return boundedHandler{b.h.WithAttrs(bs)}
}

func (b boundedHandler) WithGroup(name string) slog.Handler {
	return boundedHandler{b.h.WithGroup(clipLog(name))}
}

func boundAttr(a slog.Attr) slog.Attr {
	a.Key = clipLog(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(clipLog(v.String()))
	case slog.KindGroup:
		g := v.Group()
		bs := make([]slog.Attr, len(g))
		for i, ga := range g {
			bs[i] = boundAttr(ga)
		}
		a.Value = slog.GroupValue(bs...)
	case slog.KindAny:
		// Errors and other values print through their String or Error:
		// bound what they print.
		a.Value = slog.StringValue(clipLog(fmt.Sprint(v.Any())))
	default:
		a.Value = v
	}
	return a
}

// clipLog cuts s to maxLogValue bytes at a rune boundary, marking the cut
// with the original length.
func clipLog(s string) string {
	if len(s) <= maxLogValue {
		return s
	}
	n := maxLogValue
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// warnLimiter lets through at most burst warnings per period; the first
// one let through after some were held back says how many.
type warnLimiter struct {
	burst  int
	period time.Duration
	now    func() time.Time

	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

func newWarnLimiter(burst int, period time.Duration) *warnLimiter {
	return &warnLimiter{burst: burst, period: period, now: time.Now}
}

// allow says whether a warning may be logged now and, when so, how many
// were held back before it.
func (l *warnLimiter) allow() (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.start) >= l.period || now.Before(l.start) {
		l.start, l.n = now, 0
	}
	if l.n >= l.burst {
		l.suppressed++
		return false, 0
	}
	l.n++
	held := l.suppressed
	l.suppressed = 0
	return true, held
}

// refused logs a warning about a refused request, rate-limited: a client
// without the token must not be able to flood the log.
func (s *Server) refused(msg string, args ...any) {
	ok, held := s.refusals.allow()
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "notLogged", held)
	}
	s.log.Warn(msg, args...)
}

// limitedHandler is the http.Server's error log: bounded (through s.log)
// and rate-limited with the refusals.
type limitedHandler struct{ s *Server }

func (h *limitedHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.s.log.Handler().Enabled(ctx, l)
}

func (h *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	ok, held := h.s.refusals.allow()
	if !ok {
		return nil
	}
	if held > 0 {
		r.AddAttrs(slog.Int("notLogged", held))
	}
	return h.s.log.Handler().Handle(ctx, r)
}

func (h *limitedHandler) WithAttrs(as []slog.Attr) slog.Handler { return h }
func (h *limitedHandler) WithGroup(string) slog.Handler         { return h }
