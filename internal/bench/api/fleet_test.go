package api_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/bench/api"
	"github.com/keyprep/keyprep/internal/store"
)

// fleetEngine is the fake engine with a fleet view.
type fleetEngine struct {
	*fakeEngine
	fleet *bench.Fleet
	err   error
}

func (f *fleetEngine) Fleet(context.Context) (*bench.Fleet, error) { return f.fleet, f.err }

func newFleetEnv(t *testing.T, engine bench.Engine) *env {
	t.Helper()
	b := make([]byte, 24)
	rand.Read(b)
	e := &env{t: t, token: hex.EncodeToString(b)}
	ts := httptest.NewUnstartedServer(nil)
	e.host = ts.Listener.Addr().String()
	_, e.port, _ = net.SplitHostPort(e.host)
	srv, err := api.New(engine, api.Options{Token: e.token, Addr: e.host})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(func() { srv.Close(); ts.Close() })
	e.ts = ts
	return e
}

// TestFleet: GET /api/v1/fleet gives the whole fleet as the store sees it
// (the dashboard's fleet panel), 404 from an engine without a fleet view,
// 503 when the store cannot be read; it needs the token like every call.
func TestFleet(t *testing.T) {
	eta := 90.0
	f := &bench.Fleet{
		Benches: []bench.FleetBench{{ID: "bench-a", LastSeen: time.Now(), Alive: true,
			Keys: []bench.SlotReport{{Slot: "slot-1", Key: "vkey:0", Serial: "SN1", State: bench.SlotTouch, UPN: "adele@contoso.test"}}}},
		Queue: store.QueueCounts{Queued: 3, Begun: 1, Waiting: 1, Done: 5},
		Rate:  2, ETA: &eta,
		Waiting: []bench.WaitingUser{{UPN: "alex@contoso.test", Key: "SN9", Bench: "bench-b"}},
	}
	e := newFleetEnv(t, &fleetEngine{fakeEngine: newFakeEngine(1), fleet: f})
	if resp := e.do(req{path: "/api/v1/fleet"}); resp.StatusCode != 401 {
		t.Errorf("without the token: %d", resp.StatusCode)
	}
	resp := e.do(req{path: "/api/v1/fleet", auth: true})
	if resp.StatusCode != 200 {
		t.Fatalf("fleet: %d", resp.StatusCode)
	}
	got := decode[bench.Fleet](t, resp)
	if len(got.Benches) != 1 || got.Benches[0].Keys[0].Serial != "SN1" || got.Queue.Waiting != 1 || got.ETA == nil || *got.ETA != 90 ||
		len(got.Waiting) != 1 || got.Waiting[0].Bench != "bench-b" {
		t.Errorf("fleet = %+v", got)
	}
	e = newFleetEnv(t, &fleetEngine{fakeEngine: newFakeEngine(1), err: errors.New("store: connection refused")})
	if resp := e.do(req{path: "/api/v1/fleet", auth: true}); resp.StatusCode != 503 || errorCode(t, resp) != "store_unavailable" {
		t.Errorf("store away: %d", resp.StatusCode)
	}
	plain := newEnv(t, api.Options{})
	if resp := plain.do(req{path: "/api/v1/fleet", auth: true}); resp.StatusCode != 404 {
		t.Errorf("engine without a fleet view: %d", resp.StatusCode)
	}
	// The dashboard has the panel.
	page, err := io.ReadAll(e.do(req{path: "/"}).Body)
	if err != nil || !strings.Contains(string(page), `id="fleet-panel"`) {
		t.Error("index.html has no fleet panel")
	}
}
