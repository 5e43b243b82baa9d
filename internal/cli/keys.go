package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/keycaps"
	"github.com/keyprep/keyprep/internal/simkeys"
	"github.com/keyprep/keyprep/internal/softkey"
)

// keyDevice is what the key commands need of an open key (hid.Device).
type keyDevice interface {
	Path() string
	Info(ctx context.Context) (*hid.Info, error)
	PINRetries(ctx context.Context) (int, error)
	SetPIN(ctx context.Context, pin []byte) error
	ChangePIN(ctx context.Context, oldPIN, newPIN []byte) error
	Reset(ctx context.Context) error
	SetMinPINLength(ctx context.Context, n int, pin []byte) error
	SetMinPINLengthRPIDs(ctx context.Context, rpIDs []string, pin []byte) error
	ForcePINChange(ctx context.Context, pin []byte) error
	ToggleAlwaysUV(ctx context.Context, pin []byte) error
	Close() error
}

// openKey opens the key named by path, or the only attached key when path is
// empty. With several keys and no path it refuses rather than guess.
func (g *globals) openKey(ctx context.Context, path string) (keyDevice, error) {
	d, err := g.openHID(ctx, path)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// openHID is openKey returning the concrete device (for the workflow, which
// needs more of it than keyDevice).
func (g *globals) openHID(ctx context.Context, path string) (*hid.Device, error) {
	if path == "" {
		devs, err := hid.Enumerate(ctx)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		switch len(devs) {
		case 0:
			return nil, &Error{Code: ExitNoKey, Msg: "no FIDO2 key found",
				Hint: "plug in a security key, or use --sim to work with a virtual key"}
		case 1:
			path = devs[0].Path
		default:
			paths := make([]string, len(devs))
			for i, d := range devs {
				paths[i] = d.Path
			}
			return nil, &Error{Code: ExitNoKey, Msg: fmt.Sprintf("%d keys attached (%s); choose one with --key", len(devs), strings.Join(paths, ", ")),
				Hint: "keyprep keys lists them"}
		}
	}
	d, err := hid.Open(ctx, path, hid.WithTimeout(g.Timeout))
	if err != nil {
		if hid.IsVirtualPath(path) && g.keys == nil {
			return nil, &Error{Code: ExitNoKey, Msg: fmt.Sprintf("no virtual key %s: virtual keys need --sim or --sim-keys N", path), Err: err}
		}
		if hid.IsVirtualPath(path) {
			// hid keeps only the text of a provider's error: ask the
			// provider for the typed one.
			if _, aerr := g.keys.Authenticator(path); errors.Is(aerr, simkeys.ErrModelMismatch) {
				return nil, modelMismatch(aerr)
			}
		}
		return nil, modelMismatch(fmt.Errorf("%s: %w", path, err))
	}
	return d, nil
}

// modelName names a key model from its AAGUID, falling back to the HID
// product string.
func modelName(aaguid [16]byte, product string) string {
	if aaguid == softkey.AAGUID() {
		return softkey.ModelName
	}
	if product != "" {
		return product
	}
	return "unknown model"
}

// formatAAGUID renders an AAGUID in the usual 8-4-4-4-12 form.
func formatAAGUID(a [16]byte) string {
	h := hex.EncodeToString(a[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// keySummary is one row of `keyprep keys`.
type keySummary struct {
	Path         string   `json:"path"`
	VendorID     string   `json:"vendorId"`
	ProductID    string   `json:"productId"`
	Manufacturer string   `json:"manufacturer"`
	Product      string   `json:"product"`
	Serial       string   `json:"serial,omitempty"`
	AAGUID       string   `json:"aaguid"`
	Model        string   `json:"model"`
	Versions     []string `json:"versions"`
	PINSet       bool     `json:"pinSet"`
	PINRetries   *int     `json:"pinRetries"`
	// MinPINLength is the key's minimum PIN length: what getInfo reports,
	// or CTAP's default of 4 for a key that reports none (CTAP 2.0;
	// MinPINLengthDefault is then true).
	MinPINLength        uint64 `json:"minPINLength"`
	MinPINLengthDefault bool   `json:"minPINLengthDefault,omitempty"`
	ForcePINChange      bool   `json:"forcePINChange"`
	RemainingSlots      *int64 `json:"remainingResidentSlots"`
	// Features says which keyprep features the key can take;
	// Unavailable sums up what it cannot ("" when nothing).
	Features    []keycaps.Feature `json:"features,omitempty"`
	Unavailable string            `json:"unavailable,omitempty"`
	Error       string            `json:"error,omitempty"`
}

func newKeysCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "keys",
		Short: "List attached keys: model, AAGUID, PIN state, slots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runKeys(cmd.Context(), g)
		},
	}
}

func runKeys(ctx context.Context, g *globals) error {
	devs, err := hid.Enumerate(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Path < devs[j].Path })
	rows := make([]keySummary, 0, len(devs))
	for _, di := range devs {
		rows = append(rows, summarize(ctx, g, di))
	}
	if g.JSON {
		return g.printJSON(map[string]any{"keys": rows})
	}
	if len(rows) == 0 {
		g.infof("no FIDO2 key found (plug one in, or use --sim for a virtual key)")
		return nil
	}
	tw := tabwriter.NewWriter(g.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tMODEL\tAAGUID\tPIN\tRETRIES\tMIN PIN\tFORCE CHANGE\tFREE SLOTS\tSERIAL")
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t- (%s)\t%s\n", r.Path, r.Model, r.Error, orDash(r.Serial))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Path, r.Model, r.AAGUID,
			yesNo(r.PINSet, "set", "not set"), intOrDash(r.PINRetries), minPINText(r.MinPINLength, r.MinPINLengthDefault),
			yesNo(r.ForcePINChange, "yes", "no"), int64OrDash(r.RemainingSlots), orDash(r.Serial))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// What each key cannot take, one line per key that lacks something.
	for _, r := range rows {
		if r.Unavailable != "" {
			fmt.Fprintf(g.io.Out, "%s: %s\n", r.Path, r.Unavailable)
		}
	}
	return nil
}

// minPINLength is the key's minimum PIN length as keyprep applies it
// (keycaps: CTAP's default of 4 when getInfo reports none), and whether
// it is that default.
func minPINLength(info *hid.Info) (n uint64, isDefault bool) {
	gi := hid.GetInfoOf(info)
	return uint64(keycaps.Of(&gi).MinPINLength), info.MinPINLength == 0
}

// minPINText shows a minimum PIN length, marking CTAP's default.
func minPINText(n uint64, isDefault bool) string {
	if isDefault {
		return fmt.Sprintf("%d (default)", n)
	}
	return fmt.Sprint(n)
}

// features are the keyprep features a key with this getInfo can take, and
// the one-line summary of what it cannot.
func features(info *hid.Info) ([]keycaps.Feature, string) {
	gi := hid.GetInfoOf(info)
	c := keycaps.Of(&gi)
	return c.Features(), c.Unavailable()
}

func summarize(ctx context.Context, g *globals, di hid.DeviceInfo) keySummary {
	s := keySummary{Path: di.Path, VendorID: fmt.Sprintf("%04x", di.VendorID), ProductID: fmt.Sprintf("%04x", di.ProductID),
		Manufacturer: di.Manufacturer, Product: di.Product, Serial: di.Serial, Model: modelName([16]byte{}, di.Product)}
	d, err := hid.Open(ctx, di.Path, hid.WithTimeout(g.Timeout))
	if err != nil {
		s.Error = classify(err).Msg
		return s
	}
	defer d.Close()
	info, err := d.Info(ctx)
	if err != nil {
		s.Error = classify(err).Msg
		return s
	}
	s.AAGUID = formatAAGUID(info.AAGUID)
	s.Model = modelName(info.AAGUID, di.Product)
	s.Versions = info.Versions
	s.PINSet, _ = info.Option("clientPin")
	s.MinPINLength, s.MinPINLengthDefault = minPINLength(info)
	s.ForcePINChange = info.ForcePINChange
	if info.RemainingResidentKeys >= 0 {
		v := info.RemainingResidentKeys
		s.RemainingSlots = &v
	}
	s.Features, s.Unavailable = features(info)
	if s.PINSet {
		if n, err := d.PINRetries(ctx); err == nil {
			s.PINRetries = &n
		} else if !errors.Is(err, hid.ErrPINNotSet) {
			g.log.Warn("cannot read PIN retries", "key", di.Path, "err", err)
		}
	}
	return s
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func intOrDash(p *int) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

func int64OrDash(p *int64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// infoOutput is `keyprep info --json`.
type infoOutput struct {
	Path        string            `json:"path"`
	Model       string            `json:"model"`
	AAGUID      string            `json:"aaguid"`
	Serial      string            `json:"serial,omitempty"`
	PINSet      bool              `json:"pinSet"`
	PINRetries  *int              `json:"pinRetries"`
	Features    []keycaps.Feature `json:"features"`
	Unavailable string            `json:"unavailable,omitempty"`
	Info        *hid.Info         `json:"info"`
}

// serialOf is the USB serial number string of the key at path ("" when it
// reports none or is not listed).
func serialOf(ctx context.Context, path string) string {
	devs, err := hid.Enumerate(ctx)
	if err != nil {
		return ""
	}
	for _, d := range devs {
		if d.Path == path {
			return d.Serial
		}
	}
	return ""
}

func newInfoCmd(g *globals) *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "info [--key K]",
		Short: "Show a key's full getInfo and PIN state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInfo(cmd.Context(), g, key)
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "key path (from keyprep keys); default: the only attached key")
	return cmd
}

func runInfo(ctx context.Context, g *globals, key string) error {
	d, err := g.openKey(ctx, key)
	if err != nil {
		return err
	}
	defer d.Close()
	info, err := d.Info(ctx)
	if err != nil {
		return fmt.Errorf("read info of %s: %w", d.Path(), err)
	}
	out := infoOutput{Path: d.Path(), Model: modelName(info.AAGUID, ""), AAGUID: formatAAGUID(info.AAGUID), Info: info,
		Serial: serialOf(ctx, d.Path())}
	out.Features, out.Unavailable = features(info)
	out.PINSet, _ = info.Option("clientPin")
	if out.PINSet {
		if n, err := d.PINRetries(ctx); err == nil {
			out.PINRetries = &n
		}
	}
	if g.JSON {
		return g.printJSON(out)
	}
	w := g.io.Out
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	row("path", out.Path)
	row("model", out.Model)
	row("aaguid", out.AAGUID)
	if out.Serial != "" {
		row("serial", out.Serial)
	}
	row("versions", strings.Join(info.Versions, " "))
	row("extensions", strings.Join(info.Extensions, " "))
	row("pin", yesNo(out.PINSet, "set", "not set"))
	row("pin retries", intOrDash(out.PINRetries))
	row("min pin length", minPINText(minPINLength(info)))
	row("force pin change", yesNo(info.ForcePINChange, "yes", "no"))
	row("options", formatOptions(info.Options))
	row("pin protocols", fmt.Sprint(info.PINProtocols))
	algs := make([]string, len(info.Algorithms))
	for i, a := range info.Algorithms {
		algs[i] = algName(a.COSE)
	}
	row("algorithms", strings.Join(algs, " "))
	row("transports", strings.Join(info.Transports, " "))
	row("max msg size", info.MaxMsgSize)
	row("max creds in list", info.MaxCredCountInList)
	row("max cred id length", info.MaxCredIDLength)
	row("max rp ids for min pin", info.MaxRPIDsMinPINLength)
	row("firmware version", fmt.Sprintf("0x%x", info.FirmwareVersion))
	if info.RemainingResidentKeys >= 0 {
		row("free resident slots", info.RemainingResidentKeys)
	} else {
		row("free resident slots", "not reported")
	}
	if len(info.Certifications) > 0 {
		row("certifications", fmt.Sprint(info.Certifications))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printFeatures(w, out.Features, out.Unavailable)
	return nil
}

// printFeatures lists what keyprep can do with the key: ✓ or ✗, the
// feature, its flag and how or why not.
func printFeatures(w io.Writer, fs []keycaps.Feature, unavailable string) {
	fmt.Fprintln(w, "\nkeyprep features on this key")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range fs {
		mark := "✓"
		if !f.Supported {
			mark = "✗"
		}
		name := f.Name
		if f.Flag != "" {
			name += " (" + f.Flag + ")"
		}
		fmt.Fprintf(tw, "  %s %s\t%s\n", mark, name, f.Detail)
	}
	_ = tw.Flush()
	if unavailable != "" {
		fmt.Fprintf(w, "  %s\n", unavailable)
	}
}

func formatOptions(opts map[string]bool) string {
	names := make([]string, 0, len(opts))
	for k := range opts {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%v", n, opts[n])
	}
	return strings.Join(parts, " ")
}

func algName(alg int) string {
	switch alg {
	case hid.ES256:
		return "ES256"
	case hid.ES384:
		return "ES384"
	case hid.EdDSA:
		return "EdDSA"
	case hid.RS256:
		return "RS256"
	}
	return fmt.Sprint(alg)
}
