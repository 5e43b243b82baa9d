package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/hid/ctaphid"
	"github.com/keyprep/keyprep/hid/uhid"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/entrasim"
	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/graph"
	"github.com/keyprep/keyprep/internal/onboard"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/privdrop"
	"github.com/keyprep/keyprep/internal/safetext"
	"github.com/keyprep/keyprep/internal/simkeys"
	"github.com/keyprep/keyprep/internal/softkey"
)

func newSimCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Work with the built-in simulation: virtual keys and the emulated Entra tenant",
	}
	var key string
	replug := &cobra.Command{
		Use:   "replug [--key K]",
		Short: "Unplug and replug virtual keys (a power cycle: clears a PIN soft-lock, opens the reset window)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.keys == nil {
				return usageErr("sim replug works on virtual keys: add --sim or --sim-keys N")
			}
			var names []string
			if key != "" {
				if !hid.IsVirtualPath(key) {
					return usageErr("--key %s is not a virtual key (vkey:NAME)", key)
				}
				names = []string{key}
			} else {
				for _, d := range g.keys.List() {
					names = append(names, d.Path)
				}
			}
			for _, n := range names {
				if err := g.keys.Replug(n); err != nil {
					return fmt.Errorf("replug %s: %w", n, err)
				}
			}
			return g.done(map[string]any{"replugged": names}, "replugged %v", names)
		},
	}
	replug.Flags().StringVar(&key, "key", "", "virtual key path; default: all virtual keys")
	cmd.AddCommand(replug, newSimTenantCmd(g), newSimUsersCmd(g), newSimKeyCmd(g), newSimModelsCmd(g), newSimSignInCmd(g))
	return cmd
}

// simTenantPath is where the emulated tenant keeps its state.
func (g *globals) simTenantPath() string { return filepath.Join(g.StateDir, "sim", "tenant.json") }

func (g *globals) openSimTenant(path string, seedFile string, tokens map[string]entrasim.Identity, logw io.Writer) (*entrasim.Tenant, error) {
	if err := fileguard.MkdirAll(filepath.Dir(path)); err != nil {
		return nil, err
	}
	opts := entrasim.Options{StatePath: path, Tokens: tokens, Log: logw}
	if seedFile != "" {
		b, err := os.ReadFile(seedFile)
		if err != nil {
			return nil, usageErr("--users: %v", err)
		}
		users, err := entrasim.ParseSeed(b)
		if err != nil {
			return nil, usageErr("--users %s: %v", seedFile, err)
		}
		opts.Users = users
		if _, err := os.Stat(path); err == nil {
			return nil, usageErr("--users applies to a new emulated tenant, but %s already exists: use a fresh --state-dir (or --state FILE)", path)
		}
	}
	if g.wire.tenantOptions != nil {
		g.wire.tenantOptions(&opts)
	}
	t, err := entrasim.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("emulated tenant: %w", err)
	}
	if g.wire.tenantOpened != nil {
		g.wire.tenantOpened(t)
	}
	return t, nil
}

// wiring is one run's reach into the simulation, for the in-process CLI
// tests (faults, clocks, an unplugged key: the way an operator's world
// changes under a running command) and for the crash test's hook. It is
// given to run for that one invocation, so runs in one process do not
// share it; Main passes the zero value, which does nothing.
type wiring struct {
	tenantOptions func(*entrasim.Options)
	tenantOpened  func(*entrasim.Tenant)
	// tokenIssued sees each token the emulated tenant issues to the run
	// (the tests' secret scan looks for it in every output).
	tokenIssued func(string)
	// keyConfig adjusts the virtual keys' configuration (after
	// KEYPREP_SIM_TOUCH, KEYPREP_SIM_FINGER and KEYPREP_SIM_KEY_LATENCY
	// are applied).
	keyConfig    func(*softkey.Config)
	keysReady    func(*simkeys.Provider)
	graphOptions func(*graph.Options)
	event        func(enroll.Event)
	// crash is the enrollment's crash hook (enroll.Enroller.CrashHook).
	crash func(enroll.Step, string)
	// elevation stands in for Windows' administrator rights and the
	// elevated relaunch (elevation.go).
	elevation *elevation
}

func newSimTenantCmd(g *globals) *cobra.Command {
	var listen, users, tokenFile, state string
	cmd := &cobra.Command{
		Use:   "tenant [--listen 127.0.0.1:PORT] [--users FILE]",
		Short: "Serve the emulated Entra tenant (a Microsoft Graph subset) over HTTP until interrupted",
		Long: `tenant serves the emulated Entra tenant on a loopback address: users, groups,
passkey creationOptions and registration (verified with go-webauthn), fido2
methods, Temporary Access Passes and the two method policies, with Graph's error
envelopes. Its state lives in the state directory (the same tenant --sim uses),
or in --state FILE. --users seeds a new tenant from a JSON or CSV file
(upn, displayName, userType, groups separated by ';').

The bearer token is written to --token-file (mode 0600), never printed:
  export KEYPREP_ACCESS_TOKEN=$(cat TOKEN_FILE)
  keyprep --graph-url http://127.0.0.1:PORT --auth token policy show`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return usageErr("--listen %q: want HOST:PORT", listen)
			}
			if ip := net.ParseIP(host); !(host == "localhost" || (ip != nil && ip.IsLoopback())) {
				return usageErr("--listen %s: the emulated tenant serves plain http and listens on loopback addresses only", listen)
			}
			if state == "" {
				state = g.simTenantPath()
			}
			if tokenFile == "" {
				tokenFile = filepath.Join(filepath.Dir(state), "tenant.token")
			}
			token := entrasim.NewToken()
			t, err := g.openSimTenant(state, users, map[string]entrasim.Identity{token: {Name: "keyprep sim tenant"}}, g.io.ErrOut)
			if err != nil {
				return err
			}
			defer t.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			// The token file appears once the tenant is listening: scripts
			// may wait for it.
			if err := fileguard.MkdirAll(filepath.Dir(tokenFile)); err != nil {
				return err
			}
			if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
				return fmt.Errorf("writing the token file: %w", err)
			}
			defer os.Remove(tokenFile)
			srv := &http.Server{Handler: t, ReadHeaderTimeout: 10 * time.Second}
			url := "http://" + ln.Addr().String()
			if g.JSON {
				_ = g.printJSON(map[string]any{"url": url, "tokenFile": tokenFile, "state": state, "users": len(t.Users())})
			} else {
				fmt.Fprintf(g.io.Out, "Emulated Entra tenant with %s serving on %s (state %s)\n", plural(len(t.Users()), "user", "users"), url, state)
				fmt.Fprintf(g.io.Out, "  export KEYPREP_ACCESS_TOKEN=$(cat %s)\n", tokenFile)
				fmt.Fprintf(g.io.Out, "  keyprep --graph-url %s --auth token policy show\n", url)
				fmt.Fprintln(g.io.Out, "Stop with Ctrl-C.")
			}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case <-cmd.Context().Done():
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = srv.Shutdown(ctx)
				g.infof("emulated tenant stopped")
				return nil
			case err := <-errc:
				return err
			}
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "loopback address to serve on (port 0 picks a free one)")
	cmd.Flags().StringVar(&users, "users", "", "seed users from a JSON or CSV file (new tenant only)")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "where to write the bearer token (default next to the state file)")
	cmd.Flags().StringVar(&state, "state", "", "state file (default STATE_DIR/sim/tenant.json, shared with --sim)")
	return cmd
}

func newSimUsersCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "users",
		Short: "List the emulated tenant's users (UPN, type, groups, policy scope)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := g.openSimTenant(g.simTenantPath(), "", nil, nil)
			if err != nil {
				return err
			}
			defer t.Close()
			us := t.Users()
			if g.JSON {
				type juser struct {
					ID                string   `json:"id"`
					UserPrincipalName string   `json:"userPrincipalName"`
					DisplayName       string   `json:"displayName"`
					UserType          string   `json:"userType"`
					Groups            []string `json:"groups"`
					InFido2Scope      bool     `json:"inPasskeyPolicyScope"`
					InTAPScope        bool     `json:"inTAPPolicyScope"`
				}
				type jgroup struct {
					ID          string `json:"id"`
					DisplayName string `json:"displayName"`
					Members     int    `json:"members"`
				}
				out := struct {
					Users  []juser  `json:"users"`
					Groups []jgroup `json:"groups"`
				}{Users: []juser{}, Groups: []jgroup{}}
				for _, u := range us {
					out.Users = append(out.Users, juser{u.ID, u.UPN, u.DisplayName, u.UserType, u.Groups, u.InFido2Scope, u.InTAPScope})
				}
				for _, gr := range t.Groups() {
					out.Groups = append(out.Groups, jgroup{gr.ID, gr.DisplayName, gr.Members})
				}
				return g.printJSON(out)
			}
			tw := tabwriter.NewWriter(g.io.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "UPN\tNAME\tTYPE\tPASSKEY POLICY\tTAP POLICY\tGROUPS")
			scope := func(b bool) string {
				if b {
					return "in scope"
				}
				return "out of scope"
			}
			for _, u := range us {
				safetext.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.UPN, u.DisplayName, u.UserType, scope(u.InFido2Scope), scope(u.InTAPScope), strings.Join(u.Groups, ", "))
			}
			return tw.Flush()
		},
	}
}

func newSimKeyCmd(g *globals) *cobra.Command {
	var useUHID bool
	var state, faults, model, runAs string
	cmd := &cobra.Command{
		Use:   "key --uhid [--model NAME|FILE] [--state FILE]",
		Short: "(Linux) Expose a virtual key as a real HID device through /dev/uhid until interrupted",
		Long: `key plugs a virtual key (the same CTAP 2.1 authenticator and CTAPHID framing as
--sim) into the kernel through /dev/uhid: a USB-bus HID device with the FIDO
usage page 0xF1D0 and 64-byte reports appears as /dev/hidrawN, and every FIDO
client on the machine (keyprep, libfido2's fido2-token, a browser) sees a
security key. It runs until interrupted (Ctrl-C, SIGTERM); then the device
goes away, like an unplugged key.

The key's state (PIN, credentials, settings) is that of the key --sim uses
(vkey:0, STATE_DIR/sim/keys/0.json; keyprep --sim waits while it is served),
or lives in --state FILE. --model NAME|FILE (default $KEYPREP_SIM_KEY_MODEL,
else keyprep-virtual; keyprep sim models lists them) picks the key model: its
getInfo and behaviour, and on the bus its USB vendor and product ids, product
string and (when the model has one) USB serial number. A state file keeps the
model its key was first served with. KEYPREP_SIM_TOUCH and KEYPREP_SIM_FINGER
set the simulated touch and finger as with --sim.
Needs Linux, the uhid kernel module (modprobe uhid) and access to /dev/uhid
(usually root). Run as root, it opens /dev/uhid and the key's state and then
drops to --run-as (default: the user who ran sudo, else nobody) before it
reads anything from the kernel; the key's state file (and its directory, when
that is private to root) is handed to that user, who keeps writing it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !useUHID {
				return usageErr("sim key needs --uhid: /dev/uhid is the only way to plug a virtual key into this machine so far")
			}
			if g.keys != nil {
				return usageErr("sim key serves a virtual key to other programs: drop --sim/--sim-keys")
			}
			fl, err := ctaphid.ParseFaults(faults)
			if err != nil {
				return usageErr("--inject-fault: %v", err)
			}
			touch, err := simkeys.ParseTouch(os.Getenv("KEYPREP_SIM_TOUCH"))
			if err != nil {
				return usageErr("KEYPREP_SIM_TOUCH: %v", err)
			}
			if model == "" {
				model = strings.TrimSpace(os.Getenv("KEYPREP_SIM_KEY_MODEL"))
			}
			var m *softkey.Model // none asked for: the key stays what it is
			if model != "" {
				if m, err = lookupModel("--model", model); err != nil {
					return err
				}
			}
			finger, err := simkeys.ParseFinger(os.Getenv("KEYPREP_SIM_FINGER"))
			if err != nil {
				return usageErr("KEYPREP_SIM_FINGER: %v", err)
			}
			// Who serves the key once /dev/uhid is open: decided (and a bad
			// name refused) before anything is opened.
			var target *privdrop.Target
			if os.Geteuid() == 0 {
				if runAs == "" {
					runAs = defaultRunAs()
				}
				t, err := privdrop.Lookup(runAs)
				if err != nil {
					return &Error{Code: ExitUsage, Msg: "--run-as: " + err.Error(), Err: err,
						Hint: "sim key --uhid gives up root once /dev/uhid is open: name an unprivileged user (--run-as nobody, a uid, uid:gid)"}
				}
				target = &t
			}
			return runSimKeyUHID(cmd.Context(), g, state, softkey.Config{Presence: touch, Finger: finger, Model: m}, ctaphid.Config{Faults: fl}, target)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&useUHID, "uhid", false, "plug the key in through /dev/uhid (Linux)")
	f.StringVar(&model, "model", "", "the key model: a built-in name (keyprep sim models) or a profile FILE (default $KEYPREP_SIM_KEY_MODEL, else the model the key already is, else "+softkey.DefaultModelName+")")
	f.StringVar(&state, "state", "", "the key's state file (default: the key --sim uses, STATE_DIR/sim/keys/0.json)")
	f.StringVar(&runAs, "run-as", "", "as root: the user to serve the key as once /dev/uhid is open (a name, uid or uid:gid; default $SUDO_UID:$SUDO_GID, else nobody)")
	// TEST ONLY: the end-to-end test's negative run breaks the framing with
	// it to prove that broken framing is noticed. Hidden from help.
	f.StringVar(&faults, "inject-fault", "", "TEST ONLY: break the key's CTAPHID framing on purpose ("+
		ctaphid.FaultWrongContinuationSeq+", "+ctaphid.FaultDropContinuation+", "+ctaphid.FaultWrongInitNonce+")")
	_ = f.MarkHidden("inject-fault")
	return cmd
}

// runSimKeyUHID serves one virtual key over /dev/uhid until ctx ends.
func runSimKeyUHID(ctx context.Context, g *globals, state string, keyCfg softkey.Config, hidCfg ctaphid.Config, target *privdrop.Target) error {
	f, err := uhid.Open()
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return &Error{Code: ExitUnsupported, Msg: "sim key --uhid works on Linux only: " + err.Error(), Err: err}
		}
		return &Error{Code: ExitUnsupported, Msg: err.Error(), Err: err,
			Hint: "load the module (modprobe uhid) and run as root, or with write access to " + uhid.Path}
	}
	var conn hid.ReportConn
	serial := "" // the model's USB serial number string, when it has one
	// Until Serve owns f (and conn), an early return closes it.
	owned := false
	defer func() {
		if !owned {
			f.Close()
		}
	}()
	if state == "" {
		// The key --sim plugs in (vkey:0 unless a bench run swapped it),
		// with the state directory's lock.
		dir := filepath.Join(g.StateDir, "sim", "keys")
		keysDir, release, err := keyDir(dir, target != nil)
		if err != nil {
			return err
		}
		defer release()
		p, err := simkeys.New(simkeys.Options{Dir: keysDir, Count: 1, Key: keyCfg, HID: hidCfg})
		if err != nil {
			return modelMismatch(fmt.Errorf("virtual key: %w", err))
		}
		defer p.Close()
		serial = p.List()[0].Serial
		name := strings.TrimPrefix(p.List()[0].Path, hid.VirtualScheme)
		if _, err := p.Authenticator(p.List()[0].Path); err != nil {
			return modelMismatch(fmt.Errorf("virtual key: %w", err))
		}
		keyCfg.Model = p.Model(p.List()[0].Path)
		state = filepath.Join(dir, name+".json")
		if conn, err = p.Open(name); err != nil {
			return err
		}
	} else {
		abs, err := filepath.Abs(state)
		if err != nil {
			return usageErr("--state: %v", err)
		}
		state = abs
		if keyCfg.Model == nil {
			keyCfg.Model = softkey.DefaultModel()
		}
		keysDir, release, err := keyDir(filepath.Dir(state), target != nil)
		if err != nil {
			return err
		}
		defer release()
		auth, err := softkey.Open(filepath.Join(keysDir, filepath.Base(state)), keyCfg)
		if err != nil {
			return modelMismatch(fmt.Errorf("virtual key %s: %w", state, err))
		}
		if keyCfg.Model.USB.Serial.Reported {
			serial = auth.USBSerial()
		}
		dev := ctaphid.NewDevice(auth, hidCfg)
		defer dev.Close()
		conn = dev.Connect()
	}
	if target != nil {
		// Root was needed for /dev/uhid only: the key is served, and every
		// report parsed, as target, which must be able to save the key.
		if err := handOver(state, target); err != nil {
			return err
		}
		if err := privdrop.Drop(*target); err != nil {
			return fmt.Errorf("sim key: give up root: %w", err)
		}
		g.log.Debug("serving the virtual key as an unprivileged user", "user", target.String())
	}
	if hidCfg.Faults.Any() {
		g.log.Warn("TEST ONLY: the virtual key's CTAPHID framing is broken on purpose", "faults", fmt.Sprintf("%+v", hidCfg.Faults))
	}

	// HID_UNIQ is the USB serial number string of a real key; a model
	// without one gets a random keyprep-… so that its hidraw node can
	// still be told from every other (waitHidraw finds the node by it; a
	// serial is per virtual key, drawn from its state).
	uniq := serial
	if uniq == "" {
		var nonce [6]byte
		_, _ = rand.Read(nonce[:])
		uniq = "keyprep-" + hex.EncodeToString(nonce[:])
	}
	m := keyCfg.Model
	name := m.USB.Product
	if name == "" {
		name = softkey.ModelName
	}
	if m.USB.Manufacturer != "" && !strings.HasPrefix(name, m.USB.Manufacturer) {
		name = m.USB.Manufacturer + " " + name // HID_NAME of a USB key: manufacturer and product
	}
	var version uint32
	if v, err := m.DeviceVersion(); err == nil && v != [3]uint8{} {
		version = uint32(v[0])<<8 | uint32(v[1]&0x0f)<<4 | uint32(v[2]&0x0f) // bcdDevice-like 0xJJMN
	}
	ready := make(chan struct{}, 1)
	dev := uhid.New(f, conn, uhid.Options{
		Name:    name,
		Uniq:    uniq,
		Vendor:  uint32(m.USB.VendorID),
		Product: uint32(m.USB.ProductID),
		Version: version,
		Log:     func(format string, a ...any) { g.log.Debug(fmt.Sprintf(format, a...)) },
		Started: func() { ready <- struct{}{} },
	})
	owned = true
	served := make(chan error, 1)
	go func() { served <- dev.Serve(ctx) }()

	select {
	case err := <-served: // the kernel never started the device
		return err
	case <-ready:
	}
	node := waitHidraw(ctx, uniq)
	if g.JSON {
		_ = g.printJSON(map[string]any{"hidraw": node, "state": state, "aaguid": formatAAGUID(m.AAGUID()), "uniq": uniq,
			"model": m.Name, "serial": serial, "vendorId": fmt.Sprintf("%04x", uint16(m.USB.VendorID)), "productId": fmt.Sprintf("%04x", uint16(m.USB.ProductID))})
	} else {
		if node == "" {
			node = "a hidraw node (not found in /sys/class/hidraw)"
		}
		fmt.Fprintf(g.io.Out, "Virtual key (model %s, %s, AAGUID %s) plugged in on %s, state %s\n", m.Name, name, formatAAGUID(m.AAGUID()), node, state)
		fmt.Fprintln(g.io.Out, "Stop with Ctrl-C.")
	}
	err = <-served
	st := dev.Stats()
	g.infof("virtual key unplugged (%d reports in, %d out)", st.OutputReports, st.InputReports)
	return err
}

// defaultRunAs is the user sim key --uhid serves as after opening
// /dev/uhid as root: the one who ran sudo, else nobody.
func defaultRunAs() string {
	if u, g := os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID"); u != "" && u != "0" {
		if g != "" && g != "0" {
			return u + ":" + g
		}
		return u
	}
	return privdrop.Nobody
}

// keyDir creates dir (0700) when missing and returns the path to keep the
// key's files under. For a key served after giving up root (forUser) that
// is /proc/self/fd/N of a descriptor opened now, as root: through it the
// unprivileged user reaches the directory even when an ancestor (root's
// state directory, 0700) would stop it. release closes the descriptor.
func keyDir(dir string, forUser bool) (string, func(), error) {
	if err := fileguard.MkdirAll(dir); err != nil {
		return "", nil, fmt.Errorf("virtual key: %w", err)
	}
	if !forUser {
		return dir, func() {}, nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return "", nil, fmt.Errorf("virtual key: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", d.Fd()), func() { d.Close() }, nil
}

// handOver gives the key's state file to t, and its directory when that is
// private (root's, no one else may write it), so that t can keep saving the
// key (a new file and a rename in the directory). A directory others may
// write (such as /tmp) is left alone; t must be able to write there.
func handOver(state string, t *privdrop.Target) error {
	dir := filepath.Dir(state)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("sim key: %w", err)
	}
	paths := []string{state, filepath.Join(dir, ".lock")}
	if fi.Mode().Perm()&0o022 == 0 {
		paths = append(paths, dir)
	}
	for _, p := range paths {
		if err := os.Lchown(p, t.UID, t.GID); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return &Error{Code: ExitUsage, Msg: fmt.Sprintf("sim key: hand %s to %s: %v", p, t, err), Err: err,
				Hint: "give --state FILE in a directory that user can write, or --run-as its owner"}
		}
	}
	return nil
}

// waitHidraw waits up to 5 s for the hidraw node of the uhid device uniq.
func waitHidraw(ctx context.Context, uniq string) string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		node, err := uhid.HidrawFor(uniq)
		if node != "" || err != nil || time.Now().After(deadline) || ctx.Err() != nil {
			return node
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newSimSignInCmd(g *globals) *cobra.Command {
	var user string
	var withTAP bool
	cmd := &cobra.Command{
		Use:   "signin --user UPN --tap",
		Short: "Rehearse the employee's side: sign in to the emulated tenant with a Temporary Access Pass",
		Long: `signin rehearses what the employee does with the onboarding slip, on the
emulated tenant: sign in with the Temporary Access Pass. The pass is asked for
on the terminal (no echo), or read as one line from standard input. It must be
the user's pass and usable now, as Entra checks it: not expired, not yet
valid, used, outside the policy, or multi-use under a one-time-only policy.
A one-time pass is used up afterwards (keyprep tap show then says
OneTimeUsed).

  keyprep --sim tap create --user adele.vance@contoso.test --once --out slip.txt
  keyprep --sim sim signin --user adele.vance@contoso.test --tap`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			upn := strings.TrimSpace(user)
			if upn == "" {
				return usageErr("sim signin needs --user UPN")
			}
			if !withTAP {
				return usageErr("sim signin rehearses a sign-in with a Temporary Access Pass: add --tap")
			}
			code, err := g.pinsIn.read("Temporary Access Pass of " + upn)
			if err != nil {
				return err
			}
			defer pin.Wipe(code)
			t, err := g.openSimTenant(g.simTenantPath(), "", nil, nil)
			if err != nil {
				return err
			}
			defer t.Close()
			reason, err := t.SignInWithTAP(upn, string(code))
			if err != nil {
				return &Error{Code: ExitDirectory, Msg: "sign-in with the Temporary Access Pass refused: " + err.Error(), Err: err,
					Hint: "keyprep tap show --user " + upn + " says why; keyprep tap create --user " + upn + " --replace issues a new pass"}
			}
			next := "register the security key at " + onboard.RegistrationURL
			if reason == "OneTimeUsed" {
				next = fmt.Sprintf("the one-time pass is used up (%s): register the security key at %s within %d minutes",
					reason, onboard.RegistrationURL, int(onboard.OneTimeRegistrationWindow/time.Minute))
			}
			return g.done(map[string]any{"upn": upn, "signedIn": true, "methodUsabilityReason": reason},
				"%s signed in with the Temporary Access Pass; %s.", upn, next)
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "user principal name or object id")
	cmd.Flags().BoolVar(&withTAP, "tap", false, "sign in with the user's Temporary Access Pass (asked for, never a flag value)")
	return cmd
}
