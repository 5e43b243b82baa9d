//go:build !windows || !cgo

package cli

// libfido2Static: elsewhere keyprep uses the shared libfido2 the dynamic
// linker loads (hid.LibraryVersion names it), or none (built without cgo).
const libfido2Static = false
