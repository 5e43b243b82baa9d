package bench_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
)

// TestBenchRefusedBeforeKey: a user refused by the lookup, before the key
// was asked anything (unknown to the directory, outside the policy), is
// reported failed with no key — in the snapshot, in the item events and
// in their JSON — and the key goes on to the next user; a user who failed
// after the key was used keeps that key.
func TestBenchRefusedBeforeKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(b *benchEnv) string // returns the user who fails
		wantKey string
	}{
		{name: "unknown user", wantKey: "",
			setup: func(b *benchEnv) string { return "ghost@contoso.test" }},
		{name: "outside the policy", wantKey: "",
			setup: func(b *benchEnv) string {
				b.dir.SetEligibility(b.upns[1], enroll.Eligibility{Reasons: []string{"outside the policy"}})
				return b.upns[1]
			}},
		{name: "registration throttled until the attempts ran out: the key was used", wantKey: "fake:0",
			setup: func(b *benchEnv) string {
				b.dir.ScriptRegister(enrolltest.RegisterThrottled, enrolltest.RegisterThrottled, enrolltest.RegisterThrottled)
				return b.upns[1]
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBench(t, 2)
			b.plug()
			failing := tc.setup(b)
			r := b.runner(benchOpts{Options: bench.Options{UsersPerKey: 2, MaxAttempts: 3, Foreground: true}})
			events := r.Subscribe(b.ctx)
			s := b.run(r, failing, b.upns[0])

			it := item(s, failing)
			if it.State != bench.ItemFailed || it.Key != tc.wantKey {
				t.Errorf("failed user %+v, want failed with key %q", it, tc.wantKey)
			}
			if next := item(s, b.upns[0]); next.State != bench.ItemDone || next.Key != "fake:0" {
				t.Errorf("next user %+v, want done on the same key", next)
			}
			var last *bench.Item
			for len(events) > 0 {
				if ev := <-events; ev.Type == bench.EventItem && ev.Item.UPN == failing {
					last = ev.Item
				}
			}
			if last == nil || last.State != bench.ItemFailed {
				t.Fatalf("last event of the failed user %+v", last)
			}
			js, err := json.Marshal(last)
			if err != nil {
				t.Fatal(err)
			}
			if hasKey := strings.Contains(string(js), `"key":`); last.Key != tc.wantKey || hasKey != (tc.wantKey != "") {
				t.Errorf("failed event %s, want key %q", js, tc.wantKey)
			}
			b.onePasskeyEach(s)
		})
	}
}
