package hid

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// Which devices Enumerate keeps, and when it explains an empty list: the
// paths libfido2 listed × whether Windows restricts key access (process not
// elevated).
func TestKeysOnly(t *testing.T) {
	const (
		hello  = "windows://hello"
		winKey = `\\?\hid#vid_1050&pid_0407&mi_01#7&2a5b1c3&0&0000#{4d1e55b2-f16f-11cf-88cb-001111000030}`
		linKey = "/dev/hidraw3"
		vkey   = "vkey:0"
	)
	cases := []struct {
		name       string
		paths      []string
		restricted bool
		want       []string
		err        string // "" none; else ErrNotElevated with this in the message
	}{
		{"nothing, elevated", nil, false, nil, ""},
		{"nothing, not elevated", nil, true, nil, "no security key is visible"},
		{"only hello, elevated", []string{hello}, false, nil, ""},
		{"only hello, not elevated", []string{hello}, true, nil, "only Windows Hello"},
		{"hello upper case, not elevated", []string{"WINDOWS://HELLO"}, true, nil, "only Windows Hello"},
		{"key and hello, elevated", []string{winKey, hello}, false, []string{winKey}, ""},
		{"key and hello, not elevated", []string{winKey, hello}, true, []string{winKey}, ""},
		{"hidraw key", []string{linKey}, false, []string{linKey}, ""},
		{"virtual key beside hello, not elevated", []string{hello, vkey}, true, []string{vkey}, ""},
		{"a path merely containing windows://", []string{"vkey:windows://x"}, true, []string{"vkey:windows://x"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var devs []DeviceInfo
			for _, p := range tc.paths {
				devs = append(devs, DeviceInfo{Path: p})
			}
			got, err := keysOnly(devs, tc.restricted)
			if tc.err != "" {
				if !errors.Is(err, ErrNotElevated) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("keysOnly = %v, %v; want ErrNotElevated with %q", got, err, tc.err)
				}
				if CodeOf(err) != CodeNotElevated {
					t.Fatalf("code %v, want %v", CodeOf(err), CodeNotElevated)
				}
				return
			}
			if err != nil {
				t.Fatalf("keysOnly: %v", err)
			}
			var paths []string
			for _, d := range got {
				paths = append(paths, d.Path)
			}
			if !slices.Equal(paths, tc.want) {
				t.Fatalf("kept %q, want %q", paths, tc.want)
			}
		})
	}
}
