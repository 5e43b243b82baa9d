//go:build cgo

package hid

// This file holds the Go side of libfido2's custom I/O hooks
// (fido_dev_set_io_functions, docs/ctap.md §7.1 and §7.5). The C
// trampolines with libfido2's exact signatures are in kp_fido.c; because this
// file has //export functions its preamble contains declarations only.

/*
#include <stdint.h>
#include <stddef.h>
*/
import "C"

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// vconn is one open connection to a virtual key, known to libfido2 only by
// its integer id (the I/O handle). It counts the reports that cross it.
type vconn struct {
	id   uintptr
	conn ReportConn

	out, in atomic.Uint64 // reports written to / read from the key

	mu       sync.Mutex
	done     <-chan struct{} // Done channel of the running operation's context
	graceEnd time.Time       // when reads give up after done (zero: not yet)
	dirty    bool            // a failed operation may have left reports behind

	closeOnce sync.Once
}

var (
	vconnMu   sync.Mutex
	vconns    = map[uintptr]*vconn{}
	vconnNext uintptr
)

// registerVconn gives conn an id (never 0: NULL from the open hook means
// failure to libfido2).
func registerVconn(conn ReportConn) *vconn {
	vconnMu.Lock()
	defer vconnMu.Unlock()
	vconnNext++
	if vconnNext == 0 {
		vconnNext = 1
	}
	vc := &vconn{id: vconnNext, conn: conn}
	vconns[vc.id] = vc
	return vc
}

func lookupVconn(id uintptr) *vconn {
	vconnMu.Lock()
	defer vconnMu.Unlock()
	return vconns[id]
}

// release unregisters vc and closes its connection (idempotent).
func (vc *vconn) release() {
	vconnMu.Lock()
	delete(vconns, vc.id)
	vconnMu.Unlock()
	vc.closeOnce.Do(func() { _ = vc.conn.Close() })
}

func (vc *vconn) setDone(done <-chan struct{}) {
	vc.mu.Lock()
	vc.done = done
	vc.graceEnd = time.Time{}
	vc.mu.Unlock()
}

// abandonAt reports when reads must give up because the operation's context
// is done: cancelGrace after the first read that noticed it, across all the
// reads of the operation (libfido2 reads again after every keepalive).
// The zero time means the context is not done.
func (vc *vconn) abandonAt(now time.Time) time.Time {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.graceEnd.IsZero() && vc.done != nil {
		select {
		case <-vc.done:
			vc.graceEnd = now.Add(cancelGrace)
		default:
		}
	}
	return vc.graceEnd
}

func (vc *vconn) markDirty() {
	vc.mu.Lock()
	vc.dirty = true
	vc.mu.Unlock()
}

// drain drops input reports left over from an aborted operation (e.g. the
// key's late answer to a timed-out command) before the next command.
func (vc *vconn) drain() {
	vc.mu.Lock()
	dirty := vc.dirty
	vc.dirty = false
	vc.mu.Unlock()
	if !dirty {
		return
	}
	for i := 0; i < 1024; i++ {
		if _, err := vc.conn.Read(0); err != nil {
			return
		}
	}
}

// settle waits up to grace for the key to finish an aborted command,
// dropping input reports until a final CTAPHID frame (CBOR answer or ERROR)
// has gone by, and marks the connection for a drain before the next command.
func (vc *vconn) settle(grace time.Duration) {
	const (
		cmdCBOR  = 0x90
		cmdError = 0xbf
	)
	vc.markDirty()
	deadline := time.Now().Add(grace)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return
		}
		report, err := vc.conn.Read(wait)
		if err != nil {
			return
		}
		if len(report) == ReportSize && (report[4] == cmdCBOR || report[4] == cmdError) {
			return
		}
	}
}

// ioPath is the string handed to fido_dev_open for a virtual key: the user's
// path plus "#<id>", which the open hook turns back into the handle.
func ioPath(path string, id uintptr) string {
	return path + "#" + strconv.FormatUint(uint64(id), 10)
}

func parseIOPath(p string) (uintptr, bool) {
	i := strings.LastIndexByte(p, '#')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(p[i+1:], 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return uintptr(n), true
}

//export kpGoIOOpen
func kpGoIOOpen(path *C.char) (h C.uintptr_t) {
	defer func() {
		if recover() != nil {
			h = 0
		}
	}()
	id, ok := parseIOPath(C.GoString(path))
	if !ok || lookupVconn(id) == nil {
		return 0
	}
	return C.uintptr_t(id)
}

//export kpGoIOClose
func kpGoIOClose(h C.uintptr_t) {
	defer func() { _ = recover() }()
	if vc := lookupVconn(uintptr(h)); vc != nil {
		vc.release()
	}
}

//export kpGoIOWrite
func kpGoIOWrite(h C.uintptr_t, buf *C.uchar, n C.size_t) (ret C.int) {
	defer func() {
		if recover() != nil {
			ret = -1
		}
	}()
	vc := lookupVconn(uintptr(h))
	if vc == nil || buf == nil || n != ReportSize+1 {
		return -1
	}
	// Byte 0 is the report ID (always 0 for FIDO HID); copy the 64-byte report.
	src := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	report := make([]byte, ReportSize)
	copy(report, src[1:])
	if err := vc.conn.Write(report); err != nil {
		return -1
	}
	vc.out.Add(1)
	return C.int(n)
}

//export kpGoIORead
func kpGoIORead(h C.uintptr_t, buf *C.uchar, n C.size_t, ms C.int) (ret C.int) {
	defer func() {
		if recover() != nil {
			ret = -1
		}
	}()
	vc := lookupVconn(uintptr(h))
	if vc == nil || buf == nil || n < ReportSize {
		return -1
	}
	budget := maxVirtualWait
	if ms >= 0 {
		budget = time.Duration(ms) * time.Millisecond
	}
	report, err := vc.read(budget)
	if err != nil || len(report) != ReportSize {
		return -1
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(buf)), ReportSize), report)
	vc.in.Add(1)
	return ReportSize
}

// readSlice bounds a single ReportConn.Read so that the running operation's
// context is noticed promptly even if the key never answers.
const readSlice = 50 * time.Millisecond

// read waits up to budget for one report, honouring the operation context:
// once it is done, read waits at most cancelGrace more (for the key's answer
// to CTAPHID_CANCEL) and then gives up.
func (vc *vconn) read(budget time.Duration) ([]byte, error) {
	deadline := time.Now().Add(budget)
	for {
		now := time.Now()
		wait := deadline.Sub(now)
		if wait < 0 {
			wait = 0
		}
		if graceEnd := vc.abandonAt(now); !graceEnd.IsZero() {
			if now.After(graceEnd) {
				return nil, ErrReadTimeout
			}
			wait = min(wait, graceEnd.Sub(now))
		}
		last := wait <= readSlice
		report, err := vc.conn.Read(min(wait, readSlice))
		if err == nil {
			return report, nil
		}
		if !errors.Is(err, ErrReadTimeout) || last {
			return nil, err
		}
	}
}
