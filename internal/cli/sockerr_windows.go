package cli

import "golang.org/x/sys/windows"

// The errors a listen gives for an address in use, a port it may not
// take, and an address not of this machine (listenHint): Winsock's
// numbers (WSAEADDRINUSE 10048, WSAEACCES 10013, WSAEADDRNOTAVAIL 10049;
// https://learn.microsoft.com/en-us/windows/win32/winsock/windows-sockets-error-codes-2).
var (
	errAddrInUse    error = windows.WSAEADDRINUSE
	errAccess       error = windows.WSAEACCES
	errAddrNotAvail error = windows.WSAEADDRNOTAVAIL
)
