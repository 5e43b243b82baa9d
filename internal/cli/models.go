package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/keycaps"
	"github.com/keyprep/keyprep/internal/simkeys"
	"github.com/keyprep/keyprep/internal/softkey"
)

// modelsHint is the hint of every bad key model name or file.
const modelsHint = "keyprep sim models lists the built-in key models; a FILE is a key model profile (JSON, docs/key-models.md)"

// lookupModel resolves a --sim-key-model style value (flag names the
// source for the message).
func lookupModel(source, nameOrFile string) (*softkey.Model, error) {
	m, err := softkey.LookupModel(strings.TrimSpace(nameOrFile))
	if err != nil {
		return nil, &Error{Code: ExitUsage, Msg: fmt.Sprintf("%s %q: %s", source, nameOrFile, strings.TrimPrefix(err.Error(), "softkey: ")),
			Hint: modelsHint, Err: err}
	}
	return m, nil
}

// simModels decides the key model of every virtual key from
// --sim-key-model, --sim-key-models and KEYPREP_SIM_KEY_MODEL, and the
// number of keys: --sim-key-models a,b,c plugs in one key per entry (port
// i gets entry i) and so sets --sim-keys, or must name exactly as many
// models as --sim-keys asks for. explicitKeys is the --sim-keys value as
// given (0: not given). It returns the models (nil: the default for every
// key) and the number of keys.
func (g *globals) simModels(explicitKeys, keys int) ([]*softkey.Model, int, error) {
	one, list := strings.TrimSpace(g.SimKeyModel), g.SimKeyModels
	switch {
	case one != "" && len(list) > 0:
		return nil, keys, usageErr("--sim-key-model and --sim-key-models exclude each other (one model for every key, or one per key)")
	case len(list) > 0:
		if explicitKeys > 0 && explicitKeys != len(list) {
			return nil, keys, &Error{Code: ExitUsage, Msg: fmt.Sprintf("--sim-key-models names %d models, --sim-keys asks for %d keys", len(list), explicitKeys),
				Hint: "name one model per key (--sim-key-models a,b,c plugs in three keys), or leave out --sim-keys"}
		}
		if len(list) > 64 {
			return nil, keys, usageErr("--sim-key-models: %d models, want at most 64", len(list))
		}
		ms := make([]*softkey.Model, len(list))
		for i, n := range list {
			m, err := lookupModel("--sim-key-models", n)
			if err != nil {
				return nil, keys, err
			}
			ms[i] = m
		}
		return ms, len(list), nil
	case one != "":
		if keys == 0 {
			return nil, keys, usageErr("--sim-key-model picks the model of the virtual keys: add --sim or --sim-keys N (sim key --uhid takes --model)")
		}
		m, err := lookupModel("--sim-key-model", one)
		if err != nil {
			return nil, keys, err
		}
		return []*softkey.Model{m}, keys, nil
	}
	// The variable applies only where virtual keys are in use.
	if v := strings.TrimSpace(os.Getenv("KEYPREP_SIM_KEY_MODEL")); v != "" && keys > 0 {
		m, err := lookupModel("KEYPREP_SIM_KEY_MODEL", v)
		if err != nil {
			return nil, keys, err
		}
		return []*softkey.Model{m}, keys, nil
	}
	return nil, keys, nil
}

// modelMismatch gives a virtual key opened as another model than the one
// its state file records a hint; other errors pass unchanged.
func modelMismatch(err error) error {
	var me *simkeys.ModelMismatchError
	switch {
	case errors.As(err, &me) && me.Asked == "":
		return &Error{Code: ExitUsage, Msg: err.Error(), Err: err, Hint: modelsHint}
	case errors.As(err, &me):
		return &Error{Code: ExitUsage, Msg: err.Error(), Err: err,
			Hint: fmt.Sprintf("a virtual key keeps the model it was first plugged in with: leave out --sim-key-model (and KEYPREP_SIM_KEY_MODEL) to use it as %s, use another --state-dir, or remove STATE_DIR/sim/keys for factory-new keys", me.Stored)}
	case errors.Is(err, softkey.ErrModelMismatch): // softkey.Open on a --state FILE
		return &Error{Code: ExitUsage, Msg: err.Error(), Err: err,
			Hint: "a virtual key keeps the model it was first plugged in with: name that model, or use another state file"}
	}
	return err
}

// modelRow is one built-in key model as `sim models` lists it.
type modelRow struct {
	Name         string            `json:"name"`
	ModeledOn    string            `json:"modeledOn"`
	AAGUID       string            `json:"aaguid"`
	CTAP         []string          `json:"ctapVersions"`
	PINProtocols []int             `json:"pinProtocols"`
	Config       bool              `json:"authenticatorConfig"`
	CredMgmt     string            `json:"credentialManagement"` // full, preview, none
	Slots        int               `json:"slots"`
	Attestation  string            `json:"attestation"`
	USB          string            `json:"usb"`
	Serial       bool              `json:"usbSerial"`
	Features     []keycaps.Feature `json:"features"`
	Unavailable  string            `json:"unavailable,omitempty"`
	Sources      []string          `json:"sources"`
}

func modelRowOf(m *softkey.Model) modelRow {
	gi := m.GetInfo
	c := keycaps.Of(&gi)
	r := modelRow{Name: m.Name, ModeledOn: m.ModeledOn, AAGUID: gi.AAGUID, PINProtocols: c.PINProtocols, Config: c.Config,
		CredMgmt: c.CredMgmt.String(), Slots: m.Behaviour.Slots, Attestation: m.Attestation.Format,
		USB:    fmt.Sprintf("%04x:%04x %s", uint16(m.USB.VendorID), uint16(m.USB.ProductID), m.USB.Product),
		Serial: m.USB.Serial.Reported, Features: c.Features(), Unavailable: c.Unavailable(), Sources: m.Sources}
	if id, err := gi.AAGUIDBytes(); err == nil {
		r.AAGUID = formatAAGUID(id)
	}
	for _, v := range gi.Versions {
		if strings.HasPrefix(v, "FIDO_2") {
			r.CTAP = append(r.CTAP, v)
		}
	}
	return r
}

func newSimModelsCmd(g *globals) *cobra.Command {
	var markdown bool
	cmd := &cobra.Command{
		Use:   "models",
		Short: "List the built-in key models the virtual keys can follow (--sim-key-model NAME)",
		Long: `models lists the built-in key models: capability profiles of public security
key models (getInfo, commands, PIN rules, attestation under a per-model test
CA, USB ids). A virtual key is never the real model; it only behaves like it.
Choose one with --sim-key-model NAME (or a profile FILE), a mix per port with
--sim-key-models a,b,c, or serve one on real HID with sim key --uhid --model.
The last column says what keyprep cannot do with a key of that model.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if markdown {
				_, err := fmt.Fprint(g.io.Out, modelsMarkdown(softkey.Models()))
				return err
			}
			var rows []modelRow
			for _, m := range softkey.Models() {
				rows = append(rows, modelRowOf(m))
			}
			if g.JSON {
				return g.printJSON(map[string]any{"default": softkey.DefaultModelName, "models": rows})
			}
			tw := tabwriter.NewWriter(g.io.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tMODELED ON\tCTAP\tPIN PROTOCOLS\tCONFIG\tCRED MGMT\tSLOTS\tATTESTATION\tKEYPREP CANNOT")
			for _, r := range rows {
				ctap := strings.Join(r.CTAP, ",")
				ctap = strings.ReplaceAll(strings.ReplaceAll(ctap, "FIDO_", ""), "_", ".")
				prot := make([]string, len(r.PINProtocols))
				for i, p := range r.PINProtocols {
					prot[i] = fmt.Sprint(p)
				}
				name := r.Name
				if name == softkey.DefaultModelName {
					name += " (default)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", name, r.ModeledOn, ctap, strings.Join(prot, ","),
					yesNo(r.Config, "yes", "no"), r.CredMgmt, r.Slots, r.Attestation, orDash(r.Unavailable))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&markdown, "markdown", false, "print the supported-model table as Markdown (the README's)")
	return cmd
}

// modelsMarkdown is the supported-model table: per built-in model, its
// capabilities and what keyprep does with it, decided by internal/keycaps
// from the model's getInfo as it decides for a real key. The README holds
// it between "models" markers; TestREADMEModelTable keeps it in step.
func modelsMarkdown(models []*softkey.Model) string {
	var b strings.Builder
	b.WriteString("| Model (`--sim-key-model`) | Modeled on | CTAP | PIN protocols | Credential management | Slots | Min PIN | Attestation | Enroll with defaults | `--min-pin-length`, `--force-pin-change` | `--always-uv` |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, m := range models {
		r := modelRowOf(m)
		c := keycaps.Of(&m.GetInfo)
		ctap := strings.ReplaceAll(strings.ReplaceAll(strings.Join(r.CTAP, ", "), "FIDO_", ""), "_", ".")
		prot := make([]string, len(r.PINProtocols))
		for i, p := range r.PINProtocols {
			prot[i] = fmt.Sprint(p)
		}
		minPIN := fmt.Sprint(c.MinPINLength)
		if m.Behaviour.PINComplexity != "" && m.Behaviour.PINComplexity != softkey.PINComplexityNone {
			minPIN += " + on-key rules"
		}
		att := r.Attestation
		enroll := "yes"
		if d := keycaps.Decide(c, keycaps.Want{}, false); !d.Enrollable {
			enroll = "refused: " + d.Refusals[0].Msg
		} else if r.Attestation != softkey.AttestationPacked {
			enroll = "yes, where attestation is not enforced (no certificate)"
		}
		settings, uv := "", ""
		for _, f := range c.Features() {
			switch f.Flag {
			case keycaps.FlagMinPINLength:
				settings = "yes"
				if !f.Supported {
					settings = "refused before any change: " + f.Detail
				}
			case keycaps.FlagAlwaysUV:
				switch {
				case f.Supported && f.Detail == "on":
					uv = "always on"
				case f.Supported:
					uv = "yes"
				default:
					uv = "refused: " + f.Detail
				}
			}
		}
		name := "`" + m.Name + "`"
		if m.Name == softkey.DefaultModelName {
			name += " (default)"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", name, mdCell(m.ModeledOn), ctap,
			strings.Join(prot, ", "), r.CredMgmt, r.Slots, minPIN, att, enroll, mdCell(settings), mdCell(uv))
	}
	return b.String()
}

// mdCell keeps a table cell on one line and its pipes literal.
func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ")
}
