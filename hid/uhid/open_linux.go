//go:build linux

package uhid

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Path is the uhid character device (misc 10:239).
const Path = "/dev/uhid"

// Open opens /dev/uhid for reading and writing. It needs the uhid kernel
// module (modprobe uhid) and, usually, root.
func Open() (*os.File, error) {
	f, err := os.OpenFile(Path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("uhid: %s does not exist (load the uhid kernel module: modprobe uhid): %w", Path, err)
		}
		return nil, fmt.Errorf("uhid: %w", err)
	}
	return f, nil
}

// HidrawFor returns the /dev/hidrawN node of the HID device whose HID_UNIQ
// is uniq, or "" when there is none (yet): the node appears shortly after
// UHID_START, once the kernel's HID driver has bound the device.
func HidrawFor(uniq string) (string, error) {
	if uniq == "" {
		return "", fmt.Errorf("uhid: HidrawFor needs a non-empty uniq")
	}
	return hidrawIn("/sys/class/hidraw", uniq)
}

// hidrawIn looks through a /sys/class/hidraw-like directory.
func hidrawIn(class, uniq string) (string, error) {
	ents, err := os.ReadDir(class)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil // no hidraw device at all yet
		}
		return "", fmt.Errorf("uhid: %w", err)
	}
	for _, e := range ents {
		f, err := os.Open(filepath.Join(class, e.Name(), "device", "uevent"))
		if err != nil {
			continue // gone meanwhile
		}
		sc := bufio.NewScanner(f)
		found := false
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "HID_UNIQ="); ok && v == uniq {
				found = true
				break
			}
		}
		f.Close()
		if found {
			return "/dev/" + e.Name(), nil
		}
	}
	return "", nil
}
