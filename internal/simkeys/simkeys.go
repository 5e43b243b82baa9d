// Package simkeys plugs virtual keys into keyprep: it serves hid's "vkey:"
// paths with internal/softkey authenticators behind hid/ctaphid framing, and
// keeps each key's state in a file of the state directory so that a virtual
// key "stays plugged" between keyprep runs.
package simkeys

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/hid/ctaphid"
	"github.com/keyprep/keyprep/internal/fileguard"
	"github.com/keyprep/keyprep/internal/filelock"
	"github.com/keyprep/keyprep/internal/softkey"
)

// Options configure a Provider.
type Options struct {
	// Dir holds one state file per key (NAME.json). Created with mode 0700.
	Dir string
	// Count is how many keys are plugged in: vkey:0 … vkey:Count-1.
	Count int
	// Key is the authenticator configuration (presence, switches); the
	// zero value is softkey's defaults. Its Model is overridden by Models.
	Key softkey.Config
	// Models are the key models per port: the key in port i (vkey:i, and
	// whatever key a swap plugs into that port later) is Models[i %
	// len(Models)]. A key's state file records its model. When the caller
	// names no model (Models empty and Key.Model nil), a key whose state
	// file exists stays what it is, as a plugged-in key does; a new key is
	// keyprep-virtual. Reopening a key as another model than its file
	// records is refused (*ModelMismatchError).
	Models []*softkey.Model
	// HID is the CTAPHID framing configuration; zero is the defaults.
	HID ctaphid.Config
	// InMemory keeps every key's state in memory only: no state files, no
	// directory lock, Dir unused. A key pulled out with Unplug keeps its
	// state for the next open; Swap plugs in a factory-fresh one. For
	// benchmarks that measure keyprep rather than the virtual key's disk
	// writes (a real key's flash writes are not keyprep's either).
	InMemory bool
}

// Provider implements hid.VirtualProvider over persistent softkeys. From the
// first key it opens until Close it holds an exclusive lock on Dir, so two
// keyprep processes never drive one key's state at the same time (a process
// that never opens a key, e.g. `keyprep pin generate | keyprep pin set`'s
// first half, never waits for the lock).
type Provider struct {
	opts Options

	mu     sync.Mutex
	lock   *filelock.Lock
	closed bool
	keys   map[string]*vkey
	// mem holds the in-memory keys' authenticators (Options.InMemory),
	// by name, plugged in or not.
	mem map[string]*softkey.Authenticator
	// ports are the keys plugged in, by number, in port order; a swap
	// replaces one with a factory-fresh key numbered next.
	ports []int
	next  int
	// stored caches the model each key's state file records (by key
	// number), read when the caller named no model.
	stored map[int]storedModel
}

// storedModel is the model a key's state file records: its name ("" when
// there is no file), and the built-in model of that name (nil when it is
// not built in).
type storedModel struct {
	name  string
	model *softkey.Model
}

// ErrModelMismatch is matched by a *ModelMismatchError.
var ErrModelMismatch = errors.New("virtual key of another model")

// ModelMismatchError: a virtual key's state file records another model
// than the one asked for, or a model that is not built in while none was
// asked for (a profile FILE's model: give the file again).
type ModelMismatchError struct {
	Path   string // "vkey:N"
	Stored string // the model the key was first plugged in as
	Asked  string // "" when no model was asked for
}

func (e *ModelMismatchError) Error() string {
	if e.Asked == "" {
		return fmt.Sprintf("%s holds a key of model %s, which is not built in: name its profile FILE with --sim-key-model", e.Path, e.Stored)
	}
	return fmt.Sprintf("%s holds a key of model %s, not %s (a key's model is fixed when it is first plugged in)", e.Path, e.Stored, e.Asked)
}

// Is matches ErrModelMismatch.
func (e *ModelMismatchError) Is(target error) bool { return target == ErrModelMismatch }

// portsFile remembers which keys are plugged in after a swap, so the next
// run with the same --sim-keys sees the same keys (a bench whose operator
// swapped keys while keyprep ran).
const portsFile = "ports.json"

type portsState struct {
	Ports []int `json:"ports"`
	Next  int   `json:"next"`
}

type vkey struct {
	auth *softkey.Authenticator
	dev  *ctaphid.Device
}

// New prepares Count virtual keys in Dir (state is loaded lazily on first
// use of each key).
func New(opts Options) (*Provider, error) {
	if opts.Count < 1 {
		return nil, fmt.Errorf("simkeys: count %d: need at least one key", opts.Count)
	}
	p := &Provider{opts: opts, keys: map[string]*vkey{}, mem: map[string]*softkey.Authenticator{}, next: opts.Count,
		stored: map[int]storedModel{}}
	for i := 0; i < opts.Count; i++ {
		p.ports = append(p.ports, i)
	}
	if opts.InMemory {
		return p, nil
	}
	if err := fileguard.MkdirAll(opts.Dir); err != nil {
		return nil, fmt.Errorf("simkeys: %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(opts.Dir, portsFile)); err == nil {
		var st portsState
		if json.Unmarshal(b, &st) == nil && len(st.Ports) == opts.Count && st.Next >= opts.Count && validPorts(st) {
			p.ports, p.next = st.Ports, st.Next
		}
	}
	return p, nil
}

func validPorts(st portsState) bool {
	seen := map[int]bool{}
	for _, n := range st.Ports {
		if n < 0 || n >= st.Next || seen[n] {
			return false
		}
		seen[n] = true
	}
	return true
}

// List returns the plugged-in virtual keys with their model's USB ids and
// strings, and the USB serial number string of keys whose model reports
// one (which loads those keys, as a host reads the serial from the
// device).
func (p *Provider) List() []hid.DeviceInfo {
	p.mu.Lock()
	out := make([]hid.DeviceInfo, len(p.ports))
	var serials []int
	for i, n := range p.ports {
		m := p.modelAt(i)
		if m == nil { // a stored model that is not built in: opening it says so
			m = softkey.DefaultModel()
		}
		out[i] = hid.DeviceInfo{
			Path:         hid.VirtualScheme + strconv.Itoa(n),
			VendorID:     uint16(m.USB.VendorID),
			ProductID:    uint16(m.USB.ProductID),
			Manufacturer: m.USB.Manufacturer,
			Product:      m.USB.Product,
		}
		if m.USB.Serial.Reported {
			serials = append(serials, i)
		}
	}
	p.mu.Unlock()
	for _, i := range serials {
		if k, err := p.key(trim(out[i].Path)); err == nil {
			out[i].Serial = k.auth.USBSerial()
		}
	}
	return out
}

// Model returns the model of the key at path ("vkey:N"), nil when no such
// key is plugged in.
func (p *Provider) Model(path string) *softkey.Model {
	name := trim(path)
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, n := range p.ports {
		if strconv.Itoa(n) == name {
			return p.modelAt(i)
		}
	}
	return nil
}

// modelAt returns the model of port i: the one asked for, else the one
// its key's state file records, else keyprep-virtual; nil when the state
// file records a model that is not built in. Called with p.mu held.
func (p *Provider) modelAt(i int) *softkey.Model {
	if m := p.askedAt(i); m != nil {
		return m
	}
	if st := p.storedAt(p.ports[i]); st.name != "" {
		return st.model
	}
	return softkey.DefaultModel()
}

// askedAt is the model the caller asked for port i (nil: none). Called
// with p.mu held.
func (p *Provider) askedAt(i int) *softkey.Model {
	if len(p.opts.Models) > 0 {
		return p.opts.Models[i%len(p.opts.Models)]
	}
	return p.opts.Key.Model
}

// storedAt reads (once) the model key number n's state file records
// (softkey's state file: a JSON object whose "model" member names the
// model, absent for keyprep-virtual). No file, or in-memory keys: none.
// Called with p.mu held.
func (p *Provider) storedAt(n int) storedModel {
	if p.opts.InMemory {
		return storedModel{}
	}
	if st, ok := p.stored[n]; ok {
		return st
	}
	var st storedModel
	if b, err := os.ReadFile(filepath.Join(p.opts.Dir, strconv.Itoa(n)+".json")); err == nil {
		var f struct {
			Model string `json:"model"`
		}
		if json.Unmarshal(b, &f) == nil {
			st.name = f.Model
			if st.name == "" {
				st.name = softkey.DefaultModelName
			}
			if m, err := softkey.LookupModel(st.name); err == nil && !strings.ContainsAny(st.name, "/\\") && !strings.HasSuffix(st.name, ".json") {
				st.model = m
			}
		}
	}
	p.stored[n] = st
	return st
}

// keyConfig returns the softkey and CTAPHID configuration of key number
// n. Called with p.mu held.
func (p *Provider) keyConfig(n int) (softkey.Config, ctaphid.Config) {
	kc, hc := p.opts.Key, p.opts.HID
	for i, m := range p.ports {
		if m == n {
			kc.Model = p.modelAt(i)
		}
	}
	if kc.Model == nil { // a stored model that is not built in (key refuses it)
		return kc, hc
	}
	if kc.Model == nil {
		kc.Model = softkey.DefaultModel()
	}
	if hc.VersionMajor == 0 && hc.VersionMinor == 0 && hc.VersionBuild == 0 {
		// CTAPHID_INIT reports the model's device version (CTAP 2.1
		// §11.2.9.1.3), e.g. 5.4.3 for a YubiKey 5.4.3.
		if v, err := kc.Model.DeviceVersion(); err == nil {
			hc.VersionMajor, hc.VersionMinor, hc.VersionBuild = v[0], v[1], v[2]
		}
	}
	return kc, hc
}

// Swap does what a bench operator does with a finished key: it pulls the
// key at path out and plugs a factory-fresh one into the same port, and
// returns the new key's path. The swapped-out key's state file stays (a
// later run does not see it plugged in).
func (p *Provider) Swap(path string) (string, error) {
	name := trim(path)
	p.mu.Lock()
	port := -1
	for i, n := range p.ports {
		if strconv.Itoa(n) == name {
			port = i
		}
	}
	if port < 0 {
		p.mu.Unlock()
		return "", &hid.Error{Op: "swap", Code: hid.CodeNotFound, Msg: fmt.Sprintf("no virtual key %s plugged in", path)}
	}
	k := p.keys[name]
	delete(p.keys, name)
	delete(p.mem, name) // swapped out: never plugged in again
	n := p.next
	p.next++
	p.ports[port] = n
	st := portsState{Ports: append([]int(nil), p.ports...), Next: p.next}
	p.mu.Unlock()
	if k != nil {
		_ = k.dev.Close()
	}
	if p.opts.InMemory {
		return hid.VirtualScheme + strconv.Itoa(n), nil
	}
	_ = os.Remove(filepath.Join(p.opts.Dir, strconv.Itoa(n)+".json")) // factory-fresh
	p.mu.Lock()
	delete(p.stored, n)
	p.mu.Unlock()
	b, _ := json.Marshal(st)
	if err := writeFileAtomic(filepath.Join(p.opts.Dir, portsFile), b); err != nil {
		return "", fmt.Errorf("simkeys: swap: %w", err)
	}
	return hid.VirtualScheme + strconv.Itoa(n), nil
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Open connects to virtual key name ("0", "1", …).
func (p *Provider) Open(name string) (hid.ReportConn, error) {
	k, err := p.key(name)
	if err != nil {
		return nil, err
	}
	return k.dev.Connect(), nil
}

// Authenticator returns the softkey behind a path such as "vkey:0", loading
// it if needed (for tests and fault injection).
func (p *Provider) Authenticator(path string) (*softkey.Authenticator, error) {
	k, err := p.key(trim(path))
	if err != nil {
		return nil, err
	}
	return k.auth, nil
}

// Replug power-cycles the virtual key at path: what unplugging and plugging
// a real key does (CTAP 2.1 power-up state, the reset window reopens).
func (p *Provider) Replug(path string) error {
	k, err := p.key(trim(path))
	if err != nil {
		return err
	}
	return k.auth.PowerCycle()
}

// Paths returns the virtual key paths in order.
func (p *Provider) Paths() []string {
	var out []string
	for _, d := range p.List() {
		out = append(out, d.Path)
	}
	sort.Strings(out)
	return out
}

// Close unplugs every key and releases the state directory.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for _, k := range p.keys {
		if err := k.dev.Close(); err != nil && first == nil {
			first = err
		}
	}
	p.keys = map[string]*vkey{}
	if p.lock != nil {
		if err := p.lock.Unlock(); err != nil && first == nil {
			first = err
		}
		p.lock = nil
	}
	p.closed = true
	return first
}

func trim(path string) string {
	if hid.IsVirtualPath(path) {
		return path[len(hid.VirtualScheme):]
	}
	return path
}

func (p *Provider) key(name string) (*vkey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, err := strconv.Atoi(name)
	if err != nil || !p.plugged(i) || strconv.Itoa(i) != name {
		return nil, &hid.Error{Op: "open", Code: hid.CodeNotFound, Msg: fmt.Sprintf("no virtual key %s%s (%d plugged in)", hid.VirtualScheme, name, p.opts.Count)}
	}
	if k, ok := p.keys[name]; ok {
		return k, nil
	}
	if p.closed {
		return nil, fmt.Errorf("simkeys: provider closed")
	}
	if err := p.checkModel(i); err != nil {
		return nil, err
	}
	kc, hc := p.keyConfig(i)
	auth, err := p.authenticator(name, kc)
	if err != nil {
		return nil, fmt.Errorf("virtual key %s%s: %w", hid.VirtualScheme, name, err)
	}
	k := &vkey{auth: auth, dev: ctaphid.NewDevice(auth, hc)}
	p.keys[name] = k
	return k, nil
}

// authenticator loads key name's state from its file (locking Dir first),
// or in memory keeps the one it made before. Called with p.mu held.
func (p *Provider) authenticator(name string, kc softkey.Config) (*softkey.Authenticator, error) {
	if p.opts.InMemory {
		if a, ok := p.mem[name]; ok {
			return a, nil
		}
		a, err := softkey.New(kc)
		if err != nil {
			return nil, err
		}
		p.mem[name] = a
		return a, nil
	}
	if p.lock == nil {
		l, err := lockDir(p.opts.Dir)
		if err != nil {
			return nil, err
		}
		p.lock = l
	}
	return softkey.Open(filepath.Join(p.opts.Dir, name+".json"), kc)
}

// checkModel refuses to open key number n as another model than its
// state file records, or, when no model was asked for, a key of a model
// that is not built in. Called with p.mu held.
func (p *Provider) checkModel(n int) error {
	st := p.storedAt(n)
	if st.name == "" {
		return nil
	}
	path := hid.VirtualScheme + strconv.Itoa(n)
	for i, m := range p.ports {
		if m != n {
			continue
		}
		asked := p.askedAt(i)
		switch {
		case asked == nil && st.model == nil:
			return &ModelMismatchError{Path: path, Stored: st.name}
		case asked != nil && asked.Name != st.name:
			return &ModelMismatchError{Path: path, Stored: st.name, Asked: asked.Name}
		}
	}
	return nil
}

func (p *Provider) plugged(n int) bool {
	for _, m := range p.ports {
		if m == n {
			return true
		}
	}
	return false
}

// Unplug pulls the virtual key at path out: its CTAPHID device closes, so
// an operation in flight fails as with a real key yanked from the port. A
// later open plugs it back in (state reloaded from its file, power-up
// state).
func (p *Provider) Unplug(path string) error {
	name := trim(path)
	p.mu.Lock()
	k, ok := p.keys[name]
	delete(p.keys, name)
	p.mu.Unlock()
	if !ok {
		return nil
	}
	return k.dev.Close()
}
