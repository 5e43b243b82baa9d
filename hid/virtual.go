package hid

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// ReportSize is the size of a full-speed FIDO HID report (CTAP 2.1 §11.2.4),
// without the leading report-ID byte.
const ReportSize = 64

// VirtualScheme is the path prefix that routes a device through libfido2's
// custom I/O hooks to an in-process virtual key ("vkey:NAME").
const VirtualScheme = "vkey:"

// ErrReadTimeout is returned by ReportConn.Read when no input report arrived
// within the timeout.
var ErrReadTimeout = errors.New("hid: read timeout")

// ReportConn is one open connection to a HID device, seen at the level of
// 64-byte reports. It is what a host's hidraw file descriptor is: output
// reports go to the device, input reports come back.
//
// Implementations must be safe for a Write concurrent with a blocked Read:
// libfido2's fido_dev_cancel writes CTAPHID_CANCEL from another goroutine
// while the operation's goroutine waits in read (docs/ctap.md §7.5).
type ReportConn interface {
	// Write delivers one output report of exactly ReportSize bytes (no report ID).
	Write(report []byte) error
	// Read waits up to timeout for one input report of ReportSize bytes.
	// A negative timeout means "as long as the device allows" (implementations
	// cap it so that a protocol bug fails instead of hanging). On timeout it
	// returns ErrReadTimeout.
	Read(timeout time.Duration) ([]byte, error)
	// Close ends the connection. It does not power the device off.
	Close() error
}

// VirtualProvider supplies in-process virtual keys. The CLI (or a test)
// registers one; hid itself never imports an authenticator implementation.
type VirtualProvider interface {
	// List returns the virtual keys currently "plugged in". Paths must carry
	// the VirtualScheme prefix.
	List() []DeviceInfo
	// Open connects to the virtual key NAME (the path without the scheme).
	Open(name string) (ReportConn, error)
}

var (
	virtualMu sync.RWMutex
	virtual   VirtualProvider
)

// RegisterVirtual installs the provider that serves "vkey:" paths, replacing
// any previous one. Passing nil removes it.
func RegisterVirtual(p VirtualProvider) {
	virtualMu.Lock()
	virtual = p
	virtualMu.Unlock()
}

func virtualProvider() VirtualProvider {
	virtualMu.RLock()
	defer virtualMu.RUnlock()
	return virtual
}

// IsVirtualPath reports whether path names an in-process virtual key.
func IsVirtualPath(path string) bool { return strings.HasPrefix(path, VirtualScheme) }

type virtualKey struct{}

// WithVirtual returns a context under which Enumerate and Open serve
// "vkey:" paths from p rather than from the registered provider: one
// invocation's virtual keys, so that several invocations in one process
// (the CLI's in-process tests) each see their own.
func WithVirtual(ctx context.Context, p VirtualProvider) context.Context {
	return context.WithValue(ctx, virtualKey{}, p)
}

// virtualFor is the provider for ctx: the one WithVirtual put there, else
// the registered one.
func virtualFor(ctx context.Context) VirtualProvider {
	if p, ok := ctx.Value(virtualKey{}).(VirtualProvider); ok && p != nil {
		return p
	}
	return virtualProvider()
}

// listVirtual returns the provider's keys, or nil.
func listVirtual(ctx context.Context) []DeviceInfo {
	if p := virtualFor(ctx); p != nil {
		return p.List()
	}
	return nil
}

// openVirtual opens a "vkey:NAME" path through the provider.
func openVirtual(ctx context.Context, path string) (ReportConn, error) {
	p := virtualFor(ctx)
	if p == nil {
		return nil, &Error{Op: "open", Code: CodeNotFound, Msg: "no virtual key provider registered (use --sim)"}
	}
	return p.Open(strings.TrimPrefix(path, VirtualScheme))
}
