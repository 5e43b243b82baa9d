package webauthn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
)

// authData flags (WebAuthn L3 §6.1).
const (
	FlagUP = 0x01 // user present
	FlagUV = 0x04 // user verified
	FlagBE = 0x08 // backup eligible
	FlagBS = 0x10 // backup state
	FlagAT = 0x40 // attested credential data included
	FlagED = 0x80 // extension data included
)

// Flags is the authData flags byte.
type Flags byte

// UP reports the user-present flag.
func (f Flags) UP() bool { return f&FlagUP != 0 }

// UV reports the user-verified flag.
func (f Flags) UV() bool { return f&FlagUV != 0 }

// BE reports the backup-eligible flag (0 for a security key).
func (f Flags) BE() bool { return f&FlagBE != 0 }

// BS reports the backup-state flag (0 for a security key).
func (f Flags) BS() bool { return f&FlagBS != 0 }

// AT reports that attested credential data is present.
func (f Flags) AT() bool { return f&FlagAT != 0 }

// ED reports that extension outputs are present.
func (f Flags) ED() bool { return f&FlagED != 0 }

// AuthData is decoded authenticator data (WebAuthn L3 §6.1) with its
// attested credential data (§6.5.2) and extension outputs (CTAP 2.1 §12).
type AuthData struct {
	Raw       []byte
	RPIDHash  [32]byte
	Flags     Flags
	SignCount uint32

	// Attested credential data; zero values when AT is clear.
	AAGUID       uuid.UUID
	CredentialID []byte
	// PublicKeyCOSE is the credential public key as the raw COSE_Key.
	PublicKeyCOSE []byte
	// Algorithm is the COSE_Key alg (3) member.
	Algorithm int
	// PublicKey is *ecdsa.PublicKey (ES256), *rsa.PublicKey (RS256) or
	// ed25519.PublicKey (EdDSA).
	PublicKey crypto.PublicKey

	Extensions AuthDataExtensions
}

// AuthDataExtensions holds the authenticator extension outputs keyprep
// reads (CTAP 2.1 §12.1 credProtect, §12.5 hmac-secret, §12.4 minPinLength,
// §12.2 credBlob). Present lists every output name, known or not.
type AuthDataExtensions struct {
	CredProtect  int // 0 when absent
	HMACSecret   bool
	MinPINLength int // 0 when absent
	CredBlob     bool
	Present      []string
}

// Has reports whether the authenticator returned the named output.
func (e AuthDataExtensions) Has(name string) bool {
	return slices.Contains(e.Present, name)
}

// MaxCredentialIDLength is WebAuthn L3 §5.8.3's bound on credential ids
// (1023 bytes), which RPs (and Entra's POST) may enforce.
const MaxCredentialIDLength = 1023

// ErrAuthData is wrapped by every ParseAuthData error.
var ErrAuthData = errors.New("webauthn: malformed authData")

func adErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrAuthData, fmt.Sprintf(format, args...))
}

// decMode decodes authenticator CBOR: definite lengths as CTAP2 canonical
// form requires (CTAP 2.1 §8), no duplicate map keys, bounded nesting.
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  16,
		MaxArrayElements: 1024,
		MaxMapPairs:      256,
		TagsMd:           cbor.TagsForbidden,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return dm
}()

// ParseAuthData decodes authenticator data (WebAuthn L3 §6.1). It requires
// AT and ED to match the data present and no trailing bytes. The credential
// public key is decoded for ES256, RS256 and EdDSA; other key types are an
// error.
func ParseAuthData(b []byte) (*AuthData, error) {
	if len(b) < 37 {
		return nil, adErr("%d bytes, at least 37 needed", len(b))
	}
	ad := &AuthData{Raw: append([]byte(nil), b...)}
	copy(ad.RPIDHash[:], b[:32])
	ad.Flags = Flags(b[32])
	ad.SignCount = binary.BigEndian.Uint32(b[33:37])
	rest := b[37:]
	if ad.Flags.AT() {
		if len(rest) < 18 {
			return nil, adErr("attested credential data truncated")
		}
		copy(ad.AAGUID[:], rest[:16])
		n := int(binary.BigEndian.Uint16(rest[16:18]))
		rest = rest[18:]
		if len(rest) < n {
			return nil, adErr("credential id length %d exceeds remaining %d bytes", n, len(rest))
		}
		ad.CredentialID = append([]byte(nil), rest[:n]...)
		rest = rest[n:]
		var raw cbor.RawMessage
		after, err := decMode.UnmarshalFirst(rest, &raw)
		if err != nil {
			return nil, adErr("credential public key: %v", err)
		}
		ad.PublicKeyCOSE = append([]byte(nil), raw...)
		if ad.PublicKey, ad.Algorithm, err = parseCOSEKey(raw); err != nil {
			return nil, adErr("credential public key: %v", err)
		}
		rest = after
	}
	if ad.Flags.ED() {
		var raw cbor.RawMessage
		after, err := decMode.UnmarshalFirst(rest, &raw)
		if err != nil {
			return nil, adErr("extensions: %v", err)
		}
		if ad.Extensions, err = parseExtensionOutputs(raw); err != nil {
			return nil, adErr("extensions: %v", err)
		}
		rest = after
	}
	if len(rest) != 0 {
		return nil, adErr("%d trailing bytes", len(rest))
	}
	return ad, nil
}

func parseExtensionOutputs(raw []byte) (AuthDataExtensions, error) {
	var ext AuthDataExtensions
	var m map[string]cbor.RawMessage
	if err := decMode.Unmarshal(raw, &m); err != nil {
		return ext, fmt.Errorf("not a map with text keys: %v", err)
	}
	for name, v := range m {
		ext.Present = append(ext.Present, name)
		var err error
		switch name {
		case "credProtect":
			var n uint8
			err = decMode.Unmarshal(v, &n)
			ext.CredProtect = int(n)
		case "hmac-secret":
			err = decMode.Unmarshal(v, &ext.HMACSecret)
		case "minPinLength":
			var n uint8
			err = decMode.Unmarshal(v, &n)
			ext.MinPINLength = int(n)
		case "credBlob":
			err = decMode.Unmarshal(v, &ext.CredBlob)
		}
		if err != nil {
			return ext, fmt.Errorf("%s: %v", name, err)
		}
	}
	slices.Sort(ext.Present)
	return ext, nil
}

// COSE key parameters (RFC 9052 §7, RFC 9053 §7).
const (
	coseKty = 1
	coseAlg = 3
	coseCrv = -1 // EC2/OKP crv; RSA n
	coseX   = -2 // EC2/OKP x; RSA e
	coseY   = -3

	ktyOKP = 1
	ktyEC2 = 2
	ktyRSA = 3
)

func parseCOSEKey(raw []byte) (crypto.PublicKey, int, error) {
	var m map[int]cbor.RawMessage
	if err := decMode.Unmarshal(raw, &m); err != nil {
		return nil, 0, fmt.Errorf("not a COSE_Key map: %v", err)
	}
	var kty, alg int
	if err := decMode.Unmarshal(m[coseKty], &kty); err != nil {
		return nil, 0, errors.New("kty (1) missing or not an integer")
	}
	if err := decMode.Unmarshal(m[coseAlg], &alg); err != nil {
		return nil, 0, errors.New("alg (3) missing or not an integer")
	}
	bytesOf := func(label int, name string) ([]byte, error) {
		var b []byte
		if err := decMode.Unmarshal(m[label], &b); err != nil {
			return nil, fmt.Errorf("%s (%d) missing or not a byte string", name, label)
		}
		return b, nil
	}
	switch {
	case kty == ktyEC2 && alg == AlgES256:
		var crv int
		if err := decMode.Unmarshal(m[coseCrv], &crv); err != nil || crv != 1 {
			return nil, alg, errors.New("ES256 key crv (-1) is not P-256 (1)")
		}
		x, err := bytesOf(coseX, "x")
		if err != nil {
			return nil, alg, err
		}
		y, err := bytesOf(coseY, "y")
		if err != nil {
			return nil, alg, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, alg, fmt.Errorf("P-256 coordinates are %d and %d bytes, want 32", len(x), len(y))
		}
		pt := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
		if err != nil {
			return nil, alg, fmt.Errorf("P-256 point: %v", err)
		}
		return pub, alg, nil
	case kty == ktyRSA && alg == AlgRS256:
		n, err := bytesOf(coseCrv, "n")
		if err != nil {
			return nil, alg, err
		}
		e, err := bytesOf(coseX, "e")
		if err != nil {
			return nil, alg, err
		}
		if len(n) < 256 || len(n) > 1024 {
			return nil, alg, fmt.Errorf("RSA modulus of %d bytes outside 2048..8192 bits", len(n))
		}
		if len(e) == 0 || len(e) > 4 {
			return nil, alg, fmt.Errorf("RSA exponent of %d bytes", len(e))
		}
		var ev int
		for _, c := range e {
			ev = ev<<8 | int(c)
		}
		if ev < 3 || ev%2 == 0 {
			return nil, alg, errors.New("RSA exponent invalid")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev}, alg, nil
	case kty == ktyOKP && alg == AlgEdDSA:
		var crv int
		if err := decMode.Unmarshal(m[coseCrv], &crv); err != nil || crv != 6 {
			return nil, alg, errors.New("EdDSA key crv (-1) is not Ed25519 (6)")
		}
		x, err := bytesOf(coseX, "x")
		if err != nil {
			return nil, alg, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, alg, fmt.Errorf("Ed25519 key of %d bytes", len(x))
		}
		return ed25519.PublicKey(x), alg, nil
	}
	return nil, alg, fmt.Errorf("unsupported key type %d with alg %d", kty, alg)
}
