// Package softkeymds describes the virtual key's models to a FIDO metadata
// consumer: go-webauthn metadata entries (FIDO MDS3 shape) whose trust
// anchors are the project's per-model test roots, so a relying party — the
// emulated tenant, or a test — can enforce attestation against each model
// exactly as Entra enforces it against MDS for real keys (docs/ctap.md §9,
// docs/key-models.md).
package softkeymds

import (
	"crypto/x509"
	"strings"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/metadata/providers/memory"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/softkey"
)

// Entry returns the metadata entry of the keyprep-virtual model: its
// AAGUID, description, basic_full attestation and the test root
// certificate, with a FIDO_CERTIFIED_L1 status report.
func Entry() *metadata.Entry {
	return Entries()[0]
}

// Entries returns one metadata entry per AAGUID of the built-in models
// that attest (packed: basic_full with the model's test root; self:
// basic_surrogate, no root), keyprep-virtual's first. Models that share an
// AAGUID (a real vendor ships several firmware levels under one AAGUID)
// share its entry: every model's root is a trust anchor and the
// description names each of them. Models with attestation "none" have no
// entry, as a key without attestation has none that could be enforced.
func Entries() []*metadata.Entry {
	var out []*metadata.Entry
	byID := map[uuid.UUID]*metadata.Entry{}
	for _, m := range softkey.Models() {
		var typ metadata.AuthenticatorAttestationType
		switch m.Attestation.Format {
		case softkey.AttestationPacked:
			typ = metadata.BasicFull
		case softkey.AttestationSelf:
			typ = metadata.BasicSurrogate
		default:
			continue
		}
		id := uuid.UUID(m.AAGUID())
		e, ok := byID[id]
		if !ok {
			e = &metadata.Entry{
				AaGUID: id,
				MetadataStatement: metadata.Statement{
					Description: description(m),
					AaGUID:      id,
				},
				StatusReports: []metadata.StatusReport{{Status: metadata.FidoCertifiedL1}},
			}
			byID[id] = e
			out = append(out, e)
		} else if d := description(m); !strings.Contains(e.MetadataStatement.Description, m.ModeledOn) {
			e.MetadataStatement.Description += "; " + strings.TrimPrefix(d, "keyprep virtual key modeled on ")
		}
		st := &e.MetadataStatement
		if !contains(st.AttestationTypes, typ) {
			st.AttestationTypes = append(st.AttestationTypes, typ)
		}
		if root := m.RootCertificate(); root != nil {
			st.AttestationRootCertificates = append(st.AttestationRootCertificates, root)
		}
	}
	return out
}

// description is what Entra would show as the model name: keyprep-virtual
// keeps its historic name, every other model says what it is modeled on.
func description(m *softkey.Model) string {
	if m.Name == softkey.DefaultModelName {
		return softkey.ModelName
	}
	return "keyprep virtual key modeled on " + m.ModeledOn
}

func contains(ts metadata.AuthenticatorAttestationTypes, t metadata.AuthenticatorAttestationType) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// Roots returns every built-in model's test root.
func Roots() []*x509.Certificate {
	var out []*x509.Certificate
	for _, e := range Entries() {
		out = append(out, e.MetadataStatement.AttestationRootCertificates...)
	}
	return out
}

// Provider returns an in-memory metadata provider holding Entries and any
// extra entries (an extra entry replaces a built-in one with its AAGUID),
// validating entries, trust anchors and attestation types ("attestation
// enforced").
func Provider(extra ...*metadata.Entry) (metadata.Provider, error) {
	entries := map[uuid.UUID]*metadata.Entry{}
	for _, e := range append(Entries(), extra...) {
		entries[e.AaGUID] = e
	}
	return memory.New(memory.WithMetadata(entries),
		memory.WithValidateEntry(true), memory.WithValidateTrustAnchor(true),
		memory.WithValidateStatus(false), memory.WithValidateAttestationTypes(true))
}
