//go:build cgo

package hid

/*
#include "kp_fido.h"
*/
import "C"

import (
	"context"
	"fmt"
	"time"
	"unsafe"
)

// setupError reports a libfido2 setter that rejected a request field.
func setupError(op, what string, rc C.int) error {
	return &Error{Op: op, Code: Code(rc), Msg: what + ": " + fidoStrerr(rc)}
}

// MakeCredential runs authenticatorMakeCredential. With a PIN, libfido2
// obtains a pinUvAuthToken first (UV by PIN); without one and with req.UV it
// asks for built-in UV. It waits for a touch, bounded by the touch timeout.
func (d *Device) MakeCredential(ctx context.Context, req MakeCredentialRequest, pin []byte) (*Credential, error) {
	const op = "make credential"
	alg := req.Algorithm
	if alg == 0 {
		alg = ES256
	}
	// An enforced level above the baseline needs a key that lists the
	// extension; level 1 (userVerificationOptional) is what every
	// credential has without it (CTAP 2.1 §12.1), so it needs nothing.
	if req.EnforceCredProtect && req.CredProtect > CredProtectUVOptional && !d.SupportsCredProtect() {
		return nil, &Error{Op: op, Code: CodeUnsupportedExtension, Msg: "key does not support credProtect"}
	}
	cred := C.fido_cred_new()
	if cred == nil {
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "fido_cred_new failed"}
	}
	defer C.fido_cred_free(&cred)

	if rc := C.fido_cred_set_type(cred, C.int(alg)); rc != C.FIDO_OK {
		return nil, setupError(op, "algorithm", rc)
	}
	if rc := C.fido_cred_set_clientdata_hash(cred, cBytes(req.ClientDataHash), C.size_t(len(req.ClientDataHash))); rc != C.FIDO_OK {
		return nil, setupError(op, "client data hash", rc)
	}
	rpID, freeRPID := cString(req.RP.ID)
	defer freeRPID()
	rpName, freeRPName := cString(req.RP.Name)
	defer freeRPName()
	if rc := C.fido_cred_set_rp(cred, rpID, rpName); rc != C.FIDO_OK {
		return nil, setupError(op, "relying party", rc)
	}
	uName, freeUName := cString(req.User.Name)
	defer freeUName()
	uDisp, freeUDisp := cString(req.User.DisplayName)
	defer freeUDisp()
	if rc := C.fido_cred_set_user(cred, cBytes(req.User.ID), C.size_t(len(req.User.ID)), uName, uDisp, nil); rc != C.FIDO_OK {
		return nil, setupError(op, "user", rc)
	}
	if req.ResidentKey {
		C.fido_cred_set_rk(cred, C.FIDO_OPT_TRUE)
	}
	if req.UV {
		C.fido_cred_set_uv(cred, C.FIDO_OPT_TRUE)
	}
	for _, id := range req.ExcludeList {
		if rc := C.fido_cred_exclude(cred, cBytes(id), C.size_t(len(id))); rc != C.FIDO_OK {
			return nil, setupError(op, "exclude list", rc)
		}
	}
	if req.CredProtect != CredProtectNone {
		if rc := C.fido_cred_set_prot(cred, C.int(req.CredProtect)); rc != C.FIDO_OK {
			return nil, setupError(op, "credProtect", rc)
		}
	}
	if req.HMACSecret {
		if rc := C.fido_cred_set_extensions(cred, C.FIDO_EXT_HMAC_SECRET); rc != C.FIDO_OK {
			return nil, setupError(op, "hmac-secret", rc)
		}
	}
	if req.MinPINLengthExt {
		// Any non-zero value makes libfido2 send "minPinLength": true.
		C.fido_cred_set_pin_minlen(cred, 1)
	}

	if err := d.pinOp(ctx, op, true, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_make_cred(dev, flags, ms, cred, p)
	}); err != nil {
		return nil, err
	}

	c := &Credential{
		Format:       goString(C.fido_cred_fmt(cred)),
		AuthData:     goBytes(C.fido_cred_authdata_raw_ptr(cred), C.fido_cred_authdata_raw_len(cred)),
		AuthDataCBOR: goBytes(C.fido_cred_authdata_ptr(cred), C.fido_cred_authdata_len(cred)),
		ID:           goBytes(C.fido_cred_id_ptr(cred), C.fido_cred_id_len(cred)),
		PublicKey:    goBytes(C.fido_cred_pubkey_ptr(cred), C.fido_cred_pubkey_len(cred)),
		Sig:          goBytes(C.fido_cred_sig_ptr(cred), C.fido_cred_sig_len(cred)),
		AttStmt:      goBytes(C.fido_cred_attstmt_ptr(cred), C.fido_cred_attstmt_len(cred)),
		AAGUID:       goBytes(C.fido_cred_aaguid_ptr(cred), C.fido_cred_aaguid_len(cred)),
		Flags:        uint8(C.fido_cred_flags(cred)),
		SignCount:    uint32(C.fido_cred_sigcount(cred)),
		Algorithm:    int(C.fido_cred_type(cred)),
	}
	if x5c := goBytes(C.fido_cred_x5c_ptr(cred), C.fido_cred_x5c_len(cred)); x5c != nil {
		c.X5C = [][]byte{x5c}
	}
	// libfido2's fido_cred_prot/fido_cred_pin_minlen echo the request; the
	// key's answer is in the authData extensions.
	if ext, err := parseAuthDataExtensions(c.AuthData); err == nil {
		c.CredProtect = CredProtect(ext.credProtect)
		c.MinPINLength = ext.minPINLength
		c.HMACSecret = ext.hmacSecret
	}
	if req.EnforceCredProtect && req.CredProtect != CredProtectNone && EffectiveCredProtect(c.CredProtect) < req.CredProtect {
		return c, &Error{Op: op, Code: CodeUnsupportedExtension,
			Msg: fmt.Sprintf("key applied credProtect %d, requested %d (the credential was created)", EffectiveCredProtect(c.CredProtect), req.CredProtect)}
	}
	return c, nil
}

// GetAssertion runs authenticatorGetAssertion and, for a discoverable
// request matching several credentials, authenticatorGetNextAssertion:
// it returns every assertion (fido_assert_count). It waits for a touch
// unless req.NoUP, bounded by the touch timeout.
func (d *Device) GetAssertion(ctx context.Context, req AssertionRequest, pin []byte) ([]Assertion, error) {
	const op = "get assertion"
	a := C.fido_assert_new()
	if a == nil {
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "fido_assert_new failed"}
	}
	defer C.fido_assert_free(&a)
	rpID, freeRPID := cString(req.RPID)
	defer freeRPID()
	if rc := C.fido_assert_set_rp(a, rpID); rc != C.FIDO_OK {
		return nil, setupError(op, "relying party", rc)
	}
	if rc := C.fido_assert_set_clientdata_hash(a, cBytes(req.ClientDataHash), C.size_t(len(req.ClientDataHash))); rc != C.FIDO_OK {
		return nil, setupError(op, "client data hash", rc)
	}
	for _, id := range req.AllowList {
		if rc := C.fido_assert_allow_cred(a, cBytes(id), C.size_t(len(id))); rc != C.FIDO_OK {
			return nil, setupError(op, "allow list", rc)
		}
	}
	switch {
	case req.NoUP:
		C.fido_assert_set_up(a, C.FIDO_OPT_FALSE)
	case req.UP:
		C.fido_assert_set_up(a, C.FIDO_OPT_TRUE)
	}
	if req.UV {
		C.fido_assert_set_uv(a, C.FIDO_OPT_TRUE)
	}
	if err := d.pinOp(ctx, op, true, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_get_assert(dev, flags, ms, a, p)
	}); err != nil {
		return nil, err
	}
	n := C.fido_assert_count(a)
	out := make([]Assertion, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		as := Assertion{
			AuthDataCBOR: goBytes(C.fido_assert_authdata_ptr(a, i), C.fido_assert_authdata_len(a, i)),
			Sig:          goBytes(C.fido_assert_sig_ptr(a, i), C.fido_assert_sig_len(a, i)),
			CredentialID: goBytes(C.fido_assert_id_ptr(a, i), C.fido_assert_id_len(a, i)),
			UserID:       goBytes(C.fido_assert_user_id_ptr(a, i), C.fido_assert_user_id_len(a, i)),
			UserName:     goString(C.fido_assert_user_name(a, i)),
			DisplayName:  goString(C.fido_assert_user_display_name(a, i)),
			Flags:        uint8(C.fido_assert_flags(a, i)),
			SignCount:    uint32(C.fido_assert_sigcount(a, i)),
		}
		as.AuthData, _ = unwrapByteString(as.AuthDataCBOR)
		out = append(out, as)
	}
	return out, nil
}

// CredentialMetadata returns the number of discoverable credentials on the
// key and the room left (credentialManagement getCredsMetadata).
func (d *Device) CredentialMetadata(ctx context.Context, pin []byte) (*CredentialMetadata, error) {
	const op = "get credential metadata"
	md := C.fido_credman_metadata_new()
	if md == nil {
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "fido_credman_metadata_new failed"}
	}
	defer C.fido_credman_metadata_free(&md)
	if err := d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_credman_metadata(dev, flags, ms, md, p)
	}); err != nil {
		return nil, err
	}
	return &CredentialMetadata{
		Existing:  int(C.fido_credman_rk_existing(md)),
		Remaining: int(C.fido_credman_rk_remaining(md)),
	}, nil
}

// RelyingParties lists the RPs that have discoverable credentials on the key
// (credentialManagement enumerateRPs).
func (d *Device) RelyingParties(ctx context.Context, pin []byte) ([]RPEntry, error) {
	const op = "enumerate relying parties"
	rp := C.fido_credman_rp_new()
	if rp == nil {
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "fido_credman_rp_new failed"}
	}
	defer C.fido_credman_rp_free(&rp)
	if err := d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_credman_rp(dev, flags, ms, rp, p)
	}); err != nil {
		return nil, err
	}
	n := C.fido_credman_rp_count(rp)
	out := make([]RPEntry, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		out = append(out, RPEntry{
			ID:     goString(C.fido_credman_rp_id(rp, i)),
			Name:   goString(C.fido_credman_rp_name(rp, i)),
			IDHash: goBytes(C.fido_credman_rp_id_hash_ptr(rp, i), C.fido_credman_rp_id_hash_len(rp, i)),
		})
	}
	return out, nil
}

// Credentials lists the discoverable credentials of rpID
// (credentialManagement enumerateCredentials).
func (d *Device) Credentials(ctx context.Context, rpID string, pin []byte) ([]ResidentCredential, error) {
	const op = "enumerate credentials"
	if rpID == "" {
		return nil, &Error{Op: op, Code: CodeInvalidArgument, Msg: "empty RP ID"}
	}
	rk := C.fido_credman_rk_new()
	if rk == nil {
		return nil, &Error{Op: op, Code: CodeInternal, Msg: "fido_credman_rk_new failed"}
	}
	defer C.fido_credman_rk_free(&rk)
	crp := C.CString(rpID)
	defer C.free(unsafe.Pointer(crp))
	if err := d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_credman_rk(dev, flags, ms, crp, rk, p)
	}); err != nil {
		return nil, err
	}
	n := C.fido_credman_rk_count(rk)
	out := make([]ResidentCredential, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		c := C.fido_credman_rk(rk, i)
		if c == nil {
			continue
		}
		out = append(out, ResidentCredential{
			ID:          goBytes(C.fido_cred_id_ptr(c), C.fido_cred_id_len(c)),
			UserID:      goBytes(C.fido_cred_user_id_ptr(c), C.fido_cred_user_id_len(c)),
			UserName:    goString(C.fido_cred_user_name(c)),
			DisplayName: goString(C.fido_cred_display_name(c)),
			CredProtect: CredProtect(C.fido_cred_prot(c)),
			PublicKey:   goBytes(C.fido_cred_pubkey_ptr(c), C.fido_cred_pubkey_len(c)),
			Algorithm:   int(C.fido_cred_type(c)),
		})
	}
	return out, nil
}

// DeleteCredential deletes one discoverable credential
// (credentialManagement deleteCredential).
func (d *Device) DeleteCredential(ctx context.Context, credID []byte, pin []byte) error {
	const op = "delete credential"
	if len(credID) == 0 {
		return &Error{Op: op, Code: CodeInvalidArgument, Msg: "empty credential ID"}
	}
	id := C.CBytes(credID)
	defer C.free(id)
	return d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_credman_del(dev, flags, ms, (*C.uchar)(id), C.size_t(len(credID)), p)
	})
}

// UpdateUser replaces the user name and display name stored with a
// discoverable credential (credentialManagement updateUserInformation).
// user.ID must be the credential's user ID.
func (d *Device) UpdateUser(ctx context.Context, credID []byte, user User, pin []byte) error {
	const op = "update user"
	if len(credID) == 0 || len(user.ID) == 0 {
		return &Error{Op: op, Code: CodeInvalidArgument, Msg: "empty credential or user ID"}
	}
	cred := C.fido_cred_new()
	if cred == nil {
		return &Error{Op: op, Code: CodeInternal, Msg: "fido_cred_new failed"}
	}
	defer C.fido_cred_free(&cred)
	if rc := C.fido_cred_set_id(cred, cBytes(credID), C.size_t(len(credID))); rc != C.FIDO_OK {
		return setupError(op, "credential ID", rc)
	}
	uName, freeUName := cString(user.Name)
	defer freeUName()
	uDisp, freeUDisp := cString(user.DisplayName)
	defer freeUDisp()
	if rc := C.fido_cred_set_user(cred, cBytes(user.ID), C.size_t(len(user.ID)), uName, uDisp, nil); rc != C.FIDO_OK {
		return setupError(op, "user", rc)
	}
	return d.pinOp(ctx, op, false, pin, func(dev *C.fido_dev_t, flags, ms C.int, p *C.char) C.int {
		return C.kp_credman_set(dev, flags, ms, cred, p)
	})
}

// selectionPoll is the slice of each fido_dev_get_touch_status wait.
const selectionPoll = 100 * time.Millisecond

// Selection asks the key to signal and waits for the user to touch it
// (fido_dev_get_touch_begin/status: a dummy makeCredential that every key
// answers after a touch). It is bounded by ctx and the touch timeout; on
// either it cancels the key.
func (d *Device) Selection(ctx context.Context) error {
	const op = "selection"
	deadline := time.Now().Add(d.opts.touchTimeout)
	if err := d.do(ctx, op, false, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
		return C.kp_touch_begin(dev, flags, ms)
	}); err != nil {
		return err
	}
	for {
		remaining := time.Until(deadline)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < remaining {
			remaining = time.Until(dl)
		}
		if remaining <= 0 {
			d.abort()
			if ctx.Err() != nil {
				return ctxErr(ctx, op)
			}
			return &Error{Op: op, Code: CodeDeadline, Msg: "no touch within the touch timeout"}
		}
		slice := min(remaining, selectionPoll)
		var touched C.int
		err := d.do(ctx, op, true, func(dev *C.fido_dev_t, flags, ms C.int) C.int {
			return C.kp_touch_status(dev, flags, &touched, C.int(slice/time.Millisecond))
		})
		if err != nil {
			return err
		}
		if touched != 0 {
			return nil
		}
	}
}
