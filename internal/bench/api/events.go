package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/keyprep/keyprep/internal/bench"
)

// streamWriteTimeout bounds each write of the event stream: a client that
// stops reading is dropped instead of holding the stream forever.
const streamWriteTimeout = 30 * time.Second

// viewEvery is the shortest interval between two "view" messages of a
// stream: the counts and the visible page, sent after items changed.
const viewEvery = time.Second

// events streams server-sent events: the bounded snapshot (the slots, the
// counts, the visible page of the queue, the newest results), then every
// engine event, a fresh "view" (counts and page) at most every viewEvery
// while the queue changes, and heartbeat comments, until the client goes
// away, the engine drops the subscriber or the server is closed. At most
// MaxStreams clients at once: more get 503.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		s.refused("refused an event-stream client: too many", "peer", r.RemoteAddr, "max", cap(s.streams))
		w.Header().Set("Retry-After", "10")
		writeError(w, http.StatusServiceUnavailable, "too_many_streams",
			fmt.Sprintf("%d event streams are open, the most this daemon serves; close a dashboard tab", cap(s.streams)))
		return
	}
	rc := http.NewResponseController(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	q := bench.ViewQuery{States: snapshotStates, Results: snapshotResults}
	// Subscribe first, then take the snapshot: nothing falls in between.
	ch := s.engine.Subscribe(ctx)
	snap, err := json.Marshal(normaliseView(s.engine.View(q)))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "cannot encode the snapshot")
		return
	}
	// The stream lives longer than the server's read and write timeouts:
	// no read deadline (the client sends nothing more), a write deadline
	// per message.
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")

	send := func(chunk []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send(fmt.Appendf(nil, "retry: 2000\nevent: snapshot\ndata: %s\n\n", snap)); err != nil {
		return
	}
	snap = nil
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
	var (
		viewTimer *time.Timer
		viewC     <-chan time.Time
	)
	defer func() {
		if viewTimer != nil {
			viewTimer.Stop()
		}
	}()
	for {
		var chunk []byte
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return // fell behind or ended: the client reconnects and resyncs
			}
			data, err := json.Marshal(ev)
			if err != nil {
				s.log.Warn("cannot encode an event", "seq", ev.Seq, "err", err)
				return
			}
			chunk = append(chunk, "id: "...)
			chunk = strconv.AppendInt(chunk, ev.Seq, 10)
			chunk = append(chunk, "\nevent: "...)
			chunk = append(chunk, sseField(string(ev.Type))...)
			chunk = append(chunk, "\ndata: "...)
			chunk = append(chunk, data...)
			chunk = append(chunk, "\n\n"...)
			if (ev.Type == bench.EventItem || ev.Type == bench.EventCleared || ev.Type == bench.EventBatch) && viewC == nil {
				viewTimer = time.NewTimer(viewEvery)
				viewC = viewTimer.C
			}
		case <-viewC:
			viewC = nil
			v := normaliseView(s.engine.View(bench.ViewQuery{States: q.States}))
			data, err := json.Marshal(map[string]any{"counts": v.Counts, "queue": v.Queue, "matched": v.Matched,
				"perHour": v.PerHour, "eta": v.ETA, "batches": v.Batches})
			if err != nil {
				return
			}
			chunk = fmt.Appendf(nil, "event: view\ndata: %s\n\n", data)
		case <-beat.C:
			chunk = []byte(": ping\n\n")
		}
		if err := send(chunk); err != nil {
			return
		}
	}
}

// sseField keeps a value on one line (event types are ours, but a line
// break would split the frame).
func sseField(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}
