//go:build linux

package uhid

import (
	"os"
	"path/filepath"
	"testing"
)

// HidrawFor's sysfs walk against a fake /sys/class/hidraw.
func TestHidrawIn(t *testing.T) {
	class := t.TempDir()
	for name, uevent := range map[string]string{
		"hidraw0": "DRIVER=hid-generic\nHID_ID=0003:0000046D:0000C52B\nHID_NAME=Some mouse\nHID_UNIQ=\n",
		"hidraw1": "DRIVER=hid-generic\nHID_ID=0003:00001209:00000001\nHID_NAME=keyprep virtual FIDO2 key\nHID_PHYS=keyprep/uhid\nHID_UNIQ=keyprep-42\nMODALIAS=hid:b0003g0001v00001209p00000001\n",
		"hidraw2": "HID_UNIQ=keyprep-420\n",
	} {
		dir := filepath.Join(class, name, "device")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "uevent"), []byte(uevent), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(class, "hidraw9"), 0o755); err != nil { // no uevent: skipped
		t.Fatal(err)
	}
	for uniq, want := range map[string]string{"keyprep-42": "/dev/hidraw1", "keyprep-420": "/dev/hidraw2", "keyprep-4": ""} {
		got, err := hidrawIn(class, uniq)
		if err != nil || got != want {
			t.Errorf("hidrawIn(%q) = %q, %v; want %q", uniq, got, err, want)
		}
	}
	if got, err := hidrawIn(filepath.Join(class, "missing"), "x"); got != "" || err != nil {
		t.Errorf("missing class dir: %q, %v", got, err)
	}
	if _, err := HidrawFor(""); err == nil {
		t.Error("HidrawFor(\"\"): no error")
	}
}

// Without the uhid module (as on the build machines) Open says how to get it.
func TestOpenWithoutUHID(t *testing.T) {
	if _, err := os.Stat(Path); err == nil {
		t.Skip(Path + " exists here")
	}
	if _, err := Open(); err == nil {
		t.Fatal("Open succeeded without " + Path)
	}
}
