package enroll

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/keyprep/keyprep/internal/escrow"
	"github.com/keyprep/keyprep/internal/store"
)

// TestRevealPIN: a reveal opens the escrow with the given identities and is
// audited as EventPINReveal with who, via and from, before the PIN is
// returned; escrows it cannot open are refused with the errors the callers
// map, and leave no audit event.
func TestRevealPIN(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "keyprep.db"), store.Options{Actor: "op@bench"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	right, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	job := &store.Job{Kind: JobKind, UPN: "adele.vance@contoso.test"}
	if err := st.CreateJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	ct, err := escrow.Seal([]byte("48213957"), []age.Recipient{right.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	sealed := &store.Escrow{JobID: job.ID, UPN: job.UPN, Kind: store.EscrowAge, Location: "store",
		Recipients: []string{right.Recipient().String()}, Ciphertext: ct}
	file := &store.Escrow{UPN: job.UPN, Kind: store.EscrowFile, Location: filepath.Join(t.TempDir(), "pin.txt")}
	for _, e := range []*store.Escrow{sealed, file} {
		if err := st.PutEscrow(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	by := Requester{Who: "op@bench", Via: RevealViaTerminal, From: "/dev/pts/3"}
	tests := []struct {
		name    string
		e       *store.Escrow
		ids     []age.Identity
		wantErr error
	}{
		{"opens", sealed, []age.Identity{wrong, right}, nil},
		{"wrong identity", sealed, []age.Identity{wrong}, escrow.ErrDecrypt},
		{"no identity", sealed, nil, ErrNoIdentity},
		{"plain file", file, []age.Identity{right}, ErrNotSealed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := st.AuditEvents(ctx, 0, 0)
			p, err := RevealPIN(ctx, st, tc.e, tc.ids, by)
			after, _ := st.AuditEvents(ctx, 0, 0)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || p != nil {
					t.Fatalf("err = %v (PIN returned: %v), want %v", err, p != nil, tc.wantErr)
				}
				if len(after) != len(before) {
					t.Fatalf("a refused reveal wrote %d audit events", len(after)-len(before))
				}
				return
			}
			if err != nil || string(p) != "48213957" {
				t.Fatalf("err = %v; the PIN does not match", err)
			}
			if len(after) != len(before)+1 {
				t.Fatalf("%d audit events written, want 1", len(after)-len(before))
			}
			ev := after[len(after)-1]
			var got RevealEvent
			if err := json.Unmarshal(ev.Data, &got); err != nil {
				t.Fatal(err)
			}
			want := RevealEvent{EscrowID: sealed.ID, UPN: job.UPN, Who: by.Who, Via: by.Via, From: by.From}
			if ev.Event != EventPINReveal || ev.JobID != job.ID || got != want {
				t.Fatalf("audit event %s (job %s) %+v, want %s %+v", ev.Event, ev.JobID, got, EventPINReveal, want)
			}
		})
	}

	// A reveal that cannot be audited shows nothing.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if p, err := RevealPIN(ctx, st, sealed, []age.Identity{right}, by); err == nil || p != nil {
		t.Fatalf("unaudited reveal: err = %v, PIN returned: %v", err, p != nil)
	}
}
