package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/bench"
	"github.com/keyprep/keyprep/internal/duration"
	"github.com/keyprep/keyprep/internal/safetext"
	"github.com/keyprep/keyprep/internal/store"
)

// Environment variables of the fleet's timings (docs/environment.md).
const (
	leaseEnv     = "KEYPREP_LEASE"
	heartbeatEnv = "KEYPREP_HEARTBEAT"
	storeRetry   = 10 * time.Minute // how long a bench rides out a lost database
)

// fleetTimings reads KEYPREP_LEASE and KEYPREP_HEARTBEAT (0: the defaults).
func fleetTimings() (lease, heartbeat time.Duration, err error) {
	for _, v := range []struct {
		env string
		d   *time.Duration
	}{{leaseEnv, &lease}, {heartbeatEnv, &heartbeat}} {
		s := os.Getenv(v.env)
		if s == "" {
			continue
		}
		d, perr := duration.Parse(s)
		if perr != nil {
			return 0, 0, usageErr("%s: %v", v.env, perr)
		}
		*v.d = d
	}
	if lease > 0 && heartbeat >= lease {
		return 0, 0, usageErr("%s %s must be shorter than %s %s (a bench renews its claims before they run out)", heartbeatEnv, duration.Format(heartbeat), leaseEnv, duration.Format(lease))
	}
	return lease, heartbeat, nil
}

// batchName is the queue batch of a list file: --batch, else the file's
// name (the same list given to several benches is one batch).
func batchName(batch, file string) string {
	if batch != "" {
		return batch
	}
	return filepath.Base(file)
}

func newFleetCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "The shared queue of several benches: load a user list, see the whole fleet",
		Long: `Benches that share one store (--store postgres://... or $` + storeEnv + `) share
its queue: a user list is loaded once (fleet load, the dashboard's upload, or
the first bench given --csv), every bench claims users from it, and fleet
status shows every bench, its keys and the queue (docs/architecture.md §3.2).`,
	}
	cmd.AddCommand(newFleetLoadCmd(g), newFleetStatusCmd(g))
	return cmd
}

func newFleetLoadCmd(g *globals) *cobra.Command {
	var batch string
	cmd := &cobra.Command{
		Use:   "load FILE.csv [--batch NAME]",
		Short: "Load a user list into the store's queue (again: adds nothing twice)",
		Long: `load adds the users of a CSV list (a upn column, as enroll --csv reads) to the
store's queue under a batch (--batch, default the file's name). A user already
in that batch (UPN ignoring case) is counted as a duplicate and left alone, so
loading the same list again adds nothing. Rows with problems are listed and
not loaded.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rows, rowErrs, err := readUserList(args[0])
			if err != nil {
				return err
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			es := make([]store.QueueEntry, len(rows))
			for i, r := range rows {
				es[i] = store.QueueEntry{UPN: r.UPN, DisplayName: r.DisplayName, Line: r.Line}
			}
			name := batchName(batch, args[0])
			added, dup, err := st.LoadQueue(cmd.Context(), name, es)
			if err != nil {
				return err
			}
			errs := make([]map[string]any, 0, len(rowErrs))
			for _, e := range rowErrs {
				errs = append(errs, map[string]any{"line": e.Line, "upn": e.UPN, "message": e.Msg})
				if !g.JSON {
					safetext.Fprintf(g.io.ErrOut, "%s\n", e.Error())
				}
			}
			res := map[string]any{"batch": name, "added": added, "duplicate": dup, "rowErrors": errs, "store": st.Path()}
			return g.done(res, "%s: %d added, %d duplicate, %d row errors (batch %q)", args[0], added, dup, len(rowErrs), name)
		},
	}
	cmd.Flags().StringVar(&batch, "batch", "", "the batch to load into (default the file's name)")
	return cmd
}

func newFleetStatusCmd(g *globals) *cobra.Command {
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Every bench with its keys and slots, the queue, the rate and the ETA",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lease, _, err := fleetTimings()
			if err != nil {
				return err
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			f, err := bench.FleetStatus(cmd.Context(), st, time.Now(), window, lease)
			if err != nil {
				return err
			}
			if g.JSON {
				return g.printJSON(f)
			}
			printFleet(g, f)
			return nil
		},
	}
	window = 10 * time.Minute
	cmd.Flags().Var(duration.NewValue(&window), "rate-window", "the rate is enrollments per minute over this last stretch")
	return cmd
}

func printFleet(g *globals, f *bench.Fleet) {
	w := g.io.Out
	q := f.Queue
	fmt.Fprintf(w, "queue: %d queued, %d claimed, %d begun, %d waiting for their key, %d done (%d skipped), %d failed\n",
		q.Queued, q.Claimed, q.Begun, q.Waiting, q.Done, q.Skipped, q.Failed)
	eta := "-"
	if f.ETA != nil {
		eta = (time.Duration(*f.ETA) * time.Second).String()
	}
	fmt.Fprintf(w, "rate: %.1f enrollments/minute (last %.0f min), ETA %s\n", f.Rate, f.RateWindow, eta)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nBENCH\tLAST SEEN\tKEY\tSERIAL\tSTATE\tUSER")
	for _, b := range f.Benches {
		seen := b.LastSeen.Local().Format("15:04:05")
		switch {
		case b.Stopped:
			seen += " (stopped)"
		case !b.Alive:
			seen += " (silent)"
		}
		if len(b.Keys) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\n", b.ID, seen)
		}
		for i, k := range b.Keys {
			id := b.ID
			if i > 0 {
				id, seen = "", ""
			}
			safetext.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, seen, k.Key, orDash(k.Serial), k.State, orDash(k.UPN))
		}
	}
	tw.Flush()
	if len(f.Waiting) > 0 {
		fmt.Fprintln(w, "\nwaiting for their key:")
		for _, u := range f.Waiting {
			safetext.Fprintf(w, "  %s: waiting for key %s (last seen at bench %s, %s)\n", u.UPN, u.Key, u.Bench, u.LastSeen.Local().Format("2006-01-02 15:04:05"))
		}
		fmt.Fprintln(w, strings.TrimSpace("plug the key into any bench sharing this store (a key without a serial number: into the bench named)"))
	}
}
