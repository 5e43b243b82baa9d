package entrasim

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// The creationOptions challenge (docs/graph.md). Live Entra sends a
// ~6.9k-character base64url string decoding to ~5.2 KB of ASCII that is a
// JWE compact token with an x5c header: a self-contained encrypted
// challenge. The emulator builds the same shape:
//
//	challenge = base64url( ASCII JWE compact serialisation )
//	JWE       = b64u(header) "." "" "." b64u(iv) "." b64u(ciphertext) "." b64u(tag)
//	header    = {"alg":"dir","enc":"A256GCM","kid":…,"x5c":[tenant cert]}
//
// sealed with AES-256-GCM under the tenant's ChallengeKey, the protected
// header as additional data (RFC 7516 §5.1), over challengeClaims padded
// with random filler to the live size. Registration opens it: genuine (GCM
// tag), for this user, unexpired, and unused (nonces remembered until
// expiry).

// challengeClaims is the sealed content of a challenge.
type challengeClaims struct {
	V     int    `json:"v"`
	Nonce string `json:"nonce"`
	OID   string `json:"oid"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	Pad   string `json:"pad,omitempty"`
}

// Challenge sizing: the ASCII token aims at ~5.2 KB like live.
const (
	challengeTokenTarget = 5200
	maxChallengeLength   = 32 << 10
)

var (
	errChallengeMalformed = errors.New("malformed")
	errChallengeForged    = errors.New("not issued by this tenant")
)

// challengeHeader returns the base64url protected header for a tenant.
func challengeHeader(certDER []byte) string {
	kid := sha256.Sum256(certDER)
	h, _ := json.Marshal(struct {
		Alg string   `json:"alg"`
		Enc string   `json:"enc"`
		Kid string   `json:"kid"`
		X5t string   `json:"x5t"`
		X5c []string `json:"x5c"`
	}{"dir", "A256GCM", base64.RawURLEncoding.EncodeToString(kid[:]), thumbprintB64(certDER),
		[]string{base64.StdEncoding.EncodeToString(certDER)}})
	return base64.RawURLEncoding.EncodeToString(h)
}

func thumbprintB64(der []byte) string {
	s := sha1.Sum(der)
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func thumbprintHex(der []byte) string {
	s := sha1.Sum(der)
	return hex.EncodeToString(s[:])
}

// sealChallenge issues a challenge for user oid valid until exp.
func sealChallenge(key []byte, header, oid string, now, exp time.Time) (string, error) {
	c := challengeClaims{V: 1, Nonce: base64.RawURLEncoding.EncodeToString(randomBytes(18)), OID: oid,
		Iat: now.Unix(), Exp: exp.Unix()}
	bare, _ := json.Marshal(c)
	// ciphertext b64 + header + iv(16) + tag(22) + 4 dots ≈ target
	room := challengeTokenTarget - len(header) - 16 - 22 - 4
	if plainLen := room * 3 / 4; plainLen > len(bare)+16 {
		padChars := plainLen - len(bare) - len(`,"pad":""`)
		if padChars > 0 {
			c.Pad = base64.RawURLEncoding.EncodeToString(randomBytes(padChars * 3 / 4))
		}
	}
	plain, _ := json.Marshal(c)
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return "", err
	}
	iv := randomBytes(gcm.NonceSize())
	sealed := gcm.Seal(nil, iv, plain, []byte(header))
	ct, tag := sealed[:len(sealed)-gcm.Overhead()], sealed[len(sealed)-gcm.Overhead():]
	b64 := base64.RawURLEncoding
	token := header + ".." + b64.EncodeToString(iv) + "." + b64.EncodeToString(ct) + "." + b64.EncodeToString(tag)
	return b64.EncodeToString([]byte(token)), nil
}

// openChallenge decrypts and authenticates a challenge string (base64url,
// padding tolerated). It checks only genuineness; the caller checks user,
// expiry and reuse.
func openChallenge(key []byte, challenge string) (*challengeClaims, error) {
	if len(challenge) == 0 || len(challenge) > maxChallengeLength {
		return nil, errChallengeMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(challenge, "="))
	if err != nil {
		return nil, errChallengeMalformed
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 5 || parts[1] != "" {
		return nil, errChallengeMalformed
	}
	b64 := base64.RawURLEncoding
	hdrJSON, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errChallengeMalformed
	}
	var hdr struct {
		Alg string `json:"alg"`
		Enc string `json:"enc"`
	}
	if json.Unmarshal(hdrJSON, &hdr) != nil || hdr.Alg != "dir" || hdr.Enc != "A256GCM" {
		return nil, errChallengeMalformed
	}
	iv, err1 := b64.DecodeString(parts[2])
	ct, err2 := b64.DecodeString(parts[3])
	tag, err3 := b64.DecodeString(parts[4])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, errChallengeMalformed
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(iv) != gcm.NonceSize() || len(tag) != gcm.Overhead() {
		return nil, errChallengeMalformed
	}
	plain, err := gcm.Open(nil, iv, append(ct, tag...), []byte(parts[0]))
	if err != nil {
		return nil, errChallengeForged
	}
	var c challengeClaims
	if json.Unmarshal(plain, &c) != nil || c.V != 1 || c.Nonce == "" || c.OID == "" {
		return nil, errChallengeForged
	}
	return &c, nil
}

// userHandle is the WebAuthn user.id of a user: "OF:" followed by 48
// opaque bytes (HMAC-SHA-384 of the object id under the tenant's HandleKey),
// the 51-byte shape Entra uses (docs/graph.md), stable per user.
func userHandle(key []byte, oid string) []byte {
	m := hmac.New(sha512.New384, key)
	m.Write([]byte(strings.ToLower(oid)))
	return append([]byte("OF:"), m.Sum(nil)...)
}
