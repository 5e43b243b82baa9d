package bench

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/google/uuid"

	"github.com/keyprep/keyprep/hid"
)

// probeClientData is the client data hash of the silent assertions that
// look for a credential on a key (nothing is signed for anyone: only
// whether the key answers matters).
var probeClientData = sha256.Sum256([]byte("keyprep: which begun enrollment is this key's?"))

// recognise looks on a key without a USB serial number, that has a PIN,
// for the credential of an enrollment begun on it (on any bench) and not
// finished, and returns that job's id ("" when none). It asks the key for
// a silent assertion (CTAP 2.1 §6.2: up=false, no PIN, so no touch and
// no PIN retry) for the RP with the candidates' credential ids as the
// allow list: a key answers only for a credential it holds, and the
// credProtect level Entra asks for (1, userVerificationOptional; docs/graph.md
// §3.2) lets it answer without user verification. A key with alwaysUv
// set, or a job whose credential is not made yet, is not recognised this
// way: such a job resumes at its key's path on the bench that began it.
func (r *Runner) recognise(ctx context.Context, s *slot, dev Device, info *hid.Info) string {
	cands, err := r.o.Enroller.Store.BegunCredentials(ctx)
	if err != nil {
		r.storeTrouble(err)
		return ""
	}
	if len(cands) == 0 {
		return ""
	}
	if uv, _ := info.Option("alwaysUv"); uv {
		return ""
	}
	aaguid := uuid.UUID(info.AAGUID).String()
	byCred := map[string]string{} // credential id (base64url, unpadded) → job id
	var ids [][]byte
	for _, c := range cands {
		if c.AAGUID != "" && !strings.EqualFold(c.AAGUID, aaguid) {
			continue
		}
		enc := strings.TrimRight(c.CredentialID, "=")
		id, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil || len(id) == 0 {
			continue
		}
		if _, dup := byCred[enc]; !dup {
			ids = append(ids, id)
		}
		byCred[enc] = c.JobID
	}
	batch := 8
	if info.MaxCredCountInList > 0 {
		batch = int(info.MaxCredCountInList)
	}
	rpID := "login.microsoft.com"
	if len(r.o.Enroller.RPIDs) > 0 {
		rpID = r.o.Enroller.RPIDs[0]
	}
	for start := 0; start < len(ids); start += batch {
		as, err := dev.GetAssertion(ctx, hid.AssertionRequest{RPID: rpID, ClientDataHash: probeClientData[:],
			AllowList: ids[start:min(start+batch, len(ids))], NoUP: true}, nil)
		if err != nil || len(as) == 0 {
			continue // none of these (CTAP2_ERR_NO_CREDENTIALS), or the key cannot say
		}
		if job, ok := byCred[base64.RawURLEncoding.EncodeToString(as[0].CredentialID)]; ok {
			r.o.Log.Info("bench: recognised a key without a serial number by its credential", "key", s.Key, "job", job)
			return job
		}
	}
	return ""
}
