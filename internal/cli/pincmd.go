package cli

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/safetext"
)

// pinPolicyFlags are the PIN policy knobs shared by pin set/change/generate.
type pinPolicyFlags struct {
	length       int
	minLength    int
	alphanumeric bool
}

func (f *pinPolicyFlags) register(cmd *cobra.Command, forGenerate bool) {
	if forGenerate {
		cmd.Flags().IntVar(&f.length, "length", 0, "length of a generated PIN (default from the policy, never below the key's minimum)")
		cmd.Flags().BoolVar(&f.alphanumeric, "alphanumeric", false, "generate letters and digits instead of digits only")
	}
	cmd.Flags().IntVar(&f.minLength, "min-length", 0, "policy minimum PIN length (default from the policy)")
}

// policy returns the PIN policy for a key whose getInfo minPINLength is
// keyMin (0 when no key is involved).
func (f *pinPolicyFlags) policy(keyMin uint64) (pin.Policy, error) {
	p := pin.Default()
	if f.length != 0 {
		p.Length = f.length
	}
	if f.minLength != 0 {
		p.MinLength = f.minLength
		if p.Length < p.MinLength {
			p.Length = p.MinLength
		}
	}
	if f.alphanumeric {
		p.Alphabet = pin.Alphanumeric
	}
	p.KeyMinPINLength = int(keyMin)
	if err := p.Check(); err != nil {
		return p, usageErr("PIN policy: %v", err)
	}
	return p, nil
}

func newPINCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin",
		Short: "Set, change or generate a key's PIN",
	}
	cmd.AddCommand(newPINSetCmd(g), newPINChangeCmd(g), newPINGenerateCmd(g))
	return cmd
}

func newPINSetCmd(g *globals) *cobra.Command {
	var key string
	var pf pinPolicyFlags
	cmd := &cobra.Command{
		Use:   "set [--key K]",
		Short: "Set the PIN of a key that has none (PIN from a prompt or stdin)",
		Long: `Set the PIN of a key that has none. The PIN is read from a prompt without echo,
or one line of standard input when it is not a terminal — never from a flag.
It must pass keyprep's PIN policy and the key's own minimum length.

  keyprep pin generate | keyprep pin set --key vkey:0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPINSet(cmd.Context(), g, key, &pf)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "key path; default: the only attached key")
	pf.register(cmd, false)
	return cmd
}

func runPINSet(ctx context.Context, g *globals, key string, pf *pinPolicyFlags) error {
	// Piped PINs are read before the key is opened: never hold a key while
	// waiting for input (`keyprep pin generate --key K | keyprep pin set`).
	var p []byte
	if !g.pinsIn.interactive() {
		var err error
		if p, err = g.pinsIn.readNew("new PIN"); err != nil {
			return err
		}
		defer pin.Wipe(p)
	}
	d, err := g.openKey(ctx, key)
	if err != nil {
		return err
	}
	defer d.Close()
	info, err := d.Info(ctx)
	if err != nil {
		return fmt.Errorf("read info of %s: %w", d.Path(), err)
	}
	supported, isSet := pinState(info)
	if !supported {
		return &Error{Code: ExitUnsupported, Msg: fmt.Sprintf("%s does not support a PIN", d.Path())}
	}
	if isSet {
		return &Error{Code: ExitUsage, Msg: fmt.Sprintf("%s already has a PIN", d.Path()),
			Hint: "change it with keyprep pin change, or factory-reset the key (keyprep reset) to start over"}
	}
	pol, err := pf.policy(info.MinPINLength)
	if err != nil {
		return err
	}
	if p == nil {
		if p, err = g.pinsIn.readNew("new PIN"); err != nil {
			return err
		}
		defer pin.Wipe(p)
	}
	if err := pol.Validate(p); err != nil {
		return fmt.Errorf("PIN rejected: %w", err)
	}
	if err := d.SetPIN(ctx, p); err != nil {
		return fmt.Errorf("set PIN on %s: %w", d.Path(), err)
	}
	return g.done(map[string]any{"path": d.Path(), "pinSet": true}, "PIN set on %s", d.Path())
}

func newPINChangeCmd(g *globals) *cobra.Command {
	var key string
	var pf pinPolicyFlags
	cmd := &cobra.Command{
		Use:   "change [--key K]",
		Short: "Change a key's PIN (current and new PIN from a prompt or stdin, one per line)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPINChange(cmd.Context(), g, key, &pf)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "key path; default: the only attached key")
	pf.register(cmd, false)
	return cmd
}

func runPINChange(ctx context.Context, g *globals, key string, pf *pinPolicyFlags) error {
	var old, p []byte
	if !g.pinsIn.interactive() { // read piped PINs before holding the key
		var err error
		if old, err = g.pinsIn.read("current PIN"); err != nil {
			return err
		}
		defer pin.Wipe(old)
		if p, err = g.pinsIn.readNew("new PIN"); err != nil {
			return err
		}
		defer pin.Wipe(p)
	}
	d, err := g.openKey(ctx, key)
	if err != nil {
		return err
	}
	defer d.Close()
	info, err := d.Info(ctx)
	if err != nil {
		return fmt.Errorf("read info of %s: %w", d.Path(), err)
	}
	if _, isSet := pinState(info); !isSet {
		return &Error{Code: ExitPIN, Msg: fmt.Sprintf("%s has no PIN to change", d.Path()), Hint: "set one with keyprep pin set"}
	}
	pol, err := pf.policy(info.MinPINLength)
	if err != nil {
		return err
	}
	if old == nil {
		if old, err = g.pinsIn.read("current PIN"); err != nil {
			return err
		}
		defer pin.Wipe(old)
		if p, err = g.pinsIn.readNew("new PIN"); err != nil {
			return err
		}
		defer pin.Wipe(p)
	}
	if err := pol.Validate(p); err != nil {
		return fmt.Errorf("new PIN rejected: %w", err)
	}
	if subtle.ConstantTimeCompare(old, p) == 1 {
		return &Error{Code: ExitPIN, Msg: "the new PIN is the same as the current one", Hint: "choose a different PIN (a forced PIN change is not satisfied by the same PIN)"}
	}
	if err := d.ChangePIN(ctx, old, p); err != nil {
		return g.pinFailure(ctx, d, "change PIN", err)
	}
	return g.done(map[string]any{"path": d.Path(), "pinChanged": true}, "PIN changed on %s", d.Path())
}

// pinFailure wraps a failed PIN operation; for a wrong PIN it adds how many
// retries are left, which the operator needs to decide what to do next.
func (g *globals) pinFailure(ctx context.Context, d keyDevice, op string, err error) error {
	if errors.Is(err, hid.ErrPINInvalid) {
		if n, rerr := d.PINRetries(ctx); rerr == nil {
			return fmt.Errorf("%s: %w (%s left)", d.Path(), err, plural(n, "retry", "retries"))
		}
	}
	return fmt.Errorf("%s: %w", d.Path(), err)
}

func newPINGenerateCmd(g *globals) *cobra.Command {
	var key string
	var pf pinPolicyFlags
	cmd := &cobra.Command{
		Use:   "generate [--length N] [--key K]",
		Short: "Print a random PIN that meets the PIN policy (and the key's minimum with --key)",
		Long: `Print a random PIN drawn from a CSPRNG that meets keyprep's PIN policy. The PIN
goes to standard output only, so it can be piped into keyprep pin set; it is
not recorded anywhere. With --key the key's own minimum PIN length is honoured.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPINGenerate(cmd.Context(), g, key, &pf)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "honour this key's minimum PIN length")
	pf.register(cmd, true)
	return cmd
}

func runPINGenerate(ctx context.Context, g *globals, key string, pf *pinPolicyFlags) error {
	var keyMin uint64
	if key != "" {
		d, err := g.openKey(ctx, key)
		if err != nil {
			return err
		}
		info, err := d.Info(ctx)
		d.Close()
		if err != nil {
			return fmt.Errorf("read info of %s: %w", key, err)
		}
		keyMin = info.MinPINLength
	}
	pol, err := pf.policy(keyMin)
	if err != nil {
		return err
	}
	p, err := pol.Generate()
	if err != nil {
		return fmt.Errorf("generate PIN: %w", err)
	}
	defer pin.Wipe(p)
	if g.JSON {
		return g.printJSON(map[string]any{"pin": string(p)})
	}
	_, err = fmt.Fprintf(g.io.Out, "%s\n", p)
	return err
}

// pinState returns whether the key supports a PIN and whether one is set
// (getInfo option clientPin, CTAP 2.1 §6.4).
func pinState(info *hid.Info) (supported, set bool) {
	v, ok := info.Option("clientPin")
	return ok, v
}

// done prints a command's result: JSON on stdout, or a line for people
// with its arguments escaped for the terminal (safetext).
func (g *globals) done(v any, format string, a ...any) error {
	if g.JSON {
		return g.printJSON(v)
	}
	_, err := safetext.Fprintf(g.io.Out, format+"\n", a...)
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
