package uhid

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/keyprep/keyprep/hid/ctaphid"
	"github.com/keyprep/keyprep/internal/softkey"
)

// pipeFile is the device's end of a fake /dev/uhid: it reads what the fake
// kernel writes and writes what the fake kernel reads.
type pipeFile struct {
	r, w *os.File
}

func (p *pipeFile) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *pipeFile) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeFile) Close() error {
	p.w.Close()
	return p.r.Close()
}

// fakeKernel is the kernel's end: it sends events and reads the device's.
type fakeKernel struct {
	t    *testing.T
	from *os.File // events from the device
	to   *os.File // events to the device
}

func newFakeUHID(t *testing.T) (*pipeFile, *fakeKernel) {
	t.Helper()
	kr, dw, err := os.Pipe() // device → kernel
	if err != nil {
		t.Fatal(err)
	}
	dr, kw, err := os.Pipe() // kernel → device
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKernel{t: t, from: kr, to: kw}
	t.Cleanup(func() { kr.Close(); kw.Close() })
	return &pipeFile{r: dr, w: dw}, k
}

// next reads the device's next event within 5 s.
func (k *fakeKernel) next() ([]byte, error) {
	if err := k.from.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	b := make([]byte, EventSize)
	if _, err := io.ReadFull(k.from, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (k *fakeKernel) mustNext() []byte {
	k.t.Helper()
	b, err := k.next()
	if err != nil {
		k.t.Fatalf("reading the device's next event: %v", err)
	}
	return b
}

func (k *fakeKernel) send(ev []byte) {
	k.t.Helper()
	if _, err := k.to.Write(ev); err != nil {
		k.t.Fatalf("sending an event: %v", err)
	}
}

// hidrawWrite is what a client's write(2) of a 64-byte report with a
// leading report ID 0 to hidraw becomes: a 65-byte UHID_OUTPUT.
func (k *fakeKernel) hidrawWrite(report []byte) {
	k.t.Helper()
	ev, err := MarshalOutput(append([]byte{0}, report...), OutputReport)
	if err != nil {
		k.t.Fatal(err)
	}
	k.send(ev)
}

// hidrawRead returns the next input report (the payload of an INPUT2).
func (k *fakeKernel) hidrawRead() ([]byte, error) {
	ev, err := k.next()
	if err != nil {
		return nil, err
	}
	if typ, _ := Type(ev); typ != EventInput2 {
		return nil, fmt.Errorf("got %v, want INPUT2", typ)
	}
	return ParseInput2(ev)
}

// transact is a minimal CTAPHID host: it sends one message on cid and
// reassembles the answer, skipping keepalives and checking every
// continuation's channel and sequence number.
func (k *fakeKernel) transact(cid uint32, cmd byte, payload []byte) (byte, []byte, error) {
	var p [64]byte
	binary.BigEndian.PutUint32(p[0:], cid)
	p[4] = cmd
	binary.BigEndian.PutUint16(p[5:], uint16(len(payload)))
	n := copy(p[7:], payload)
	k.hidrawWrite(p[:])
	for seq := byte(0); n < len(payload); seq++ {
		p = [64]byte{}
		binary.BigEndian.PutUint32(p[0:], cid)
		p[4] = seq
		n += copy(p[5:], payload[n:])
		k.hidrawWrite(p[:])
	}
	for {
		r, err := k.hidrawRead()
		if err != nil {
			return 0, nil, err
		}
		if len(r) != 64 {
			return 0, nil, fmt.Errorf("input report of %d bytes", len(r))
		}
		if binary.BigEndian.Uint32(r) != cid {
			return 0, nil, fmt.Errorf("answer on channel %#x, want %#x", binary.BigEndian.Uint32(r), cid)
		}
		if r[4] == ctaphid.CmdKeepalive {
			continue
		}
		if r[4]&0x80 == 0 {
			return 0, nil, fmt.Errorf("continuation packet where an initialization packet was due")
		}
		bcnt := int(binary.BigEndian.Uint16(r[5:]))
		msg := append([]byte(nil), r[7:7+min(bcnt, 57)]...)
		for seq := byte(0); len(msg) < bcnt; seq++ {
			c, err := k.hidrawRead()
			if err != nil {
				return 0, nil, err
			}
			if binary.BigEndian.Uint32(c) != cid || c[4] != seq {
				return 0, nil, fmt.Errorf("continuation: channel %#x seq %d, want %#x seq %d", binary.BigEndian.Uint32(c), c[4], cid, seq)
			}
			msg = append(msg, c[5:5+min(bcnt-len(msg), 59)]...)
		}
		return r[4], msg, nil
	}
}

// initChannel allocates a channel with CTAPHID_INIT on the broadcast CID.
func (k *fakeKernel) initChannel() (uint32, error) {
	nonce := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	cmd, resp, err := k.transact(ctaphid.BroadcastCID, ctaphid.CmdInit, nonce)
	if err != nil {
		return 0, err
	}
	if cmd != ctaphid.CmdInit || len(resp) != 17 || !bytes.Equal(resp[:8], nonce) {
		return 0, fmt.Errorf("INIT answer %#x % x", cmd, resp)
	}
	return binary.BigEndian.Uint32(resp[8:12]), nil
}

type served struct {
	dev    *Device
	cancel context.CancelFunc
	done   chan error
	logs   *logSink
}

type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logSink) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if bytes.Contains([]byte(x), []byte(s)) {
			return true
		}
	}
	return false
}

// serveSoftkey serves a factory-fresh virtual key over a fake uhid file.
func serveSoftkey(t *testing.T, faults ctaphid.Faults, started func()) (*served, *fakeKernel) {
	t.Helper()
	auth, err := softkey.New(softkey.Config{})
	if err != nil {
		t.Fatal(err)
	}
	key := ctaphid.NewDevice(auth, ctaphid.Config{Faults: faults})
	t.Cleanup(func() { key.Close() })
	f, k := newFakeUHID(t)
	logs := &logSink{}
	dev := New(f, key.Connect(), Options{Uniq: "keyprep-test-1", Log: logs.logf, Started: started})
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{dev: dev, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { s.done <- dev.Serve(ctx) }()
	t.Cleanup(cancel)

	c, err := ParseCreate2(k.mustNext())
	if err != nil {
		t.Fatalf("first event: %v", err)
	}
	if c.Bus != BusUSB || c.Vendor != DefaultVendor || c.Product != DefaultProduct || c.Name != DefaultName ||
		c.Uniq != "keyprep-test-1" || !bytes.Equal(c.Descriptor, FIDOReportDescriptor) {
		t.Fatalf("CREATE2 = %+v", c)
	}
	return s, k
}

func (s *served) stop(t *testing.T, k *fakeKernel) {
	t.Helper()
	s.cancel()
	// The last event is DESTROY (input reports may still be in flight).
	for {
		ev, err := k.next()
		if err != nil {
			t.Fatalf("no DESTROY before the device closed: %v", err)
		}
		if typ, _ := Type(ev); typ == EventDestroy {
			break
		}
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("Serve after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

// A libfido2-like host drives the virtual key through the uhid loop: the
// kernel's events in, INPUT2 events out, a real getInfo answer across
// several packets.
func TestServeGetInfo(t *testing.T) {
	startedc := make(chan struct{}, 2)
	s, k := serveSoftkey(t, ctaphid.Faults{}, func() { startedc <- struct{}{} })
	k.send(MarshalSimple(EventStart))
	k.send(MarshalSimple(EventStart)) // Started runs once
	k.send(MarshalSimple(EventOpen))
	select {
	case <-startedc:
	case <-time.After(5 * time.Second):
		t.Fatal("Started was not called after UHID_START")
	}

	cid, err := k.initChannel()
	if err != nil {
		t.Fatal(err)
	}
	cmd, resp, err := k.transact(cid, ctaphid.CmdCBOR, []byte{0x04}) // authenticatorGetInfo
	if err != nil {
		t.Fatal(err)
	}
	if cmd != ctaphid.CmdCBOR || len(resp) < 60 || resp[0] != 0 {
		t.Fatalf("getInfo answer: cmd %#x, %d bytes, status %#x", cmd, len(resp), resp[0])
	}
	var info map[int]any
	if err := cbor.Unmarshal(resp[1:], &info); err != nil {
		t.Fatalf("getInfo CBOR: %v", err)
	}
	want := softkey.AAGUID()
	if got, _ := info[3].([]byte); !bytes.Equal(got, want[:]) {
		t.Errorf("getInfo aaguid = % x, want % x", got, want)
	}

	// A short hidraw write (report ID 0 and 10 bytes) reaches the key as a
	// zero-padded 64-byte report, as over USB.
	var ping [64]byte
	binary.BigEndian.PutUint32(ping[0:], cid)
	ping[4] = ctaphid.CmdPing
	ping[6] = 3
	copy(ping[7:], "abc")
	ev, _ := MarshalOutput(append([]byte{0}, ping[:10]...), OutputReport)
	k.send(ev)
	r, err := k.hidrawRead()
	if err != nil {
		t.Fatal(err)
	}
	if r[4] != ctaphid.CmdPing || string(r[7:10]) != "abc" {
		t.Errorf("PING answer % x", r[:12])
	}

	// A feature request is answered at once with EIO.
	get, _ := MarshalReportRequest(ReportRequest{Type: EventGetReport, ID: 42, RType: FeatureReport})
	k.send(get)
	typ, id, errno, err := ParseReportReply(k.mustNext())
	if err != nil || typ != EventGetReportReply || id != 42 || errno != errnoEIO {
		t.Errorf("GET_REPORT reply = %v id %d errno %d (%v)", typ, id, errno, err)
	}
	set, _ := MarshalReportRequest(ReportRequest{Type: EventSetReport, ID: 43, RType: OutputReport, Data: []byte{1}})
	k.send(set)
	typ, id, errno, err = ParseReportReply(k.mustNext())
	if err != nil || typ != EventSetReportReply || id != 43 || errno != errnoEIO {
		t.Errorf("SET_REPORT reply = %v id %d errno %d (%v)", typ, id, errno, err)
	}

	// Oversized and non-output reports are dropped, not passed on.
	big, _ := MarshalOutput(bytes.Repeat([]byte{1}, 80), OutputReport)
	k.send(big)
	feat, _ := MarshalOutput(append([]byte{0}, ping[:]...), FeatureReport)
	k.send(feat)
	k.send(MarshalSimple(EventClose))
	k.send(MarshalSimple(EventType(99)))

	// Still serving after all that.
	if _, _, err := k.transact(cid, ctaphid.CmdCBOR, []byte{0x04}); err != nil {
		t.Fatalf("getInfo after ignored events: %v", err)
	}
	s.stop(t, k)

	st := s.dev.Stats()
	if st.OutputReports != 4 || st.Ignored != 5 || st.InputReports < 6 {
		t.Errorf("stats = %+v, want 4 output reports, 5 ignored, ≥ 6 input reports", st)
	}
	for _, want := range []string{"START", "OPEN", "CLOSE", "GET_REPORT", "dropping an output report of 80 bytes", "report type 0", "uhid event 99"} {
		if !s.logs.has(want) {
			t.Errorf("log has no line with %q: %q", want, s.logs.lines)
		}
	}
}

// The fault switch that the end-to-end test's negative run uses: with a
// wrong continuation sequence number the host sees broken framing on the
// first multi-packet answer.
func TestServeBrokenFramingIsVisible(t *testing.T) {
	s, k := serveSoftkey(t, ctaphid.Faults{WrongContinuationSeq: true}, nil)
	cid, err := k.initChannel() // one packet: unaffected
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = k.transact(cid, ctaphid.CmdCBOR, []byte{0x04})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("seq 1, want")) {
		t.Fatalf("getInfo with a wrong continuation sequence: err = %v, want a sequence mismatch", err)
	}
	s.stop(t, k)
}

// When the kernel side goes away (the file fails) Serve returns the error
// and closes the key's connection.
func TestServeFileFailure(t *testing.T) {
	s, k := serveSoftkey(t, ctaphid.Faults{}, nil)
	k.to.Close() // the device now reads EOF
	select {
	case err := <-s.done:
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Serve = %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the file failed")
	}
}

// When the key is unplugged (its device closed) Serve ends with that error.
func TestServeKeyClosed(t *testing.T) {
	key := ctaphid.NewDevice(nil, ctaphid.Config{})
	f, k := newFakeUHID(t)
	dev := New(f, key.Connect(), Options{})
	done := make(chan error, 1)
	go func() { done <- dev.Serve(context.Background()) }()
	if _, err := ParseCreate2(k.mustNext()); err != nil {
		t.Fatal(err)
	}
	key.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ctaphid.ErrDeviceClosed) {
			t.Fatalf("Serve = %v, want ErrDeviceClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the key closed")
	}
	if typ, _ := Type(k.mustNext()); typ != EventDestroy {
		t.Errorf("last event %v, want DESTROY", typ)
	}
}

// A create request the kernel would refuse never reaches the file.
func TestServeBadOptions(t *testing.T) {
	f, _ := newFakeUHID(t)
	key := ctaphid.NewDevice(nil, ctaphid.Config{})
	defer key.Close()
	err := New(f, key.Connect(), Options{Name: string(bytes.Repeat([]byte{'n'}, 200))}).Serve(context.Background())
	if !errors.Is(err, ErrEvent) {
		t.Fatalf("Serve with a 200-byte name = %v, want ErrEvent", err)
	}
}
