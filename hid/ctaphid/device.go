package ctaphid

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyprep/keyprep/hid"
)

// Authenticator is the CTAP2 command processor behind the HID framing.
type Authenticator interface {
	// HandleCBOR processes one CTAPHID_CBOR payload (CTAP command byte +
	// CBOR) and returns status byte + CBOR. It calls keepalive(1 PROCESSING |
	// 2 UPNEEDED) while working/waiting for presence; ctx is cancelled when
	// the host sends CTAPHID_CANCEL on the channel (or resynchronises it with
	// INIT, or the device is closed), and the authenticator then returns 0x2D
	// (CTAP2_ERR_KEEPALIVE_CANCEL).
	//
	// The device never runs two HandleCBOR calls at once. An empty answer, an
	// answer longer than MaxMessageSize or a panic becomes status 0x7F
	// (CTAP1_ERR_OTHER).
	HandleCBOR(ctx context.Context, msg []byte, keepalive func(status byte)) []byte
	// Wink is called for CTAPHID_WINK, after the answer has been queued,
	// synchronously in the Write that completed the message: keep it short.
	Wink()
}

// Errors returned by the device and its connections.
var (
	// ErrReportSize: Write or HandleOutputReport got a report that is not
	// exactly hid.ReportSize (64) bytes.
	ErrReportSize = errors.New("ctaphid: output report must be exactly 64 bytes")
	// ErrDeviceClosed: the device was closed ("unplugged").
	ErrDeviceClosed = errors.New("ctaphid: device closed")
	// ErrConnClosed: the connection was closed.
	ErrConnClosed = errors.New("ctaphid: connection closed")
)

// Defaults for zero Config fields.
const (
	DefaultTransactionTimeout = 500 * time.Millisecond
	DefaultKeepaliveInterval  = 100 * time.Millisecond
	DefaultReadCap            = 5 * time.Second
	DefaultQueueSize          = 256
)

// Config tunes a Device. The zero value gives the defaults.
type Config struct {
	// TransactionTimeout: a message still incomplete this long after its
	// initialization packet is dropped with ERROR MSG_TIMEOUT. Zero or
	// negative means DefaultTransactionTimeout (500 ms).
	TransactionTimeout time.Duration
	// KeepaliveInterval: period of KEEPALIVE reports while a CBOR command
	// runs. Zero means DefaultKeepaliveInterval (100 ms); negative disables
	// keepalives.
	KeepaliveInterval time.Duration
	// ReadCap bounds ReportConn.Read with a negative ("forever") timeout.
	// Zero or negative means DefaultReadCap (5 s).
	ReadCap time.Duration
	// QueueSize is the number of input reports each connection buffers; when
	// full, the oldest is dropped. Zero or negative means DefaultQueueSize.
	QueueSize int
	// Device version reported by INIT.
	VersionMajor, VersionMinor, VersionBuild uint8
	// Faults to inject from the start; see also Device.SetFaults.
	Faults Faults
}

// Faults break the device's framing on purpose, so that end-to-end tests can
// show that a host (libfido2, a uhid test) notices. All off by default.
type Faults struct {
	// WrongContinuationSeq numbers the continuation packets of multi-packet
	// answers from 1 instead of 0.
	WrongContinuationSeq bool
	// DropContinuation leaves out the first continuation packet of every
	// multi-packet answer.
	DropContinuation bool
	// WrongInitNonce corrupts the nonce echoed in INIT answers.
	WrongInitNonce bool
}

// Stats are the device's report counters.
type Stats struct {
	ReportsIn  uint64 // valid output reports received (host → device)
	ReportsOut uint64 // input reports produced (device → host), counted once however many connections see them
	Dropped    uint64 // input reports dropped from full connection queues
}

// Device is an in-process CTAPHID device. All methods are goroutine-safe.
type Device struct {
	auth Authenticator
	cfg  Config

	authMu sync.Mutex // serialises calls into auth

	mu      sync.Mutex
	closed  bool
	faults  Faults
	conns   map[*conn]struct{}
	nextCID uint32
	tx      *transaction      // the device-wide transaction; nil when idle
	jobs    map[*job]struct{} // running CBOR commands, including abandoned ones
	wg      sync.WaitGroup    // runCBOR goroutines

	reportsIn, reportsOut, dropped atomic.Uint64
}

// transaction is a message being assembled (job == nil) or a CBOR command
// being processed (job != nil).
type transaction struct {
	cid   uint32
	cmd   byte
	bcnt  int
	buf   []byte
	seq   byte        // next expected continuation SEQ
	timer *time.Timer // MSG_TIMEOUT while assembling
	job   *job
}

type job struct {
	cid    uint32
	cancel context.CancelFunc
	status atomic.Uint32 // latest keepalive status
	ka     *time.Timer   // keepalive timer; guarded by Device.mu
}

// NewDevice returns a plugged-in device that forwards CBOR commands to a. A
// nil a answers every CBOR command with 0x7F and ignores WINK.
func NewDevice(a Authenticator, cfg Config) *Device {
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = DefaultTransactionTimeout
	}
	if cfg.KeepaliveInterval == 0 {
		cfg.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if cfg.ReadCap <= 0 {
		cfg.ReadCap = DefaultReadCap
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	return &Device{
		auth:   a,
		cfg:    cfg,
		faults: cfg.Faults,
		conns:  make(map[*conn]struct{}),
		jobs:   make(map[*job]struct{}),
	}
}

// Config returns the effective configuration (defaults filled in).
func (d *Device) Config() Config { return d.cfg }

// SetFaults replaces the injected faults; it takes effect for the next report
// the device sends.
func (d *Device) SetFaults(f Faults) {
	d.mu.Lock()
	d.faults = f
	d.mu.Unlock()
}

// Stats returns the report counters.
func (d *Device) Stats() Stats {
	return Stats{
		ReportsIn:  d.reportsIn.Load(),
		ReportsOut: d.reportsOut.Load(),
		Dropped:    d.dropped.Load(),
	}
}

// Close unplugs the device: pending and future Reads and Writes on every
// connection fail with ErrDeviceClosed, a running CBOR command's context is
// cancelled, and Close waits until HandleCBOR has returned. Close is
// idempotent.
func (d *Device) Close() error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		if t := d.tx; t != nil && t.timer != nil {
			t.timer.Stop()
		}
		d.tx = nil
		for j := range d.jobs {
			j.cancel()
			if j.ka != nil {
				j.ka.Stop()
			}
		}
		for c := range d.conns {
			c.shut(ErrDeviceClosed)
		}
		d.conns = nil
	}
	d.mu.Unlock()
	d.wg.Wait()
	return nil
}

// Connect opens a connection, the equivalent of opening the key's hidraw
// node: it sees every input report the device sends from now on. Connecting
// to a closed device returns a connection whose Read and Write fail.
func (d *Device) Connect() hid.ReportConn {
	c := &conn{
		d:    d,
		ch:   make(chan [hid.ReportSize]byte, d.cfg.QueueSize),
		done: make(chan struct{}),
	}
	d.mu.Lock()
	if d.closed {
		c.shut(ErrDeviceClosed)
	} else {
		d.conns[c] = struct{}{}
	}
	d.mu.Unlock()
	return c
}

// HandleOutputReport processes one 64-byte output report (host → device, no
// report ID), as a /dev/uhid transport would for each UHID_OUTPUT event. The
// answers go to every connection. It returns ErrReportSize for a report of
// the wrong size and ErrDeviceClosed after Close; protocol errors are
// answered on the wire, never returned.
func (d *Device) HandleOutputReport(report []byte) error {
	if len(report) != hid.ReportSize {
		return ErrReportSize
	}
	var p [hid.ReportSize]byte
	copy(p[:], report)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrDeviceClosed
	}
	d.reportsIn.Add(1)
	after := d.process(&p)
	d.mu.Unlock()
	if after != nil {
		after()
	}
	return nil
}

// process handles one output report with d.mu held. It returns a function to
// call after unlocking (Wink), or nil.
func (d *Device) process(p *[hid.ReportSize]byte) func() {
	cid := binary.BigEndian.Uint32(p[0:4])
	if p[4]&0x80 == 0 {
		return d.continuation(cid, p[4], p[5:])
	}
	cmd := p[4]
	bcnt := int(p[5])<<8 | int(p[6])
	data := p[7:]

	if cid == 0 {
		d.sendError(cid, ErrorInvalidChannel)
		return nil
	}
	if cmd == CmdInit {
		d.init(cid, bcnt, data)
		return nil
	}
	if cid == BroadcastCID {
		d.sendError(cid, ErrorInvalidChannel)
		return nil
	}
	if cmd == CmdCancel {
		d.cancel(cid)
		return nil
	}
	if t := d.tx; t != nil {
		if t.cid != cid || t.job != nil {
			d.sendError(cid, ErrorChannelBusy)
			return nil
		}
		// A new initialization packet in the middle of this channel's message.
		d.abort(t)
		d.sendError(cid, ErrorInvalidSeq)
		return nil
	}
	if bcnt > MaxMessageSize {
		d.sendError(cid, ErrorInvalidLen)
		return nil
	}
	switch cmd {
	case CmdPing, CmdWink, CmdCBOR:
	default: // MSG (NMSG), LOCK, KEEPALIVE, ERROR, vendor, unknown
		d.sendError(cid, ErrorInvalidCmd)
		return nil
	}
	t := &transaction{cid: cid, cmd: cmd, bcnt: bcnt, buf: make([]byte, 0, bcnt)}
	t.buf = append(t.buf, data[:min(bcnt, InitDataSize)]...)
	if len(t.buf) == bcnt {
		return d.dispatch(t)
	}
	t.timer = time.AfterFunc(d.cfg.TransactionTimeout, func() { d.timeout(t) })
	d.tx = t
	return nil
}

func (d *Device) continuation(cid uint32, seq byte, data []byte) func() {
	t := d.tx
	if t == nil || t.cid != cid || t.job != nil {
		return nil // no message in progress on this channel: ignore
	}
	if seq != t.seq {
		d.abort(t)
		d.sendError(cid, ErrorInvalidSeq)
		return nil
	}
	t.seq++
	t.buf = append(t.buf, data[:min(t.bcnt-len(t.buf), ContDataSize)]...)
	if len(t.buf) < t.bcnt {
		return nil
	}
	t.timer.Stop()
	d.tx = nil
	return d.dispatch(t)
}

func (d *Device) init(cid uint32, bcnt int, data []byte) {
	if bcnt != 8 {
		d.sendError(cid, ErrorInvalidLen)
		return
	}
	newCID := cid
	if cid == BroadcastCID {
		newCID = d.allocCID()
	} else if t := d.tx; t != nil && t.cid == cid {
		d.abort(t) // resync: drop this channel's message or command
	}
	var r [17]byte
	copy(r[0:8], data[:8])
	if d.faults.WrongInitNonce {
		r[0] ^= 0xFF
	}
	binary.BigEndian.PutUint32(r[8:12], newCID)
	r[12] = ProtocolVersion
	r[13] = d.cfg.VersionMajor
	r[14] = d.cfg.VersionMinor
	r[15] = d.cfg.VersionBuild
	r[16] = Capabilities
	d.send(cid, CmdInit, r[:])
}

func (d *Device) allocCID() uint32 {
	for {
		d.nextCID++
		if d.nextCID != 0 && d.nextCID != BroadcastCID {
			return d.nextCID
		}
	}
}

// cancel handles CTAPHID_CANCEL, which is never answered itself.
func (d *Device) cancel(cid uint32) {
	t := d.tx
	if t == nil || t.cid != cid {
		return
	}
	if t.job != nil {
		t.job.cancel() // the authenticator answers 0x2D
		return
	}
	d.abort(t) // drop the message being assembled
}

// abort drops transaction t (which is d.tx): its assembly timer is stopped,
// its CBOR command, if any, is cancelled and its answer will be suppressed.
func (d *Device) abort(t *transaction) {
	if t.timer != nil {
		t.timer.Stop()
	}
	if t.job != nil {
		t.job.cancel()
	}
	d.tx = nil
}

func (d *Device) timeout(t *transaction) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.tx != t || t.job != nil {
		return
	}
	d.tx = nil
	d.sendError(t.cid, ErrorMsgTimeout)
}

// dispatch runs a complete message; d.tx is not t.
func (d *Device) dispatch(t *transaction) func() {
	switch t.cmd {
	case CmdPing:
		d.send(t.cid, CmdPing, t.buf)
	case CmdWink:
		d.send(t.cid, CmdWink, nil)
		if d.auth == nil {
			return nil
		}
		return d.auth.Wink
	case CmdCBOR:
		if len(t.buf) == 0 {
			d.sendError(t.cid, ErrorInvalidLen)
			return nil
		}
		d.startCBOR(t)
	}
	return nil
}

func (d *Device) startCBOR(t *transaction) {
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{cid: t.cid, cancel: cancel}
	j.status.Store(uint32(StatusProcessing))
	t.job = j
	d.tx = t
	d.jobs[j] = struct{}{}
	if d.cfg.KeepaliveInterval > 0 {
		j.ka = time.AfterFunc(d.cfg.KeepaliveInterval, func() { d.keepalive(t, j) })
	}
	d.wg.Add(1)
	go d.runCBOR(ctx, t, j)
}

func (d *Device) keepalive(t *transaction, j *job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.tx != t || t.job != j {
		return
	}
	d.send(j.cid, CmdKeepalive, []byte{byte(j.status.Load())})
	j.ka.Reset(d.cfg.KeepaliveInterval)
}

func (d *Device) runCBOR(ctx context.Context, t *transaction, j *job) {
	defer d.wg.Done()
	d.authMu.Lock()
	var resp []byte
	if ctx.Err() != nil {
		resp = []byte{ctap2ErrKeepaliveCancel} // cancelled before it started
	} else {
		resp = d.callAuth(ctx, t.buf, j)
	}
	d.authMu.Unlock()
	j.cancel()

	d.mu.Lock()
	defer d.mu.Unlock()
	if j.ka != nil {
		j.ka.Stop()
	}
	delete(d.jobs, j)
	if d.closed || d.tx != t || t.job != j {
		return // resynchronised or unplugged meanwhile
	}
	d.tx = nil
	d.send(t.cid, CmdCBOR, resp)
}

func (d *Device) callAuth(ctx context.Context, msg []byte, j *job) (resp []byte) {
	defer func() {
		if recover() != nil {
			resp = []byte{ctap1ErrOther}
		}
	}()
	if d.auth == nil {
		return []byte{ctap1ErrOther}
	}
	resp = d.auth.HandleCBOR(ctx, msg, func(s byte) { j.status.Store(uint32(s)) })
	if len(resp) == 0 || len(resp) > MaxMessageSize {
		resp = []byte{ctap1ErrOther}
	}
	return resp
}

func (d *Device) sendError(cid uint32, code byte) {
	d.send(cid, CmdError, []byte{code})
}

// send fragments one message into input reports, with d.mu held.
func (d *Device) send(cid uint32, cmd byte, payload []byte) {
	var p [hid.ReportSize]byte
	binary.BigEndian.PutUint32(p[0:4], cid)
	p[4] = cmd
	binary.BigEndian.PutUint16(p[5:7], uint16(len(payload)))
	n := copy(p[7:], payload)
	payload = payload[n:]
	d.emit(&p)
	seq := 0
	if d.faults.WrongContinuationSeq {
		seq = 1
	}
	for first := true; len(payload) > 0; first = false {
		p = [hid.ReportSize]byte{}
		binary.BigEndian.PutUint32(p[0:4], cid)
		p[4] = byte(seq) & 0x7F
		n = copy(p[5:], payload)
		payload = payload[n:]
		seq++
		if first && d.faults.DropContinuation {
			continue
		}
		d.emit(&p)
	}
}

// emit queues one input report on every connection, with d.mu held.
func (d *Device) emit(p *[hid.ReportSize]byte) {
	d.reportsOut.Add(1)
	for c := range d.conns {
		c.push(p)
	}
}
