package hid

import "strings"

// platformPrefix starts the paths of libfido2's Windows platform
// pseudo-device: with webauthn.dll present, fido_dev_info_manifest lists
// Windows Hello as "windows://hello" next to the HID keys, and operations on
// it go through the Windows WebAuthn API, which cannot set or change a PIN,
// configure a key or reset it. keyprep never lists or opens it.
const platformPrefix = "windows://"

// IsPlatformPath reports whether path names libfido2's Windows platform
// pseudo-device (windows://hello) rather than a security key.
func IsPlatformPath(path string) bool {
	return len(path) >= len(platformPrefix) && strings.EqualFold(path[:len(platformPrefix)], platformPrefix)
}

// keysOnly is Enumerate's last step. It drops platform pseudo-devices, and
// when key access is restricted (Windows, process not elevated: Windows
// lets only elevated processes open FIDO HID keys directly) and no key is
// left, it returns ErrNotElevated instead of an empty list, so that the
// operator learns what to do rather than that nothing is plugged in.
func keysOnly(devs []DeviceInfo, restricted bool) ([]DeviceInfo, error) {
	keys := make([]DeviceInfo, 0, len(devs))
	platform := false
	for _, d := range devs {
		if IsPlatformPath(d.Path) {
			platform = true
			continue
		}
		keys = append(keys, d)
	}
	if restricted && len(keys) == 0 {
		msg := "no security key is visible to a process without administrator rights"
		if platform {
			msg = "only Windows Hello (windows://hello) is visible, which cannot take a PIN; security keys are visible only to a process with administrator rights"
		}
		return nil, &Error{Op: "enumerate", Code: CodeNotElevated, Msg: msg}
	}
	return keys, nil
}
