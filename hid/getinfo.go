package hid

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/keycaps"
)

// GetInfoOf converts getInfo as libfido2 reports it into keycaps.GetInfo,
// the form capability decisions read (internal/keycaps). A key that does
// not report remainingDiscoverableCredentials (libfido2 gives -1) has it
// nil.
func GetInfoOf(i *Info) keycaps.GetInfo {
	if i == nil {
		return keycaps.GetInfo{}
	}
	g := keycaps.GetInfo{
		Versions:                 append([]string(nil), i.Versions...),
		Extensions:               append([]string(nil), i.Extensions...),
		AAGUID:                   uuid.UUID(i.AAGUID).String(),
		MaxMsgSize:               int(i.MaxMsgSize),
		PINUVAuthProtocols:       append([]int(nil), i.PINProtocols...),
		MaxCredentialCountInList: int(i.MaxCredCountInList),
		MaxCredentialIDLength:    int(i.MaxCredIDLength),
		Transports:               append([]string(nil), i.Transports...),
		MaxSerializedLargeBlob:   int(i.MaxLargeBlob),
		ForcePINChange:           i.ForcePINChange,
		MinPINLength:             int(i.MinPINLength),
		FirmwareVersion:          int64(i.FirmwareVersion),
		MaxCredBlobLength:        int(i.MaxCredBlobLength),
		MaxRPIDsForSetMinPIN:     int(i.MaxRPIDsMinPINLength),
		PreferredPlatformUVTries: int(i.UVAttempts),
		UVModality:               int(i.UVModality),
	}
	if len(i.Options) > 0 {
		g.Options = make(map[string]bool, len(i.Options))
		for k, v := range i.Options {
			g.Options[k] = v
		}
	}
	for _, a := range i.Algorithms {
		g.Algorithms = append(g.Algorithms, keycaps.Algorithm{Type: a.Type, Alg: a.COSE})
	}
	if len(i.Certifications) > 0 {
		g.Certifications = make(map[string]int, len(i.Certifications))
		for k, v := range i.Certifications {
			g.Certifications[k] = int(v)
		}
	}
	if i.RemainingResidentKeys >= 0 {
		n := int(i.RemainingResidentKeys)
		g.RemainingDiscoverableCredentials = &n
	}
	return g
}

// InfoOf is the inverse of GetInfoOf: the Info a key answering with g
// would give (a virtual key's model profile, a metadata statement). An
// absent remainingDiscoverableCredentials becomes -1, as libfido2 reports
// it.
func InfoOf(g *keycaps.GetInfo) (*Info, error) {
	aag, err := g.AAGUIDBytes()
	if err != nil {
		return nil, fmt.Errorf("hid: %w", err)
	}
	i := &Info{
		Versions:              append([]string(nil), g.Versions...),
		Extensions:            append([]string(nil), g.Extensions...),
		AAGUID:                aag,
		Options:               map[string]bool{},
		PINProtocols:          append([]int(nil), g.PINUVAuthProtocols...),
		MaxMsgSize:            uint64(max(g.MaxMsgSize, 0)),
		MaxCredCountInList:    uint64(max(g.MaxCredentialCountInList, 0)),
		MaxCredIDLength:       uint64(max(g.MaxCredentialIDLength, 0)),
		Transports:            append([]string(nil), g.Transports...),
		MaxLargeBlob:          uint64(max(g.MaxSerializedLargeBlob, 0)),
		ForcePINChange:        g.ForcePINChange,
		MinPINLength:          uint64(max(g.MinPINLength, 0)),
		FirmwareVersion:       uint64(max(g.FirmwareVersion, 0)),
		MaxCredBlobLength:     uint64(max(g.MaxCredBlobLength, 0)),
		MaxRPIDsMinPINLength:  uint64(max(g.MaxRPIDsForSetMinPIN, 0)),
		UVAttempts:            uint64(max(g.PreferredPlatformUVTries, 0)),
		UVModality:            uint64(max(g.UVModality, 0)),
		RemainingResidentKeys: -1,
	}
	for k, v := range g.Options {
		i.Options[k] = v
	}
	for _, a := range g.Algorithms {
		i.Algorithms = append(i.Algorithms, Algorithm{Type: a.Type, COSE: a.Alg})
	}
	if len(g.Certifications) > 0 {
		i.Certifications = make(map[string]uint64, len(g.Certifications))
		for k, v := range g.Certifications {
			i.Certifications[k] = uint64(max(v, 0))
		}
	}
	if g.RemainingDiscoverableCredentials != nil {
		i.RemainingResidentKeys = int64(*g.RemainingDiscoverableCredentials)
	}
	return i, nil
}
