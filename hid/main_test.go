package hid_test

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/hid/ctaphid"
)

// testProvider serves "vkey:NAME" paths from in-process ctaphid devices.
type testProvider struct {
	mu   sync.Mutex
	keys map[string]*ctaphid.Device
}

var provider = &testProvider{keys: map[string]*ctaphid.Device{}}

func (p *testProvider) List() []hid.DeviceInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]hid.DeviceInfo, 0, len(p.keys))
	for name := range p.keys {
		out = append(out, hid.DeviceInfo{Path: hid.VirtualScheme + name, Manufacturer: "keyprep", Product: "test key"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (p *testProvider) Open(name string) (hid.ReportConn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.keys[name]
	if !ok {
		return nil, fmt.Errorf("no virtual key %q", name)
	}
	return d.Connect(), nil
}

var keySeq atomic.Uint64

// plugIn attaches auth as a new virtual key and returns its path; the key is
// unplugged when the test ends.
func plugIn(tb testing.TB, auth ctaphid.Authenticator) string {
	tb.Helper()
	name := fmt.Sprintf("%s-%d", tb.Name(), keySeq.Add(1))
	dev := ctaphid.NewDevice(auth, ctaphid.Config{})
	provider.mu.Lock()
	provider.keys[name] = dev
	provider.mu.Unlock()
	tb.Cleanup(func() {
		provider.mu.Lock()
		delete(provider.keys, name)
		provider.mu.Unlock()
		_ = dev.Close()
	})
	return hid.VirtualScheme + name
}

// plugInPermanent attaches auth for the rest of the process.
func plugInPermanent(auth ctaphid.Authenticator) string {
	name := fmt.Sprintf("permanent-%d", keySeq.Add(1))
	provider.mu.Lock()
	provider.keys[name] = ctaphid.NewDevice(auth, ctaphid.Config{})
	provider.mu.Unlock()
	return hid.VirtualScheme + name
}

func TestMain(m *testing.M) {
	hid.RegisterVirtual(provider)
	os.Exit(m.Run())
}
