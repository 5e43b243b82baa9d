package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// writeTimeout bounds each write of the event stream: a client that stops
// reading is dropped instead of holding the stream forever.
const writeTimeout = 30 * time.Second

// events streams server-sent events: the snapshot, then every engine
// event, with heartbeat comments, until the client goes away, the engine
// drops the subscriber or the server is closed.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	// Subscribe first, then take the snapshot: nothing falls in between.
	ch := s.engine.Subscribe(ctx)
	snap, err := json.Marshal(normalise(s.engine.Snapshot()))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "cannot encode the snapshot")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	send := func(chunk []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
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
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
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
