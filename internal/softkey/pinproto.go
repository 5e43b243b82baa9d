package softkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
)

// pinProtocol is the authenticator side of a PIN/UV auth protocol
// (CTAP 2.1 §6.5.4 "PIN/UV Auth Protocol Abstract Definition"). The
// functions are pure so that known-answer vectors can drive them with fixed
// keys and IVs; key-agreement key management lives in the Authenticator.
type pinProtocol interface {
	// version is 1 or 2.
	version() int
	// kdf derives the shared secret from Z, the x-coordinate of the ECDH
	// point (§6.5.6 / §6.5.7).
	kdf(z []byte) []byte
	// encrypt encrypts a whole number of AES blocks with the shared secret.
	encrypt(key, plaintext []byte, rand io.Reader) ([]byte, error)
	// decrypt reverses encrypt.
	decrypt(key, ciphertext []byte) ([]byte, error)
	// authenticate computes the MAC of msg with a shared secret or a
	// pinUvAuthToken.
	authenticate(key, msg []byte) []byte
	// paramLen is the exact length of a pinUvAuthParam.
	paramLen() int
}

var errBadCiphertext = errors.New("softkey: ciphertext is not a whole number of AES blocks")

// protocolOne implements PIN/UV auth protocol one (CTAP 2.1 §6.5.6):
// SHA-256(Z), AES-256-CBC with an all-zero IV, HMAC-SHA-256 truncated to
// 16 bytes.
type protocolOne struct{}

func (protocolOne) version() int  { return 1 }
func (protocolOne) paramLen() int { return 16 }

func (protocolOne) kdf(z []byte) []byte {
	s := sha256.Sum256(z)
	return s[:]
}

func (protocolOne) encrypt(key, pt []byte, _ io.Reader) ([]byte, error) {
	return cbcEncrypt(key, make([]byte, aes.BlockSize), pt)
}

func (protocolOne) decrypt(key, ct []byte) ([]byte, error) {
	return cbcDecrypt(key, make([]byte, aes.BlockSize), ct)
}

func (protocolOne) authenticate(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)[:16]
}

// protocolTwo implements PIN/UV auth protocol two (CTAP 2.1 §6.5.7): the
// shared secret is HKDF-SHA-256(salt = 32 zero bytes, info "CTAP2 HMAC
// key") ‖ HKDF(…, "CTAP2 AES key"); AES-256-CBC with a random IV prepended
// to the ciphertext; full 32-byte HMAC-SHA-256.
type protocolTwo struct{}

func (protocolTwo) version() int  { return 2 }
func (protocolTwo) paramLen() int { return 32 }

func (protocolTwo) kdf(z []byte) []byte {
	salt := make([]byte, 32)
	hk, err1 := hkdf.Key(sha256.New, z, salt, "CTAP2 HMAC key", 32)
	ak, err2 := hkdf.Key(sha256.New, z, salt, "CTAP2 AES key", 32)
	if err1 != nil || err2 != nil {
		return nil
	}
	return append(hk, ak...)
}

// aesKey returns the AES half of a protocol-two shared secret.
func (protocolTwo) aesKey(key []byte) []byte {
	if len(key) == 64 {
		return key[32:]
	}
	return key
}

func (p protocolTwo) encrypt(key, pt []byte, rand io.Reader) ([]byte, error) {
	iv := make([]byte, aes.BlockSize)
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, err
	}
	return p.encryptIV(key, iv, pt)
}

// encryptIV is encrypt with a caller-chosen IV (for known-answer tests).
func (p protocolTwo) encryptIV(key, iv, pt []byte) ([]byte, error) {
	ct, err := cbcEncrypt(p.aesKey(key), iv, pt)
	if err != nil {
		return nil, err
	}
	return append(append([]byte(nil), iv...), ct...), nil
}

func (p protocolTwo) decrypt(key, ct []byte) ([]byte, error) {
	if len(ct) < aes.BlockSize {
		return nil, errBadCiphertext
	}
	return cbcDecrypt(p.aesKey(key), ct[:aes.BlockSize], ct[aes.BlockSize:])
}

// authenticate uses the HMAC half of a 64-byte shared secret, or the whole
// key when it is a 32-byte pinUvAuthToken (§6.5.7 "authenticate").
func (protocolTwo) authenticate(key, msg []byte) []byte {
	if len(key) == 64 {
		key = key[:32]
	}
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// verifyParam checks a pinUvAuthParam in constant time.
func verifyParam(p pinProtocol, key, msg, param []byte) bool {
	if len(param) != p.paramLen() || len(key) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(p.authenticate(key, msg), param) == 1
}

func cbcEncrypt(key, iv, pt []byte) ([]byte, error) {
	if len(pt)%aes.BlockSize != 0 {
		return nil, errBadCiphertext
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(pt))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, pt)
	return out, nil
}

func cbcDecrypt(key, iv, ct []byte) ([]byte, error) {
	if len(ct)%aes.BlockSize != 0 || len(ct) == 0 {
		return nil, errBadCiphertext
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, ct)
	return out, nil
}

// protocolFor returns the implementation of version v.
func protocolFor(v int) pinProtocol {
	switch v {
	case 1:
		return protocolOne{}
	case 2:
		return protocolTwo{}
	}
	return nil
}

// coseKeyAgreement encodes an ECDH public key as the COSE_Key used by
// getKeyAgreement (§6.5.6 "getPublicKey"): {1:2, 3:-25, -1:1, -2:x, -3:y}
// with 32-byte, left-padded coordinates.
func coseKeyAgreement(pub *ecdh.PublicKey) map[int]any {
	raw := pub.Bytes() // 0x04 ‖ X(32) ‖ Y(32)
	return map[int]any{1: 2, 3: -25, -1: 1, -2: raw[1:33], -3: raw[33:65]}
}

// parseCOSEKeyAgreement decodes the platform's COSE_Key into a P-256 public
// key; anything malformed or off the curve is 0x02 INVALID_PARAMETER
// (§6.5.6 "decapsulate").
func parseCOSEKeyAgreement(raw []byte) (*ecdh.PublicKey, error) {
	return parseCOSEKeyAgreementAlg(raw, false)
}

// parseCOSEKeyAgreementAlg is parseCOSEKeyAgreement; strict demands alg
// -25 (ECDH-ES+HKDF-256, CTAP 2.1 §6.5.6), as some keys do: an absent or
// other alg is 0x26 UNSUPPORTED_ALGORITHM.
func parseCOSEKeyAgreementAlg(raw []byte, strict bool) (*ecdh.PublicKey, error) {
	var m map[int]any
	if err := decodeInto(raw, &m); err != nil {
		return nil, err
	}
	kty, _ := m[1].(uint64)
	crv, _ := m[-1].(uint64)
	x, _ := m[-2].([]byte)
	y, _ := m[-3].([]byte)
	if kty != 2 || crv != 1 || len(x) != 32 || len(y) != 32 {
		return nil, fail(StatusInvalidParameter)
	}
	if strict {
		if a, ok := m[3].(int64); !ok || a != -25 {
			return nil, fail(StatusUnsupportedAlgorithm)
		}
	}
	if alg, ok := m[3]; ok {
		if a, ok := alg.(int64); !ok || (a != -25 && a != -7) {
			return nil, fail(StatusInvalidParameter)
		}
	}
	pt := make([]byte, 0, 65)
	pt = append(pt, 4)
	pt = append(pt, x...)
	pt = append(pt, y...)
	pub, err := ecdh.P256().NewPublicKey(pt)
	if err != nil {
		return nil, fail(StatusInvalidParameter)
	}
	return pub, nil
}

// ecdhShared computes Z with priv and the platform key and applies the
// protocol's KDF (§6.5.4 "encapsulate"/"decapsulate").
func ecdhShared(p pinProtocol, priv *ecdh.PrivateKey, peer *ecdh.PublicKey) ([]byte, error) {
	z, err := priv.ECDH(peer)
	if err != nil {
		return nil, fail(StatusInvalidParameter)
	}
	s := p.kdf(z)
	if s == nil {
		return nil, fail(StatusOther)
	}
	return s, nil
}
