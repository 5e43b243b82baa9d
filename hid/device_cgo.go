//go:build cgo

package hid

/*
#cgo !windows pkg-config: libfido2
#cgo windows LDFLAGS: -lfido2 -lcbor -lcrypto -l:libz.a -lws2_32 -lwsock32 -lbcrypt -lsetupapi -lhid -lgdi32 -lcrypt32 -l:libssp.a
#include "kp_fido.h"
*/
import "C"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Device is an open session with one key. It stays open across operations
// (one CTAPHID_INIT + getInfo per Open) until Close.
//
// Operations on one Device are serialised; Cancel, Path, ReportStats and the
// cheap capability getters may be called from any goroutine at any time.
type Device struct {
	path   string
	serial string
	opts   options
	flags  C.int

	opMu sync.Mutex   // serialises operations and Close
	mu   sync.RWMutex // guards dev against Close for Cancel and getters
	dev  *C.fido_dev_t
	vio  *vconn // nil unless the device is a virtual key

	inFlight atomic.Bool
}

// Enumerate lists the FIDO HID keys attached to the host
// (fido_dev_info_manifest, at most 64) followed by the virtual keys of the
// VirtualProvider (the one WithVirtual put in ctx, else the registered one).
// Windows Hello (windows://hello) is never listed. On Windows, a process
// without administrator rights that sees no key gets ErrNotElevated.
func Enumerate(ctx context.Context) ([]DeviceInfo, error) {
	devs, err := manifest(ctx)
	if err != nil {
		return nil, err
	}
	return keysOnly(append(devs, listVirtual(ctx)...), keyAccessRestricted())
}

// manifest is libfido2's list of devices as it is: HID keys and, on
// Windows with webauthn.dll, windows://hello.
func manifest(ctx context.Context) ([]DeviceInfo, error) {
	const op = "enumerate"
	if err := ctxErr(ctx, op); err != nil {
		return nil, err
	}
	const max = 64
	di := C.fido_dev_info_new(max)
	if di == nil {
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "fido_dev_info_new failed"}
	}
	defer C.fido_dev_info_free(&di, max)
	var n C.size_t
	if rc := C.kp_manifest(di, max, &n, C.FIDO_DISABLE_U2F_FALLBACK); rc != C.FIDO_OK {
		return nil, fidoError(op, rc)
	}
	out := make([]DeviceInfo, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		e := C.fido_dev_info_ptr(di, i)
		out = append(out, DeviceInfo{
			Path:         goString(C.fido_dev_info_path(e)),
			VendorID:     uint16(C.fido_dev_info_vendor(e)),
			ProductID:    uint16(C.fido_dev_info_product(e)),
			Manufacturer: goString(C.fido_dev_info_manufacturer_string(e)),
			Product:      goString(C.fido_dev_info_product_string(e)),
		})
		out[len(out)-1].Serial = hidrawSerial(out[len(out)-1].Path)
	}
	return out, nil
}

// Open opens the key at path (a hidraw path from Enumerate, or "vkey:NAME"
// for a registered virtual key) and keeps the session open until Close.
//
// fido_dev_open performs CTAPHID_INIT and authenticatorGetInfo; with
// FIDO_DISABLE_U2F_FALLBACK in effect a key whose getInfo fails is an error
// rather than a silent U2F device. Open is bounded by the ctx deadline and
// the (non-touch) operation timeout, DefaultTimeout unless WithTimeout says
// otherwise.
func Open(ctx context.Context, path string, opts ...Option) (*Device, error) {
	const op = "open"
	if err := ctxErr(ctx, op); err != nil {
		return nil, err
	}
	if IsPlatformPath(path) {
		return nil, &Error{Op: op, Code: CodeNotFound, Msg: path + " is Windows Hello (webauthn.dll), not a security key: it cannot take a PIN"}
	}
	d := &Device{path: path, opts: buildOptions(opts), serial: serialOf(ctx, path)}
	d.flags = C.FIDO_DISABLE_U2F_FALLBACK
	if d.opts.debug {
		d.flags |= C.FIDO_DEBUG
	}
	openPath := path
	if IsVirtualPath(path) {
		conn, err := openVirtual(ctx, path)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, err
			}
			return nil, &Error{Op: op, Code: CodeNotFound, Msg: err.Error()}
		}
		d.vio = registerVconn(conn)
		openPath = ioPath(path, d.vio.id)
	}
	d.dev = C.fido_dev_new()
	if d.dev == nil {
		if d.vio != nil {
			d.vio.release()
		}
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "fido_dev_new failed"}
	}
	cpath := C.CString(openPath)
	defer C.free(unsafe.Pointer(cpath))
	vkey := C.int(0)
	if d.vio != nil {
		vkey = 1
	}
	// No fido_dev_cancel during fido_dev_open (the handle is not usable
	// yet): the open is bounded by the timeout, and a virtual key's reads
	// also end when ctx is done.
	err := d.run(ctx, op, d.opts.timeout, false, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
		return C.kp_open(dev, cpath, flags, ms, vkey)
	})
	if err != nil {
		C.fido_dev_free(&d.dev)
		if d.vio != nil {
			d.vio.release() // libfido2 may or may not have called the close hook
		}
		return nil, err
	}
	return d, nil
}

// Path returns the path the device was opened with.
func (d *Device) Path() string { return d.path }

// Serial returns the key's USB serial number string as it was when the
// device was opened (see DeviceInfo.Serial), "" when it reports none.
func (d *Device) Serial() string { return d.serial }

// Close cancels a running operation, waits for it to end, and closes the
// session. It is safe to call more than once.
func (d *Device) Close() error {
	if d.inFlight.Load() {
		d.Cancel()
	}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dev == nil {
		return nil
	}
	rc := C.kp_close(d.dev, d.flags)
	C.fido_dev_free(&d.dev)
	d.dev = nil
	if d.vio != nil {
		d.vio.release()
	}
	if rc != C.FIDO_OK {
		return fidoError("close", rc)
	}
	return nil
}

// Cancel asks the key to abort the running operation (fido_dev_cancel sends
// CTAPHID_CANCEL). The operation then fails with an error matching
// ErrCancelled. It is safe from any goroutine and a no-op on a closed device.
func (d *Device) Cancel() {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.dev != nil {
		C.kp_cancel(d.dev, d.flags)
	}
}

// abort cancels the key's pending command between operations (Selection's
// own timeout) and consumes a virtual key's answer.
func (d *Device) abort() {
	d.opMu.Lock()
	defer d.opMu.Unlock()
	if d.dev == nil {
		return
	}
	C.kp_cancel(d.dev, d.flags)
	if d.vio != nil {
		d.vio.settle(cancelGrace)
	}
}

// ReportStats returns how many 64-byte HID reports went out to and came in
// from the key through keyprep's I/O hooks since Open. Only virtual keys use
// the hooks; for hidraw devices both counts stay 0.
func (d *Device) ReportStats() (out, in uint64) {
	if d.vio == nil {
		return 0, 0
	}
	return d.vio.out.Load(), d.vio.in.Load()
}

// boolGetter reads a capability libfido2 derived from the getInfo it sent
// during Open. The answer reflects the key's state at Open time.
func (d *Device) boolGetter(f func(*C.fido_dev_t) C.bool) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.dev == nil {
		return false
	}
	return bool(f(d.dev))
}

// IsFIDO2 reports whether the key speaks CTAP2 (always true for an open
// Device: keyprep disables libfido2's U2F fallback).
func (d *Device) IsFIDO2() bool {
	return d.boolGetter(func(p *C.fido_dev_t) C.bool { return C.fido_dev_is_fido2(p) })
}

// HasPIN reports whether a PIN was set when the device was opened
// (getInfo option clientPin=true). It is not refreshed by SetPIN; reopen or
// call Info for the current state.
func (d *Device) HasPIN() bool {
	return d.boolGetter(func(p *C.fido_dev_t) C.bool { return C.fido_dev_has_pin(p) })
}

// SupportsPIN reports whether the key supports a PIN (option clientPin present).
func (d *Device) SupportsPIN() bool {
	return d.boolGetter(func(p *C.fido_dev_t) C.bool { return C.fido_dev_supports_pin(p) })
}

// HasUV reports whether built-in user verification was configured at Open time.
func (d *Device) HasUV() bool {
	return d.boolGetter(func(p *C.fido_dev_t) C.bool { return C.fido_dev_has_uv(p) })
}

// SupportsUV reports whether the key has built-in user verification (option uv present).
func (d *Device) SupportsUV() bool {
	return d.boolGetter(func(p *C.fido_dev_t) C.bool { return C.fido_dev_supports_uv(p) })
}

// SupportsCredMan reports whether the key supports credential management.
func (d *Device) SupportsCredMan() bool {
	return d.boolGetter(func(p *C.fido_dev_t) C.bool { return C.fido_dev_supports_credman(p) })
}

// SupportsCredProtect reports whether the key supports the credProtect extension.
func (d *Device) SupportsCredProtect() bool {
	return d.boolGetter(func(p *C.fido_dev_t) C.bool { return C.fido_dev_supports_cred_prot(p) })
}

// SupportsPermissions reports whether the key supports pinUvAuthToken
// permissions (CTAP 2.1).
func (d *Device) SupportsPermissions() bool {
	return d.boolGetter(func(p *C.fido_dev_t) C.bool { return C.fido_dev_supports_permissions(p) })
}

// CTAPHIDInfo returns the CTAPHID_INIT answer of the key.
func (d *Device) CTAPHIDInfo() CTAPHIDInfo {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.dev == nil {
		return CTAPHIDInfo{}
	}
	return CTAPHIDInfo{
		Protocol:     uint8(C.fido_dev_protocol(d.dev)),
		Major:        uint8(C.fido_dev_major(d.dev)),
		Minor:        uint8(C.fido_dev_minor(d.dev)),
		Build:        uint8(C.fido_dev_build(d.dev)),
		Capabilities: uint8(C.fido_dev_flags(d.dev)),
	}
}

// opFunc performs one libfido2 operation as a single C call (kp_*).
type opFunc func(dev *C.fido_dev_t, flags, ms C.int) C.int

// do runs one operation: it serialises it, derives the timeout from the
// options and ctx, watches ctx to fido_dev_cancel the key, and maps the
// libfido2 result to an *Error.
func (d *Device) do(ctx context.Context, op string, touch bool, f opFunc) error {
	timeout := d.opts.timeout
	if touch {
		timeout = d.opts.touchTimeout
	}
	return d.run(ctx, op, timeout, true, f)
}

// run is do with an explicit timeout; cancelable says whether ctx may
// fido_dev_cancel the key while f runs.
func (d *Device) run(ctx context.Context, op string, timeout time.Duration, cancelable bool, f opFunc) error {
	if ctx == nil {
		ctx = context.Background()
	}
	d.opMu.Lock()
	defer d.opMu.Unlock()
	if d.dev == nil {
		return &Error{Op: op, Code: CodeInvalidArgument, Msg: "device is closed"}
	}
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		if r := time.Until(dl); r < timeout {
			timeout = r
		}
	}
	ms := int((timeout + time.Millisecond - 1) / time.Millisecond)
	if ms < 1 {
		ms = 1
	}
	if d.vio != nil {
		d.vio.drain()
		d.vio.setDone(ctx.Done())
	}
	dev := d.dev
	stop := func() {}
	if cancelable {
		stop = d.watch(ctx, dev)
	}
	d.inFlight.Store(true)
	start := time.Now()
	rc := f(dev, d.flags, C.int(ms))
	elapsed := time.Since(start)
	d.inFlight.Store(false)
	stop()
	if d.vio != nil {
		d.vio.setDone(nil)
	}
	if rc == C.FIDO_OK {
		return nil
	}
	return d.mapError(ctx, op, rc, elapsed, timeout)
}

// watch starts a goroutine that cancels the key when ctx is done. The
// returned stop waits for that goroutine, so dev outlives it.
func (d *Device) watch(ctx context.Context, dev *C.fido_dev_t) (stop func()) {
	done := ctx.Done()
	if done == nil {
		return func() {}
	}
	quit := make(chan struct{})
	finished := make(chan struct{})
	flags := d.flags
	go func() {
		defer close(finished)
		select {
		case <-done:
			C.kp_cancel(dev, flags)
		case <-quit:
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

// mapError turns a libfido2 failure into an *Error. libfido2 has no timeout
// error: an expired timeout shows as FIDO_ERR_RX, and a cancel as
// FIDO_ERR_KEEPALIVE_CANCEL (or FIDO_ERR_RX); these are rewritten to
// CodeDeadline / CodeCancelled when the context or the timeout explains them.
func (d *Device) mapError(ctx context.Context, op string, rc C.int, elapsed, timeout time.Duration) error {
	code := Code(rc)
	lib := fidoStrerr(rc)
	abortish := code == CodeRX || code == CodeTX || code == CodeKeepaliveCancel
	var e *Error
	switch {
	case abortish && errors.Is(ctx.Err(), context.Canceled):
		e = &Error{Op: op, Code: CodeCancelled, Msg: "cancelled (libfido2: " + lib + ")"}
	case abortish && errors.Is(ctx.Err(), context.DeadlineExceeded):
		e = &Error{Op: op, Code: CodeDeadline, Msg: "context deadline exceeded (libfido2: " + lib + ")"}
	case code == CodeRX && elapsed+elapsed/16+2*time.Millisecond >= timeout:
		e = &Error{Op: op, Code: CodeDeadline, Msg: fmt.Sprintf("no answer from the key within %v (libfido2: %s)", timeout, lib)}
	default:
		e = &Error{Op: op, Code: code, Msg: lib}
	}
	if code == CodeRX || code == CodeTX {
		// The key may still be working on the command, and libfido2 did not
		// read its answer: tell it to stop (if the context watcher has not),
		// and consume the answer so the next command starts clean.
		if e.Code != CodeCancelled && d.dev != nil {
			C.kp_cancel(d.dev, d.flags)
		}
		if d.vio != nil {
			d.vio.settle(cancelGrace)
		}
	}
	return e
}

func ctxErr(ctx context.Context, op string) error {
	if ctx == nil {
		return nil
	}
	switch err := ctx.Err(); {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Op: op, Code: CodeDeadline, Msg: err.Error()}
	default:
		return &Error{Op: op, Code: CodeCancelled, Msg: err.Error()}
	}
}

func fidoStrerr(rc C.int) string { return C.GoString(C.fido_strerr(rc)) }

func fidoError(op string, rc C.int) error {
	return &Error{Op: op, Code: Code(rc), Msg: fidoStrerr(rc)}
}

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

func goBytes(p *C.uchar, n C.size_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// cBytes returns a pointer to b for a C call that copies it, or nil.
func cBytes(b []byte) *C.uchar {
	if len(b) == 0 {
		return nil
	}
	return (*C.uchar)(unsafe.Pointer(&b[0]))
}

// cString returns a C copy of s, or NULL for "", and its free function.
func cString(s string) (*C.char, func()) {
	if s == "" {
		return nil, func() {}
	}
	p := C.CString(s)
	return p, func() { C.free(unsafe.Pointer(p)) }
}

// secret is a PIN copied into C memory; free wipes it (explicit_bzero,
// SecureZeroMemory on Windows).
type secret struct {
	p *C.char
	n C.size_t
}

// newSecret copies pin into NUL-terminated C memory. An empty pin yields a
// NULL pointer ("no PIN"). PINs containing NUL are rejected; the error never
// includes the PIN.
func newSecret(op string, pin []byte) (*secret, error) {
	if len(pin) == 0 {
		return &secret{}, nil
	}
	if bytes.IndexByte(pin, 0) >= 0 {
		return nil, &Error{Op: op, Code: CodeInvalidArgument, Msg: "PIN contains a NUL byte"}
	}
	n := C.size_t(len(pin))
	p := C.kp_secret_alloc(n)
	if p == nil {
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "out of memory"}
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(p)), len(pin)), pin)
	return &secret{p: p, n: n}, nil
}

func (s *secret) free() {
	if s != nil && s.p != nil {
		C.kp_secret_free(s.p, s.n)
		s.p = nil
	}
}

// withPIN runs f with pin in C memory and wipes it afterwards.
func withPIN(op string, pin []byte, f func(p *C.char) error) error {
	s, err := newSecret(op, pin)
	if err != nil {
		return err
	}
	defer s.free()
	return f(s.p)
}
