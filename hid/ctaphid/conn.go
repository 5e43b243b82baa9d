package ctaphid

import (
	"sync"
	"time"

	"github.com/keyprep/keyprep/hid"
)

// conn is one open "file descriptor" on a Device; it implements
// hid.ReportConn.
type conn struct {
	d    *Device
	ch   chan [hid.ReportSize]byte // input reports, bounded
	done chan struct{}             // closed by shut
	once sync.Once
	err  error // why done was closed; written before close(done)
}

var _ hid.ReportConn = (*conn)(nil)

// push queues an input report, dropping the oldest when the queue is full.
// Only the device calls it, with Device.mu held, so pushes are serialised and
// at most one drop is needed (readers only make room).
func (c *conn) push(p *[hid.ReportSize]byte) {
	for {
		select {
		case c.ch <- *p:
			return
		default:
		}
		select {
		case <-c.ch:
			c.d.dropped.Add(1)
		default:
		}
	}
}

func (c *conn) shut(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
	})
}

// Write sends one 64-byte output report to the device. It is safe to call
// concurrently with a blocked Read.
func (c *conn) Write(report []byte) error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	return c.d.HandleOutputReport(report)
}

// Read returns the next input report (a fresh 64-byte slice). timeout 0
// polls; a negative timeout waits up to Config.ReadCap. It returns
// hid.ErrReadTimeout on timeout, ErrConnClosed or ErrDeviceClosed once the
// connection or device is closed.
func (c *conn) Read(timeout time.Duration) ([]byte, error) {
	select {
	case <-c.done:
		return nil, c.err
	default:
	}
	select {
	case r := <-c.ch:
		return r[:], nil
	default:
	}
	if timeout == 0 {
		return nil, hid.ErrReadTimeout
	}
	if timeout < 0 {
		timeout = c.d.cfg.ReadCap
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-c.ch:
		return r[:], nil
	case <-c.done:
		return nil, c.err
	case <-t.C:
		return nil, hid.ErrReadTimeout
	}
}

// Close closes the connection; a blocked Read returns ErrConnClosed. The
// device stays plugged in. Close is idempotent.
func (c *conn) Close() error {
	c.d.mu.Lock()
	delete(c.d.conns, c)
	c.d.mu.Unlock()
	c.shut(ErrConnClosed)
	return nil
}
