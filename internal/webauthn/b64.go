package webauthn

import (
	"encoding/base64"
	"errors"
	"strings"
)

var errNotBase64 = errors.New("not base64url or base64")

// b64url is the encoding Graph documents for every binary member (RFC 4648
// §5, no padding; docs/graph.md §2.4, §4.1).
var b64url = base64.RawURLEncoding

// strictB64 rejects non-zero trailing bits, which lets the digit-suffix form
// be told apart from plain base64url in most cases (see decodeTolerant).
var strictB64 = base64.RawURLEncoding.Strict()

// decodeTolerant decodes a binary member as Graph may send it
// (docs/graph.md §2.4): base64url with or without '=' padding, standard
// base64 ('+', '/', '=' padding), and, when digitSuffix is set, the
// "Base64URL with a padding number suffix" form in which a trailing '0', '1'
// or '2' stands for that many '=' characters.
//
// The digit-suffix form is only tried when the plain reading fails, except
// for one case the length arithmetic cannot settle: a string of 4k characters
// ending in '1' is valid base64url and also a digit-suffix encoding of
// 3k-1 bytes. decodeTolerant returns the plain reading and the digit-suffix
// reading as alt so a caller can keep both (an exclude list loses nothing by
// carrying one extra identifier that never matches).
func decodeTolerant(s string, digitSuffix bool) (b, alt []byte, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil, errors.New("empty")
	}
	norm := strings.Map(func(r rune) rune {
		switch r {
		case '+':
			return '-'
		case '/':
			return '_'
		}
		return r
	}, s)
	padded := strings.HasSuffix(norm, "=")
	norm = strings.TrimRight(norm, "=")
	if padded && (len(norm)+len(s)-len(strings.TrimRight(s, "=")))%4 != 0 {
		return nil, nil, errors.New("bad base64 padding")
	}
	if b, err := strictB64.DecodeString(norm); err == nil {
		if digitSuffix && !padded && len(norm)%4 == 0 && norm[len(norm)-1] == '1' {
			if a, err := strictB64.DecodeString(norm[:len(norm)-1]); err == nil {
				alt = a
			}
		}
		return b, alt, nil
	}
	if digitSuffix && !padded {
		last := norm[len(norm)-1]
		body := norm[:len(norm)-1]
		if last >= '0' && last <= '2' && (len(body)+int(last-'0'))%4 == 0 {
			if b, err := strictB64.DecodeString(body); err == nil {
				return b, nil, nil
			}
		}
	}
	// Last resort: lenient trailing bits (some encoders do not zero them).
	if b, err := b64url.DecodeString(norm); err == nil {
		return b, nil, nil
	}
	return nil, nil, errNotBase64
}
