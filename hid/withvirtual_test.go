//go:build cgo

package hid_test

import (
	"context"
	"slices"
	"testing"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/hid/ctaphid"
	"github.com/keyprep/keyprep/internal/softkey"
)

// TestWithVirtual: a provider put in the context serves Enumerate and Open
// for calls under that context, instead of the registered one, so several
// invocations in one process each see their own virtual keys.
func TestWithVirtual(t *testing.T) {
	t.Parallel()
	auth, err := softkey.New(softkey.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dev := ctaphid.NewDevice(auth, ctaphid.Config{})
	t.Cleanup(func() { _ = dev.Close() })
	own := &testProvider{keys: map[string]*ctaphid.Device{"ctx-only": dev}}
	path := hid.VirtualScheme + "ctx-only"
	_, registered := newSoftKey(t, softkey.Config{}) // in the registered provider

	paths := func(ctx context.Context) []string {
		t.Helper()
		ds, err := hid.Enumerate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.Path)
		}
		return out
	}
	ctx := hid.WithVirtual(context.Background(), own)
	if got := paths(ctx); !slices.Contains(got, path) || slices.Contains(got, registered) {
		t.Errorf("under WithVirtual: %v, want %s and not %s", got, path, registered)
	}
	if got := paths(context.Background()); slices.Contains(got, path) || !slices.Contains(got, registered) {
		t.Errorf("without: %v, want %s and not %s", got, registered, path)
	}
	d, err := hid.Open(ctx, path)
	if err != nil {
		t.Fatalf("open %s under WithVirtual: %v", path, err)
	}
	info, err := d.Info(ctx)
	_ = d.Close()
	if err != nil || info.AAGUID != softkey.AAGUID() {
		t.Errorf("info %v %v", info, err)
	}
	if d, err := hid.Open(context.Background(), path); err == nil {
		_ = d.Close()
		t.Errorf("%s opened without its provider in the context", path)
	}
	if _, err := hid.Open(ctx, registered); err == nil {
		t.Errorf("%s (registered provider) opened under another provider's context", registered)
	}
}
