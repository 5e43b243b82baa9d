// Package softkeymds describes the virtual key model to a FIDO metadata
// consumer: a go-webauthn metadata entry (FIDO MDS3 shape) whose trust anchor
// is the project's test root, so a relying party — the emulated tenant, or a
// test — can enforce attestation against the virtual key exactly as Entra
// enforces it against MDS for real keys (docs/ctap.md §9).
package softkeymds

import (
	"crypto/x509"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/softkey"
)

// Entry returns the metadata entry of the virtual key model: its AAGUID,
// description, basic_full attestation and the test root certificate, with a
// FIDO_CERTIFIED_L1 status report.
func Entry() *metadata.Entry {
	id := uuid.MustParse(softkey.AAGUIDString)
	return &metadata.Entry{
		AaGUID: id,
		MetadataStatement: metadata.Statement{
			Description:                 softkey.ModelName,
			AaGUID:                      id,
			AttestationTypes:            metadata.AuthenticatorAttestationTypes{metadata.BasicFull},
			AttestationRootCertificates: []*x509.Certificate{softkey.RootCertificate()},
		},
		StatusReports: []metadata.StatusReport{{Status: metadata.FidoCertifiedL1}},
	}
}

// Provider returns an in-memory metadata provider holding Entry and any
// extra entries, validating entries, trust anchors and attestation types
// ("attestation enforced").
func Provider(extra ...*metadata.Entry) (metadata.Provider, error) {
	entries := map[uuid.UUID]*metadata.Entry{}
	for _, e := range append([]*metadata.Entry{Entry()}, extra...) {
		entries[e.AaGUID] = e
	}
	return memory.New(memory.WithMetadata(entries),
		memory.WithValidateEntry(true), memory.WithValidateTrustAnchor(true),
		memory.WithValidateStatus(false), memory.WithValidateAttestationTypes(true))
}
