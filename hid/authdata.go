package hid

import (
	"encoding/binary"
	"errors"
)

// Minimal CBOR reading for the parts of key responses libfido2 1.12 does not
// expose: the extension outputs in makeCredential's authData and the raw
// authData inside getAssertion's CBOR byte string.

var errCBOR = errors.New("hid: malformed CBOR")

// cborHead decodes an item head: major type, argument, head length.
func cborHead(b []byte) (major byte, arg uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, errCBOR
	}
	major, info := b[0]>>5, b[0]&0x1f
	switch {
	case info < 24:
		return major, uint64(info), 1, nil
	case info == 24 && len(b) >= 2:
		return major, uint64(b[1]), 2, nil
	case info == 25 && len(b) >= 3:
		return major, uint64(binary.BigEndian.Uint16(b[1:])), 3, nil
	case info == 26 && len(b) >= 5:
		return major, uint64(binary.BigEndian.Uint32(b[1:])), 5, nil
	case info == 27 && len(b) >= 9:
		return major, binary.BigEndian.Uint64(b[1:]), 9, nil
	}
	return 0, 0, 0, errCBOR // indefinite lengths are not canonical CTAP2 CBOR
}

// cborSkip returns the length of the first complete item of b.
func cborSkip(b []byte, depth int) (int, error) {
	if depth > 16 {
		return 0, errCBOR
	}
	major, arg, n, err := cborHead(b)
	if err != nil {
		return 0, err
	}
	switch major {
	case 0, 1, 7:
		return n, nil
	case 2, 3:
		if arg > uint64(len(b)-n) {
			return 0, errCBOR
		}
		return n + int(arg), nil
	case 4, 5:
		items := arg
		if major == 5 {
			if arg > uint64(len(b)) {
				return 0, errCBOR
			}
			items = 2 * arg
		}
		if items > uint64(len(b)) {
			return 0, errCBOR
		}
		off := n
		for i := uint64(0); i < items; i++ {
			m, err := cborSkip(b[off:], depth+1)
			if err != nil {
				return 0, err
			}
			off += m
		}
		return off, nil
	case 6:
		m, err := cborSkip(b[n:], depth+1)
		if err != nil {
			return 0, err
		}
		return n + m, nil
	}
	return 0, errCBOR
}

// unwrapByteString returns the content of the CBOR byte string b.
func unwrapByteString(b []byte) ([]byte, error) {
	major, arg, n, err := cborHead(b)
	if err != nil || major != 2 || arg != uint64(len(b)-n) {
		return nil, errCBOR
	}
	return b[n:], nil
}

type authDataExt struct {
	credProtect  uint64
	minPINLength uint64
	hmacSecret   bool
}

// authData flags (WebAuthn §6.1).
const (
	flagAT = 0x40
	flagED = 0x80
)

// parseAuthDataExtensions reads the extension outputs of raw authData.
func parseAuthDataExtensions(ad []byte) (authDataExt, error) {
	var ext authDataExt
	if len(ad) < 37 {
		return ext, errCBOR
	}
	flags := ad[32]
	rest := ad[37:]
	if flags&flagAT != 0 {
		if len(rest) < 18 {
			return ext, errCBOR
		}
		idLen := int(binary.BigEndian.Uint16(rest[16:18]))
		if len(rest) < 18+idLen {
			return ext, errCBOR
		}
		rest = rest[18+idLen:]
		n, err := cborSkip(rest, 0) // COSE public key
		if err != nil {
			return ext, err
		}
		rest = rest[n:]
	}
	if flags&flagED == 0 {
		return ext, nil
	}
	major, pairs, n, err := cborHead(rest)
	if err != nil || major != 5 {
		return ext, errCBOR
	}
	rest = rest[n:]
	for i := uint64(0); i < pairs; i++ {
		km, kl, kn, err := cborHead(rest)
		if err != nil || km != 3 || kl > uint64(len(rest)-kn) {
			return ext, errCBOR
		}
		key := string(rest[kn : kn+int(kl)])
		rest = rest[kn+int(kl):]
		vm, va, _, err := cborHead(rest)
		if err != nil {
			return ext, err
		}
		switch {
		case key == "credProtect" && vm == 0:
			ext.credProtect = va
		case key == "minPinLength" && vm == 0:
			ext.minPINLength = va
		case key == "hmac-secret" && vm == 7:
			ext.hmacSecret = va == 21 // simple value true
		}
		m, err := cborSkip(rest, 0)
		if err != nil {
			return ext, err
		}
		rest = rest[m:]
	}
	return ext, nil
}
