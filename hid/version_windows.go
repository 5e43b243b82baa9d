//go:build cgo && windows

package hid

// LibraryVersion reports the libfido2 this process runs with. On Windows
// libfido2 is linked statically into keyprep.exe (make windows,
// docs/windows.md): there is no library file to name, so both are "" and
// the version it was built from is the one stamped at build time.
func LibraryVersion() (version, path string) { return "", "" }
