package ctaphid

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid"
)

func TestInit(t *testing.T) {
	_, _, h := newDev(t, Config{VersionMajor: 5, VersionMinor: 4, VersionBuild: 3})
	h.send(BroadcastCID, CmdInit, testNonce)
	cmd, msg := h.recv(BroadcastCID)
	if cmd != CmdInit || len(msg) != 17 {
		t.Fatalf("cmd %#x len %d", cmd, len(msg))
	}
	if !bytes.Equal(msg[:8], testNonce) {
		t.Errorf("nonce % x", msg[:8])
	}
	cid := binary.BigEndian.Uint32(msg[8:12])
	if cid == 0 || cid == BroadcastCID {
		t.Errorf("CID %08x", cid)
	}
	if want := []byte{2, 5, 4, 3, 0x0D}; !bytes.Equal(msg[12:], want) {
		t.Errorf("version/caps % x, want % x", msg[12:], want)
	}
	// libfido2 expects exactly one report for INIT, with the rest zero.
	h.expectSilence(20 * time.Millisecond)
}

func TestUniqueCIDs(t *testing.T) {
	_, _, h := newDev(t, Config{})
	seen := map[uint32]bool{}
	for range 200 {
		cid := h.open()
		if seen[cid] || cid == 0 || cid == BroadcastCID {
			t.Fatalf("CID %08x reused or reserved", cid)
		}
		seen[cid] = true
	}
}

func TestInitWrongLength(t *testing.T) {
	for _, n := range []int{0, 1, 7, 9, 17, 57} {
		_, _, h := newDev(t, Config{})
		h.send(BroadcastCID, CmdInit, make([]byte, n))
		h.expectError(BroadcastCID, ErrorInvalidLen)
		cid := h.open()
		h.send(cid, CmdInit, make([]byte, n))
		h.expectError(cid, ErrorInvalidLen)
	}
}

// fido2-tests test_resync_and_ping, test_ping_abort.
func TestResync(t *testing.T) {
	_, _, h := newDev(t, Config{TransactionTimeout: 300 * time.Millisecond})
	cid := h.open()
	// Abort a half-sent ping with INIT on the same channel.
	h.raw(cid, CmdPing, 0x04, 0x00)
	h.raw(cid, 0x00)
	h.raw(cid, 0x01)
	nonce := []byte{8, 7, 6, 5, 4, 3, 2, 1}
	h.send(cid, CmdInit, nonce)
	cmd, msg := h.recv(cid)
	if cmd != CmdInit || len(msg) != 17 || !bytes.Equal(msg[:8], nonce) || binary.BigEndian.Uint32(msg[8:12]) != cid {
		t.Fatalf("resync answer %#x % x", cmd, msg)
	}
	// The aborted message must not time out later.
	h.expectSilence(400 * time.Millisecond)
	ping := make([]byte, 100)
	rand.Read(ping)
	h.send(cid, CmdPing, ping)
	if cmd, msg := h.recv(cid); cmd != CmdPing || !bytes.Equal(msg, ping) {
		t.Fatalf("ping after resync: %#x", cmd)
	}
	// INIT on a channel the device never allocated also works (fido2-tests
	// test_check_busy_interleaved relies on it).
	h.send(0x11223344, CmdInit, nonce)
	if cmd, msg := h.recv(0x11223344); cmd != CmdInit || binary.BigEndian.Uint32(msg[8:12]) != 0x11223344 {
		t.Fatalf("INIT on fresh CID: %#x % x", cmd, msg)
	}
}

// INIT during a CBOR command on the same channel cancels it and suppresses its
// answer; the channel is usable at once.
func TestResyncDuringCBOR(t *testing.T) {
	_, a, h := newDev(t, Config{KeepaliveInterval: -1})
	cid := h.open()
	h.send(cid, CmdCBOR, []byte{fakeSlow})
	<-a.started
	h.send(cid, CmdInit, testNonce)
	if cmd, _ := h.recv(cid); cmd != CmdInit {
		t.Fatalf("got %#x, want INIT", cmd)
	}
	h.send(cid, CmdCBOR, []byte{fakeGetInfo})
	cmd, msg := h.recv(cid)
	if cmd != CmdCBOR || !bytes.Equal(msg, getInfoReply) {
		t.Fatalf("got %#x % x", cmd, msg)
	}
	if a.cancelled.Load() != 1 {
		t.Fatalf("slow command not cancelled")
	}
	h.expectSilence(20 * time.Millisecond)
}

// fido2-tests test_ping, test_long_ping, plus packet boundaries.
func TestPing(t *testing.T) {
	_, _, h := newDev(t, Config{})
	cid := h.open()
	for _, n := range []int{0, 1, 56, 57, 58, 116, 117, 100, 1000, 7550, MaxMessageSize - 1, MaxMessageSize} {
		p := make([]byte, n)
		rand.Read(p)
		h.send(cid, CmdPing, p)
		cmd, msg := h.recv(cid)
		if cmd != CmdPing || !bytes.Equal(msg, p) {
			t.Fatalf("ping %d: cmd %#x, %d bytes back", n, cmd, len(msg))
		}
	}
	h.expectSilence(10 * time.Millisecond)
}

// Error cases from fido2-tests test_hid.py and CTAP 2.1 §11.2, each a
// sequence of raw packets (CID, bytes after the CID) and the ERROR expected
// on a CID.
func TestErrors(t *testing.T) {
	const other = 0x01020304
	type pkt struct {
		cid  uint32 // 1 means "the allocated channel"
		data []byte
	}
	const mine = 1
	cases := []struct {
		name    string
		pkts    []pkt
		errCID  uint32
		errCode byte
	}{
		{"oversize", []pkt{{mine, []byte{CmdPing, 0x1D, 0xBA}}}, mine, ErrorInvalidLen},
		{"oversize-max16", []pkt{{mine, []byte{CmdCBOR, 0xFF, 0xFF}}}, mine, ErrorInvalidLen},
		{"skip-seq", []pkt{{mine, []byte{CmdPing, 0x04, 0x90}}, {mine, []byte{0}}, {mine, []byte{1}}, {mine, []byte{3}}}, mine, ErrorInvalidSeq},
		{"first-seq-not-0", []pkt{{mine, []byte{CmdPing, 0x00, 0x50}}, {mine, []byte{1}}}, mine, ErrorInvalidSeq},
		{"not-cont", []pkt{{mine, []byte{CmdPing, 0x04, 0x00}}, {mine, []byte{0}}, {mine, []byte{1}}, {mine, []byte{CmdPing, 0x10, 0x00}}}, mine, ErrorInvalidSeq},
		{"cid0-init", []pkt{{0, []byte{CmdInit, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}}}, 0, ErrorInvalidChannel},
		{"cid0-ping", []pkt{{0, []byte{CmdPing, 0x00, 0x01, 1}}}, 0, ErrorInvalidChannel},
		{"broadcast-ping", []pkt{{BroadcastCID, []byte{CmdPing, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8}}}, BroadcastCID, ErrorInvalidChannel},
		{"broadcast-cbor", []pkt{{BroadcastCID, []byte{CmdCBOR, 0x00, 0x01, 4}}}, BroadcastCID, ErrorInvalidChannel},
		{"unknown-cmd", []pkt{{mine, []byte{0x80 | 0x66, 0, 0}}}, mine, ErrorInvalidCmd},
		{"msg-nmsg", []pkt{{mine, []byte{CmdMsg, 0, 7, 0, 3, 0, 0, 0, 0, 0}}}, mine, ErrorInvalidCmd},
		{"msg-empty", []pkt{{mine, []byte{CmdMsg, 0, 0}}}, mine, ErrorInvalidCmd},
		{"lock", []pkt{{mine, []byte{CmdLock, 0, 1, 5}}}, mine, ErrorInvalidCmd},
		{"vendor-first", []pkt{{mine, []byte{0xC0, 0, 0}}}, mine, ErrorInvalidCmd},
		{"vendor-last", []pkt{{mine, []byte{0xFF, 0, 1, 1}}}, mine, ErrorInvalidCmd},
		{"host-keepalive", []pkt{{mine, []byte{CmdKeepalive, 0, 1, 1}}}, mine, ErrorInvalidCmd},
		{"host-error", []pkt{{mine, []byte{CmdError, 0, 1, 1}}}, mine, ErrorInvalidCmd},
		{"cbor-empty", []pkt{{mine, []byte{CmdCBOR, 0, 0}}}, mine, ErrorInvalidLen},
		{"busy-assembling", []pkt{{mine, []byte{CmdPing, 0x04, 0x00}}, {other, []byte{CmdPing, 0x04, 0x00}}}, other, ErrorChannelBusy},
		{"busy-unknown-cmd", []pkt{{mine, []byte{CmdPing, 0x04, 0x00}}, {other, []byte{0xE6, 0, 0}}}, other, ErrorChannelBusy},
		{"busy-then-cid0", []pkt{{mine, []byte{CmdPing, 0x04, 0x00}}, {0, []byte{CmdPing, 0, 0}}}, 0, ErrorInvalidChannel},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, h := newDev(t, Config{TransactionTimeout: time.Minute})
			cid := h.open()
			fix := func(c uint32) uint32 {
				if c == mine {
					return cid
				}
				return c
			}
			for _, p := range tc.pkts {
				h.raw(fix(p.cid), p.data...)
			}
			h.expectError(fix(tc.errCID), tc.errCode)
			h.expectSilence(10 * time.Millisecond)
			// The device still works on the channel.
			h.send(cid, CmdInit, testNonce)
			if cmd, _ := h.recv(cid); cmd != CmdInit {
				t.Fatalf("INIT after error: %#x", cmd)
			}
			h.send(cid, CmdPing, []byte("ok"))
			if cmd, msg := h.recv(cid); cmd != CmdPing || string(msg) != "ok" {
				t.Fatalf("ping after error: %#x %q", cmd, msg)
			}
		})
	}
}

// Continuation packets with no message in progress are ignored
// (fido2-tests test_not_cont with check_timeouts), as is a continuation from a
// channel other than the one assembling.
func TestStrayContinuation(t *testing.T) {
	_, _, h := newDev(t, Config{})
	cid := h.open()
	h.raw(cid, 0x01, 0x10, 0x00)
	h.raw(cid, 0x00)
	h.raw(BroadcastCID, 0x00)
	h.raw(0, 0x00)
	h.expectSilence(30 * time.Millisecond)

	h.raw(cid, CmdPing, 0x00, 0x40) // 64 bytes: init + 1 continuation
	h.raw(0x55555555, 0x00, 0xEE)   // foreign continuation: ignored
	h.raw(cid, append([]byte{0x00}, bytes.Repeat([]byte{0xAB}, 59)...)...)
	cmd, msg := h.recv(cid)
	if cmd != CmdPing || len(msg) != 64 || msg[63] != 0xAB || msg[0] != 0 {
		t.Fatalf("ping: %#x % x", cmd, msg)
	}
}

// fido2-tests test_timeout and test_check_busy.
func TestMsgTimeout(t *testing.T) {
	const tt = 200 * time.Millisecond
	_, _, h := newDev(t, Config{TransactionTimeout: tt})
	cid := h.open()
	start := time.Now()
	h.raw(cid, CmdPing, 0x04, 0x00)
	h.raw(cid, 0x00)
	h.raw(cid, 0x01)
	h.raw(0x11223344, CmdPing, 0x04, 0x00)
	// CHANNEL_BUSY at once: it is queued before Write returns.
	if r, err := h.c.Read(0); err != nil || r[4] != CmdError || r[7] != ErrorChannelBusy || binary.BigEndian.Uint32(r) != 0x11223344 {
		t.Fatalf("no immediate CHANNEL_BUSY: %v", err)
	}
	h.expectError(cid, ErrorMsgTimeout)
	if el := time.Since(start); el < tt || el > tt+5*time.Second {
		t.Errorf("MSG_TIMEOUT after %v, want about %v", el, tt)
	}
	// The late continuation is ignored; the channel is free again.
	h.raw(cid, 0x02)
	h.expectSilence(20 * time.Millisecond)
	h.send(0x11223344, CmdPing, []byte{1, 2, 3})
	if cmd, _ := h.recv(0x11223344); cmd != CmdPing {
		t.Fatalf("ping after timeout: %#x", cmd)
	}
}

func TestDefaultTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("500 ms")
	}
	d, _, h := newDev(t, Config{})
	if d.Config().TransactionTimeout != 500*time.Millisecond {
		t.Fatalf("default %v", d.Config().TransactionTimeout)
	}
	cid := h.open()
	start := time.Now()
	h.raw(cid, CmdPing, 0x04, 0x00)
	h.expectError(cid, ErrorMsgTimeout)
	// fido2-tests: 400 ms < delay < 1000 ms. Timers never fire early; a
	// loaded machine may make them late, so only a gross delay fails.
	el := time.Since(start)
	if el < 400*time.Millisecond || el > 5*time.Second {
		t.Errorf("MSG_TIMEOUT after %v", el)
	} else if el > time.Second {
		t.Logf("MSG_TIMEOUT after %v (machine loaded?)", el)
	}
}

// fido2-tests test_check_busy_interleaved.
func TestBusyInterleaved(t *testing.T) {
	_, _, h := newDev(t, Config{})
	cid1, cid2 := uint32(0x11223344), uint32(0x01223344)
	for _, c := range []uint32{cid2, cid1} {
		h.send(c, CmdInit, testNonce)
		if cmd, _ := h.recv(c); cmd != CmdInit {
			t.Fatal("INIT")
		}
	}
	h.raw(cid1, CmdPing, 0x00, 0x63)
	h.raw(cid2, CmdPing, 0x00, 0x63)
	h.raw(cid2, 0x00)
	h.expectError(cid2, ErrorChannelBusy)
	h.raw(cid1, 0x00)
	cmd, msg := h.recv(cid1)
	if cmd != CmdPing || len(msg) != 0x63 {
		t.Fatalf("ping: %#x len %d", cmd, len(msg))
	}
	h.expectSilence(10 * time.Millisecond)
}

// fido2-tests test_ping_abort_from_different_cid: INIT from another channel
// is answered while a message is being assembled, which then still times out.
func TestInitWhileBusy(t *testing.T) {
	_, _, h := newDev(t, Config{TransactionTimeout: 300 * time.Millisecond})
	cid := h.open()
	h.raw(cid, CmdPing, 0x10, 0x00)
	h.raw(cid, 0x00)
	h.send(0x11223344, CmdInit, testNonce)
	if cmd, _ := h.recv(0x11223344); cmd != CmdInit {
		t.Fatalf("INIT: %#x", cmd)
	}
	h.send(BroadcastCID, CmdInit, testNonce)
	if cmd, _ := h.recv(BroadcastCID); cmd != CmdInit {
		t.Fatalf("broadcast INIT: %#x", cmd)
	}
	h.expectError(cid, ErrorMsgTimeout)
}

func TestBusyDuringCBOR(t *testing.T) {
	_, a, h := newDev(t, Config{KeepaliveInterval: -1})
	cid := h.open()
	other := h.open()
	h.send(cid, CmdCBOR, []byte{fakeSlow})
	<-a.started
	h.send(other, CmdPing, []byte{1})
	h.expectError(other, ErrorChannelBusy)
	h.send(cid, CmdPing, []byte{1}) // same channel, new command while processing
	h.expectError(cid, ErrorChannelBusy)
	h.raw(other, CmdCancel, 0, 0) // CANCEL on another channel: ignored
	h.expectSilence(20 * time.Millisecond)
	a.release <- struct{}{}
	if cmd, msg := h.recv(cid); cmd != CmdCBOR || !bytes.Equal(msg, []byte{0x00, 0xA0}) {
		t.Fatalf("got %#x % x", cmd, msg)
	}
	if a.cancelled.Load() != 0 {
		t.Fatal("cancelled")
	}
}

func TestCBOR(t *testing.T) {
	d, a, h := newDev(t, Config{})
	cid := h.open()
	h.send(cid, CmdCBOR, []byte{fakeGetInfo})
	cmd, msg := h.recv(cid)
	if cmd != CmdCBOR || !bytes.Equal(msg, getInfoReply) {
		t.Fatalf("getInfo: %#x % x", cmd, msg)
	}
	big := make([]byte, 3000)
	big[0] = fakeEcho
	rand.Read(big[1:])
	h.send(cid, CmdCBOR, big)
	cmd, msg = h.recv(cid)
	if cmd != CmdCBOR || msg[0] != 0 || !bytes.Equal(msg[1:], big) {
		t.Fatalf("echo: %#x %d bytes", cmd, len(msg))
	}
	// A request that makes the answer too long, and a panic, become 0x7F.
	big = make([]byte, MaxMessageSize)
	big[0] = fakeEcho
	h.send(cid, CmdCBOR, big)
	if cmd, msg = h.recv(cid); cmd != CmdCBOR || !bytes.Equal(msg, []byte{0x7F}) {
		t.Fatalf("oversize answer: %#x % x", cmd, msg)
	}
	h.send(cid, CmdCBOR, []byte{fakePanic})
	if cmd, msg = h.recv(cid); cmd != CmdCBOR || !bytes.Equal(msg, []byte{0x7F}) {
		t.Fatalf("panic: %#x % x", cmd, msg)
	}
	if s := d.Stats(); s.ReportsIn == 0 || s.ReportsOut == 0 || a.calls.Load() != 4 {
		t.Fatalf("stats %+v calls %d", s, a.calls.Load())
	}
}

func TestKeepalive(t *testing.T) {
	const ka = 10 * time.Millisecond
	_, a, h := newDev(t, Config{KeepaliveInterval: ka})
	cid := h.open()
	start := time.Now()
	h.send(cid, CmdCBOR, []byte{fakeSlow})
	<-a.started
	var got int
	for got < 3 {
		cmd, msg := h.recv(cid)
		if cmd != CmdKeepalive || !bytes.Equal(msg, []byte{StatusUPNeeded}) {
			t.Fatalf("got %#x % x, want KEEPALIVE UPNEEDED", cmd, msg)
		}
		got++
	}
	if el := time.Since(start); el < 3*ka {
		t.Errorf("3 keepalives in %v, interval %v", el, ka)
	}
	a.release <- struct{}{}
	if cmd, msg := h.recvSkipKA(cid); cmd != CmdCBOR || msg[0] != 0 {
		t.Fatalf("answer %#x % x", cmd, msg)
	}
	h.expectSilence(5 * ka) // keepalives stop with the answer
}

// Without a keepalive callback the status is PROCESSING.
func TestKeepaliveProcessing(t *testing.T) {
	block := make(chan struct{})
	d := NewDevice(authFunc(func(msg []byte, ka func(byte)) []byte {
		<-block
		return []byte{0}
	}), Config{KeepaliveInterval: 5 * time.Millisecond})
	defer d.Close()
	h := &host{t: t, c: d.Connect()}
	cid := h.open()
	h.send(cid, CmdCBOR, []byte{4})
	cmd, msg := h.recv(cid)
	if cmd != CmdKeepalive || !bytes.Equal(msg, []byte{StatusProcessing}) {
		t.Fatalf("got %#x % x, want KEEPALIVE PROCESSING", cmd, msg)
	}
	close(block)
	if cmd, _ := h.recvSkipKA(cid); cmd != CmdCBOR {
		t.Fatalf("answer %#x", cmd)
	}
}

type authFunc func(msg []byte, keepalive func(byte)) []byte

func (f authFunc) HandleCBOR(_ context.Context, msg []byte, ka func(byte)) []byte { return f(msg, ka) }
func (f authFunc) Wink()                                                          {}

// CANCEL → the authenticator sees ctx cancelled, 0x2D arrives, CANCEL itself
// gets no answer. The CANCEL is written while another goroutine is blocked in
// Read on the same connection, as libfido2's fido_dev_cancel does.
func TestCancel(t *testing.T) {
	_, a, h := newDev(t, Config{KeepaliveInterval: 20 * time.Millisecond})
	cid := h.open()
	h.send(cid, CmdCBOR, []byte{fakeSlow})
	<-a.started
	type res struct {
		cmd byte
		msg []byte
	}
	done := make(chan res, 1)
	go func() {
		for {
			r, err := h.c.Read(2 * time.Second)
			if err != nil {
				done <- res{}
				return
			}
			if r[4] != CmdKeepalive {
				n := int(binary.BigEndian.Uint16(r[5:7]))
				done <- res{r[4], append([]byte(nil), r[7:7+n]...)}
				return
			}
		}
	}()
	time.Sleep(30 * time.Millisecond)
	if err := h.c.Write(report(cid, CmdCancel, 0, 0)); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.cmd != CmdCBOR || !bytes.Equal(r.msg, []byte{0x2D}) {
		t.Fatalf("got %#x % x, want CBOR 2d", r.cmd, r.msg)
	}
	if a.cancelled.Load() != 1 {
		t.Fatal("authenticator did not see the cancellation")
	}
	h.expectSilence(50 * time.Millisecond)
	// CANCEL with nothing running, and again after: ignored.
	h.raw(cid, CmdCancel, 0, 0)
	h.expectSilence(10 * time.Millisecond)
}

// CANCEL in the middle of a message being assembled drops it silently.
func TestCancelAssembly(t *testing.T) {
	_, _, h := newDev(t, Config{TransactionTimeout: 100 * time.Millisecond})
	cid := h.open()
	h.raw(cid, CmdPing, 0x01, 0x00)
	h.raw(cid, CmdCancel, 0, 0)
	h.expectSilence(300 * time.Millisecond)
	h.raw(cid, 0x00)
	h.expectSilence(10 * time.Millisecond)
}

func TestWink(t *testing.T) {
	_, a, h := newDev(t, Config{})
	cid := h.open()
	h.send(cid, CmdWink, nil)
	if cmd, msg := h.recv(cid); cmd != CmdWink || len(msg) != 0 {
		t.Fatalf("got %#x % x", cmd, msg)
	}
	if a.winks.Load() != 1 {
		t.Fatalf("winks %d", a.winks.Load())
	}
}

func TestTwoConnections(t *testing.T) {
	d, _, h1 := newDev(t, Config{})
	h2 := &host{t: t, c: d.Connect()}
	cid := h1.open()
	// h2 saw h1's INIT answer too.
	if cmd, _ := h2.recv(BroadcastCID); cmd != CmdInit {
		t.Fatal("second connection missed INIT answer")
	}
	h2.send(cid, CmdPing, bytes.Repeat([]byte{7}, 200))
	for _, h := range []*host{h1, h2} {
		if cmd, msg := h.recv(cid); cmd != CmdPing || len(msg) != 200 {
			t.Fatalf("got %#x %d", cmd, len(msg))
		}
	}
	// Closing one connection leaves the other working.
	h1.c.Close()
	if _, err := h1.c.Read(0); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if err := h1.c.Write(report(cid, CmdPing, 0, 0)); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("write after close: %v", err)
	}
	h2.send(cid, CmdPing, []byte{1})
	if cmd, _ := h2.recv(cid); cmd != CmdPing {
		t.Fatal("ping")
	}
}

func TestQueueOverflow(t *testing.T) {
	d, _, h := newDev(t, Config{QueueSize: 4})
	cid := h.open()
	for i := range 10 {
		h.send(cid, CmdPing, []byte{byte(i)})
	}
	for i := 6; i < 10; i++ {
		if cmd, msg := h.recv(cid); cmd != CmdPing || msg[0] != byte(i) {
			t.Fatalf("got %#x % x, want ping %d", cmd, msg, i)
		}
	}
	h.expectSilence(0)
	if s := d.Stats(); s.Dropped != 6 || s.ReportsOut != 11 || s.ReportsIn != 11 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReadWriteSemantics(t *testing.T) {
	d, _, h := newDev(t, Config{ReadCap: 30 * time.Millisecond})
	for _, n := range []int{0, 1, 63, 65, 128} {
		if err := h.c.Write(make([]byte, n)); !errors.Is(err, ErrReportSize) {
			t.Errorf("write %d bytes: %v", n, err)
		}
	}
	if _, err := h.c.Read(0); err != hid.ErrReadTimeout {
		t.Fatalf("poll: %v", err)
	}
	start := time.Now()
	if _, err := h.c.Read(-1); err != hid.ErrReadTimeout {
		t.Fatalf("capped read: %v", err)
	}
	if el := time.Since(start); el < 30*time.Millisecond || el > time.Second {
		t.Fatalf("capped read took %v", el)
	}
	// Reports read are independent copies.
	cid := h.open()
	h2 := &host{t: t, c: d.Connect()}
	h.send(cid, CmdPing, []byte{9})
	r1 := h.readRaw(time.Second)
	r1[7] = 0
	if r2 := h2.readRaw(time.Second); r2[7] != 9 {
		t.Fatal("reports shared between connections")
	}
	// Unplug: a blocked Read returns, Write fails, Connect gives a dead conn.
	errc := make(chan error, 1)
	go func() { _, err := h.c.Read(time.Minute); errc <- err }()
	time.Sleep(5 * time.Millisecond)
	d.Close()
	if err := <-errc; !errors.Is(err, ErrDeviceClosed) {
		t.Fatalf("blocked read after unplug: %v", err)
	}
	if err := h.c.Write(report(cid, CmdPing, 0, 0)); !errors.Is(err, ErrDeviceClosed) {
		t.Fatalf("write after unplug: %v", err)
	}
	if err := d.HandleOutputReport(report(cid, CmdPing, 0, 0)); !errors.Is(err, ErrDeviceClosed) {
		t.Fatalf("HandleOutputReport after unplug: %v", err)
	}
	c := d.Connect()
	if _, err := c.Read(time.Second); !errors.Is(err, ErrDeviceClosed) {
		t.Fatalf("read on conn after unplug: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	h.c.Close()
}

// A blocked Read on a connection returns when that connection is closed.
func TestCloseConnUnblocksRead(t *testing.T) {
	_, _, h := newDev(t, Config{})
	errc := make(chan error, 1)
	go func() { _, err := h.c.Read(-1); errc <- err }()
	time.Sleep(5 * time.Millisecond)
	h.c.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrConnClosed) {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("Read still blocked")
	}
}

func TestFaults(t *testing.T) {
	ping := bytes.Repeat([]byte{0x5A}, 200) // init + 3 continuations
	cases := []struct {
		name  string
		f     Faults
		check func(t *testing.T, reps [][]byte)
	}{
		{"none", Faults{}, func(t *testing.T, reps [][]byte) {
			if len(reps) != 4 || reps[1][4] != 0 || reps[2][4] != 1 || reps[3][4] != 2 {
				t.Fatalf("framing: %d reports", len(reps))
			}
		}},
		{"wrong-seq", Faults{WrongContinuationSeq: true}, func(t *testing.T, reps [][]byte) {
			if len(reps) != 4 || reps[1][4] != 1 {
				t.Fatalf("%d reports, first SEQ %d", len(reps), reps[1][4])
			}
		}},
		{"drop-cont", Faults{DropContinuation: true}, func(t *testing.T, reps [][]byte) {
			if len(reps) != 3 || reps[1][4] != 1 {
				t.Fatalf("%d reports, first SEQ %d", len(reps), reps[1][4])
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _, h := newDev(t, Config{})
			cid := h.open()
			d.SetFaults(tc.f)
			h.send(cid, CmdPing, ping)
			var reps [][]byte
			for {
				r, err := h.c.Read(0) // PING answers are queued before Write returns
				if err != nil {
					break
				}
				reps = append(reps, r)
			}
			tc.check(t, reps)
		})
	}
	t.Run("wrong-nonce", func(t *testing.T) {
		_, _, h := newDev(t, Config{Faults: Faults{WrongInitNonce: true}})
		h.send(BroadcastCID, CmdInit, testNonce)
		if _, msg := h.recv(BroadcastCID); bytes.Equal(msg[:8], testNonce) {
			t.Fatal("nonce not corrupted")
		}
	})
}

// Close cancels a running command, waits for it, and leaves no goroutines.
func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	for range 5 {
		a := newFakeAuth()
		d := NewDevice(a, Config{KeepaliveInterval: time.Millisecond, TransactionTimeout: time.Millisecond})
		h := &host{t: t, c: d.Connect()}
		c2 := d.Connect()
		cid := h.open()
		h.send(cid, CmdCBOR, []byte{fakeSlow})
		<-a.started
		other := h.open()
		h.raw(other, CmdPing, 0x10, 0) // assembling... busy, gets CHANNEL_BUSY
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); c2.Read(-1) }()
		time.Sleep(5 * time.Millisecond)
		d.Close()
		wg.Wait()
		if a.cancelled.Load() != 1 || a.active.Load() != 0 {
			t.Fatalf("cancelled %d active %d", a.cancelled.Load(), a.active.Load())
		}
	}
	// A half-assembled message whose timer is pending at Close.
	d := NewDevice(newFakeAuth(), Config{})
	h := &host{t: t, c: d.Connect()}
	cid := h.open()
	h.raw(cid, CmdPing, 0x10, 0)
	d.Close()
	waitGoroutines(t, base)
}

func TestNilAuthenticator(t *testing.T) {
	d := NewDevice(nil, Config{})
	defer d.Close()
	h := &host{t: t, c: d.Connect()}
	cid := h.open()
	h.send(cid, CmdWink, nil)
	if cmd, _ := h.recv(cid); cmd != CmdWink {
		t.Fatalf("wink: %#x", cmd)
	}
	h.send(cid, CmdCBOR, []byte{4})
	if cmd, msg := h.recv(cid); cmd != CmdCBOR || !bytes.Equal(msg, []byte{0x7F}) {
		t.Fatalf("cbor: %#x % x", cmd, msg)
	}
}

// Concurrent writers on several connections, under -race.
func TestConcurrent(t *testing.T) {
	d, _, _ := newDev(t, Config{QueueSize: 1024})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := d.Connect()
			defer c.Close()
			cid := uint32(0x10000 + i)
			for range 50 {
				c.Write(report(cid, CmdPing, 0, 70))
				c.Write(report(cid, 0))
				c.Write(report(cid, CmdCBOR, 0, 1, fakeGetInfo))
				c.Write(report(cid, CmdCancel, 0, 0))
				c.Write(report(BroadcastCID, CmdInit, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8))
				for {
					if _, err := c.Read(0); err != nil {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
}
