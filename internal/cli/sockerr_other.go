//go:build !windows

package cli

import "syscall"

// The errors a listen gives for an address in use, a port it may not
// take, and an address not of this machine (listenHint).
var (
	errAddrInUse    error = syscall.EADDRINUSE
	errAccess       error = syscall.EACCES
	errAddrNotAvail error = syscall.EADDRNOTAVAIL
)
