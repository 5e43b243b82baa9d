package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/safetext"
	"github.com/keyprep/keyprep/internal/store"
)

func newJournalCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "Unfinished work and crash recovery: list, show, resume, abandon, verify",
	}
	cmd.AddCommand(newJournalListCmd(g), newJournalShowCmd(g), newJournalResumeCmd(g), newJournalAbandonCmd(g), newJournalVerifyCmd(g))
	return cmd
}

func newJournalListCmd(g *globals) *cobra.Command {
	var all bool
	var user string
	cmd := &cobra.Command{
		Use:   "list [--all] [--user UPN]",
		Short: "List unfinished jobs (interrupted or failed); --all lists every job",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			f := store.JobFilter{UPN: user}
			if !all {
				f.States = []store.JobState{store.JobRunning, store.JobFailed}
			}
			jobs, err := st.Jobs(ctx, f)
			if err != nil {
				return err
			}
			if g.JSON {
				if jobs == nil {
					jobs = []store.Job{}
				}
				return g.printJSON(map[string]any{"jobs": jobs})
			}
			if len(jobs) == 0 {
				if all {
					g.infof("no jobs in %s", st.Path())
				} else {
					g.infof("no unfinished jobs")
				}
				return nil
			}
			tw := tabwriter.NewWriter(g.io.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "JOB\tSTATE\tUSER\tKEY\tLAST STEP\tUPDATED\tERROR")
			for _, j := range jobs {
				safetext.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\t%s\n", shortID(j.ID), stateText(j), j.UPN, j.KeyPath, j.Step, j.Phase,
					j.UpdatedAt.Local().Format("2006-01-02 15:04:05"), oneLine(j.Error, 70))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list every job, finished ones too")
	cmd.Flags().StringVar(&user, "user", "", "only jobs for this user")
	return cmd
}

func stateText(j store.Job) string {
	if j.State == store.JobRunning {
		return "interrupted"
	}
	return string(j.State)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func newJournalShowCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show JOB",
		Short: "Show one job's journal (steps before and after each side effect)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, j, err := g.storeJob(ctx, args[0])
			if err != nil {
				return err
			}
			steps, err := st.Steps(ctx, j.ID)
			if err != nil {
				return err
			}
			if g.JSON {
				return g.printJSON(map[string]any{"job": j, "steps": steps})
			}
			w := g.io.Out
			safetext.Fprintf(w, "job %s: %s for %s on %s (%s)\n", j.ID, j.Kind, j.UPN, j.KeyPath, stateText(*j))
			if j.Error != "" {
				safetext.Fprintf(w, "error: %s\n", j.Error)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			for _, s := range steps {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.Seq, s.Time.Local().Format("15:04:05.000"), s.Name, s.Phase, oneLine(string(s.Data), 90))
			}
			return tw.Flush()
		},
	}
}

// storeJob opens the store and finds job id (a unique prefix will do).
func (g *globals) storeJob(ctx context.Context, id string) (*store.Store, *store.Job, error) {
	st, err := g.openStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	j, err := findJob(ctx, st, id)
	return st, j, err
}

func findJob(ctx context.Context, st *store.Store, id string) (*store.Job, error) {
	j, err := st.Job(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &Error{Code: ExitUsage, Msg: fmt.Sprintf("no job %s", id), Hint: "keyprep journal list --all shows the jobs"}
	}
	return j, err
}

func newJournalResumeCmd(g *globals) *cobra.Command {
	var identities []string
	var failed bool
	cmd := &cobra.Command{
		Use:   "resume [JOB...]",
		Short: "Finish interrupted jobs: reconcile each with its key and with Graph",
		Long: `resume takes every interrupted job (or the named ones, failed jobs included) and
reconciles it: is the PIN on the key, is the passkey on the key, did Entra
register it, was forcePINChange applied. It then carries on from there, or
reports why it cannot (the key is not attached, the escrow cannot be opened).
A registration that may have reached Entra is looked up, never re-sent blindly.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runJournalResume(cmd.Context(), g, args, failed, identities)
		},
	}
	cmd.Flags().StringArrayVar(&identities, "identity", nil, "age identity file that opens the jobs' PIN escrows (needed when they are encrypted to someone other than the bench)")
	cmd.Flags().BoolVar(&failed, "failed", false, "also retry failed jobs")
	return cmd
}

func runJournalResume(ctx context.Context, g *globals, ids []string, failed bool, identities []string) error {
	e, err := g.enroller(ctx, identities)
	if err != nil {
		return err
	}
	st := e.Store
	var jobs []store.Job
	if len(ids) > 0 {
		for _, id := range ids {
			j, err := findJob(ctx, st, id)
			if err != nil {
				return err
			}
			jobs = append(jobs, *j)
		}
	} else {
		states := []store.JobState{store.JobRunning}
		if failed {
			states = append(states, store.JobFailed)
		}
		if jobs, err = st.Jobs(ctx, store.JobFilter{States: states}); err != nil {
			return err
		}
		// Oldest first: finish work in the order it was started.
		for i, k := 0, len(jobs)-1; i < k; i, k = i+1, k-1 {
			jobs[i], jobs[k] = jobs[k], jobs[i]
		}
	}
	if len(jobs) == 0 {
		g.infof("nothing to resume")
		if g.JSON {
			return g.printJSON(map[string]any{"resumed": []any{}})
		}
		return nil
	}
	type outcome struct {
		JobID  string         `json:"jobId"`
		UPN    string         `json:"upn"`
		Result *enroll.Result `json:"result,omitempty"`
		Error  *errorJSON     `json:"error,omitempty"`
	}
	var outs []outcome
	var firstErr *Error
	for i := range jobs {
		j := &jobs[i]
		g.infof("resuming job %s: %s on %s (stopped at %s %s)", shortID(j.ID), j.UPN, j.KeyPath, j.Step, j.Phase)
		res, err := resumeOne(ctx, g, e, j)
		o := outcome{JobID: j.ID, UPN: j.UPN, Result: res}
		if err != nil {
			ce := classify(err)
			g.infof("job %s: %s", shortID(j.ID), ce.Msg)
			if ce.Hint != "" {
				g.infof("hint: %s", ce.Hint)
			}
			o.Error = ce.json()
			if firstErr == nil {
				firstErr = ce
			}
		} else if !g.JSON {
			if err := g.printResult(res, nil); err != nil {
				return err
			}
		}
		if res != nil {
			pin.Wipe(res.PIN)
			res.PIN = nil
		}
		outs = append(outs, o)
	}
	if g.JSON {
		if err := g.printJSON(map[string]any{"resumed": outs}); err != nil {
			return err
		}
	}
	if firstErr != nil {
		return &Error{Code: firstErr.Code, Msg: "not every job could be finished (see above)", Hint: "keyprep journal list shows what is left", resultPrinted: true}
	}
	return nil
}

func resumeOne(ctx context.Context, g *globals, e *enroll.Enroller, j *store.Job) (*enroll.Result, error) {
	if j.State == store.JobDone || j.State == store.JobAbandoned {
		return nil, &Error{Code: ExitUsage, Msg: fmt.Sprintf("job %s is %s", shortID(j.ID), j.State)}
	}
	d, err := g.openHID(ctx, j.KeyPath)
	if err != nil {
		return nil, &Error{Code: ExitNoKey, Msg: fmt.Sprintf("the key of job %s (%s) is not attached", shortID(j.ID), j.KeyPath),
			Hint: "plug it in and run keyprep journal resume again, or keyprep journal abandon " + shortID(j.ID), Err: err}
	}
	defer d.Close()
	return e.Resume(ctx, d, j)
}

func newJournalAbandonCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "abandon JOB",
		Short: "Mark an unfinished job as abandoned (it stays in the journal and audit log)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, j, err := g.storeJob(ctx, args[0])
			if err != nil {
				return err
			}
			if j.State == store.JobDone {
				return usageErr("job %s is done", shortID(j.ID))
			}
			s := store.JobAbandoned
			if err := st.UpdateJob(ctx, j.ID, store.JobUpdate{State: &s}); err != nil {
				return err
			}
			return g.done(map[string]any{"jobId": j.ID, "state": s}, "job %s abandoned", shortID(j.ID))
		},
	}
}

func newJournalVerifyCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			n, err := st.VerifyAudit(ctx)
			if err != nil {
				return &Error{Code: ExitFailure, Msg: err.Error(), Hint: "the audit log was altered outside keyprep; keep a copy of the database for investigation"}
			}
			return g.done(map[string]any{"events": n, "ok": true}, "audit log intact: %d events, hash chain verified", n)
		},
	}
}

// ---- keyprep pins -------------------------------------------------------------

func newPINsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pins",
		Short: "PIN escrow records: list them (no PINs), show one PIN with an age identity",
	}
	cmd.AddCommand(newPINsListCmd(g), newPINsShowCmd(g), newPINsSlipsCmd(g))
	return cmd
}

type escrowRow struct {
	ID         string    `json:"id"`
	JobID      string    `json:"jobId"`
	UPN        string    `json:"upn"`
	KeyPath    string    `json:"keyPath"`
	AAGUID     string    `json:"aaguid"`
	Kind       string    `json:"kind"`
	Location   string    `json:"location"`
	Recipients []string  `json:"recipients"`
	State      string    `json:"state"`
	CreatedAt  time.Time `json:"createdAt"`
}

func newPINsListCmd(g *globals) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "list [--user UPN]",
		Short: "List PIN escrow records: who, which key, when, to whom encrypted (never the PIN)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			es, err := st.Escrows(ctx, store.EscrowFilter{UPN: user})
			if err != nil {
				return err
			}
			rows := make([]escrowRow, 0, len(es))
			for _, e := range es {
				rows = append(rows, escrowRow{e.ID, e.JobID, e.UPN, e.KeyPath, e.AAGUID, e.Kind, e.Location, e.Recipients, e.State, e.CreatedAt})
			}
			if g.JSON {
				return g.printJSON(map[string]any{"escrows": rows})
			}
			if len(rows) == 0 {
				g.infof("no PIN escrow records")
				return nil
			}
			tw := tabwriter.NewWriter(g.io.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ESCROW\tUSER\tKEY\tKIND\tTO\tSTATE\tCREATED")
			for _, r := range rows {
				to := r.Location
				if r.Kind == store.EscrowAge {
					to = recipientsText(r.Recipients)
				}
				safetext.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", shortID(r.ID), r.UPN, r.KeyPath, r.Kind, to, r.State, r.CreatedAt.Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "only this user's records")
	return cmd
}

// userEscrow finds the escrow of the PIN on the key the user's newest
// enrollment used (a key enrolled for several users has one PIN, escrowed
// by the first enrollment).
func userEscrow(ctx context.Context, st *store.Store, user, key string) (*store.Escrow, error) {
	rs, err := st.Results(ctx, store.ResultFilter{UPN: user})
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.EscrowID == "" || (key != "" && r.KeyPath != key) {
			continue
		}
		e, err := st.Escrow(ctx, r.EscrowID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		return e, nil
	}
	return nil, nil
}

func recipientsText(rs []string) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		if strings.HasPrefix(r, "bench:") {
			out[i] = "bench identity"
			continue
		}
		out[i] = oneLine(r, 24)
	}
	return strings.Join(out, ", ")
}

func newPINsShowCmd(g *globals) *cobra.Command {
	var user, id, key string
	var identities []string
	cmd := &cobra.Command{
		Use:   "show --user UPN --identity FILE [--escrow ID] [--key K]",
		Short: "Decrypt and show one escrowed PIN (audited)",
		Long: `show decrypts the newest PIN escrow applied for the user (or the one named with
--escrow, or the one for --key) with an age identity and prints the PIN on
standard output. The bench identity is ` + "`STATE/escrow/" + escrow.BenchIdentityFile + "`" + `. Every reveal is
recorded in the audit log (who, which escrow; never the PIN).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if user == "" && id == "" {
				return usageErr("pins show needs --user UPN or --escrow ID")
			}
			if len(identities) == 0 {
				return usageErr("pins show needs --identity FILE (the bench identity is %s)", g.escrowDir()+"/"+escrow.BenchIdentityFile)
			}
			ids, err := loadIdentities(identities)
			if err != nil {
				return err
			}
			st, err := g.openStore(ctx)
			if err != nil {
				return err
			}
			var e *store.Escrow
			if id != "" {
				if e, err = st.Escrow(ctx, id); err != nil {
					if errors.Is(err, store.ErrNotFound) {
						return usageErr("no escrow %s", id)
					}
					return err
				}
			} else if e, err = userEscrow(ctx, st, user, key); err != nil {
				return err
			} else if e == nil {
				es, err := st.Escrows(ctx, store.EscrowFilter{UPN: user, KeyPath: key, States: []string{store.EscrowApplied}})
				if err != nil {
					return err
				}
				if len(es) == 0 {
					return &Error{Code: ExitUsage, Msg: fmt.Sprintf("no applied PIN escrow for %s", user), Hint: "keyprep pins list shows the records"}
				}
				e = &es[0]
			}
			p, err := enroll.RevealPIN(ctx, st, e, ids, terminalRequester(g))
			switch {
			case errors.Is(err, enroll.ErrNotSealed):
				return &Error{Code: ExitUsage, Msg: fmt.Sprintf("escrow %s is the plain file %s", shortID(e.ID), e.Location)}
			case errors.Is(err, escrow.ErrDecrypt) || errors.Is(err, enroll.ErrNoIdentity):
				return &Error{Code: ExitPIN, Msg: fmt.Sprintf("cannot open escrow %s with the given identity", shortID(e.ID)), Hint: "it is encrypted to: " + recipientsText(e.Recipients), Err: err}
			case err != nil:
				return err
			}
			defer pin.Wipe(p)
			if g.JSON {
				return g.printJSON(map[string]any{"escrowId": e.ID, "upn": e.UPN, "keyPath": e.KeyPath, "pin": string(p)})
			}
			if f, ok := g.io.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				g.infof("PIN for %s on %s (escrow %s):", e.UPN, e.KeyPath, shortID(e.ID))
			}
			_, err = fmt.Fprintf(g.io.Out, "%s\n", p)
			return err
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user principal name")
	cmd.Flags().StringVar(&id, "escrow", "", "escrow id (from keyprep pins list)")
	cmd.Flags().StringVar(&key, "key", "", "only the escrow for this key path")
	cmd.Flags().StringArrayVar(&identities, "identity", nil, "age identity file (repeatable)")
	return cmd
}

// terminalRequester is who reveals a PIN from this process: its OS user
// and host, and its terminal (standard input's, when it is one).
func terminalRequester(g *globals) enroll.Requester {
	by := enroll.Requester{Who: osUser(), Via: enroll.RevealViaTerminal}
	if f, ok := g.io.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		by.From = f.Name()
		if t, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(f.Fd()))); err == nil {
			by.From = t
		}
	}
	return by
}

// osUser is "user@host" of this process ("unknown" for a part that cannot
// be found).
func osUser() string {
	name, host := "unknown", "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		host = h
	}
	return name + "@" + host
}
