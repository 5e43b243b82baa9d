package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/keyprep/keyprep/internal/duration"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/onboard"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/safetext"
	"github.com/keyprep/keyprep/internal/softkey"
	"github.com/keyprep/keyprep/internal/store"
)

type enrollOptions struct {
	user             string
	key              string
	pinMode          string
	pinLength        int
	minPINLength     int
	minPINLengthRP   bool
	forcePINChange   bool
	alwaysUV         bool
	skipUnsupported  bool
	reset            bool
	displayName      string
	challengeTimeout time.Duration
	pinOut           string
	recipients       []string
	identities       []string
	dryRun           bool
	uvFingerprint    bool
	sharedKey        bool

	withTAP   bool
	tap       tapFlags
	tapOut    string
	tapFormat string
	deleteTAP bool

	csv   string
	bench benchOptions
}

func newEnrollCmd(g *globals) *cobra.Command {
	var o enrollOptions
	cmd := &cobra.Command{
		Use:   "enroll --user UPN [--key K] | --csv users.csv",
		Short: "Pre-provision a key for a user end to end: PIN, passkey, Entra registration, self-test",
		Long: `enroll prepares one security key for one Entra user, so the key ships ready:

  1. looks the user up and checks the Passkey (FIDO2) policy (stops early with
     the reason if the user cannot get a passkey);
  2. inspects the key: model allowed, PIN state, minimum PIN length, free slots;
  3. generates a PIN (or takes yours), escrows it durably BEFORE it goes on the
     key — age-encrypted to --age-recipient (e.g. a helpdesk key), by default to
     the bench identity in the state directory, or written once to --pin-out —
     and sets it;
  4. fetches creation options from Graph as late as possible and creates the
     discoverable credential for login.microsoft.com (touch the key when asked);
  5. checks it locally and registers it with Entra;
  6. proves the key works: a signed assertion verified with the attested key;
  7. forces a PIN change at first use when asked (last: it blocks PIN use);
  8. records who got which key.

Every step is journaled before and after its side effect; after a crash,
keyprep journal resume reconciles with the key and with Graph. A key that
keyprep set up before is recognised and its escrowed PIN reused, so the same
key can carry passkeys for several users. PINs are never taken from flags:
--pin prompt asks on the terminal, --pin stdin reads one line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runEnroll(cmd.Context(), g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.user, "user", "", "user principal name or object id (required)")
	f.StringVar(&o.key, "key", "", "key path (default: the only attached key)")
	f.StringVar(&o.pinMode, "pin", "generate", "PIN source: generate, prompt (terminal, no echo) or stdin (one line)")
	f.IntVar(&o.pinLength, "pin-length", 0, "length of a generated PIN (default 8; never below the key's or --min-pin-length)")
	f.IntVar(&o.minPINLength, "min-pin-length", 0, "raise the key's minimum PIN length to N (CTAP 2.1)")
	f.BoolVar(&o.minPINLengthRP, "min-pin-length-rp", false, "also let login.microsoft.com read the minimum PIN length (minPinLength RP ID list)")
	f.BoolVar(&o.forcePINChange, "force-pin-change", false, "make the key ask for a new PIN at first use (applied last)")
	addKeySettingFlags(f, &o)
	f.BoolVar(&o.reset, "reset", false, "factory-reset the key first (deletes every credential; touch within the key's reset window)")
	f.StringVar(&o.displayName, "display-name", "", "passkey name in Entra: template with {model}, {serial}, {date} (default \"{model} {date}\", at most 30 characters)")
	f.Var(duration.NewValue(&o.challengeTimeout), "challenge-timeout", "challenge lifetime to ask Graph for (5m to 30d, whole minutes; default Graph's 5m)")
	f.StringVar(&o.pinOut, "pin-out", "", "write the PIN once to FILE (mode 0600) instead of the age-encrypted escrow")
	f.StringArrayVar(&o.recipients, "age-recipient", nil, "encrypt the PIN escrow to this age recipient (age1…, an SSH public key, or a recipients file); repeatable")
	f.StringArrayVar(&o.identities, "identity", nil, "age identity file that can open earlier escrows (to reuse a key's PIN escrowed to a helpdesk key)")
	f.BoolVar(&o.dryRun, "dry-run", false, "check the user and the key and show what would be done; change nothing")
	f.BoolVar(&o.uvFingerprint, "uv-fingerprint", false, "bio key with the owner present: create the passkey with the owner's enrolled fingerprint (keyprep bio enroll) instead of the PIN")
	f.BoolVar(&o.sharedKey, "shared-key", false, "add the user to a key that already holds another user's passkey without asking (they share the PIN; Windows sign-in uses the last account added)")
	f.BoolVar(&o.withTAP, "with-tap", false, "also issue a Temporary Access Pass as a backup (checked against the TAP policy before the key is touched)")
	addTAPFlags(f, &o.tap, "tap-")
	f.StringVar(&o.tapOut, "tap-out", "", "with --with-tap: write the onboarding slip to FILE (mode 0600, never overwritten; age-encrypted with --age-recipient)")
	f.StringVar(&o.tapFormat, "tap-format", "text", "with --with-tap: slip format, text or html")
	f.BoolVar(&o.deleteTAP, "delete-tap", false, "after a verified enrollment, delete the user's Temporary Access Pass (an onboarding credential the key replaces)")
	f.StringVar(&o.csv, "csv", "", "bench mode: enroll every user of a CSV list (upn column) on the attached keys, in parallel")
	addBenchFlags(f, &o.bench)
	return cmd
}

// addKeySettingFlags adds the key settings that need a capability some
// keys lack (enroll and serve).
func addKeySettingFlags(f flagSet, o *enrollOptions) {
	f.BoolVar(&o.alwaysUV, "always-uv", false, "turn the key's alwaysUv option on: the PIN for every use (CTAP 2.1 authenticatorConfig)")
	f.BoolVar(&o.skipUnsupported, "skip-unsupported", false, "enroll a key that cannot take --min-pin-length, --force-pin-change or --always-uv without that setting, recording it as skipped (default: refuse the key before touching it)")
}

func (o *enrollOptions) request() (enroll.Request, error) {
	if strings.TrimSpace(o.user) == "" {
		return enroll.Request{}, usageErr("enroll needs --user UPN")
	}
	if err := checkUserFlag(strings.TrimSpace(o.user)); err != nil {
		return enroll.Request{}, err
	}
	req, err := o.template()
	req.UPN = strings.TrimSpace(o.user)
	return req, err
}

// template checks the flags every enrollment shares and returns the
// request without a user (a bench run fills it per job).
func (o *enrollOptions) template() (enroll.Request, error) {
	req := enroll.Request{KeyPath: o.key, PINLength: o.pinLength, MinPINLength: o.minPINLength,
		MinPINLengthRPID: o.minPINLengthRP, ForcePINChange: o.forcePINChange, AlwaysUV: o.alwaysUV,
		SkipUnsupported: o.skipUnsupported, Reset: o.reset, DisplayNameTemplate: o.displayName,
		ChallengeTimeout: o.challengeTimeout, PINOut: o.pinOut, DryRun: o.dryRun, UVFingerprint: o.uvFingerprint, SharedKeyOK: o.sharedKey}
	if o.uvFingerprint && o.reset {
		return req, usageErr("--uv-fingerprint and --reset exclude each other: a reset deletes the enrolled fingerprints")
	}
	switch o.pinMode {
	case "generate":
		req.PINMode = enroll.PINGenerate
	case "prompt", "stdin":
		req.PINMode = enroll.PINOperator
	default:
		return req, usageErr("--pin %q: want generate, prompt or stdin (PINs are never given as flag values)", o.pinMode)
	}
	if o.pinLength != 0 && (o.pinLength < pin.MinPINLength || o.pinLength > pin.MaxPINBytes) {
		return req, usageErr("--pin-length %d: want %d to %d", o.pinLength, pin.MinPINLength, pin.MaxPINBytes)
	}
	if o.minPINLength != 0 && (o.minPINLength < 4 || o.minPINLength > 63) {
		return req, usageErr("--min-pin-length %d: want 4 to 63", o.minPINLength)
	}
	if o.challengeTimeout != 0 && (o.challengeTimeout < 5*time.Minute || o.challengeTimeout > 30*24*time.Hour || o.challengeTimeout%time.Minute != 0) {
		return req, usageErr("--challenge-timeout %s: want whole minutes from 5m to 30d (Graph's range)", duration.Format(o.challengeTimeout))
	}
	if o.pinOut != "" && len(o.recipients) > 0 {
		return req, usageErr("--pin-out and --age-recipient exclude each other: choose a plain file or encryption")
	}
	if o.pinOut != "" {
		abs, err := filepath.Abs(o.pinOut)
		if err != nil {
			return req, usageErr("--pin-out: %v", err)
		}
		if _, err := os.Stat(abs); err == nil {
			return req, usageErr("--pin-out %s exists: a PIN file is written once and never overwritten", abs)
		}
		req.PINOut = abs
	}
	if len(o.recipients) > 0 {
		_, names, err := escrow.ParseRecipients(o.recipients)
		if err != nil {
			return req, usageErr("--age-recipient: %v", err)
		}
		req.Recipients = names
	}
	return req, nil
}

// openStore opens this run's store (--store; storecmd.go) on first use.
func (g *globals) openStore(ctx context.Context) (*store.Store, error) {
	if g.st != nil {
		return g.st, nil
	}
	s, err := g.openStoreAt(ctx)
	if err != nil {
		return nil, storeOpenError(err)
	}
	g.st = s
	g.closers = append(g.closers, s.Close)
	return s, nil
}

func (g *globals) escrowDir() string { return filepath.Join(g.StateDir, "escrow") }

func loadIdentities(paths []string) ([]age.Identity, error) {
	var ids []age.Identity
	for _, p := range paths {
		got, err := escrow.LoadIdentities(p)
		if err != nil {
			return nil, usageErr("--identity %s: %v", p, err)
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// enroller wires the workflow to Graph, the store, the terminal and the
// operator's progress display.
func (g *globals) enroller(ctx context.Context, identities []string) (*enroll.Enroller, error) {
	ids, err := loadIdentities(identities)
	if err != nil {
		return nil, err
	}
	st, err := g.openStore(ctx)
	if err != nil {
		return nil, err
	}
	c, err := g.graphClient(ctx)
	if err != nil {
		return nil, err
	}
	e := &enroll.Enroller{
		Directory:  &graphDirectory{c: c},
		Store:      st,
		PINs:       cliPINs{g},
		EscrowDir:  g.escrowDir(),
		Identities: ids,
		Log:        slog.New(g.log), // this run's logger (runs in one process do not share slog.Default)
		Events:     g.showEvent,
		CrashHook:  g.wire.crash,
		ModelName: func(aaguid [16]byte) string {
			if aaguid == softkey.AAGUID() {
				return softkey.ModelName
			}
			return "" // the workflow says "Security key"; Entra names the model in its answer
		},
	}
	return e, nil
}

// showEvent prints progress on stderr (never a secret).
func (g *globals) showEvent(ev enroll.Event) {
	if g.wire.event != nil {
		g.wire.event(ev)
	}
	switch ev.Phase {
	case enroll.EventTouch:
		g.infof(">> %s", ev.Message)
	case enroll.EventInfo:
		g.infof("   %s", ev.Message)
	default:
		g.infof(" ✓ %s", ev.Message)
	}
}

type cliPINs struct{ g *globals }

func (p cliPINs) Current(_ context.Context, key string) ([]byte, error) {
	return p.g.pinsIn.read("current PIN of " + key)
}

func (p cliPINs) New(_ context.Context, key string) ([]byte, error) {
	return p.g.pinsIn.readNew("new PIN for " + key)
}

// NewPINRules states the rules on the terminal before the person at the
// bench chooses a PIN (enroll.PINPrompter).
func (p cliPINs) NewPINRules(key string, rules []string) {
	if !p.g.pinsIn.interactive() {
		return
	}
	p.g.infof("Choose the PIN for %s. It is typed twice, not shown, and escrowed; the rules:", key)
	for _, r := range rules {
		p.g.infof("  - %s", r)
	}
}

// PINRefused says why a PIN was refused and asks again on a terminal;
// piped PINs are not asked again.
func (p cliPINs) PINRefused(_ string, why string, left int) bool {
	if !p.g.pinsIn.interactive() {
		return false
	}
	p.g.infof("That PIN was refused: %s. Choose another (%s left).", why, plural(left, "try", "tries"))
	return true
}

func runEnroll(ctx context.Context, g *globals, o enrollOptions) error {
	if o.deleteTAP && o.csv != "" {
		return usageErr("--delete-tap is for one enrollment (--user), not a bench run (--csv): keyprep tap delete --user UPN deletes a pass")
	}
	if o.csv != "" {
		if o.user != "" {
			return usageErr("--user and --csv exclude each other: one user, or a list")
		}
		return runBench(ctx, g, o, o.bench)
	}
	if o.bench != (benchOptions{usersPerKey: 1}) {
		return usageErr("--max-parallel, --attended, --retry-failed, --reuse-keys, --include-existing and --users-per-key are for a bench run (--csv)")
	}
	req, err := o.request()
	if err != nil {
		return err
	}
	if o.pinMode == "prompt" && !g.pinsIn.interactive() {
		return usageErr("--pin prompt needs a terminal; use --pin stdin to pipe the PIN")
	}
	var tap *tapPlan
	var existing *tapCheck
	if o.deleteTAP && o.withTAP {
		return usageErr("--delete-tap and --with-tap exclude each other: --with-tap issues a pass as a backup, --delete-tap removes the user's pass")
	}
	if o.withTAP {
		// Everything that could stop the pass is checked before the key is
		// touched: the policy, a valid pass in the way, where the slip goes.
		if tap, err = g.planTAP(ctx, o); err != nil {
			return err
		}
	} else if o.tapOut != "" || o.tap != (tapFlags{}) {
		return usageErr("--tap-* flags need --with-tap")
	} else if existing, err = g.checkTAPs(ctx, o.user, o.deleteTAP); err != nil {
		// --delete-tap: whether the passes can be read is known before the
		// key is touched.
		return err
	}
	e, err := g.enroller(ctx, o.identities)
	if err != nil {
		return err
	}
	if g.pinsIn.interactive() {
		e.ConfirmShared = g.confirmShared
	}
	d, err := g.openHID(ctx, o.key)
	if err != nil {
		return err
	}
	defer d.Close()
	req.KeyPath = d.Path()
	res, plan, err := e.Enroll(ctx, d, req)
	if plan != nil {
		g.printPlan(plan, err)
	}
	if err != nil {
		return err
	}
	if res == nil {
		if plan != nil && tap != nil {
			g.infof("   with --with-tap: a Temporary Access Pass would be issued and delivered to %s", tap.where())
		}
		if plan != nil && o.deleteTAP {
			g.infof("   with --delete-tap: the user's Temporary Access Pass would be deleted after a verified enrollment")
		}
		return nil
	}
	defer pin.Wipe(res.PIN)
	if tap == nil {
		if err := g.printResult(res, nil); err != nil {
			return err
		}
		return g.afterEnrollTAP(ctx, existing, res)
	}
	tj, slip, terr := g.issueTAP(ctx, tap, res.UPN)
	if terr != nil {
		// The key is enrolled; say so, then why the pass failed.
		if perr := g.printResult(res, nil); perr != nil {
			return perr
		}
		e := classify(terr)
		e.Msg = "the key is enrolled, but the Temporary Access Pass was not issued: " + e.Msg
		e.resultPrinted = true
		return e
	}
	defer pin.Wipe(slip)
	if err := g.printResult(res, tj); err != nil {
		return err
	}
	if len(slip) > 0 && !g.JSON {
		fmt.Fprintln(g.io.Out)
		_, err = g.io.Out.Write(slip)
	}
	return err
}

// tapPlan is a checked --with-tap request.
type tapPlan struct {
	req onboard.Request
	is  *onboard.Issuer
	// slip is where the slip goes: a file, or stdout when File is "".
	slip onboard.Delivery
	// notTerminal: the plain slip goes to a file because stdout is not a
	// terminal.
	notTerminal bool
}

func (t *tapPlan) where() string {
	switch {
	case t.slip.File != "" && t.slip.Seal != nil:
		return t.slip.File + " (age-encrypted)"
	case t.slip.File != "":
		return t.slip.File
	}
	return "stdout"
}

func (g *globals) planTAP(ctx context.Context, o enrollOptions) (*tapPlan, error) {
	if err := checkFormat(o.tapFormat); err != nil {
		return nil, err
	}
	req, err := o.tap.request(time.Now())
	if err != nil {
		return nil, err
	}
	t := &tapPlan{req: req}
	if t.slip, err = slipDelivery(o.tapFormat, o.recipients); err != nil {
		return nil, err
	}
	switch {
	case o.tapOut != "":
		if t.slip.File, err = newFile("tap-out", o.tapOut); err != nil {
			return nil, err
		}
	case t.slip.Seal != nil || (!g.JSON && !outTerminal(g.io.Out)):
		// Encrypted like the PIN: into the state directory. A plain slip
		// too when stdout is not a terminal: like the PIN, the pass is
		// never printed into captured output (logs, CI), but written once
		// to a file of mode 0600.
		dir := filepath.Join(g.StateDir, "slips")
		if err := fileguard.MkdirAll(dir); err != nil {
			return nil, fmt.Errorf("slip directory: %w", err)
		}
		t.slip.File = filepath.Join(dir, onboard.SlipName(o.user)+"-"+time.Now().UTC().Format("20060102T150405")+onboard.SlipExt(o.tapFormat, t.slip.Seal != nil))
		t.notTerminal = t.slip.Seal == nil
	}
	// The bench registered the key: the slip keeps the pass as a backup.
	t.slip.Backup = true
	if t.is, err = g.issuer(ctx); err != nil {
		return nil, err
	}
	if _, _, err := t.is.Preflight(ctx, strings.TrimSpace(o.user), req); err != nil {
		return nil, err
	}
	return t, nil
}

// issueTAP issues the planned pass and delivers its slip: to the slip file,
// or back to the caller to print (the JSON object then carries the pass).
func (g *globals) issueTAP(ctx context.Context, t *tapPlan, upn string) (*tapJSON, []byte, error) {
	iss, err := t.is.Issue(ctx, upn, t.req)
	if err != nil {
		return nil, nil, err
	}
	defer iss.Pass.Wipe()
	slip, err := t.slip.Deliver(iss, time.Now())
	if err != nil {
		var we *onboard.WriteError
		if errors.As(err, &we) {
			return nil, nil, fmt.Errorf("the pass for %s was created but its slip could not be written to %s (%w): issue a new one with keyprep tap create --user %s --replace",
				upn, we.File, we.Err, upn)
		}
		return nil, nil, err
	}
	g.auditTAP(ctx, iss, slip.Where())
	g.warnUnusable(iss)
	if t.notTerminal {
		g.infof("The Temporary Access Pass slip is in %s (mode 0600): stdout is not a terminal, and a pass is never printed into captured output.", slip.File)
	}
	j := issuedJSON(iss)
	j.Recipients = slip.Recipients
	j.Slip = slip.File
	if slip.File == "" && g.JSON {
		slip.Wipe()
		j.TemporaryAccessPass = string(iss.Pass.Code)
		return &j, nil, nil
	}
	return &j, slip.Data, nil
}

func (g *globals) printPlan(p *enroll.Plan, err error) {
	if g.JSON {
		out := map[string]any{"dryRun": true, "user": p.User, "eligibility": p.Eligibility, "key": p.Key, "actions": p.Actions}
		if err != nil {
			out["blocked"] = err.Error()
		}
		_ = g.printJSON(out)
		return
	}
	w := g.io.Out
	safetext.Fprintf(w, "Dry run for %s (%s) on %s\n", p.User.UPN, p.User.DisplayName, p.Key.Path)
	fmt.Fprintf(w, "  key: AAGUID %s, PIN %s, min PIN length %d, free slots %d\n", p.Key.AAGUID,
		yesNo(p.Key.PINSet, "set", "not set"), p.Key.MinPINLength, p.Key.Remaining)
	if err != nil {
		fmt.Fprintf(w, "  would stop: %s\n", err)
		return
	}
	fmt.Fprintln(w, "  would:")
	for _, a := range p.Actions {
		fmt.Fprintf(w, "    - %s\n", a)
	}
}

// printResult writes the result. The PIN appears only in plain output on a
// terminal, and only when this run set it.
func (g *globals) printResult(res *enroll.Result, tap *tapJSON) error {
	if g.JSON {
		if tap != nil {
			return g.printJSON(struct {
				*enroll.Result
				TAP *tapJSON `json:"tap"`
			}{res, tap})
		}
		return g.printJSON(res)
	}
	w := g.io.Out
	safetext.Fprintf(w, "Enrolled %s (%s) on %s\n", res.UPN, res.User, res.KeyPath)
	safetext.Fprintf(w, "  passkey      %q, method %s\n", res.DisplayName, res.MethodID)
	fmt.Fprintf(w, "  credential   %s\n", res.CredentialID)
	fmt.Fprintf(w, "  model        %s (AAGUID %s)\n", res.Model, res.AAGUID)
	if res.Serial != "" || res.Firmware != 0 {
		fmt.Fprintf(w, "  key          %s\n", keyIdentity(res.Serial, res.Firmware))
	}
	fmt.Fprintf(w, "  verified     %s\n", yesNo(res.Verified, "yes: the key signed a test assertion with the new passkey", "NO"))
	if res.Reconciled {
		fmt.Fprintf(w, "  note         the registration was confirmed by listing the user's passkeys\n")
	}
	fmt.Fprintf(w, "  PIN escrow   %s\n", escrowText(res.PINEscrow))
	fmt.Fprintf(w, "  PIN change   %s\n", yesNo(res.ForcePINChange, "required at first use", "not required"))
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "  skipped      %s\n", s)
	}
	if len(res.PIN) > 0 {
		if f, ok := g.io.Out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprintf(w, "  PIN          %s   (shown once; hand it over with the key)\n", res.PIN)
		} else {
			safetext.Fprintf(w, "  PIN          not shown (output is not a terminal); keyprep pins show --user %s --identity FILE\n", res.UPN)
		}
	}
	if tap != nil {
		fmt.Fprintf(w, "  TAP          valid %s to %s, %s; %s\n", tap.StartDateTime.Local().Format("2006-01-02 15:04"),
			tap.ExpiryDateTime.Local().Format("2006-01-02 15:04 MST"), yesNo(tap.IsUsableOnce, "one-time", "multi-use"),
			yesNo(tap.Slip != "", "slip in "+tap.Slip+" (mode 0600)", "slip below"))
	}
	fmt.Fprintf(w, "  job          %s\n", res.JobID)
	return nil
}

// keyIdentity is what identifies the physical key besides its model: the
// USB serial number string and the firmware version (getInfo
// firmwareVersion), each when the key reports it.
func keyIdentity(serial string, firmware int64) string {
	var parts []string
	if serial != "" {
		parts = append(parts, "serial "+serial)
	}
	if firmware != 0 {
		parts = append(parts, fmt.Sprintf("firmware 0x%x", firmware))
	}
	return strings.Join(parts, ", ")
}

func escrowText(e *enroll.EscrowRef) string {
	if e == nil {
		return "none"
	}
	switch {
	case e.Source == enroll.SourceOperator:
		return "none: the operator gave the key's existing PIN"
	case e.Kind == store.EscrowFile:
		return "written once to " + e.Location + " (mode 0600)"
	}
	to := strings.Join(e.Recipients, ", ")
	if len(e.Recipients) == 1 && strings.HasPrefix(e.Recipients[0], "bench:") {
		to = "the bench identity (as safe as the state directory; prefer --age-recipient)"
	}
	s := fmt.Sprintf("age-encrypted to %s, escrow %s", to, shortID(e.ID))
	if e.Source == enroll.SourceEarlier {
		s += " (set by an earlier enrollment of this key)"
	}
	return s
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// confirmShared asks on the terminal whether to add a user to a key that
// already holds another user's passkey, after saying what that means.
func (g *globals) confirmShared(_ context.Context, s enroll.SharedKey) (bool, error) {
	g.infof("%s", s.Notice())
	answer, err := g.pinsIn.confirm(fmt.Sprintf("Add %s to this key? [y/N] ", s.UPN))
	if err != nil {
		return false, err
	}
	return confirmed(answer), nil
}
