// Package uhid exposes a virtual FIDO key as a real HID device through
// Linux's /dev/uhid, so that the kernel creates a /dev/hidrawN node for it
// and any FIDO client (libfido2 and its fido2-token, fido2-cred and
// fido2-assert tools, keyprep's own hid package, a browser) finds and uses it
// as it would a USB security key.
//
// The package is pure Go (standard library plus keyprep's hid interfaces) and
// builds with CGO_ENABLED=0. The event codec (struct uhid_event of
// include/uapi/linux/uhid.h: packed, little-endian, EventSize bytes per
// event) and the report loop are portable and tested against fake files;
// only Open and HidrawFor touch Linux and say "unsupported" elsewhere.
//
// Typical use, with the device-side CTAPHID framing of hid/ctaphid:
//
//	f, err := uhid.Open()         // /dev/uhid, needs the uhid module and root
//	dev := ctaphid.NewDevice(auth, ctaphid.Config{})
//	u := uhid.New(f, dev.Connect(), uhid.Options{Uniq: "keyprep-1"})
//	err = u.Serve(ctx)            // until ctx is cancelled
//
// The device is created with UHID_CREATE2 on bus USB (libfido2 1.12 ignores
// other buses when listing keys) with the standard CTAPHID report descriptor
// (usage page 0xF1D0, 64-byte input and output reports, no report IDs). A
// client's hidraw write arrives as UHID_OUTPUT with a leading report-ID byte
// 0, which is stripped; each 64-byte input report goes back as UHID_INPUT2.
// GET_REPORT and SET_REPORT are answered with EIO so that no requester waits
// for a timeout. See docs/ctap.md §8.
package uhid
