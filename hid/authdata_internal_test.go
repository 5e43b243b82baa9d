package hid

import "testing"

// FuzzParseAuthData checks the binding's own CBOR reading never panics or
// reads out of bounds.
func FuzzParseAuthData(f *testing.F) {
	f.Add(make([]byte, 37))
	f.Add(append(make([]byte, 32), 0xc1, 0, 0, 0, 1))
	f.Add([]byte{0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseAuthDataExtensions(b)
		_, _ = unwrapByteString(b)
		_, _ = cborSkip(b, 0)
	})
}
