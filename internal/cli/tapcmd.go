package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/onboard"
	"github.com/keyprep/keyprep/internal/safetext"
	"github.com/keyprep/keyprep/internal/userlist"
)

// ---- the Graph client as onboarding's directory --------------------------

type graphOnboard struct{ c *graph.Client }

func (d graphOnboard) User(ctx context.Context, upn string) (*onboard.User, error) {
	u, err := d.c.GetUser(ctx, upn)
	if err != nil {
		return nil, err
	}
	return &onboard.User{ID: u.ID, UPN: u.UserPrincipalName, DisplayName: u.DisplayName, Guest: u.IsGuest()}, nil
}

func (d graphOnboard) TAPPolicy(ctx context.Context) (*onboard.Policy, error) {
	return d.c.GetTAPPolicy(ctx)
}

func passFromGraph(t *graph.TAP) onboard.Pass {
	p := onboard.Pass{ID: t.ID, Created: t.CreatedDateTime, Start: t.StartDateTime,
		Lifetime: time.Duration(t.LifetimeInMinutes) * time.Minute, Once: t.IsUsableOnce, Usable: t.IsUsable, Reason: t.MethodUsabilityReason}
	if !t.Pass.Empty() {
		p.Code = []byte(t.Pass.Reveal())
	}
	return p
}

func (d graphOnboard) TAPs(ctx context.Context, userID string) ([]onboard.Pass, error) {
	ts, err := d.c.ListTAPs(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]onboard.Pass, len(ts))
	for i, t := range ts {
		out[i] = passFromGraph(t)
	}
	return out, nil
}

func (d graphOnboard) CreateTAP(ctx context.Context, userID string, r onboard.CreateRequest) (*onboard.Pass, error) {
	t, err := d.c.CreateTAP(ctx, userID, graph.TAPRequest{Start: r.Start, LifetimeMinutes: int(r.Lifetime / time.Minute), IsUsableOnce: r.Once})
	if err != nil {
		if errors.Is(err, graph.ErrAmbiguousRegistration) {
			return nil, fmt.Errorf("%w: %w", onboard.ErrOutcomeUnknown, err)
		}
		return nil, err
	}
	p := passFromGraph(t)
	return &p, nil
}

func (d graphOnboard) DeleteTAP(ctx context.Context, userID, id string) error {
	return d.c.DeleteTAP(ctx, userID, id)
}

func (d graphOnboard) Users(ctx context.Context) ([]onboard.User, error) {
	us, err := d.c.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]onboard.User, len(us))
	for i, u := range us {
		out[i] = onboard.User{ID: u.ID, UPN: u.UserPrincipalName, DisplayName: u.DisplayName, Guest: u.IsGuest()}
	}
	return out, nil
}

func (d graphOnboard) GroupUserIDs(ctx context.Context, groupID string) ([]string, error) {
	return d.c.GroupUserIDs(ctx, groupID)
}

func (g *globals) issuer(ctx context.Context) (*onboard.Issuer, error) {
	c, err := g.graphClient(ctx)
	if err != nil {
		return nil, err
	}
	return &onboard.Issuer{Dir: graphOnboard{c}}, nil
}

// ---- keyprep tap ---------------------------------------------------------

func newTAPCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tap", Short: "Temporary Access Passes: issue one (with an onboarding slip), show, delete"}
	cmd.AddCommand(newTAPCreateCmd(g), newTAPShowCmd(g), newTAPDeleteCmd(g))
	return cmd
}

// tapFlags are the pass settings shared by tap create and enroll --with-tap.
type tapFlags struct {
	lifetime string
	once     bool
	multi    bool
	start    string
	replace  bool
}

func (f *tapFlags) request(now time.Time) (onboard.Request, error) {
	var r onboard.Request
	if f.once && f.multi {
		return r, usageErr("--once and --multi exclude each other")
	}
	if f.lifetime != "" {
		d, err := onboard.ParseLifetime(f.lifetime)
		if err != nil {
			return r, usageErr("--lifetime %v", err)
		}
		r.Lifetime = d
	}
	if f.once || f.multi {
		b := f.once
		r.Once = &b
	}
	if f.start != "" {
		t, err := onboard.ParseStart(f.start, now, time.Local)
		if err != nil {
			return r, usageErr("--start: %v", err)
		}
		r.Start = t
	}
	r.Replace = f.replace
	// What holds whatever the tenant says is checked now, offline.
	if err := onboard.CheckRequest(r, now); err != nil {
		return r, err
	}
	return r, nil
}

type tapCreateOptions struct {
	tapFlags
	user       string
	csv        string
	out        string
	outDir     string
	format     string
	recipients []string
}

func newTAPCreateCmd(g *globals) *cobra.Command {
	var o tapCreateOptions
	cmd := &cobra.Command{
		Use:   "create --user UPN | --csv FILE --out-dir DIR",
		Short: "Issue a Temporary Access Pass within the tenant's policy and produce the onboarding slip",
		Long: `create issues a Temporary Access Pass (TAP) for a user, checked against the
tenant's TAP policy before the call (lifetime range, one-time use, state), and
produces the onboarding slip: user, pass, valid from/until, one-time or not,
the registration URL (` + onboard.RegistrationURL + `) and the steps to register a
security key.

The slip goes to stdout, or with --out FILE to a new file (mode 0600, never
overwritten); with --age-recipient it is age-encrypted (to FILE, or ASCII-armored
on stdout). --format html makes a printable page. The pass is never logged.

A user's valid pass is only replaced with --replace (Entra keeps one per user).

Batch: --csv FILE (a header naming a upn/userPrincipalName column) writes one
slip per user into --out-dir, prints a summary, and carries on past rows that
fail. Re-running skips users whose pass is still valid and whose slip is in the
directory. Exit status 11 when some rows failed.

  keyprep tap create --user alice@contoso.com --lifetime 2h --once
  keyprep tap create --user bob@contoso.com --start "2026-12-07 08:30" --format html --out bob.html
  keyprep tap create --csv new-hires.csv --out-dir slips --age-recipient age1helpdesk…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTAPCreate(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.user, "user", "", "user principal name or object id")
	f.StringVar(&o.csv, "csv", "", "batch: a CSV user list (upn column)")
	f.StringVar(&o.outDir, "out-dir", "", "batch: directory for the slips (one file per user, mode 0600)")
	f.StringVar(&o.out, "out", "", "write the slip to FILE (mode 0600, never overwritten) instead of stdout")
	f.StringVar(&o.format, "format", "text", "slip format: text or html")
	f.StringArrayVar(&o.recipients, "age-recipient", nil, "age-encrypt the slip to this recipient (age1…, SSH public key, or recipients file); repeatable")
	addTAPFlags(f, &o.tapFlags, "")
	return cmd
}

type flagAdder interface {
	StringVar(p *string, name, value, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
}

func addTAPFlags(f flagAdder, t *tapFlags, prefix string) {
	f.StringVar(&t.lifetime, prefix+"lifetime", "", "how long the pass works (e.g. 1h, 90m, 2d; default: the policy's default; within its minimum and maximum)")
	f.BoolVar(&t.once, prefix+"once", false, "one-time pass (default: the policy's setting)")
	f.BoolVar(&t.multi, prefix+"multi", false, "multi-use pass (refused when the policy requires one-time passes)")
	f.StringVar(&t.start, prefix+"start", "", "when the pass becomes usable: RFC 3339, local \"2026-12-07 08:30\", or +2h (default: now)")
	f.BoolVar(&t.replace, prefix+"replace", false, "replace the user's valid pass (it stops working)")
}

// slipDelivery checks --age-recipient and returns the slip delivery it and
// --format (checked by the caller, with checkFormat) ask for, without a file.
func slipDelivery(format string, recipients []string) (onboard.Delivery, error) {
	d := onboard.Delivery{Format: format}
	if len(recipients) == 0 {
		return d, nil
	}
	rs, names, err := escrow.ParseRecipients(recipients)
	if err != nil {
		return d, usageErr("--age-recipient: %v", err)
	}
	d.Seal = func(plain []byte) ([]byte, error) { return escrow.SealDocument(plain, rs) }
	d.Recipients = names
	return d, nil
}

func checkFormat(f string) error {
	if f != "text" && f != "html" {
		return usageErr("--format %q: want text or html", f)
	}
	return nil
}

// newFile checks that a slip can be written to path without replacing
// anything, and returns it absolute.
func newFile(flag, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", usageErr("--%s: %v", flag, err)
	}
	if _, err := os.Stat(abs); err == nil {
		return "", usageErr("--%s %s exists: a slip is written once and never overwritten", flag, abs)
	}
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
		return "", usageErr("--%s %s: the directory does not exist", flag, abs)
	}
	return abs, nil
}

func runTAPCreate(ctx context.Context, g *globals, o tapCreateOptions) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	if (o.user == "") == (o.csv == "") {
		return usageErr("tap create needs --user UPN or --csv FILE (one of them)")
	}
	req, err := o.request(time.Now())
	if err != nil {
		return err
	}
	dl, err := slipDelivery(o.format, o.recipients)
	if err != nil {
		return err
	}
	if o.csv != "" {
		if o.out != "" {
			return usageErr("--out is for one user; a batch writes its slips to --out-dir")
		}
		return runTAPBatch(ctx, g, o, req, dl.Seal)
	}
	if o.outDir != "" {
		return usageErr("--out-dir is for a batch (--csv); one user's slip goes to --out FILE or stdout")
	}
	if userlist.CheckUser(strings.TrimSpace(o.user)) != nil {
		return usageErr("--user %q is not a UPN or object id", o.user)
	}
	if o.out != "" {
		if dl.File, err = newFile("out", o.out); err != nil {
			return err
		}
	}
	is, err := g.issuer(ctx)
	if err != nil {
		return err
	}
	iss, err := is.Issue(ctx, strings.TrimSpace(o.user), req)
	if err != nil {
		return err
	}
	defer iss.Pass.Wipe()
	slip, err := dl.Deliver(iss, time.Now())
	if err != nil {
		var we *onboard.WriteError
		if errors.As(err, &we) {
			// The pass exists but its slip is lost: say so plainly.
			return fmt.Errorf("the pass for %s was created but its slip could not be written to %s (%w): run again with --replace", iss.User.UPN, we.File, we.Err)
		}
		return err
	}
	defer slip.Wipe()
	g.auditTAP(ctx, iss, slip.Where())
	g.warnUnusable(iss)
	return g.printIssued(iss, o.format, slip)
}

// auditTAP records an issued pass in the audit log (never the code).
// Failing to record does not undo the pass; it is reported.
func (g *globals) auditTAP(ctx context.Context, iss *onboard.Issued, delivery string) {
	st, err := g.openStore(ctx)
	if err == nil {
		data := map[string]any{"user": iss.User.UPN, "userId": iss.User.ID, "methodId": iss.Pass.ID,
			"start": iss.Pass.Start, "expiry": iss.Pass.Expiry(), "isUsableOnce": iss.Pass.Once, "delivery": delivery}
		if iss.Replaced != nil {
			data["replaced"] = iss.Replaced.ID
		}
		err = st.Audit(ctx, "tap.create", "", data)
	}
	if err != nil {
		fmt.Fprintf(g.io.ErrOut, "warning: the pass was issued but not recorded in the audit log: %v\n", err)
	}
}

func (g *globals) warnUnusable(iss *onboard.Issued) {
	if !iss.Pass.Usable && iss.Pass.Reason == "DisabledByPolicy" {
		fmt.Fprintf(g.io.ErrOut, "warning: %s is outside the Temporary Access Pass policy's targets: the pass cannot be used to sign in until they are included (keyprep policy check --user %s)\n",
			iss.User.UPN, iss.User.UPN)
	}
}

// tapJSON is a pass as --json shows it; Code only where it is delivered.
type tapJSON struct {
	User                  string    `json:"user"`
	UPN                   string    `json:"upn"`
	UserID                string    `json:"userId"`
	MethodID              string    `json:"methodId"`
	TemporaryAccessPass   string    `json:"temporaryAccessPass,omitempty"`
	StartDateTime         time.Time `json:"startDateTime"`
	ExpiryDateTime        time.Time `json:"expiryDateTime"`
	LifetimeInMinutes     int       `json:"lifetimeInMinutes"`
	IsUsableOnce          bool      `json:"isUsableOnce"`
	IsUsable              bool      `json:"isUsable"`
	MethodUsabilityReason string    `json:"methodUsabilityReason"`
	RegistrationURL       string    `json:"registrationUrl"`
	Replaced              string    `json:"replacedMethodId,omitempty"`
	Slip                  string    `json:"slip,omitempty"`
	SealedSlip            string    `json:"sealedSlip,omitempty"`
	Recipients            []string  `json:"recipients,omitempty"`
	// Blocked says why a pass that looks valid cannot sign in (a
	// multi-use pass under a one-time-only policy).
	Blocked string `json:"blocked,omitempty"`
}

func issuedJSON(iss *onboard.Issued) tapJSON {
	p := iss.Pass
	start := p.Start
	if start.IsZero() {
		start = p.Created
	}
	j := tapJSON{User: iss.User.DisplayName, UPN: iss.User.UPN, UserID: iss.User.ID, MethodID: p.ID, StartDateTime: start,
		ExpiryDateTime: p.Expiry(), LifetimeInMinutes: int(p.Lifetime / time.Minute), IsUsableOnce: p.Once, IsUsable: p.Usable,
		MethodUsabilityReason: p.Reason, RegistrationURL: onboard.RegistrationURL}
	if iss.Replaced != nil {
		j.Replaced = iss.Replaced.ID
	}
	return j
}

func (g *globals) printIssued(iss *onboard.Issued, format string, slip *onboard.Delivered) error {
	out, sealed := slip.File, slip.Sealed
	if g.JSON {
		j := issuedJSON(iss)
		switch {
		case out != "":
			j.Slip = out
		case sealed:
			j.SealedSlip = string(slip.Data)
		default:
			j.TemporaryAccessPass = string(iss.Pass.Code)
		}
		j.Recipients = slip.Recipients
		return g.printJSON(j)
	}
	if out != "" {
		what := "slip"
		if sealed {
			what = "encrypted slip"
		}
		fmt.Fprintf(g.io.Out, "Temporary Access Pass for %s issued: valid %s to %s, %s. The %s is in %s (mode 0600).\n",
			iss.User.UPN, iss.Pass.Start.Local().Format("2006-01-02 15:04"), iss.Pass.Expiry().Local().Format("2006-01-02 15:04 MST"),
			yesNo(iss.Pass.Once, "one-time", "multi-use"), what, out)
		return nil
	}
	if format == "text" && !sealed {
		g.infof("Temporary Access Pass issued for %s; the slip follows (shown once: the pass cannot be read back).", iss.User.UPN)
	}
	_, err := g.io.Out.Write(slip.Data)
	return err
}

// ---- batch -----------------------------------------------------------------

func runTAPBatch(ctx context.Context, g *globals, o tapCreateOptions, req onboard.Request, seal onboard.Sealer) error {
	if o.outDir == "" {
		return usageErr("a batch (--csv) needs --out-dir DIR for the slips")
	}
	rows, rowErrs, err := readUserList(o.csv)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		// Nothing to issue is a bad input file, as for enroll --csv: no
		// sign-in, no partial result.
		for _, re := range rowErrs {
			safetext.Fprintf(g.io.ErrOut, "%s\n", re.Error())
		}
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("%s: no user to issue a pass for (%d row errors)", o.csv, len(rowErrs)),
			Hint: "fix the rows named above"}
	}
	dir, err := filepath.Abs(o.outDir)
	if err != nil {
		return usageErr("--out-dir: %v", err)
	}
	if err := fileguard.MkdirAll(dir); err != nil {
		return fmt.Errorf("--out-dir: %w", err)
	}
	is, err := g.issuer(ctx)
	if err != nil {
		return err
	}
	// Rows the file itself gets wrong are reported before any pass is issued.
	var results []onboard.RowResult
	for _, re := range rowErrs {
		r := onboard.RowResult{Line: re.Line, UPN: re.UPN, Status: onboard.StatusFailed, Detail: re.Msg}
		results = append(results, r)
		if !g.JSON {
			safetext.Fprintf(g.io.ErrOut, "%s\n", re.Error())
		}
	}
	b := &onboard.Batch{Issuer: is, Request: req, OutDir: dir, Format: o.format, Seal: seal,
		Record: func(ctx context.Context, iss *onboard.Issued, file string) { g.auditTAP(ctx, iss, "batch slip "+file) },
		Progress: func(r onboard.RowResult) {
			if g.JSON {
				return
			}
			switch r.Status {
			case onboard.StatusFailed:
				safetext.Fprintf(g.io.ErrOut, "line %d: %s: %s\n", r.Line, r.UPN, rowMessage(r.Err))
			default:
				safetext.Fprintf(g.io.ErrOut, "line %d: %s: %s\n", r.Line, r.UPN, r.Status)
			}
		}}
	done, err := b.Run(ctx, rows)
	if err != nil && done == nil {
		return err
	}
	results = append(results, done...)
	sortRows(results)
	return g.printBatch(results, err)
}

// readUserList reads a --csv user list (internal/userlist); a file that
// cannot be used at all is a usage error.
func readUserList(path string) ([]userlist.Row, []*userlist.RowError, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, usageErr("--csv: %v", err)
	}
	defer f.Close()
	rows, rowErrs, err := userlist.Read(f)
	if err != nil {
		return nil, nil, usageErr("%s: %v", path, err)
	}
	return rows, rowErrs, nil
}

// rowMessage is one row's failure as a person reads it: the message and,
// when there is one, the hint.
func rowMessage(err error) string {
	if err == nil {
		return ""
	}
	e := classify(err)
	if e.Hint != "" {
		return e.Msg + " (" + e.Hint + ")"
	}
	return e.Msg
}

func sortRows(rs []onboard.RowResult) {
	slices.SortStableFunc(rs, func(a, b onboard.RowResult) int { return cmp.Compare(a.Line, b.Line) })
}

func (g *globals) printBatch(rs []onboard.RowResult, runErr error) error {
	counts := map[onboard.Status]int{}
	for i := range rs {
		counts[rs[i].Status]++
		if rs[i].Status == onboard.StatusFailed && rs[i].Err != nil {
			rs[i].Detail = rowMessage(rs[i].Err)
		}
	}
	failed := counts[onboard.StatusFailed]
	if g.JSON {
		out := map[string]any{"rows": rs, "created": counts[onboard.StatusCreated], "replaced": counts[onboard.StatusReplaced],
			"skipped": counts[onboard.StatusSkipped], "failed": failed}
		if runErr != nil {
			out["stopped"] = classify(runErr).Msg
		}
		if err := g.printJSON(out); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.io.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LINE\tUSER\tSTATUS\tVALID UNTIL\tSLIP / PROBLEM")
		for _, r := range rs {
			until, detail := "-", r.File
			if !r.Expiry.IsZero() {
				until = r.Expiry.Local().Format("2006-01-02 15:04")
			}
			switch {
			case r.Status == onboard.StatusFailed && r.Err != nil:
				detail = classify(r.Err).Msg
			case r.Status == onboard.StatusFailed || (r.Status == onboard.StatusSkipped && r.File == ""):
				detail = r.Detail
			}
			safetext.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Line, orDash(r.UPN), r.Status, until, detail)
		}
		tw.Flush()
		fmt.Fprintf(g.io.Out, "%d created, %d replaced, %d skipped, %d failed\n", counts[onboard.StatusCreated],
			counts[onboard.StatusReplaced], counts[onboard.StatusSkipped], failed)
	}
	if runErr != nil {
		e := classify(runErr)
		e.Msg = "batch stopped: " + e.Msg
		e.resultPrinted = true
		return e
	}
	if failed > 0 && failed == len(rs) {
		return &Error{Code: ExitPartial, Msg: fmt.Sprintf("all %s failed (see the summary); fix them and run the same command again",
			plural(failed, "row", "rows")), resultPrinted: true}
	}
	if failed > 0 {
		return &Error{Code: ExitPartial, Msg: fmt.Sprintf("%s of %d failed (see the summary); the others are done — fix them and run the same command again",
			plural(failed, "row", "rows"), len(rs)), resultPrinted: true}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---- tap show / delete -----------------------------------------------------

// userTAPs looks a user and their passes up (never the code).
func (g *globals) userTAPs(ctx context.Context, upn string) (*onboard.Issuer, *onboard.User, []onboard.Pass, error) {
	is, err := g.issuer(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := is.Dir.User(ctx, upn)
	if err != nil {
		return nil, nil, nil, err
	}
	ps, err := is.Dir.TAPs(ctx, u.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	return is, u, ps, nil
}

func newTAPShowCmd(g *globals) *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "show --user UPN",
		Short: "Show a user's Temporary Access Pass: usable or why not, start, expiry (never the code)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if user == "" {
				return usageErr("tap show needs --user UPN")
			}
			is, u, ps, err := g.userTAPs(ctx, user)
			if err != nil {
				return err
			}
			now := time.Now()
			// The policy says whether a pass that looks valid is blocked;
			// without it the pass is shown as the directory lists it.
			var pol *onboard.Policy
			if len(ps) > 0 {
				if pol, err = is.Policy(ctx); err != nil {
					g.infof("warning: the Temporary Access Pass policy could not be read (%s): whether the pass is blocked by it is not known", plainMessage(err))
					pol = nil
				}
			}
			if g.JSON {
				out := []tapJSON{}
				for i := range ps {
					j := issuedJSON(&onboard.Issued{User: u, Pass: &ps[i]})
					j.Blocked, _ = ps[i].Blocked(pol, u.UPN, now)
					out = append(out, j)
				}
				return g.printJSON(map[string]any{"upn": u.UPN, "userId": u.ID, "temporaryAccessPasses": out})
			}
			if len(ps) == 0 {
				safetext.Fprintf(g.io.Out, "%s has no Temporary Access Pass.\n", u.UPN)
				return nil
			}
			for _, p := range ps {
				printPass(g.io.Out, u, &p, pol, now)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user principal name or object id")
	return cmd
}

func printPass(w io.Writer, u *onboard.User, p *onboard.Pass, pol *onboard.Policy, now time.Time) {
	safetext.Fprintf(w, "Temporary Access Pass of %s (%s)\n", u.UPN, u.DisplayName)
	if msg, fix := p.Blocked(pol, u.UPN, now); msg != "" {
		safetext.Fprintf(w, "  state        %s\n", msg)
		safetext.Fprintf(w, "  fix          %s\n", fix)
	} else {
		fmt.Fprintf(w, "  state        %s\n", p.State(now))
	}
	fmt.Fprintf(w, "  reason       %s\n", p.Reason)
	fmt.Fprintf(w, "  valid from   %s\n", p.Start.Local().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "  valid until  %s (%s)\n", p.Expiry().Local().Format("2006-01-02 15:04 MST"), onboard.Duration(p.Lifetime))
	fmt.Fprintf(w, "  one-time     %s\n", yesNo(p.Once, "yes", "no (multi-use)"))
	fmt.Fprintf(w, "  created      %s\n", p.Created.Local().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "  method id    %s\n", p.ID)
}

func newTAPDeleteCmd(g *globals) *cobra.Command {
	var user string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete --user UPN",
		Short: "Delete a user's Temporary Access Pass (asks; --yes without a terminal)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if user == "" {
				return usageErr("tap delete needs --user UPN")
			}
			is, u, ps, err := g.userTAPs(ctx, user)
			if err != nil {
				return err
			}
			if len(ps) == 0 {
				return g.done(map[string]any{"upn": u.UPN, "deleted": []string{}}, "%s has no Temporary Access Pass; nothing deleted.", u.UPN)
			}
			now := time.Now()
			var ids []string
			for _, p := range ps {
				if !yes {
					if !g.pinsIn.interactive() {
						return usageErr("deleting the Temporary Access Pass of %s (%s): confirm with --yes", u.UPN, p.State(now))
					}
					answer, err := g.pinsIn.confirm(fmt.Sprintf("Delete the Temporary Access Pass of %s (%s, until %s)? [y/N] ",
						u.UPN, p.State(now), p.Expiry().Local().Format("2006-01-02 15:04")))
					if err != nil {
						return err
					}
					if !confirmed(answer, "delete") {
						return usageErr("delete not confirmed")
					}
				}
				if err := is.Dir.DeleteTAP(ctx, u.ID, p.ID); err != nil {
					return err
				}
				ids = append(ids, p.ID)
				if st, err := g.openStore(ctx); err == nil {
					_ = st.Audit(ctx, "tap.delete", "", map[string]any{"user": u.UPN, "userId": u.ID, "methodId": p.ID})
				}
			}
			return g.done(map[string]any{"upn": u.UPN, "deleted": ids}, "Deleted the Temporary Access Pass of %s.", u.UPN)
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user principal name or object id")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}

// outTerminal reports whether w is a terminal: a pass (like a PIN) is
// printed in plain output only there.
func outTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ---- the user's pass around an enrollment -----------------------------

// tapCheck is what enroll knows of a user's passes before the key is
// touched: whether --delete-tap was asked, and the issuer to act with.
type tapCheck struct {
	upn    string
	delete bool
	is     *onboard.Issuer
}

// checkTAPs prepares enroll's look at the user's Temporary Access Pass.
// With --delete-tap the passes are read now, so that a missing permission
// or an unknown user stops the run before the key is touched; without it
// the look after the enrollment is best effort.
func (g *globals) checkTAPs(ctx context.Context, upn string, del bool) (*tapCheck, error) {
	c := &tapCheck{upn: strings.TrimSpace(upn), delete: del}
	if !del {
		return c, nil
	}
	is, _, _, err := g.userTAPs(ctx, c.upn)
	if err != nil {
		return nil, fmt.Errorf("--delete-tap: reading the Temporary Access Passes of %s: %w", c.upn, err)
	}
	c.is = is
	return c, nil
}

// afterEnrollTAP deletes the user's live passes after a verified
// enrollment (--delete-tap), or says that one is still valid: a pass is an
// onboarding credential, and the key replaces it
// (https://learn.microsoft.com/en-us/entra/identity/authentication/howto-authentication-temporary-access-pass).
func (g *globals) afterEnrollTAP(ctx context.Context, c *tapCheck, res *enroll.Result) error {
	if c == nil {
		return nil
	}
	is := c.is
	if is == nil {
		var err error
		if is, err = g.issuer(ctx); err != nil {
			return nil // best effort: the enrollment is done
		}
	}
	u := &onboard.User{ID: res.UserID, UPN: res.UPN, DisplayName: res.User}
	ps, err := is.Dir.TAPs(ctx, u.ID)
	if err != nil {
		return g.tapAfterError(c, err)
	}
	now := time.Now()
	for i, what := range onboard.AfterEnrollment(ps, res.Verified, c.delete, now) {
		p := ps[i]
		until := p.Expiry().Local().Format("2006-01-02 15:04 MST")
		switch what {
		case onboard.LeftoverNotice:
			g.infof("note: %s still holds a valid Temporary Access Pass (%s, until %s): it is an onboarding credential the key replaces; delete it with keyprep tap delete --user %s (or enroll with --delete-tap)",
				u.UPN, p.State(now), until, u.UPN)
		case onboard.LeftoverKeptUnverified:
			g.infof("note: the Temporary Access Pass of %s was kept: the enrollment was not verified (keyprep tap delete --user %s once the key works)", u.UPN, u.UPN)
		case onboard.LeftoverDelete:
			if err := is.Dir.DeleteTAP(ctx, u.ID, p.ID); err != nil {
				e := classify(err)
				e.Msg = "the key is enrolled, but the Temporary Access Pass of " + u.UPN + " was not deleted: " + e.Msg
				e.resultPrinted = true
				return e
			}
			if st, err := g.openStore(ctx); err == nil {
				_ = st.Audit(ctx, "tap.delete", "", map[string]any{"user": u.UPN, "userId": u.ID, "methodId": p.ID, "after": "verified enrollment"})
			}
			g.infof("Deleted the Temporary Access Pass of %s (valid until %s): the verified key replaces it.", u.UPN, until)
		}
	}
	return nil
}

// tapAfterError: with --delete-tap a pass that could not be looked at is
// an error (the key is enrolled); without it, nothing is said.
func (g *globals) tapAfterError(c *tapCheck, err error) error {
	if !c.delete {
		return nil
	}
	e := classify(err)
	e.Msg = "the key is enrolled, but the Temporary Access Pass of " + c.upn + " could not be deleted: " + e.Msg
	e.resultPrinted = true
	return e
}
