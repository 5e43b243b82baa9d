//go:build windows

package hid

import "golang.org/x/sys/windows"

// keyAccessRestricted reports whether Windows keeps FIDO HID keys from this
// process: since Windows 10 1903 only elevated processes may open them
// directly (others go through webauthn.dll). docs/windows.md.
func keyAccessRestricted() bool {
	return !windows.GetCurrentProcessToken().IsElevated()
}
