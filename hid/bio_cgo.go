//go:build cgo

package hid

/*
#include "kp_fido.h"
*/
import "C"

import (
	"context"
	"time"
	"unsafe"
)

// BioInfo asks a bio key about its fingerprint sensor
// (getFingerprintSensorInfo, no PIN needed).
func (d *Device) BioInfo(ctx context.Context) (BioSensorInfo, error) {
	const op = "bio sensor info"
	bi := C.fido_bio_info_new()
	if bi == nil {
		return BioSensorInfo{}, &Error{Op: op, Code: CodeInternal, Msg: "fido_bio_info_new failed"}
	}
	defer C.fido_bio_info_free(&bi)
	if err := d.do(ctx, op, false, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
		return C.kp_bio_info(dev, flags, ms, bi)
	}); err != nil {
		return BioSensorInfo{}, err
	}
	return BioSensorInfo{Kind: int(C.fido_bio_info_type(bi)), MaxSamples: int(C.fido_bio_info_max_samples(bi))}, nil
}

// BioTemplates lists the enrolled fingerprints (enumerateEnrollments). A
// key with none answers CTAP2_ERR_INVALID_OPTION (CTAP 2.1 §6.7.6), which
// BioTemplates returns as an empty list.
func (d *Device) BioTemplates(ctx context.Context, pin []byte) ([]BioTemplate, error) {
	const op = "bio list"
	ta := C.fido_bio_template_array_new()
	if ta == nil {
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "fido_bio_template_array_new failed"}
	}
	defer C.fido_bio_template_array_free(&ta)
	err := d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_bio_templates(dev, flags, ms, ta, p)
	})
	if CodeOf(err) == CodeInvalidOption {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	n := C.fido_bio_template_array_count(ta)
	out := make([]BioTemplate, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		t := C.fido_bio_template(ta, i)
		if t == nil {
			continue
		}
		out = append(out, BioTemplate{
			ID:   goBytes(C.fido_bio_template_id_ptr(t), C.fido_bio_template_id_len(t)),
			Name: goString(C.fido_bio_template_name(t)),
		})
	}
	return out, nil
}

// BioSetName gives the fingerprint id a friendly name (setFriendlyName).
func (d *Device) BioSetName(ctx context.Context, pin, id []byte, name string) error {
	const op = "bio rename"
	if len(id) == 0 {
		return &Error{Op: op, Code: CodeInvalidArgument, Msg: "empty template id"}
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_bio_set_name(dev, flags, ms, cBytes(id), C.size_t(len(id)), cname, p)
	})
}

// BioRemove deletes the fingerprint id (removeEnrollment).
func (d *Device) BioRemove(ctx context.Context, pin, id []byte) error {
	const op = "bio delete"
	if len(id) == 0 {
		return &Error{Op: op, Code: CodeInvalidArgument, Msg: "empty template id"}
	}
	return d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_bio_remove(dev, flags, ms, cBytes(id), C.size_t(len(id)), p)
	})
}

// BioEnrollCancel ends the key's enrollment in progress
// (cancelCurrentEnrollment); the partial fingerprint is discarded.
func (d *Device) BioEnrollCancel(ctx context.Context) error {
	return d.do(ctx, "bio enroll cancel", false, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
		return C.kp_bio_enroll_cancel(dev, flags, ms)
	})
}

// BioEnrollment is a fingerprint enrollment begun with BioEnrollBegin. It
// holds the pinUvAuthToken (be permission) libfido2 obtained for it;
// Close wipes it.
type BioEnrollment struct {
	d *Device
	t *C.fido_bio_template_t
	e *C.fido_bio_enroll_t
}

// sampleOp waits for one sample: the key waits up to sampleTimeout for a
// finger, the host a little longer (and at least the touch timeout).
func (d *Device) sampleOp(ctx context.Context, op string, sampleTimeout time.Duration, f opFunc) error {
	timeout := max(d.opts.touchTimeout, sampleTimeout+d.opts.timeout)
	return d.run(ctx, op, timeout, true, f)
}

func sampleMillis(d time.Duration) C.uint32_t {
	ms := d.Milliseconds()
	switch {
	case ms <= 0:
		return 0
	case ms > 0xFFFFFFFF:
		return 0xFFFFFFFF
	}
	return C.uint32_t(ms)
}

// BioEnrollBegin starts enrolling a fingerprint (enrollBegin) and captures
// its first sample: the key waits up to sampleTimeout for the finger. The
// PIN gets the be-permission token (libfido2 1.12 needs a PIN here). On
// success the caller must Close the enrollment; on an error there is none,
// but the key may still hold the enrollment begun: BioEnrollCancel ends it.
func (d *Device) BioEnrollBegin(ctx context.Context, pin []byte, sampleTimeout time.Duration) (*BioEnrollment, BioSample, error) {
	const op = "bio enroll"
	if len(pin) == 0 {
		return nil, BioSample{}, &Error{Op: op, Code: CodeInvalidArgument, Msg: "enrolling a fingerprint needs the PIN"}
	}
	e := &BioEnrollment{d: d, t: C.fido_bio_template_new(), e: C.fido_bio_enroll_new()}
	if e.t == nil || e.e == nil {
		e.Close()
		return nil, BioSample{}, &Error{Op: op, Code: CodeInternal, Msg: "out of memory"}
	}
	err := withPIN(op, pin, func(p *C.char) error {
		return d.sampleOp(ctx, op, sampleTimeout, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
			return C.kp_bio_enroll_begin(dev, flags, ms, e.t, e.e, sampleMillis(sampleTimeout), p)
		})
	})
	if err != nil {
		e.Close()
		return nil, BioSample{}, err
	}
	return e, e.sample(), nil
}

// ID returns the template id of the fingerprint being enrolled.
func (e *BioEnrollment) ID() []byte {
	return goBytes(C.fido_bio_template_id_ptr(e.t), C.fido_bio_template_id_len(e.t))
}

func (e *BioEnrollment) sample() BioSample {
	return BioSample{
		Feedback:  BioFeedback(C.fido_bio_enroll_last_status(e.e)),
		Remaining: int(C.fido_bio_enroll_remaining_samples(e.e)),
	}
}

// Next captures the next sample (enrollCaptureNextSample); the key waits
// up to sampleTimeout for the finger.
func (e *BioEnrollment) Next(ctx context.Context, sampleTimeout time.Duration) (BioSample, error) {
	const op = "bio enroll sample"
	if e.t == nil {
		return BioSample{}, &Error{Op: op, Code: CodeInvalidArgument, Msg: "enrollment closed"}
	}
	err := e.d.sampleOp(ctx, op, sampleTimeout, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
		return C.kp_bio_enroll_continue(dev, flags, ms, e.t, e.e, sampleMillis(sampleTimeout))
	})
	if err != nil {
		return BioSample{}, err
	}
	return e.sample(), nil
}

// Close frees the enrollment and wipes its token. It does not cancel an
// unfinished enrollment on the key (BioEnrollCancel does).
func (e *BioEnrollment) Close() {
	if e.e != nil {
		C.fido_bio_enroll_free(&e.e)
	}
	if e.t != nil {
		C.fido_bio_template_free(&e.t)
	}
}
