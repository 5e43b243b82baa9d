// Package keycaps decides, before anything is written to a key, what an
// enrollment can do with it: from the key's authenticatorGetInfo (CTAP 2.1
// §6.4) alone it tells which of keyprep's settings the key can take
// (authenticatorConfig's setMinPINLength and forcePINChange, toggleAlwaysUv),
// how its credentials can be listed and deleted (credential management,
// CTAP 2.1 §6.8, or the FIDO_2_1_PRE preview command 0x41), which
// extensions may be sent, and what stops it (docs/key-models.md).
//
// It is pure: it reads a GetInfo value, however it was obtained (a key
// through libfido2, a virtual key's model profile, or a vendor's FIDO
// metadata statement), and imports nothing from the module.
package keycaps

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// GetInfo is an authenticatorGetInfo response (CTAP 2.1 §6.4) under the
// member names the FIDO Metadata Statement uses for it
// (metadataStatement.authenticatorGetInfo, FIDO MDS 3.0 §4): a virtual key
// model's profile and a certified model's metadata decode into it as they
// are. Absent numbers are 0; an absent option is missing from Options (an
// option present and false means "supported, currently off").
type GetInfo struct {
	Versions                 []string        `json:"versions"`
	Extensions               []string        `json:"extensions,omitempty"`
	AAGUID                   string          `json:"aaguid"`
	Options                  map[string]bool `json:"options,omitempty"`
	MaxMsgSize               int             `json:"maxMsgSize,omitempty"`
	PINUVAuthProtocols       []int           `json:"pinUvAuthProtocols,omitempty"`
	MaxCredentialCountInList int             `json:"maxCredentialCountInList,omitempty"`
	MaxCredentialIDLength    int             `json:"maxCredentialIdLength,omitempty"`
	Transports               []string        `json:"transports,omitempty"`
	Algorithms               []Algorithm     `json:"algorithms,omitempty"`
	MaxSerializedLargeBlob   int             `json:"maxSerializedLargeBlobArray,omitempty"`
	ForcePINChange           bool            `json:"forcePINChange,omitempty"`
	MinPINLength             int             `json:"minPINLength,omitempty"`
	FirmwareVersion          int64           `json:"firmwareVersion,omitempty"`
	MaxCredBlobLength        int             `json:"maxCredBlobLength,omitempty"`
	MaxRPIDsForSetMinPIN     int             `json:"maxRPIDsForSetMinPINLength,omitempty"`
	PreferredPlatformUVTries int             `json:"preferredPlatformUvAttempts,omitempty"`
	UVModality               int             `json:"uvModality,omitempty"`
	Certifications           map[string]int  `json:"certifications,omitempty"`
	// RemainingDiscoverableCredentials is nil when the key does not
	// report it (CTAP 2.0 keys and many 2.1 keys).
	RemainingDiscoverableCredentials *int `json:"remainingDiscoverableCredentials,omitempty"`
}

// Algorithm is one entry of getInfo's algorithms list
// (PublicKeyCredentialParameters, WebAuthn L3 §5.3).
type Algorithm struct {
	Type string `json:"type,omitempty"`
	Alg  int    `json:"alg"`
}

// Option reports (value, present) for a getInfo option.
func (g *GetInfo) Option(name string) (value, present bool) {
	v, ok := g.Options[name]
	return v, ok
}

// HasVersion reports whether versions lists v (e.g. "FIDO_2_1").
func (g *GetInfo) HasVersion(v string) bool { return contains(g.Versions, v) }

// HasExtension reports whether extensions lists x (e.g. "hmac-secret").
func (g *GetInfo) HasExtension(x string) bool { return contains(g.Extensions, x) }

// AAGUIDBytes parses AAGUID, written as 32 hex digits (getInfo's byte
// string in metadata) or dashed (RFC 9562).
func (g *GetInfo) AAGUIDBytes() ([16]byte, error) {
	var out [16]byte
	s := strings.ReplaceAll(g.AAGUID, "-", "")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return out, fmt.Errorf("keycaps: aaguid %q: want 16 bytes in hex", g.AAGUID)
	}
	copy(out[:], b)
	return out, nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
