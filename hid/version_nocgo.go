//go:build !cgo

package hid

// LibraryVersion reports the libfido2 this process runs with; built
// without cgo there is none.
func LibraryVersion() (version, path string) { return "", "" }
