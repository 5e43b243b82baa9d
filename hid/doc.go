// Package hid is keyprep's thin binding over libfido2 (Yubico, Debian
// libfido2 1.12), the only cgo package in keyprep.
//
// A Device is a session that stays open across operations on one key: one
// CTAPHID_INIT and getInfo per Open, reliable cancellation through
// fido_dev_cancel, and a timeout on every operation (libfido2 blocks forever
// by default). Every entry point is a single C call that runs fido_init first,
// because libfido2 keeps its init flags in thread-local storage
// (docs/ctap.md §7.4); U2F fallback is always disabled. PINs are copied
// into C memory that is wiped with explicit_bzero (SecureZeroMemory on
// Windows) and freed after use, and never appear in errors.
//
// On Linux the libfido2 flags come from pkg-config. On Windows (a static
// cross-build, make windows, docs/windows.md) the include and library
// directories come from CGO_CFLAGS/CGO_LDFLAGS and the static link line is
// in device_cgo.go.
//
// # Timeouts and cancellation
//
// Every blocking method takes a context. The operation's libfido2 timeout is
// the smaller of the context deadline and the device's timeout:
// DefaultTimeout (10 s) for commands without user interaction,
// DefaultTouchTimeout (30 s) for MakeCredential, GetAssertion, Reset and
// Selection; see WithTimeout and WithTouchTimeout. Cancelling the context
// sends CTAPHID_CANCEL (fido_dev_cancel) from a watcher goroutine. libfido2
// reports an expired timeout as FIDO_ERR_RX; the binding rewrites it to
// CodeDeadline (errors.Is(err, ErrTimeout)), and a cancelled context to
// CodeCancelled (errors.Is(err, ErrCancelled)). Device.Cancel aborts the
// running operation from any goroutine (FIDO_ERR_KEEPALIVE_CANCEL, also
// ErrCancelled).
//
// Operations on one Device are serialised. Concurrent sessions on one key
// are not supported by keys themselves (CHANNEL_BUSY, seen as FIDO_ERR_RX).
//
// # Virtual keys
//
// Paths of the form "vkey:NAME" are routed through libfido2's custom I/O hooks
// (fido_dev_set_io_functions) to an in-process virtual key registered with
// RegisterVirtual, so tests run real libfido2 — CTAPHID framing, CBOR parsing,
// PIN protocol crypto, error codes — against a software authenticator. The
// hooks count the reports they carry (Device.ReportStats).
//
// Built without cgo, the package compiles and every operation returns an
// error matching ErrNoLibfido2.
package hid
