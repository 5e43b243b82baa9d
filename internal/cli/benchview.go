package cli

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/safetext"
)

// benchView renders the bench's live block on a terminal of a given width:
// one line per slot and the progress line, each fitted to the width with
// what matters kept (the slot's instruction, the rate and the ETA).
type benchView struct {
	// last is the user each slot (by key) worked for last: a finished
	// slot keeps showing its user.
	last map[string]string
}

// slotMarks are the slots' state marks.
var slotMarks = map[bench.SlotState]string{bench.SlotIdle: "·", bench.SlotWorking: "…", bench.SlotTouch: ">>", bench.SlotDone: "✓",
	bench.SlotAttention: "!", bench.SlotRemoved: "×"}

// lines renders s for width columns. ended: the run is over, so a slot
// that is not done or waiting for attention is idle.
func (v *benchView) lines(s bench.Snapshot, width int, ended bool) []string {
	if v.last == nil {
		v.last = map[string]string{}
	}
	width = max(width, 40)
	type row struct{ mark, key, user, msg string }
	var rows []row
	keyW, userW := 0, 0
	for _, sl := range s.Slots {
		if sl.State == bench.SlotRemoved {
			continue
		}
		// Directory data and messages reach the terminal escaped
		// (safetext, docs/architecture.md §4.6).
		key, upn := safetext.Line(sl.Key), safetext.Line(sl.UPN)
		if upn != "" {
			v.last[key] = upn
		}
		r := row{mark: slotMarks[sl.State], key: key, user: upn, msg: safetext.Line(sl.Message)}
		switch {
		case sl.State == bench.SlotDone || sl.State == bench.SlotAttention:
			if r.user == "" {
				r.user = v.last[sl.Key]
			}
		case ended:
			r.mark, r.user, r.msg = slotMarks[bench.SlotIdle], "", "idle"
		case sl.State == bench.SlotTouch:
			r.msg = "TOUCH THE KEY NOW: " + strings.TrimPrefix(strings.TrimPrefix(r.msg, "touch the key "+key+" now: "), "touch the key now: ")
		}
		if r.user != "" {
			// The message names the user again: once is enough.
			r.msg = strings.TrimSuffix(r.msg, " for "+r.user)
		}
		keyW = max(keyW, utf8.RuneCountInString(r.key))
		userW = max(userW, utf8.RuneCountInString(r.user))
		rows = append(rows, r)
	}
	// The user column gets at most a third of the line; the message the rest.
	userW = min(userW, width/3)
	var out []string
	for _, r := range rows {
		l := fmt.Sprintf("%-2s %-*s %-*s %s", r.mark, keyW, r.key, userW, fit(r.user, userW), r.msg)
		out = append(out, fit(l, width-1))
	}
	return append(out, progressLine(s, width-1))
}

// progressLine is "[####....] 3/9 done 3 skipped 0 failed 0 active 2
// 12/h ETA 4m10s", the bar shrinking first so that the counts, the rate
// and the ETA always fit.
func progressLine(s bench.Snapshot, width int) string {
	c := s.Counts
	fin := c.Done + c.Skipped + c.Failed
	eta := "-"
	if s.ETA > 0 {
		eta = compactDuration(s.ETA)
	}
	text := fmt.Sprintf(" %d/%d done %d skipped %d failed %d active %d %.0f/h ETA %s", fin, c.Total, c.Done, c.Skipped, c.Failed, c.Active, s.PerHour, eta)
	if utf8.RuneCountInString(text)+12 > width {
		text = fmt.Sprintf(" %d/%d ✓%d skip %d fail %d act %d %.0f/h ETA %s", fin, c.Total, c.Done, c.Skipped, c.Failed, c.Active, s.PerHour, eta)
	}
	bar := min(30, width-2-utf8.RuneCountInString(text))
	if bar < 5 {
		return fit(strings.TrimSpace(text), width)
	}
	filled := 0
	if c.Total > 0 {
		filled = fin * bar / c.Total
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", bar-filled) + "]" + text
}

// compactDuration: 45s, 4m10s, 2h05m (no hours-long seconds).
func compactDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// fit cuts s to n runes, marking a cut with "…".
func fit(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
