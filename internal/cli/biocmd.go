package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/bio"
	"github.com/keyprep/keyprep/internal/duration"
	"github.com/keyprep/keyprep/internal/pin"
)

func newBioCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bio",
		Short: "Manage the fingerprints of a bio key (enroll, list, rename, delete)",
		Long: `Manage the fingerprints of a bio security key (CTAP 2.1 authenticatorBioEnrollment),
with the key's owner at the bench. Every subcommand needs the key's PIN (read from
a prompt or standard input); a key without a PIN gets one first with keyprep pin set.

Once a fingerprint is enrolled the key verifies its user by fingerprint (getInfo
uv true), so keyprep enroll --uv-fingerprint can create the passkey with a touch
of the enrolled finger instead of the PIN.`,
		Example: `  keyprep bio enroll --key vkey:0 --name "right index"
  keyprep bio list --key vkey:0
  keyprep bio rename --key vkey:0 --finger "right index" --name "right thumb"
  keyprep bio delete --key vkey:0 --finger 1a2b --yes`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newBioEnrollCmd(g), newBioListCmd(g), newBioRenameCmd(g), newBioDeleteCmd(g))
	return cmd
}

// openBio opens the key and reads its PIN once bio.Check has passed.
func (g *globals) openBio(ctx context.Context, key string) (bio.Key, func(), []byte, error) {
	d, err := g.openHID(ctx, key)
	if err != nil {
		return nil, nil, nil, err
	}
	k := bio.HID(d)
	if _, err := bio.Check(ctx, k); err != nil {
		d.Close()
		return nil, nil, nil, err
	}
	p, err := g.pinsIn.read("PIN")
	if err != nil {
		d.Close()
		return nil, nil, nil, err
	}
	return k, func() { pin.Wipe(p); d.Close() }, p, nil
}

func newBioEnrollCmd(g *globals) *cobra.Command {
	var key, name string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "enroll [--key K] [--name NAME] [--sample-timeout D]",
		Short: "Enroll a fingerprint with the person at the key",
		Long: `Enroll one fingerprint: keyprep asks for one touch after another and shows what the
key says about each sample (good, poor quality, too fast, …) and how many good
samples it still needs. A finger that does not come within --sample-timeout, too
many rejected samples, or Ctrl-C cancel the enrollment on the key, so nothing
half-enrolled is left.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if name != "" {
				if err := bio.CheckName(name); err != nil {
					return err
				}
			}
			k, closeFn, p, err := g.openBio(ctx, key)
			if err != nil {
				return err
			}
			defer closeFn()
			samples := 0
			t, err := bio.Enroll(ctx, k, p, bio.EnrollOptions{Name: name, SampleTimeout: timeout}, func(e bio.Event) {
				switch e.Kind {
				case bio.EventTouch:
					g.infof("Sample %d: %s.", e.Sample, e.Message)
				case bio.EventSample:
					samples++
					if e.Accepted && e.Remaining == 0 {
						g.infof("  %s: that was the last one", e.Message)
					} else if e.Accepted {
						g.infof("  %s (%d more needed)", e.Message, e.Remaining)
					} else {
						g.infof("  not counted: %s [%s] (%d more needed)", e.Message, e.Feedback, e.Remaining)
					}
				case bio.EventCancelled:
					g.infof("%s", e.Message)
				}
			})
			if err != nil {
				return err
			}
			label := t.ID
			if t.Name != "" {
				label = fmt.Sprintf("%q (id %s)", t.Name, t.ID)
			}
			return g.done(map[string]any{"path": k.Path(), "id": t.ID, "name": t.Name, "samples": samples},
				"%s: fingerprint %s enrolled after %d samples; the key now verifies its user by fingerprint", k.Path(), label, samples)
		},
	}
	f := cmd.Flags()
	f.StringVar(&key, "key", "", "key path; default: the only attached key")
	f.StringVar(&name, "name", "", "a friendly name for the fingerprint, e.g. \"right index\"")
	timeout = bio.DefaultSampleTimeout
	f.Var(duration.NewValue(&timeout), "sample-timeout", "how long the key waits for the finger at each sample")
	return cmd
}

func newBioListCmd(g *globals) *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "list [--key K]",
		Short: "List the enrolled fingerprints (id and name)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			k, closeFn, p, err := g.openBio(ctx, key)
			if err != nil {
				return err
			}
			defer closeFn()
			ts, err := bio.List(ctx, k, p)
			if err != nil {
				return err
			}
			if g.JSON {
				return g.printJSON(map[string]any{"path": k.Path(), "fingerprints": ts})
			}
			if len(ts) == 0 {
				_, err := fmt.Fprintf(g.io.Out, "%s: no fingerprints enrolled (keyprep bio enroll --key %s)\n", k.Path(), k.Path())
				return err
			}
			tw := tabwriter.NewWriter(g.io.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME")
			for _, t := range ts {
				name := t.Name
				if name == "" {
					name = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\n", t.ID, name)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "key path; default: the only attached key")
	return cmd
}

func newBioRenameCmd(g *globals) *cobra.Command {
	var key, finger, name string
	cmd := &cobra.Command{
		Use:   "rename [--key K] --finger ID|NAME --name NEW",
		Short: "Give an enrolled fingerprint a new name",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if finger == "" || name == "" {
				return usageErr("bio rename needs --finger ID|NAME and --name NEW")
			}
			if err := bio.CheckName(name); err != nil {
				return err
			}
			k, closeFn, p, err := g.openBio(ctx, key)
			if err != nil {
				return err
			}
			defer closeFn()
			t, err := bio.Rename(ctx, k, p, finger, name)
			if err != nil {
				return err
			}
			return g.done(map[string]any{"path": k.Path(), "id": t.ID, "name": t.Name}, "%s: fingerprint %s is now %q", k.Path(), t.ID, t.Name)
		},
	}
	f := cmd.Flags()
	f.StringVar(&key, "key", "", "key path; default: the only attached key")
	f.StringVar(&finger, "finger", "", "the fingerprint: its id (keyprep bio list) or its name")
	f.StringVar(&name, "name", "", "the new name")
	return cmd
}

func newBioDeleteCmd(g *globals) *cobra.Command {
	var key, finger string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete [--key K] --finger ID|NAME [--yes]",
		Short: "Delete an enrolled fingerprint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if finger == "" {
				return usageErr("bio delete needs --finger ID|NAME (keyprep bio list shows them)")
			}
			if !yes && !g.pinsIn.interactive() {
				return usageErr("bio delete removes fingerprint %q: confirm with --yes", finger)
			}
			k, closeFn, p, err := g.openBio(ctx, key)
			if err != nil {
				return err
			}
			defer closeFn()
			t, err := bio.Resolve(ctx, k, p, finger)
			if err != nil {
				return err
			}
			if !yes {
				answer, err := g.pinsIn.confirm(fmt.Sprintf("Delete fingerprint %s (%q) from %s? [y/N] ", t.ID, t.Name, k.Path()))
				if err != nil {
					return err
				}
				if !confirmed(answer, "delete") {
					return usageErr("delete not confirmed")
				}
			}
			if err := bio.Delete(ctx, k, p, t); err != nil {
				return err
			}
			return g.done(map[string]any{"path": k.Path(), "id": t.ID, "name": t.Name, "deleted": true}, "%s: fingerprint %s deleted", k.Path(), t.ID)
		},
	}
	f := cmd.Flags()
	f.StringVar(&key, "key", "", "key path; default: the only attached key")
	f.StringVar(&finger, "finger", "", "the fingerprint: its id (keyprep bio list) or its name")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}
