package hid_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid"
)

// fuzzKey is one open session per fuzzing process on a fake key whose
// answers the fuzzer controls.
var fuzzKey struct {
	once sync.Once
	auth *fakeAuth
	dev  *hid.Device
	err  error
}

func fuzzDevice(f *testing.F) (*fakeAuth, *hid.Device) {
	fuzzKey.once.Do(func() {
		fuzzKey.auth = &fakeAuth{}
		// Registered for the life of the process: the fuzz engine reuses it.
		path := plugInPermanent(fuzzKey.auth)
		fuzzKey.dev, fuzzKey.err = hid.Open(context.Background(), path, hid.WithTimeout(2*time.Second))
	})
	if fuzzKey.err != nil {
		f.Fatal(fuzzKey.err)
	}
	return fuzzKey.auth, fuzzKey.dev
}

// checkTyped fails unless err is nil or a *hid.Error.
func checkTyped(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var he *hid.Error
	if !errors.As(err, &he) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
	if c := hid.CodeOf(err); c == hid.CodeDeadline || c == hid.CodeCancelled {
		t.Fatalf("key answered, yet the binding reports %v", err)
	}
}

// FuzzGetInfoResponse feeds arbitrary getInfo answers (status byte + CBOR)
// through the CTAPHID device, real libfido2 and the binding's decoding.
func FuzzGetInfoResponse(f *testing.F) {
	f.Add(append([]byte{0}, fakeInfoCBOR...))
	f.Add(append([]byte{0}, fakeInfoCBOR[:len(fakeInfoCBOR)/2]...))
	f.Add([]byte{0})
	f.Add([]byte{0x01})
	f.Add([]byte{0, 0xa0})
	f.Add([]byte{0, 0xa1, 0x01, 0x80})
	f.Add([]byte{0, 0xa1, 0x04, 0xa1, 0x62, 'r', 'k', 0xf5})
	f.Add([]byte{0, 0xbf, 0xff})
	f.Add([]byte{0x7f, 0xde, 0xad})
	auth, dev := fuzzDevice(f)
	f.Fuzz(func(t *testing.T, resp []byte) {
		if len(resp) == 0 {
			return // the CTAPHID device turns an empty answer into ERR_OTHER
		}
		auth.setResponse(0x04, resp)
		defer auth.setResponse(0x04, nil)
		in, err := dev.Info(context.Background())
		checkTyped(t, err)
		if err == nil {
			if in == nil || in.Options == nil {
				t.Fatal("nil Info without error")
			}
			if resp[0] != 0 {
				t.Fatalf("status 0x%02x accepted", resp[0])
			}
		}
	})
}

// validMakeCredResponse builds a well-formed "none" attestation answer.
func validMakeCredResponse(rpID string, withExt bool) []byte {
	rpHash := sha256.Sum256([]byte(rpID))
	var ad bytes.Buffer
	ad.Write(rpHash[:])
	flags := byte(0x41) // UP | AT
	if withExt {
		flags |= 0x80
	}
	ad.WriteByte(flags)
	ad.Write([]byte{0, 0, 0, 7})
	ad.Write(fakeAAGUID[:])
	credID := bytes.Repeat([]byte{0xc1}, 32)
	ad.Write([]byte{0, byte(len(credID))})
	ad.Write(credID)
	x, y := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	ad.Write(mustCanonical(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y}))
	if withExt {
		ad.Write(mustCanonical(map[string]any{"credProtect": 2, "hmac-secret": true, "minPinLength": 6}))
	}
	return append([]byte{0}, mustCanonical(map[int]any{1: "none", 2: ad.Bytes(), 3: map[string]any{}})...)
}

// FuzzMakeCredentialResponse does the same for makeCredential answers,
// including the binding's own authData extension parsing.
func FuzzMakeCredentialResponse(f *testing.F) {
	valid := validMakeCredResponse("fuzz.example", true)
	f.Add(valid)
	f.Add(validMakeCredResponse("fuzz.example", false))
	f.Add(valid[:len(valid)-5])
	f.Add(valid[:60])
	f.Add([]byte{0x19})
	f.Add([]byte{0, 0xa1, 0x01, 0x64, 'n', 'o', 'n', 'e'})
	auth, dev := fuzzDevice(f)
	req := hid.MakeCredentialRequest{
		ClientDataHash: make([]byte, 32),
		RP:             hid.RelyingParty{ID: "fuzz.example"},
		User:           hid.User{ID: []byte{1, 2, 3}, Name: "fuzz"},
	}
	f.Fuzz(func(t *testing.T, resp []byte) {
		if len(resp) == 0 {
			return
		}
		auth.setResponse(0x01, resp)
		defer auth.setResponse(0x01, nil)
		c, err := dev.MakeCredential(context.Background(), req, nil)
		checkTyped(t, err)
		if err == nil {
			if c == nil || len(c.ID) == 0 || len(c.AuthData) < 37 || c.Format == "" {
				t.Fatalf("implausible credential %+v", c)
			}
			if bytes.Equal(resp, valid) && (c.CredProtect != 2 || !c.HMACSecret || c.MinPINLength != 6 || c.SignCount != 7) {
				t.Fatalf("extension outputs not decoded: %+v", c)
			}
		}
	})
}
