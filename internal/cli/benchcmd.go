package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"log/slog"

	"golang.org/x/term"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/duration"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/safetext"
	"github.com/keyprep/keyprep/internal/userlist"
)

// benchOptions are the bench flags of enroll --csv and serve.
type benchOptions struct {
	maxParallel     int
	attended        bool
	retryFailed     bool
	reuseKeys       bool
	includeExisting bool
	usersPerKey     int
	bench           string
}

type flagSet interface {
	IntVar(p *int, name string, value int, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
	StringVar(p *string, name string, value string, usage string)
}

func addBenchFlags(f flagSet, b *benchOptions) {
	f.IntVar(&b.maxParallel, "max-parallel", 0, "bench: at most N enrollments at once (default: one per attached key)")
	f.BoolVar(&b.attended, "attended", false, "bench: the person at the bench types their own PIN (prompted per key; without a terminal one line of stdin per key) instead of a generated one")
	f.BoolVar(&b.retryFailed, "retry-failed", false, "bench: try again the users whose last enrollment failed")
	f.BoolVar(&b.reuseKeys, "reuse-keys", false, "bench: also use keys that already have a PIN keyprep escrowed (adds users to them)")
	f.BoolVar(&b.includeExisting, "include-existing", false, "bench: also provision users who already have a passkey in Entra")
	f.IntVar(&b.usersPerKey, "users-per-key", 1, "bench: users enrolled on one key before the slot asks for the next key")
	f.StringVar(&b.bench, "bench", "", "bench: this bench's name in the store's queue, on its claims and jobs (default the host name)")
}

// lockedPINs serialises PIN prompts of parallel slots (attended mode).
type lockedPINs struct {
	mu    sync.Mutex
	inner enroll.PINSource
}

func (l *lockedPINs) Current(ctx context.Context, key string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.Current(ctx, key)
}

func (l *lockedPINs) New(ctx context.Context, key string) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inner.New(ctx, key)
}

func (l *lockedPINs) NewPINRules(key string, rules []string) {
	if pr, ok := l.inner.(enroll.PINPrompter); ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		pr.NewPINRules(key, rules)
	}
}

func (l *lockedPINs) PINRefused(key, why string, left int) bool {
	if pr, ok := l.inner.(enroll.PINPrompter); ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		return pr.PINRefused(key, why, left)
	}
	return false
}

// hidKeys lists attached keys for the bench, with this run's virtual keys
// (asked from contexts that do not carry them too, such as the daemon's
// HTTP requests).
type hidKeys struct{ virt hid.VirtualProvider }

func (k hidKeys) List(ctx context.Context) ([]bench.KeyInfo, error) {
	if k.virt != nil {
		ctx = hid.WithVirtual(ctx, k.virt)
	}
	devs, err := hid.Enumerate(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]bench.KeyInfo, len(devs))
	for i, d := range devs {
		out[i] = bench.KeyInfo{Path: d.Path, Product: d.Product, Serial: d.Serial}
	}
	return out, nil
}

// explainBench classifies a failure for the queue with the CLI's one table
// of messages and exit codes.
func explainBench(err error) (string, string, bench.Outcome) {
	e := classify(err)
	if errors.Is(err, enroll.ErrNoSerial) {
		// The template is fine for keys that report a serial: the user
		// waits for another key.
		return e.Msg, e.Hint, bench.FailKey
	}
	switch e.Code {
	case ExitKeyRefused, ExitPIN, ExitNoKey, ExitUnsupported:
		var re *pin.RuleError
		if errors.As(err, &re) {
			// The person chose a PIN the policy refuses: theirs to fix.
			return e.Msg, e.Hint, bench.FailUser
		}
		return e.Msg, e.Hint, bench.FailKey
	case ExitService, ExitUnknown:
		return e.Msg, e.Hint, bench.FailTransient
	}
	return e.Msg, e.Hint, bench.FailUser
}

// newRunner builds the bench over the attached keys.
func (g *globals) newRunner(ctx context.Context, o enrollOptions, b benchOptions, foreground bool) (*bench.Runner, error) {
	req, err := o.benchRequest()
	if err != nil {
		return nil, err
	}
	if b.attended {
		if !foreground {
			return nil, usageErr("--attended is for enroll --csv at the bench's terminal; the daemon generates and escrows PINs")
		}
		// On a terminal each slot prompts in turn ("new PIN for vkey:2");
		// without one, PINs are read from stdin, one line per key, in the
		// order the keys ask.
		req.PINMode = enroll.PINOperator
	}
	if b.maxParallel < 0 || b.usersPerKey < 1 {
		return nil, usageErr("--max-parallel must be 0 or more and --users-per-key 1 or more")
	}
	lease, heartbeat, err := fleetTimings()
	if err != nil {
		return nil, err
	}
	e, err := g.enroller(ctx, o.identities)
	if err != nil {
		return nil, err
	}
	// A bench rides out a database that goes away (PostgreSQL
	// restarting): its store calls wait and retry, saying so.
	// When it answers again, the bench says so once.
	var lastNote time.Time
	var noteMu sync.Mutex
	note := func(msg string) {
		if g.benchNote != nil && !g.JSON {
			g.benchNote(msg)
		} else {
			g.infof("%s", msg)
		}
	}
	e.Store.SetRetry(storeRetry, func(err error) {
		noteMu.Lock()
		defer noteMu.Unlock()
		if time.Since(lastNote) < 5*time.Second {
			return
		}
		lastNote = time.Now()
		note(fmt.Sprintf("store unavailable: %v; retrying", err))
	}, func(down time.Duration) {
		noteMu.Lock()
		defer noteMu.Unlock()
		lastNote = time.Time{} // the next outage is said at once
		if down >= 10*time.Second {
			down = down.Round(time.Second)
		} else {
			down = down.Round(100 * time.Millisecond)
		}
		note(fmt.Sprintf("store reachable again after %s; carrying on", down))
	})
	e.PINs = &lockedPINs{inner: e.PINs}
	e.Events = func(ev enroll.Event) { // the bench shows progress per slot
		if g.wire.event != nil {
			g.wire.event(ev)
		}
	}
	var virt hid.VirtualProvider
	if g.keys != nil {
		virt = g.keys
	}
	opts := bench.Options{Enroller: e, Keys: hidKeys{virt}, Request: req, MaxParallel: b.maxParallel, UsersPerKey: b.usersPerKey,
		ReuseKeys: b.reuseKeys, SkipExisting: !b.includeExisting, RetryFailed: b.retryFailed, Explain: explainBench,
		Foreground: foreground, Bench: b.bench, Lease: lease, Heartbeat: heartbeat, Log: slog.New(g.log),
		Open: func(ctx context.Context, path string) (bench.Device, error) {
			if virt != nil {
				ctx = hid.WithVirtual(ctx, virt)
			}
			return hid.Open(ctx, path, hid.WithTimeout(g.Timeout))
		}}
	if gd, ok := e.Directory.(*graphDirectory); ok {
		// A bench run resolves its users in bulk: one Graph budget for the
		// fleet (docs/graph.md §6.3).
		opts.Resolver = gd
	}
	if g.keys != nil {
		// The simulation's operator: a finished key, or one that needs
		// attention, is swapped for a factory-fresh one after a moment, as
		// at a real bench.
		delay := 50 * time.Millisecond
		if v := os.Getenv("KEYPREP_SIM_SWAP"); v == "0" {
			delay = 0
		} else if d, err := duration.Parse(v); err == nil {
			delay = d
		}
		keys := g.keys
		opts.OnNeedsOperator = func(s bench.Slot) {
			g.goBackground(func(ctx context.Context) {
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return // the command ended: nobody is at the bench any more
				}
				if np, err := keys.Swap(s.Key); err == nil && !g.JSON {
					msg := fmt.Sprintf("   (simulation) the operator swaps %s for a factory-fresh key %s", s.Key, np)
					if g.benchNote != nil {
						g.benchNote(msg)
					} else {
						g.infof("%s", msg)
					}
				}
			})
		}
	}
	r, err := bench.New(opts)
	if errors.Is(err, bench.ErrFleetEscrow) {
		return nil, &Error{Code: ExitUsage, Msg: err.Error(), Hint: bench.FleetEscrowHint, Err: err}
	}
	return r, err
}

// benchRequest is the per-enrollment template of a bench run.
func (o *enrollOptions) benchRequest() (enroll.Request, error) {
	if o.key != "" {
		return enroll.Request{}, usageErr("--key is for one enrollment; a bench run (--csv) uses every attached key")
	}
	if o.pinMode != "generate" {
		return enroll.Request{}, usageErr("a bench run generates PINs; --attended lets the person at the bench choose theirs")
	}
	if o.pinOut != "" || o.dryRun || o.withTAP {
		return enroll.Request{}, usageErr("--pin-out, --dry-run and --with-tap are for one enrollment, not a bench run (--csv)")
	}
	// Whether a slot may add a user to a key holding another user's
	// passkey is the bench's rule (bench.New: --users-per-key, --reuse-keys).
	return o.template()
}

// preflightRows looks every user up before any key is touched, so an
// unknown user is a row error like a malformed one.
func (g *globals) preflightRows(ctx context.Context, d enroll.Directory, rows []userlist.Row) ([]userlist.Row, []*userlist.RowError) {
	type res struct {
		ok  bool
		err error
	}
	out := make([]res, len(rows))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := d.User(ctx, rows[i].UPN)
			out[i] = res{ok: err == nil, err: err}
		}()
	}
	wg.Wait()
	var good []userlist.Row
	var bad []*userlist.RowError
	for i, r := range out {
		if r.ok {
			good = append(good, rows[i])
			continue
		}
		bad = append(bad, &userlist.RowError{Line: rows[i].Line, UPN: rows[i].UPN, Msg: classify(r.err).Msg})
	}
	return good, bad
}

func runBench(ctx context.Context, g *globals, o enrollOptions, b benchOptions) error {
	rows, rowErrs, err := readUserList(o.csv)
	if err != nil {
		return err
	}
	r, err := g.newRunner(ctx, o, b, true)
	if err != nil {
		return err
	}
	upns := make([]string, len(rows))
	for i := range rows {
		upns[i] = rows[i].UPN
	}
	r.Expect(upns)
	// Rows already in the store's queue (this list loaded before, here or
	// by another bench of the fleet) were looked up then, or are when a
	// slot takes them: only the new ones are looked up before the run.
	loaded, err := r.Loaded(ctx, batchName("", o.csv))
	if err != nil {
		return err
	}
	var fresh []userlist.Row
	for _, row := range rows {
		if !loaded[strings.ToLower(row.UPN)] {
			fresh = append(fresh, row)
		}
	}
	checked, bad := g.preflightRows(ctx, r.Directory(), fresh)
	ok := make(map[string]bool, len(checked))
	for _, row := range checked {
		ok[strings.ToLower(row.UPN)] = true
	}
	var good []userlist.Row
	for _, row := range rows {
		if k := strings.ToLower(row.UPN); loaded[k] || ok[k] {
			good = append(good, row)
		}
	}
	rowErrs = append(rowErrs, bad...)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	for _, e := range rowErrs {
		if g.JSON {
			_ = json.NewEncoder(g.io.Out).Encode(map[string]any{"type": "row-error", "line": e.Line, "upn": e.UPN, "message": e.Msg})
		} else {
			safetext.Fprintf(g.io.ErrOut, "%s\n", e.Error())
		}
	}
	if len(good) == 0 {
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("%s: no user to enroll (%d row errors)", o.csv, len(rowErrs)),
			Hint: "fix the rows named above"}
	}
	if _, _, err := r.Add(ctx, batchName("", o.csv), good); err != nil {
		return err
	}
	disp := newBenchDisplay(g)
	dctx, stop := context.WithCancel(context.Background())
	events := r.Subscribe(dctx)
	var dwg sync.WaitGroup
	dwg.Add(1)
	go func() {
		defer dwg.Done()
		disp.run(r, events)
	}()
	runErr := r.Run(ctx)
	stop()
	dwg.Wait()
	snap := r.Snapshot()
	disp.final(snap, rowErrs)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	if ctx.Err() != nil {
		return &Error{Code: ExitCancelled, Msg: fmt.Sprintf("cancelled: %d of %d users enrolled; run the same command again to finish (interrupted jobs are resumed)",
			snap.Counts.Done, snap.Counts.Total), Err: ctx.Err()}
	}
	if failed := snap.Counts.Failed + len(rowErrs); failed > 0 {
		return &Error{Code: ExitPartial, Msg: fmt.Sprintf("%d enrolled, %d skipped, %d failed (see above); fix them and run the same command again (with --retry-failed for the failed enrollments)",
			snap.Counts.Done, snap.Counts.Skipped, failed), resultPrinted: true}
	}
	return nil
}

// ---- the display -------------------------------------------------------------

type benchDisplay struct {
	g     *globals
	tty   bool
	mu    sync.Mutex
	lines int // lines drawn last time (TTY)
	view  benchView
}

func newBenchDisplay(g *globals) *benchDisplay {
	d := &benchDisplay{g: g}
	if f, ok := g.io.ErrOut.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !g.JSON {
		d.tty = true
	}
	g.benchNote = d.note
	return d
}

// note prints a line for the operator above the live block.
func (d *benchDisplay) note(msg string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.g.io.ErrOut
	if d.tty && d.lines > 0 {
		fmt.Fprintf(w, "\x1b[%dA\x1b[J", d.lines)
		d.lines = 0
	}
	fmt.Fprintln(w, safetext.Text(msg))
}

func (d *benchDisplay) run(r *bench.Runner, events <-chan bench.Event) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				if d.tty {
					d.draw(r.Snapshot(), true)
				}
				return
			}
			d.event(ev)
		case <-tick.C:
			if d.tty {
				d.draw(r.Snapshot(), false)
			}
		}
	}
}

// event prints one event: a JSON line with --json, a plain line when
// stderr is not a terminal.
func (d *benchDisplay) event(ev bench.Event) {
	if d.g.JSON {
		_ = json.NewEncoder(d.g.io.Out).Encode(ev)
		return
	}
	if d.tty {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.g.io.ErrOut
	switch ev.Type {
	case bench.EventSlot:
		s := ev.Slot
		switch s.State {
		case bench.SlotTouch:
			safetext.Fprintf(w, "%s: %s: >> %s\n", s.Key, s.UPN, s.Message)
		case bench.SlotWorking:
			if s.UPN != "" && s.Step != "" && s.Step != "start" {
				safetext.Fprintf(w, "%s: %s: %s\n", s.Key, s.UPN, s.Message)
			}
		case bench.SlotAttention:
			safetext.Fprintf(w, "%s: needs attention: %s\n", s.Key, s.Message)
			if s.Hint != "" {
				fmt.Fprintf(w, "%s: hint: %s\n", s.Key, s.Hint)
			}
		case bench.SlotDone:
			safetext.Fprintf(w, "%s: %s\n", s.Key, s.Message)
		case bench.SlotRemoved:
			fmt.Fprintf(w, "%s: removed\n", s.Key)
		}
	case bench.EventItem:
		it := ev.Item
		switch it.State {
		case bench.ItemDone:
			safetext.Fprintf(w, "%s: enrolled on %s\n", it.UPN, it.Key)
		case bench.ItemSkipped:
			safetext.Fprintf(w, "%s: skipped: %s\n", it.UPN, it.Error)
		case bench.ItemFailed:
			safetext.Fprintf(w, "%s: FAILED: %s\n", it.UPN, it.Error)
		case bench.ItemPending:
			if it.Error != "" && it.Attempts > 0 {
				safetext.Fprintf(w, "%s: back in the queue: %s\n", it.UPN, it.Error)
			}
		}
	}
}

// draw redraws the live block on a terminal: one line per slot and the
// progress bar (benchView). ended: the run is over.
func (d *benchDisplay) draw(s bench.Snapshot, ended bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.g.io.ErrOut
	var b strings.Builder
	if d.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.lines)
	}
	width := 80
	if f, ok := w.(*os.File); ok {
		if cw, _, err := term.GetSize(int(f.Fd())); err == nil && cw > 20 {
			width = cw
		}
	}
	n := 0
	for _, l := range d.view.lines(s, width, ended) {
		b.WriteString("\x1b[2K" + l + "\n")
		n++
	}
	for i := n; i < d.lines; i++ { // clear what a longer block left
		b.WriteString("\x1b[2K\n")
		n++
	}
	d.lines = n
	_, _ = io.WriteString(w, b.String())
}

// final prints the summary: a table on stdout (plain) or a summary object
// (--json, after the event lines).
func (d *benchDisplay) final(s bench.Snapshot, rowErrs []*userlist.RowError) {
	if d.g.JSON {
		_ = json.NewEncoder(d.g.io.Out).Encode(map[string]any{"type": "summary", "counts": s.Counts, "results": s.Results,
			"queue": s.Queue, "rowErrors": len(rowErrs), "perHour": s.PerHour, "optionsPrefetched": s.OptionsPrefetched})
		return
	}
	byUPN := map[string]bench.Result{}
	for _, r := range s.Results {
		byUPN[strings.ToLower(r.UPN)] = r
	}
	tw := tabwriter.NewWriter(d.g.io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINE\tUSER\tSTATUS\tKEY\tVERIFIED\tJOB / PROBLEM")
	type row struct {
		line int
		text string
	}
	var rows []row
	for _, it := range s.Queue {
		detail, verified := it.Error, "-"
		if res, ok := byUPN[strings.ToLower(it.UPN)]; ok && it.State == bench.ItemDone {
			detail, verified = shortID(res.JobID), yesNo(res.Verified, "yes", "NO")
			if len(res.Skipped) > 0 {
				detail += "; skipped " + strings.Join(res.Skipped, "; ")
			}
		}
		rows = append(rows, row{it.Line, safetext.Sprintf("%d\t%s\t%s\t%s\t%s\t%s", it.Line, it.UPN, it.State, orDash(it.Key), verified, detail)})
	}
	for _, e := range rowErrs {
		rows = append(rows, row{e.Line, safetext.Sprintf("%d\t%s\tinvalid\t-\t-\t%s", e.Line, orDash(e.UPN), e.Msg)})
	}
	slices.SortStableFunc(rows, func(a, b row) int { return cmp.Compare(a.line, b.line) })
	for _, r := range rows {
		fmt.Fprintln(tw, r.text)
	}
	tw.Flush()
	c := s.Counts
	rate := ""
	if s.PerHour > 0 {
		rate = ", " + strconv.FormatFloat(s.PerHour, 'f', 0, 64) + " keys/hour"
	}
	fmt.Fprintf(d.g.io.Out, "%d enrolled, %d skipped, %d failed, %d invalid rows%s\n", c.Done, c.Skipped, c.Failed, len(rowErrs), rate)
}
