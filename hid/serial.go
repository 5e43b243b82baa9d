package hid

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// sysClassHidraw is where Linux lists hidraw nodes (a variable for tests).
var sysClassHidraw = "/sys/class/hidraw"

// maxSerialLength bounds a serial number string: a USB string descriptor
// holds at most 126 UTF-16 code units (USB 2.0 §9.6.7).
const maxSerialLength = 126

// hidrawSerial returns the USB serial number string of the key at a hidraw
// path ("/dev/hidrawN"): HID_UNIQ in /sys/class/hidraw/hidrawN/device/uevent,
// which the kernel's usbhid driver fills from the device's iSerialNumber
// string (and uhid from the creator's "uniq"). "" when the path is not a
// hidraw node, the file cannot be read, or the key reports none.
func hidrawSerial(path string) string {
	base := filepath.Base(path)
	if !strings.HasPrefix(base, "hidraw") || strings.ContainsAny(base, `/\`) {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(sysClassHidraw, base, "device", "uevent"))
	if err != nil {
		return ""
	}
	return ueventSerial(b)
}

// ueventSerial reads HID_UNIQ from a HID device's uevent file (KEY=VALUE
// lines). The value is returned cleaned: control characters dropped,
// surrounding space trimmed, at most maxSerialLength characters; "" when
// absent or empty.
func ueventSerial(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "HID_UNIQ=")
		if !ok {
			continue
		}
		return CleanSerial(v)
	}
	return ""
}

// CleanSerial makes a device-reported serial number string safe to show,
// store and put into a display name: invalid UTF-8 and control characters
// dropped, space trimmed, at most 126 characters.
func CleanSerial(s string) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > maxSerialLength {
		s = string(r[:maxSerialLength])
	}
	return s
}

// serialOf is the serial number of the key at path: a virtual key's as
// its provider lists it, a hidraw node's from sysfs.
func serialOf(ctx context.Context, path string) string {
	if IsVirtualPath(path) {
		for _, di := range listVirtual(ctx) {
			if di.Path == path {
				return CleanSerial(di.Serial)
			}
		}
		return ""
	}
	return hidrawSerial(path)
}
