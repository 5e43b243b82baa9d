package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/safetext"
	"github.com/keyprep/keyprep/internal/store"
	"github.com/keyprep/keyprep/internal/userlist"
)

type pinSlipsOptions struct {
	outDir     string
	users      []string
	csv        string
	batch      string
	format     string
	identities []string
	recipients []string
}

func newPINsSlipsCmd(g *globals) *cobra.Command {
	var o pinSlipsOptions
	cmd := &cobra.Command{
		Use:   "slips --out-dir DIR --identity FILE (--batch NAME | --csv FILE | --user UPN...)",
		Short: "Write a PIN hand-over slip per user of a bench run or a list (each reveal audited)",
		Long: `slips opens the PIN escrow of each user (of a bench run's batch, a CSV list, or
--user) with an age identity and writes one hand-over slip per user into DIR:
DIR/UPN.txt or DIR/UPN.html (mode 0600, never overwritten), or DIR/UPN.txt.age
encrypted to --age-recipient. Each reveal is recorded in the audit log like
keyprep pins show (who, which escrow; never the PIN). A user without an
applied escrow, or one the identity cannot open, is reported and the others
still get their slips (exit 11).`,
		Example: `  keyprep pins slips --batch onboarding-monday --identity helpdesk.age --out-dir slips/
  keyprep pins slips --user adele.vance@contoso.com --identity helpdesk.age --out-dir slips/ --format html
  keyprep pins slips --csv users.csv --identity helpdesk.age --out-dir slips/ --age-recipient age1…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPINSlips(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.outDir, "out-dir", "", "directory for the slips (created 0700)")
	f.StringArrayVar(&o.users, "user", nil, "a user (repeatable)")
	f.StringVar(&o.csv, "csv", "", "the users of a CSV list (upn column)")
	f.StringVar(&o.batch, "batch", "", "the users enrolled in this batch (enroll --csv users.csv and fleet load name it users.csv)")
	f.StringVar(&o.format, "format", "text", "slip format: text or html")
	f.StringArrayVar(&o.identities, "identity", nil, "age identity file that opens the escrows (repeatable)")
	f.StringArrayVar(&o.recipients, "age-recipient", nil, "encrypt each slip to this age recipient (repeatable)")
	return cmd
}

func runPINSlips(ctx context.Context, g *globals, o pinSlipsOptions) error {
	if o.outDir == "" {
		return usageErr("pins slips needs --out-dir DIR")
	}
	sources := 0
	for _, set := range []bool{len(o.users) > 0, o.csv != "", o.batch != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return usageErr("pins slips needs one of --batch NAME, --csv FILE or --user UPN")
	}
	if o.format != "text" && o.format != "html" {
		return usageErr("--format %q: want text or html", o.format)
	}
	if len(o.identities) == 0 {
		return usageErr("pins slips needs --identity FILE (the bench identity is %s)", g.escrowDir()+"/"+escrow.BenchIdentityFile)
	}
	for _, u := range o.users {
		if err := checkUserFlag(u); err != nil {
			return err
		}
	}
	var recips []age.Recipient
	if len(o.recipients) > 0 {
		var err error
		if recips, _, err = escrow.ParseRecipients(o.recipients); err != nil {
			return usageErr("--age-recipient: %v", err)
		}
	}
	ids, err := loadIdentities(o.identities)
	if err != nil {
		return err
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	users := o.users
	switch {
	case o.csv != "":
		f, err := os.Open(o.csv)
		if err != nil {
			return usageErr("--csv: %v", err)
		}
		rows, rowErrs, err := userlist.Read(f)
		f.Close()
		if err != nil {
			return usageErr("--csv %s: %v", o.csv, err)
		}
		for _, e := range rowErrs {
			g.infof("%s: line %d: %s", o.csv, e.Line, e.Msg)
		}
		for _, r := range rows {
			users = append(users, r.UPN)
		}
	case o.batch != "":
		q, err := st.Queue(ctx, store.QueueFilter{Batch: o.batch, States: []store.QueueState{store.QueueDone}})
		if err != nil {
			return err
		}
		if len(q) == 0 {
			return usageErr("no user enrolled in batch %q", o.batch)
		}
		for _, it := range q {
			users = append(users, it.UPN)
		}
	}
	if err := fileguard.MkdirAll(o.outDir); err != nil {
		return err
	}
	failed := 0
	for _, u := range users {
		path, err := writePINSlip(ctx, g, st, u, o, ids, recips)
		if err != nil {
			failed++
			e := classify(err)
			g.infof("%s: no slip: %s", u, e.Msg)
			continue
		}
		safetext.Fprintf(g.io.Out, "%s: %s\n", u, path)
	}
	if failed > 0 {
		return &Error{Code: ExitPartial, Msg: fmt.Sprintf("%d of %d slips not written (see above)", failed, len(users)),
			Hint: "keyprep pins list --user U shows a user's escrows; the slips written are in " + o.outDir, resultPrinted: true}
	}
	return nil
}

// writePINSlip reveals one user's PIN (audited) and writes the slip.
func writePINSlip(ctx context.Context, g *globals, st *store.Store, upn string, o pinSlipsOptions, ids []age.Identity, recips []age.Recipient) (string, error) {
	e, err := userEscrow(ctx, st, upn, "")
	if err != nil {
		return "", err
	}
	if e == nil {
		return "", &Error{Code: ExitUsage, Msg: "no applied PIN escrow"}
	}
	p, err := enroll.RevealPIN(ctx, st, e, ids, terminalRequester(g))
	switch {
	case errors.Is(err, enroll.ErrNotSealed):
		return "", &Error{Code: ExitUsage, Msg: fmt.Sprintf("escrow %s is the plain file %s", shortID(e.ID), e.Location)}
	case errors.Is(err, escrow.ErrDecrypt) || errors.Is(err, enroll.ErrNoIdentity):
		return "", &Error{Code: ExitPIN, Msg: fmt.Sprintf("cannot open escrow %s with the given identity (encrypted to %s)", shortID(e.ID), recipientsText(e.Recipients))}
	case err != nil:
		return "", err
	}
	defer pin.Wipe(p)
	slip := escrow.Slip{UPN: e.UPN, KeyPath: e.KeyPath, PIN: p}
	if rs, err := st.Results(ctx, store.ResultFilter{UPN: upn}); err == nil {
		for _, r := range rs {
			if r.EscrowID == e.ID {
				slip.Model, slip.Serial, slip.Enrolled = r.Model, r.Serial, r.RecordedAt
				break
			}
		}
	}
	doc := slip.Render(o.format == "html")
	defer pin.Wipe(doc)
	name := strings.NewReplacer("/", "_", "\\", "_").Replace(e.UPN) + "." + map[string]string{"text": "txt", "html": "html"}[o.format]
	if len(recips) > 0 {
		sealed, err := escrow.SealDocument(doc, recips)
		if err != nil {
			return "", err
		}
		doc, name = sealed, name+".age"
	}
	path := filepath.Join(o.outDir, name)
	if err := escrow.WritePrivateFile(path, doc, false); err != nil {
		return "", err
	}
	return path, nil
}
