package hid

import "time"

// Default per-operation timeouts. libfido2 blocks forever unless told
// otherwise (docs/ctap.md §7.3), so every operation runs with one.
const (
	// DefaultTimeout bounds operations that need no user interaction:
	// Open (CTAPHID_INIT + getInfo), Info, retry counters, PIN set/change,
	// authenticatorConfig and credential management.
	DefaultTimeout = 10 * time.Second
	// DefaultTouchTimeout bounds operations that wait for the user to touch
	// the key: MakeCredential, GetAssertion, Reset and Selection.
	DefaultTouchTimeout = 30 * time.Second
)

// maxVirtualWait caps a virtual-key read that libfido2 asks to wait forever
// (ms == -1), so that a protocol bug fails instead of hanging (docs/ctap.md §7.5 rule 7).
const maxVirtualWait = 60 * time.Second

// cancelGrace is how long a virtual-key read keeps waiting after the
// operation's context is done, so that the key's answer to CTAPHID_CANCEL
// (KEEPALIVE_CANCEL) is consumed instead of left behind for the next command.
const cancelGrace = 250 * time.Millisecond

// Option configures Open.
type Option func(*options)

type options struct {
	timeout      time.Duration
	touchTimeout time.Duration
	debug        bool
}

func defaultOptions() options {
	return options{timeout: DefaultTimeout, touchTimeout: DefaultTouchTimeout}
}

func buildOptions(opts []Option) options {
	o := defaultOptions()
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	return o
}

// WithTimeout sets the timeout of every operation on the device, including
// the touch operations (it overrides both DefaultTimeout and
// DefaultTouchTimeout). A context deadline that comes sooner wins.
// Non-positive values are ignored.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout, o.touchTimeout = d, d
		}
	}
}

// WithTouchTimeout sets the timeout of the operations that wait for user
// presence (MakeCredential, GetAssertion, Reset, Selection). Apply it after
// WithTimeout to give touch operations a different budget. Non-positive
// values are ignored.
func WithTouchTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.touchTimeout = d
		}
	}
}

// WithDebug turns on libfido2's debug logging (FIDO_DEBUG, written to
// stderr) for every operation on the device.
func WithDebug(on bool) Option {
	return func(o *options) { o.debug = on }
}
