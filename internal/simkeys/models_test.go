package simkeys

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/softkey"
)

func lookup(t *testing.T, name string) *softkey.Model {
	t.Helper()
	m, err := softkey.LookupModel(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelsPerPort(t *testing.T) {
	for _, inMem := range []bool{false, true} {
		dir := t.TempDir()
		solo, yk, titan := lookup(t, "solo-1"), lookup(t, "yubikey-5.4"), lookup(t, "google-titan-v2")
		opts := Options{Dir: dir, Count: 4, Models: []*softkey.Model{solo, yk, titan}, InMemory: inMem}
		p, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		want := []*softkey.Model{solo, yk, titan, solo}
		list := p.List()
		for i, d := range list {
			m := want[i]
			if p.Model(d.Path) != m || d.VendorID != uint16(m.USB.VendorID) || d.ProductID != uint16(m.USB.ProductID) ||
				d.Manufacturer != m.USB.Manufacturer || d.Product != m.USB.Product {
				t.Fatalf("port %d: %+v, want model %s", i, d, m.Name)
			}
			if (d.Serial != "") != m.USB.Serial.Reported {
				t.Fatalf("port %d (%s): serial %q", i, m.Name, d.Serial)
			}
			a, err := p.Authenticator(d.Path)
			if err != nil || a.Model() != m {
				t.Fatalf("port %d: authenticator model %v %v", i, a, err)
			}
		}
		if list[0].Serial == list[3].Serial || len(list[0].Serial) != 12 {
			t.Fatalf("solo serials %q %q", list[0].Serial, list[3].Serial)
		}
		// Swap keeps the port's model, with a new key (new serial).
		np, err := p.Swap(list[0].Path)
		if err != nil {
			t.Fatal(err)
		}
		if p.Model(np) != solo {
			t.Fatalf("swapped-in key is %v", p.Model(np))
		}
		after := p.List()
		if after[0].Path != np || after[0].Serial == "" || after[0].Serial == list[0].Serial {
			t.Fatalf("after swap %+v (before %q)", after[0], list[0].Serial)
		}
		if p.Model("vkey:99") != nil {
			t.Fatal("model of an absent key")
		}
		p.Close()
		if inMem {
			continue
		}
		// Stable across providers (keyprep runs): same serials.
		q, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		again := q.List()
		if again[3].Serial != list[3].Serial || again[0].Serial != after[0].Serial {
			t.Fatalf("serials changed between runs: %q/%q vs %q/%q", again[0].Serial, again[3].Serial, after[0].Serial, list[3].Serial)
		}
		q.Close()
		// The same state directory with other models: refused clearly.
		r, err := New(Options{Dir: dir, Count: 4, Models: []*softkey.Model{yk}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Authenticator(again[1].Path); err != nil {
			t.Fatalf("port 1 is yubikey-5.4 in both: %v", err)
		}
		_, err = r.Authenticator(again[2].Path)
		if err == nil || !strings.Contains(err.Error(), "google-titan-v2") || !strings.Contains(err.Error(), "yubikey-5.4") {
			t.Fatalf("reopening a titan key as yubikey-5.4: %v", err)
		}
		r.Close()
	}
}

func TestDefaultModelList(t *testing.T) {
	p, err := New(Options{Count: 1, InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	d := p.List()[0]
	if d.Manufacturer != "keyprep" || d.Product != softkey.ModelName || d.Serial != "" || d.VendorID != 0 {
		t.Fatalf("default key %+v", d)
	}
	if p.Model(d.Path).Name != softkey.DefaultModelName {
		t.Fatal("default model")
	}
	// Key.Model without Models applies to every port.
	p, err = New(Options{Count: 2, InMemory: true, Key: softkey.Config{Model: lookup(t, "token2-pinplus")}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range p.List() {
		if d.Manufacturer != "TOKEN2" || p.Model(d.Path).Name != "token2-pinplus" {
			t.Fatalf("%+v", d)
		}
	}
	kc, hc := p.keyConfig(0)
	if kc.Model.Name != "token2-pinplus" || hc.VersionMajor != 0 {
		t.Fatalf("config %v %v", kc.Model, hc)
	}
	p, _ = New(Options{Count: 1, InMemory: true, Models: []*softkey.Model{lookup(t, "yubikey-5.4")}})
	if _, hc := p.keyConfig(0); hc.VersionMajor != 5 || hc.VersionMinor != 4 || hc.VersionBuild != 3 {
		t.Fatalf("INIT version %d.%d.%d", hc.VersionMajor, hc.VersionMinor, hc.VersionBuild)
	}
}

// A key stays the model it was first plugged in as when no model is asked
// for; only an explicitly different model is refused, naming both.
func TestStoredModelStays(t *testing.T) {
	dir := t.TempDir()
	yk, solo := lookup(t, "yubikey-5.4"), lookup(t, "solo-1")
	first, err := New(Options{Dir: dir, Count: 1, Models: []*softkey.Model{yk}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Authenticator("vkey:0"); err != nil {
		t.Fatal(err)
	}
	serial := first.List()[0].Serial
	first.Close()

	// No model asked for: the stored one, in the listing and on the key;
	// a port without a state file is keyprep-virtual.
	p, err := New(Options{Dir: dir, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	l := p.List()
	if l[0].Product != yk.USB.Product || l[0].VendorID != uint16(yk.USB.VendorID) || l[0].Serial != serial || p.Model("vkey:0") != yk {
		t.Fatalf("vkey:0 listed as %+v, model %v", l[0], p.Model("vkey:0").Name)
	}
	a, err := p.Authenticator("vkey:0")
	if err != nil || a.Model() != yk {
		t.Fatalf("vkey:0 opened as %v: %v", a, err)
	}
	if m := p.Model("vkey:1"); m == nil || m.Name != softkey.DefaultModelName {
		t.Fatalf("vkey:1 is %v", m)
	}
	if kc, hc := p.keyConfig(0); kc.Model != yk || hc.VersionMajor != 5 || hc.VersionMinor != 4 {
		t.Fatalf("config %s %d.%d", kc.Model.Name, hc.VersionMajor, hc.VersionMinor)
	}
	p.Close()

	// Another model asked for, per port or for every key: refused.
	for _, opts := range []Options{
		{Dir: dir, Count: 1, Models: []*softkey.Model{solo}},
		{Dir: dir, Count: 1, Key: softkey.Config{Model: softkey.DefaultModel()}},
	} {
		q, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = q.Authenticator("vkey:0")
		var me *ModelMismatchError
		if !errors.Is(err, ErrModelMismatch) || !errors.As(err, &me) || me.Stored != "yubikey-5.4" || me.Asked == "" ||
			!strings.Contains(err.Error(), "yubikey-5.4") || !strings.Contains(err.Error(), me.Asked) {
			t.Fatalf("reopened as another model: %v", err)
		}
		q.Close()
	}

	// A stored model that is not built in, none asked for: refused, not
	// silently another model.
	if err := os.WriteFile(filepath.Join(dir, "1.json"), []byte(`{"model":"custom-key"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Dir: dir, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_ = r.List()
	_, err = r.Authenticator("vkey:1")
	var me *ModelMismatchError
	if !errors.As(err, &me) || me.Stored != "custom-key" || me.Asked != "" {
		t.Fatalf("custom stored model: %v", err)
	}
}
