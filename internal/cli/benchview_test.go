package cli

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyprep/keyprep/internal/bench"
)

func TestBenchViewFits(t *testing.T) {
	long := "christopher.alexander-montgomery@fabrikam-engineering.example.com"
	snap := bench.Snapshot{
		Slots: []bench.Slot{
			{Key: "vkey:0", State: bench.SlotTouch, UPN: long, Message: "touch the key vkey:0 now: creating the passkey for " + long},
			{Key: "vkey:1", State: bench.SlotWorking, UPN: "adele.vance@contoso.test", Message: "PIN escrowed"},
			{Key: "/dev/hidraw12", State: bench.SlotAttention, UPN: "lee.gu@contoso.test", Message: "the key has a PIN keyprep did not set"},
		},
		Counts:  bench.Counts{Total: 1250, Done: 1043, Skipped: 12, Failed: 7, Active: 3},
		PerHour: 123.4,
		ETA:     time.Hour + 5*time.Minute + 20*time.Second,
	}
	for _, width := range []int{80, 100, 60} {
		var v benchView
		lines := v.lines(snap, width, false)
		for _, l := range lines {
			if n := utf8.RuneCountInString(l); n > width-1 {
				t.Errorf("width %d: line of %d runes: %q", width, n, l)
			}
		}
		want := []string{"TOUCH THE KEY NOW", "PIN escrowed", "the key has"}
		for i, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("width %d: slot line %q lacks %q", width, lines[i], w)
			}
		}
		p := lines[len(lines)-1]
		for _, w := range []string{"1062/1250", "123/h", "ETA 1h05m"} {
			if !strings.Contains(p, w) {
				t.Errorf("width %d: progress line %q lacks %q", width, p, w)
			}
		}
	}
}

// TestBenchViewSlots: a finished slot keeps its user; after the run, a
// slot that is neither done nor waiting for attention says idle.
func TestBenchViewSlots(t *testing.T) {
	var v benchView
	working := bench.Snapshot{Slots: []bench.Slot{
		{Key: "vkey:0", State: bench.SlotWorking, UPN: "adele.vance@contoso.test", Message: "creating the passkey"},
		{Key: "vkey:1", State: bench.SlotWorking, Message: "checking the key"},
	}}
	v.lines(working, 80, false)
	finished := bench.Snapshot{Slots: []bench.Slot{
		{Key: "vkey:0", State: bench.SlotDone, Message: "done: remove the key"},
		{Key: "vkey:1", State: bench.SlotWorking, Message: "checking the key"},
	}}
	tests := []struct {
		name  string
		ended bool
		slot  int
		want  []string
		not   []string
	}{
		{"done keeps the user", false, 0, []string{"✓", "adele.vance@contoso.test", "done: remove the key"}, nil},
		{"running: the key is being checked", false, 1, []string{"checking the key"}, nil},
		{"after the run: idle", true, 1, []string{"idle"}, []string{"checking"}},
		{"after the run, done stays done", true, 0, []string{"adele.vance@contoso.test", "done"}, []string{"idle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := v.lines(finished, 80, tt.ended)[tt.slot]
			for _, w := range tt.want {
				if !strings.Contains(l, w) {
					t.Errorf("%q lacks %q", l, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(l, n) {
					t.Errorf("%q has %q", l, n)
				}
			}
		})
	}
}

func TestCompactDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 4*time.Minute + 10*time.Second: "4m10s",
		2*time.Hour + 5*time.Minute + 59*time.Second: "2h06m", 721 * time.Hour: "721h00m",
	} {
		if got := compactDuration(d); got != want {
			t.Errorf("compactDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
