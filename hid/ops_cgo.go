//go:build cgo

package hid

/*
#include "kp_fido.h"
*/
import "C"

import (
	"context"
	"unsafe"
)

// Info sends authenticatorGetInfo and returns every field libfido2 1.12
// exposes (fido_cbor_info_*).
func (d *Device) Info(ctx context.Context) (*Info, error) {
	const op = "get info"
	ci := C.fido_cbor_info_new()
	if ci == nil {
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "fido_cbor_info_new failed"}
	}
	defer C.fido_cbor_info_free(&ci)
	if err := d.do(ctx, op, false, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
		return C.kp_get_cbor_info(dev, flags, ms, ci)
	}); err != nil {
		return nil, err
	}
	return infoFromC(ci), nil
}

func cStrings(v **C.char, n C.size_t) []string {
	if v == nil || n == 0 {
		return nil
	}
	out := make([]string, 0, int(n))
	for _, p := range unsafe.Slice(v, int(n)) {
		out = append(out, goString(p))
	}
	return out
}

func infoFromC(ci *C.fido_cbor_info_t) *Info {
	in := &Info{
		Versions:              cStrings(C.fido_cbor_info_versions_ptr(ci), C.fido_cbor_info_versions_len(ci)),
		Extensions:            cStrings(C.fido_cbor_info_extensions_ptr(ci), C.fido_cbor_info_extensions_len(ci)),
		Transports:            cStrings(C.fido_cbor_info_transports_ptr(ci), C.fido_cbor_info_transports_len(ci)),
		Options:               map[string]bool{},
		MaxMsgSize:            uint64(C.fido_cbor_info_maxmsgsiz(ci)),
		MaxCredCountInList:    uint64(C.fido_cbor_info_maxcredcntlst(ci)),
		MaxCredIDLength:       uint64(C.fido_cbor_info_maxcredidlen(ci)),
		MaxLargeBlob:          uint64(C.fido_cbor_info_maxlargeblob(ci)),
		ForcePINChange:        bool(C.fido_cbor_info_new_pin_required(ci)),
		MinPINLength:          uint64(C.fido_cbor_info_minpinlen(ci)),
		FirmwareVersion:       uint64(C.fido_cbor_info_fwversion(ci)),
		MaxCredBlobLength:     uint64(C.fido_cbor_info_maxcredbloblen(ci)),
		MaxRPIDsMinPINLength:  uint64(C.fido_cbor_info_maxrpid_minpinlen(ci)),
		UVAttempts:            uint64(C.fido_cbor_info_uv_attempts(ci)),
		UVModality:            uint64(C.fido_cbor_info_uv_modality(ci)),
		RemainingResidentKeys: int64(C.fido_cbor_info_rk_remaining(ci)),
	}
	if p, n := C.fido_cbor_info_aaguid_ptr(ci), C.fido_cbor_info_aaguid_len(ci); p != nil && n == 16 {
		copy(in.AAGUID[:], unsafe.Slice((*byte)(unsafe.Pointer(p)), 16))
	}
	if n := int(C.fido_cbor_info_options_len(ci)); n > 0 {
		names := C.fido_cbor_info_options_name_ptr(ci)
		values := C.fido_cbor_info_options_value_ptr(ci)
		if names != nil && values != nil {
			ns := unsafe.Slice(names, n)
			vs := unsafe.Slice(values, n)
			for i := range n {
				in.Options[goString(ns[i])] = bool(vs[i])
			}
		}
	}
	if p, n := C.fido_cbor_info_protocols_ptr(ci), int(C.fido_cbor_info_protocols_len(ci)); p != nil && n > 0 {
		for _, v := range unsafe.Slice(p, n) {
			in.PINProtocols = append(in.PINProtocols, int(v))
		}
	}
	for i := C.size_t(0); i < C.fido_cbor_info_algorithm_count(ci); i++ {
		in.Algorithms = append(in.Algorithms, Algorithm{
			Type: goString(C.fido_cbor_info_algorithm_type(ci, i)),
			COSE: int(C.fido_cbor_info_algorithm_cose(ci, i)),
		})
	}
	if n := int(C.fido_cbor_info_certs_len(ci)); n > 0 {
		names := C.fido_cbor_info_certs_name_ptr(ci)
		values := C.fido_cbor_info_certs_value_ptr(ci)
		if names != nil && values != nil {
			in.Certifications = make(map[string]uint64, n)
			ns := unsafe.Slice(names, n)
			vs := unsafe.Slice(values, n)
			for i := range n {
				in.Certifications[goString(ns[i])] = uint64(vs[i])
			}
		}
	}
	return in
}

// PINRetries returns the key's remaining PIN attempts (clientPIN getPINRetries).
func (d *Device) PINRetries(ctx context.Context) (int, error) {
	var n C.int
	err := d.do(ctx, "get PIN retries", false, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
		return C.kp_get_retry_count(dev, flags, ms, &n)
	})
	return int(n), err
}

// UVRetries returns the key's remaining built-in UV attempts (clientPIN getUVRetries).
func (d *Device) UVRetries(ctx context.Context) (int, error) {
	var n C.int
	err := d.do(ctx, "get UV retries", false, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
		return C.kp_get_uv_retry_count(dev, flags, ms, &n)
	})
	return int(n), err
}

// pinOp runs a PIN-authenticated operation with pin in wiped C memory.
func (d *Device) pinOp(ctx context.Context, op string, touch bool, pin []byte, f func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int) error {
	return withPIN(op, pin, func(p *C.char) error {
		return d.do(ctx, op, touch, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
			return f(dev, flags, ms, p)
		})
	})
}

// SetPIN sets the first PIN of a key that has none (clientPIN setPIN).
// The key enforces its minimum length (ErrPINPolicyViolation).
func (d *Device) SetPIN(ctx context.Context, pin []byte) error {
	const op = "set PIN"
	if len(pin) == 0 {
		return &Error{Op: op, Code: CodeInvalidArgument, Msg: "empty PIN"}
	}
	return d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_set_pin(dev, flags, ms, p, nil)
	})
}

// ChangePIN replaces oldPIN with newPIN (clientPIN changePIN). A wrong oldPIN
// fails with ErrPINInvalid and costs one retry.
func (d *Device) ChangePIN(ctx context.Context, oldPIN, newPIN []byte) error {
	const op = "change PIN"
	if len(oldPIN) == 0 || len(newPIN) == 0 {
		return &Error{Op: op, Code: CodeInvalidArgument, Msg: "empty PIN"}
	}
	return withPIN(op, oldPIN, func(oldp *C.char) error {
		return d.pinOp(ctx, op, false, newPIN, func(dev *C.fido_dev_t, flags, ms C.int, newp *C.char) C.int {
			return C.kp_set_pin(dev, flags, ms, newp, oldp)
		})
	})
}

// Reset factory-resets the key (authenticatorReset): all credentials and the
// PIN are erased. Keys accept it only within a few seconds of power-up
// (ErrNotAllowed otherwise) and after a touch; it runs with the touch timeout.
func (d *Device) Reset(ctx context.Context) error {
	return d.do(ctx, "reset", true, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
		return C.kp_reset(dev, flags, ms)
	})
}

// SetMinPINLength raises the key's minimum PIN length
// (authenticatorConfig setMinPINLength). n == 0 leaves it unchanged.
func (d *Device) SetMinPINLength(ctx context.Context, n int, pin []byte) error {
	const op = "set minimum PIN length"
	if n < 0 {
		return &Error{Op: op, Code: CodeInvalidArgument, Msg: "negative length"}
	}
	return d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_set_pin_minlen(dev, flags, ms, C.size_t(n), p)
	})
}

// SetMinPINLengthRPIDs sets the RP IDs allowed to read the minimum PIN length
// through the minPinLength extension (setMinPINLength minPinLengthRPIDs).
func (d *Device) SetMinPINLengthRPIDs(ctx context.Context, rpIDs []string, pin []byte) error {
	const op = "set minimum PIN length RP IDs"
	if len(rpIDs) == 0 {
		return &Error{Op: op, Code: CodeInvalidArgument, Msg: "no RP IDs"}
	}
	arr := (**C.char)(C.calloc(C.size_t(len(rpIDs)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	if arr == nil {
		return &Error{Op: op, Code: CodeInternal, Msg: "out of memory"}
	}
	ids := unsafe.Slice(arr, len(rpIDs))
	defer func() {
		for _, p := range ids {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(arr))
	}()
	for i, id := range rpIDs {
		ids[i] = C.CString(id)
	}
	return d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_set_pin_minlen_rpid(dev, flags, ms, arr, C.size_t(len(rpIDs)), p)
	})
}

// ForcePINChange makes the key require a PIN change before the PIN can be
// used for anything else (authenticatorConfig setMinPINLength forceChangePin).
func (d *Device) ForcePINChange(ctx context.Context, pin []byte) error {
	return d.pinOp(ctx, "force PIN change", false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_force_pin_change(dev, flags, ms, p)
	})
}

// ToggleAlwaysUV flips the key's alwaysUv option (authenticatorConfig toggleAlwaysUv).
func (d *Device) ToggleAlwaysUV(ctx context.Context, pin []byte) error {
	return d.pinOp(ctx, "toggle always UV", false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_toggle_always_uv(dev, flags, ms, p)
	})
}

// EnableEnterpriseAttestation turns on enterprise attestation
// (authenticatorConfig enableEnterpriseAttestation). libfido2 1.12 cannot
// request enterprise attestation in makeCredential (docs/ctap.md §7.6).
func (d *Device) EnableEnterpriseAttestation(ctx context.Context, pin []byte) error {
	return d.pinOp(ctx, "enable enterprise attestation", false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_enable_entattest(dev, flags, ms, p)
	})
}
