//go:build cgo

package cli

// libfido2Static: the Windows build links libfido2 in statically
// (docs/windows.md): the version it runs with is the one stamped at build
// time (Libfido2).
const libfido2Static = true
