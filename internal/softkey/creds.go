package softkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
)

// COSE algorithm identifiers (RFC 9053).
const coseAlgES256 = -7

// authData flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
	flagED = 0x80
)

// Credential IDs are self-contained wrapped keys, so that non-discoverable
// credentials need no storage: version(1) ‖ nonce(12) ‖
// AES-256-GCM(wrapKey, nonce, privateKey(32) ‖ credProtect(1) ‖ flags(1),
// AAD = rpIdHash). A reset replaces the master secret and so invalidates
// every ID issued before.
const (
	credIDVersion    = 0x01
	credPlainLen     = 34
	credIDLength     = 1 + 12 + credPlainLen + 16
	credFlagResident = 0x01
	credFlagHMAC     = 0x02
)

// credential is a credential recovered from an ID or the resident store.
type credential struct {
	id          []byte
	priv        *ecdsa.PrivateKey
	rawPriv     []byte
	credProtect int
	hmacSecret  bool
	resident    *storedCred
}

func (a *Authenticator) derive(label string) []byte {
	k, err := hkdf.Key(sha256.New, a.st.MasterSecret, nil, "keyprep softkey "+label, 32)
	if err != nil {
		panic(err)
	}
	return k
}

func (a *Authenticator) wrapAEAD() cipher.AEAD {
	b, err := aes.NewCipher(a.derive("credential wrap"))
	if err != nil {
		panic(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}

// wrapCredential seals a private key into a credential ID.
func (a *Authenticator) wrapCredential(rpIDHash, rawPriv []byte, credProtect int, flags byte) ([]byte, error) {
	nonce, err := a.randBytes(12)
	if err != nil {
		return nil, err
	}
	pt := make([]byte, 0, credPlainLen)
	pt = append(pt, rawPriv...)
	pt = append(pt, byte(credProtect), flags)
	id := append([]byte{credIDVersion}, nonce...)
	return a.wrapAEAD().Seal(id, nonce, pt, rpIDHash), nil
}

// unwrapCredential opens a credential ID issued for rpIDHash. It returns
// nil for IDs of other RPs, other keys or earlier factory states, and for
// discoverable credentials that were deleted.
func (a *Authenticator) unwrapCredential(rpIDHash, id []byte) *credential {
	if len(id) != credIDLength || id[0] != credIDVersion {
		return nil
	}
	pt, err := a.wrapAEAD().Open(nil, id[1:13], id[13:], rpIDHash)
	if err != nil || len(pt) != credPlainLen {
		return nil
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), pt[:32])
	if err != nil {
		return nil
	}
	c := &credential{
		id:          append([]byte(nil), id...),
		priv:        priv,
		rawPriv:     pt[:32],
		credProtect: int(pt[32]),
		hmacSecret:  pt[33]&credFlagHMAC != 0,
	}
	if pt[33]&credFlagResident != 0 {
		c.resident = a.findResident(id)
		if c.resident == nil {
			return nil // deleted discoverable credential
		}
	}
	return c
}

// findResident returns the stored discoverable credential with this ID.
func (a *Authenticator) findResident(id []byte) *storedCred {
	for i := range a.st.Credentials {
		if hmac.Equal(a.st.Credentials[i].ID, id) {
			return &a.st.Credentials[i]
		}
	}
	return nil
}

// residentCredential turns a stored credential into a credential.
func residentCredential(s *storedCred) *credential {
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), s.PrivateKey)
	if err != nil {
		return nil
	}
	return &credential{id: s.ID, priv: priv, rawPriv: s.PrivateKey, credProtect: s.CredProtect, hmacSecret: s.HMACSecret, resident: s}
}

// coseES256 encodes a P-256 public key as a COSE_Key
// {1:2, 3:-7, -1:1, -2:x, -3:y} (CTAP 2.1 §6.5.6, RFC 9053).
func coseES256(pub *ecdsa.PublicKey) map[int]any {
	raw, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	return map[int]any{1: 2, 3: coseAlgES256, -1: 1, -2: raw[1:33], -3: raw[33:65]}
}

// authData assembles authenticator data (WebAuthn §6.1): rpIdHash ‖ flags ‖
// signCount ‖ [attestedCredentialData with the model's AAGUID] ‖
// [extensions].
func authData(aaguid [16]byte, rpIDHash []byte, flags byte, counter uint32, c *credential, ext map[string]any) []byte {
	out := make([]byte, 0, 256)
	out = append(out, rpIDHash...)
	if c != nil {
		flags |= flagAT
	}
	if len(ext) > 0 {
		flags |= flagED
	}
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	if c != nil {
		out = append(out, aaguid[:]...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(c.id)))
		out = append(out, c.id...)
		out = append(out, encode(coseES256(&c.priv.PublicKey))...)
	}
	if len(ext) > 0 {
		out = append(out, encode(ext)...)
	}
	return out
}

// nextCounter increments the global signature counter (WebAuthn §6.1.1).
func (a *Authenticator) nextCounter() uint32 {
	a.st.SignCount++
	return a.st.SignCount
}

// sign signs authData ‖ clientDataHash with the credential key (ES256).
func sign(c *credential, ad, clientDataHash []byte) ([]byte, error) {
	h := sha256.New()
	h.Write(ad)
	h.Write(clientDataHash)
	return ecdsa.SignASN1(rand.Reader, c.priv, h.Sum(nil))
}

// credRandom derives the hmac-secret CredRandom of a credential (CTAP 2.1
// §12.5): one value for UV assertions, another without UV.
func (a *Authenticator) credRandom(c *credential, uv bool) []byte {
	m := hmac.New(sha256.New, a.derive("hmac-secret"))
	if uv {
		m.Write([]byte{1})
	} else {
		m.Write([]byte{0})
	}
	m.Write(c.rawPriv)
	return m.Sum(nil)
}

func rpIDHash(rpID string) []byte {
	h := sha256.Sum256([]byte(rpID))
	return h[:]
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
