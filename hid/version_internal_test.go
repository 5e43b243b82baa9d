//go:build cgo && !windows

package hid

import (
	"strings"
	"testing"
)

func TestLibraryFileVersion(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"libfido2.so.1.12.0", "1.12.0"},
		{"libfido2.so.1.15.0", "1.15.0"},
		{"libfido2.so.1", ""},
		{"libfido2.so", ""},
		{"libfido2.so.1.12.0~rc1", ""},
		{"libfido2.so.1..0", ""},
		{"libfido2.so.1.2.3.4", ""},
		{"libcrypto.so.3.0.0", ""},
	} {
		if got := libraryFileVersion(tc.name); got != tc.want {
			t.Errorf("libraryFileVersion(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLibraryVersionLoaded(t *testing.T) {
	v, path := LibraryVersion()
	if !strings.Contains(path, "libfido2") {
		t.Fatalf("LibraryVersion path = %q, want the loaded libfido2", path)
	}
	t.Logf("libfido2 %s at %s", v, path)
}
