package ctaphid

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid"
)

// Fake CTAP commands understood by fakeAuth.
const (
	fakeGetInfo byte = 0x04 // answers a 60-byte getInfo-sized reply
	fakeSlow    byte = 0x01 // reports UPNEEDED and waits for release or cancel
	fakeEcho    byte = 0x42 // answers 0x00 + the request
	fakePanic   byte = 0x43 // panics
)

// getInfoReply is 60 bytes, like a small real getInfo answer: one init and one
// continuation packet.
var getInfoReply = append([]byte{0x00}, bytes.Repeat([]byte{0xA5}, 59)...)

type fakeAuth struct {
	winks     atomic.Int32
	calls     atomic.Int32
	cancelled atomic.Int32
	active    atomic.Int32 // concurrent HandleCBOR calls (must stay ≤ 1)
	release   chan struct{}
	started   chan struct{} // receives once per fakeSlow call, when it starts waiting
}

func newFakeAuth() *fakeAuth {
	return &fakeAuth{release: make(chan struct{}), started: make(chan struct{}, 16)}
}

func (f *fakeAuth) HandleCBOR(ctx context.Context, msg []byte, keepalive func(byte)) []byte {
	if f.active.Add(1) > 1 {
		panic("concurrent HandleCBOR")
	}
	defer f.active.Add(-1)
	f.calls.Add(1)
	switch msg[0] {
	case fakeGetInfo:
		return getInfoReply
	case fakeEcho:
		return append([]byte{0x00}, msg...)
	case fakePanic:
		panic("fake authenticator panic")
	case fakeSlow:
		keepalive(StatusUPNeeded)
		select {
		case f.started <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			f.cancelled.Add(1)
			return []byte{0x2D}
		case <-f.release:
			return []byte{0x00, 0xA0}
		}
	}
	return []byte{0x01} // CTAP1_ERR_INVALID_COMMAND
}

func (f *fakeAuth) Wink() { f.winks.Add(1) }

// host is a minimal CTAPHID client over one connection.
type host struct {
	t testing.TB
	c hid.ReportConn
}

func newDev(t testing.TB, cfg Config) (*Device, *fakeAuth, *host) {
	t.Helper()
	a := newFakeAuth()
	d := NewDevice(a, cfg)
	t.Cleanup(func() { d.Close() })
	return d, a, &host{t: t, c: d.Connect()}
}

// report builds a 64-byte report: CID then the given bytes, zero padded.
func report(cid uint32, b ...byte) []byte {
	r := make([]byte, hid.ReportSize)
	binary.BigEndian.PutUint32(r, cid)
	copy(r[4:], b)
	return r
}

func (h *host) raw(cid uint32, b ...byte) {
	h.t.Helper()
	if err := h.c.Write(report(cid, b...)); err != nil {
		h.t.Fatalf("write: %v", err)
	}
}

// send fragments one message the way a host does.
func (h *host) send(cid uint32, cmd byte, payload []byte) {
	h.t.Helper()
	h.raw(cid, append([]byte{cmd, byte(len(payload) >> 8), byte(len(payload))}, payload[:min(len(payload), InitDataSize)]...)...)
	payload = payload[min(len(payload), InitDataSize):]
	for seq := byte(0); len(payload) > 0; seq++ {
		n := min(len(payload), ContDataSize)
		h.raw(cid, append([]byte{seq}, payload[:n]...)...)
		payload = payload[n:]
	}
}

func (h *host) readRaw(timeout time.Duration) []byte {
	h.t.Helper()
	r, err := h.c.Read(timeout)
	if err != nil {
		h.t.Fatalf("read: %v", err)
	}
	if len(r) != hid.ReportSize {
		h.t.Fatalf("read %d bytes", len(r))
	}
	return r
}

// recv reads one whole message (keepalives included) and checks its CID.
func (h *host) recv(cid uint32) (byte, []byte) {
	h.t.Helper()
	r := h.readRaw(5 * time.Second)
	if got := binary.BigEndian.Uint32(r); got != cid {
		h.t.Fatalf("answer on CID %08x, want %08x (report % x)", got, cid, r[:8])
	}
	if r[4]&0x80 == 0 {
		h.t.Fatalf("expected an init packet, got % x", r[:8])
	}
	cmd := r[4]
	n := int(binary.BigEndian.Uint16(r[5:7]))
	msg := append([]byte(nil), r[7:7+min(n, InitDataSize)]...)
	for seq := byte(0); len(msg) < n; seq++ {
		r = h.readRaw(5 * time.Second)
		if got := binary.BigEndian.Uint32(r); got != cid || r[4] != seq {
			h.t.Fatalf("continuation: CID %08x SEQ %d, want %08x SEQ %d", got, r[4], cid, seq)
		}
		msg = append(msg, r[5:5+min(n-len(msg), ContDataSize)]...)
	}
	return cmd, msg
}

// recvSkipKA is recv that skips KEEPALIVE messages.
func (h *host) recvSkipKA(cid uint32) (byte, []byte) {
	h.t.Helper()
	for {
		cmd, msg := h.recv(cid)
		if cmd != CmdKeepalive {
			return cmd, msg
		}
	}
}

func (h *host) expectError(cid uint32, code byte) {
	h.t.Helper()
	cmd, msg := h.recvSkipKA(cid)
	if cmd != CmdError || len(msg) != 1 || msg[0] != code {
		h.t.Fatalf("got cmd %#x payload % x, want ERROR %#x", cmd, msg, code)
	}
}

// expectSilence checks that no report arrives within d.
func (h *host) expectSilence(d time.Duration) {
	h.t.Helper()
	if r, err := h.c.Read(d); err == nil {
		h.t.Fatalf("unexpected report % x", r[:8])
	} else if !errors.Is(err, hid.ErrReadTimeout) {
		h.t.Fatalf("read: %v", err)
	}
}

var testNonce = []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}

// open runs INIT on the broadcast channel and returns the new CID.
func (h *host) open() uint32 {
	h.t.Helper()
	h.send(BroadcastCID, CmdInit, testNonce)
	cmd, msg := h.recv(BroadcastCID)
	if cmd != CmdInit || len(msg) != 17 || !bytes.Equal(msg[:8], testNonce) {
		h.t.Fatalf("INIT answer cmd %#x % x", cmd, msg)
	}
	return binary.BigEndian.Uint32(msg[8:12])
}

// waitGoroutines waits until the goroutine count drops to at most n.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d > %d\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
