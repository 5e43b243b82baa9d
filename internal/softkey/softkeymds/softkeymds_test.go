package softkeymds

import (
	"context"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/google/uuid"

	"github.com/keyprep/keyprep/internal/softkey"
)

func x5c(m *softkey.Model) []any {
	var out []any
	for _, c := range m.AttestationChain() {
		out = append(out, c.Raw)
	}
	return out
}

func TestEntriesPerModel(t *testing.T) {
	ctx := context.Background()
	p, err := Provider()
	if err != nil {
		t.Fatal(err)
	}
	if e := Entry(); e.AaGUID != uuid.UUID(softkey.AAGUID()) || e.MetadataStatement.Description != softkey.ModelName {
		t.Fatalf("default entry %v %q", e.AaGUID, e.MetadataStatement.Description)
	}
	ms := softkey.Models()
	var packed []*softkey.Model
	for _, m := range ms {
		id := uuid.UUID(m.AAGUID())
		e, err := p.GetEntry(ctx, id)
		if m.Attestation.Format == softkey.AttestationNone {
			if e != nil {
				t.Fatalf("%s: entry for a model without attestation", m.Name)
			}
			continue
		}
		if err != nil || e == nil {
			t.Fatalf("%s: no entry: %v", m.Name, err)
		}
		if m.Name != softkey.DefaultModelName && !(strings.HasPrefix(e.MetadataStatement.Description, "keyprep virtual key modeled on ") && strings.Contains(e.MetadataStatement.Description, m.ModeledOn)) {
			t.Fatalf("%s: description %q", m.Name, e.MetadataStatement.Description)
		}
		switch m.Attestation.Format {
		case softkey.AttestationPacked:
			packed = append(packed, m)
			if perr := protocol.ValidateMetadata(ctx, p, id, string(metadata.BasicFull), "packed", x5c(m)); perr != nil {
				t.Fatalf("%s: own chain refused: %v", m.Name, perr.DevInfo)
			}
		case softkey.AttestationSelf:
			if perr := protocol.ValidateMetadata(ctx, p, id, string(metadata.BasicSurrogate), "packed", nil); perr != nil {
				t.Fatalf("%s: self attestation refused: %v", m.Name, perr.DevInfo)
			}
			if perr := protocol.ValidateMetadata(ctx, p, id, string(metadata.BasicFull), "packed", nil); perr == nil {
				t.Fatalf("%s: basic_full accepted for a self-attesting model", m.Name)
			}
		}
	}
	// A chain under another model's root does not pass for this AAGUID
	// (unless the two models share the AAGUID, as YubiKey 5.2 and 5.4 do).
	for i, m := range packed {
		other := packed[(i+1)%len(packed)]
		if other.AAGUID() == m.AAGUID() {
			continue
		}
		if perr := protocol.ValidateMetadata(ctx, p, uuid.UUID(m.AAGUID()), string(metadata.BasicFull), "packed", x5c(other)); perr == nil {
			t.Fatalf("%s accepted %s's chain", m.Name, other.Name)
		}
	}
}

func TestSharedAAGUIDEntry(t *testing.T) {
	a, _ := softkey.LookupModel("yubikey-5.2")
	b, _ := softkey.LookupModel("yubikey-5.4")
	if a.AAGUID() != b.AAGUID() {
		t.Skip("profiles no longer share an AAGUID")
	}
	n := 0
	for _, e := range Entries() {
		if e.AaGUID == uuid.UUID(a.AAGUID()) {
			n++
			if len(e.MetadataStatement.AttestationRootCertificates) != 2 ||
				!strings.Contains(e.MetadataStatement.Description, a.ModeledOn) || !strings.Contains(e.MetadataStatement.Description, b.ModeledOn) {
				t.Fatalf("shared entry %q with %d roots", e.MetadataStatement.Description, len(e.MetadataStatement.AttestationRootCertificates))
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d entries for one AAGUID", n)
	}
}

func TestProviderExtra(t *testing.T) {
	id := uuid.MustParse("00000000-0000-4000-8000-000000000001")
	p, err := Provider(&metadata.Entry{AaGUID: id, MetadataStatement: metadata.Statement{AaGUID: id, Description: "extra",
		AttestationTypes: metadata.AuthenticatorAttestationTypes{metadata.BasicSurrogate}}})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := p.GetEntry(context.Background(), id); err != nil || e == nil || e.MetadataStatement.Description != "extra" {
		t.Fatalf("extra entry: %v %v", e, err)
	}
	if e, _ := p.GetEntry(context.Background(), uuid.UUID(softkey.AAGUID())); e == nil {
		t.Fatal("built-in entry lost")
	}
	if len(Roots()) < 5 {
		t.Fatal("roots")
	}
}
