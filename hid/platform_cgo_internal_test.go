//go:build cgo

package hid

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func isPlatform(d DeviceInfo) bool { return IsPlatformPath(d.Path) }

// Where libfido2 lists windows://hello (Windows with webauthn.dll; under
// Wine with the stand-in scripts/windows/winhello-test.sh installs),
// Enumerate does not.
func TestEnumerateHidesWindowsHello(t *testing.T) {
	ctx := context.Background()
	raw, err := manifest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(raw, isPlatform) {
		t.Skip("libfido2 lists no windows:// device here (only on Windows with webauthn.dll)")
	}
	t.Logf("libfido2 lists %d devices, Windows Hello among them", len(raw))
	devs, err := Enumerate(ctx)
	if err != nil && !(keyAccessRestricted() && errors.Is(err, ErrNotElevated)) {
		t.Fatal(err)
	}
	if slices.ContainsFunc(devs, isPlatform) {
		t.Fatalf("Enumerate lists Windows Hello: %+v", devs)
	}
}
