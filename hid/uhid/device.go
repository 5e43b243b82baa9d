package uhid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyprep/keyprep/hid"
)

// Defaults for the device identity in Options.
const (
	DefaultName    = "keyprep virtual FIDO2 key"
	DefaultPhys    = "keyprep/uhid"
	DefaultVendor  = 0x1209 // pid.codes (open-source hardware vendor ID)
	DefaultProduct = 0x0001 // pid.codes test PID
	DefaultVersion = 0x0100
)

// errnoEIO answers GET_REPORT and SET_REPORT: a CTAPHID key has no feature
// reports and nothing to set.
const errnoEIO = 5

// Options describe the HID device the kernel creates.
type Options struct {
	// Name (HID_NAME), Phys (HID_PHYS) and Uniq (HID_UNIQ, e.g. to find the
	// hidraw node in sysfs). Empty Name and Phys mean DefaultName and
	// DefaultPhys.
	Name, Phys, Uniq string
	// Vendor and Product IDs; zero means DefaultVendor / DefaultProduct.
	Vendor, Product uint32
	// Version is the device release number; zero means DefaultVersion.
	Version uint32
	// Log, when set, gets one line per kernel event (START, OPEN, CLOSE,
	// unexpected requests). Report contents are never logged.
	Log func(format string, args ...any)
	// Started, when set, is called once, from the event loop, when the
	// kernel sends UHID_START (a HID driver bound the device; the hidraw node
	// appears right after). It must not block for long.
	Started func()
}

func (o Options) create() Create2 {
	c := Create2{Name: o.Name, Phys: o.Phys, Uniq: o.Uniq, Bus: BusUSB, Vendor: o.Vendor, Product: o.Product,
		Version: o.Version, Descriptor: FIDOReportDescriptor}
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Phys == "" {
		c.Phys = DefaultPhys
	}
	if c.Vendor == 0 {
		c.Vendor = DefaultVendor
	}
	if c.Product == 0 {
		c.Product = DefaultProduct
	}
	if c.Version == 0 {
		c.Version = DefaultVersion
	}
	return c
}

// Stats count what crossed the uhid file.
type Stats struct {
	OutputReports uint64 // output reports handed to the key (host → key)
	InputReports  uint64 // input reports sent to the kernel (key → host)
	Ignored       uint64 // events or reports that were answered with an error or dropped
}

// Device is one virtual HID device served over a uhid file.
type Device struct {
	f    io.ReadWriteCloser
	conn hid.ReportConn
	opts Options

	wmu     sync.Mutex // one event per write
	started sync.Once

	out, in, ignored atomic.Uint64
}

// New prepares a device that will serve conn (the key side, at the level of
// 64-byte reports, e.g. ctaphid.Device.Connect) over f (an open /dev/uhid,
// see Open, or a fake in tests). Serve takes ownership of both.
func New(f io.ReadWriteCloser, conn hid.ReportConn, opts Options) *Device {
	return &Device{f: f, conn: conn, opts: opts}
}

// Stats returns the counters; safe while Serve runs.
func (d *Device) Stats() Stats {
	return Stats{OutputReports: d.out.Load(), InputReports: d.in.Load(), Ignored: d.ignored.Load()}
}

// Serve creates the device (UHID_CREATE2, bus USB, the FIDO report
// descriptor) and relays reports until ctx is cancelled, the uhid file fails
// or the key side is closed: each UHID_OUTPUT becomes one 64-byte output
// report for the key (without the report-ID byte), each input report from
// the key one UHID_INPUT2 event. On return the device is destroyed and f and
// conn are closed. Serve returns nil when ctx ended it.
func (d *Device) Serve(ctx context.Context) error {
	defer d.conn.Close()
	ev, err := d.opts.create().Marshal()
	if err != nil {
		d.f.Close()
		return err
	}
	if err := d.write(ev); err != nil {
		d.f.Close()
		return fmt.Errorf("uhid: creating the device: %w", err)
	}

	errc := make(chan error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); errc <- d.events() }()
	go func() { defer wg.Done(); errc <- d.inputs() }()

	var cause error
	select {
	case <-ctx.Done():
	case cause = <-errc:
	}
	_ = d.write(MarshalDestroy()) // closing the file destroys it too
	d.conn.Close()
	d.f.Close()
	wg.Wait()
	return cause
}

func (d *Device) logf(format string, args ...any) {
	if d.opts.Log != nil {
		d.opts.Log(format, args...)
	}
}

func (d *Device) write(ev []byte) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	_, err := d.f.Write(ev)
	return err
}

// events reads kernel events until the file fails.
func (d *Device) events() error {
	buf := make([]byte, EventSize)
	for {
		if _, err := io.ReadFull(d.f, buf); err != nil {
			return fmt.Errorf("uhid: reading events: %w", err)
		}
		if err := d.handle(buf); err != nil {
			return err
		}
	}
}

func (d *Device) handle(ev []byte) error {
	t, err := Type(ev)
	if err != nil {
		return err
	}
	switch t {
	case EventOutput:
		o, err := ParseOutput(ev)
		if err != nil {
			d.ignored.Add(1)
			d.logf("uhid: %v", err)
			return nil
		}
		return d.output(o)
	case EventGetReport, EventSetReport:
		req, err := ParseReportRequest(ev)
		if err != nil {
			d.ignored.Add(1)
			d.logf("uhid: %v", err)
			return nil
		}
		d.ignored.Add(1)
		d.logf("uhid: %v (report %d, type %d) answered with EIO: a CTAPHID key has no feature reports", t, req.RNum, req.RType)
		reply, err := MarshalReportReply(req, errnoEIO)
		if err != nil {
			return err
		}
		if err := d.write(reply); err != nil {
			return fmt.Errorf("uhid: answering %v: %w", t, err)
		}
	case EventStart:
		d.logf("uhid: %v", t)
		if d.opts.Started != nil {
			d.started.Do(d.opts.Started)
		}
	case EventStop, EventOpen, EventClose:
		d.logf("uhid: %v", t)
	default:
		d.ignored.Add(1)
		d.logf("uhid: ignoring %v", t)
	}
	return nil
}

// output hands one output report to the key. The data is what the client
// wrote to hidraw: a report-ID byte (0: the descriptor has no report IDs)
// and 64 bytes. Like usbhid, a leading report ID 0 is not sent on; a short
// report is padded with zeros to 64 bytes (what the key's endpoint would
// receive), a longer one is dropped.
func (d *Device) output(o Output) error {
	if o.RType != OutputReport {
		d.ignored.Add(1)
		d.logf("uhid: ignoring an output event of report type %d", o.RType)
		return nil
	}
	data := o.Data
	if len(data) > 0 && data[0] == 0 {
		data = data[1:]
	}
	if len(data) > ReportSize {
		d.ignored.Add(1)
		d.logf("uhid: dropping an output report of %d bytes (the key's reports have %d)", len(data), ReportSize)
		return nil
	}
	report := make([]byte, ReportSize)
	copy(report, data)
	if err := d.conn.Write(report); err != nil {
		return fmt.Errorf("uhid: the key refused an output report: %w", err)
	}
	d.out.Add(1)
	return nil
}

// inputs forwards the key's input reports until its connection closes.
func (d *Device) inputs() error {
	for {
		r, err := d.conn.Read(time.Second)
		if errors.Is(err, hid.ErrReadTimeout) {
			continue
		}
		if err != nil {
			return fmt.Errorf("uhid: the key's connection: %w", err)
		}
		ev, err := MarshalInput2(r)
		if err != nil {
			return err
		}
		if err := d.write(ev); err != nil {
			return fmt.Errorf("uhid: sending an input report: %w", err)
		}
		d.in.Add(1)
	}
}
