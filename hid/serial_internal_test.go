package hid

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUeventSerial(t *testing.T) {
	cases := []struct{ in, want string }{
		{"DRIVER=hid-generic\nHID_ID=0003:00001050:00000407\nHID_NAME=Yubico YubiKey OTP+FIDO+CCID\nHID_PHYS=usb-0000:00:14.0-1/input1\nHID_UNIQ=\nMODALIAS=hid:b0003g0001v00001050p00000407\n", ""},
		{"HID_NAME=Token2\nHID_UNIQ=T2F2-0042\n", "T2F2-0042"},
		{"HID_UNIQ=  12\x01345 \n", "12345"},
		{"HID_UNIQ=\xff\xfeAB\n", "AB"},
		{"HID_NAME=x\n", ""},
		{"HID_UNIQ=" + strings.Repeat("9", 300) + "\n", strings.Repeat("9", maxSerialLength)},
	}
	for _, tc := range cases {
		if got := ueventSerial([]byte(tc.in)); got != tc.want {
			t.Errorf("ueventSerial(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHidrawSerial(t *testing.T) {
	root := t.TempDir()
	old := sysClassHidraw
	sysClassHidraw = root
	t.Cleanup(func() { sysClassHidraw = old })
	dir := filepath.Join(root, "hidraw3", "device")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "uevent"), []byte("HID_NAME=k\nHID_UNIQ=SN-77\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"/dev/hidraw3": "SN-77", "/dev/hidraw4": "", "/dev/ttyS0": "", "vkey:x": ""} {
		if got := hidrawSerial(path); got != want {
			t.Errorf("hidrawSerial(%q) = %q, want %q", path, got, want)
		}
	}
}

func FuzzUeventSerial(f *testing.F) {
	f.Add([]byte("HID_UNIQ=abc\n"))
	f.Add([]byte("HID_UNIQ=\x00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := ueventSerial(b)
		if len([]rune(s)) > maxSerialLength || strings.TrimSpace(s) != s || strings.ContainsAny(s, "\x00\n\r\t") {
			t.Fatalf("serial %q", s)
		}
	})
}
