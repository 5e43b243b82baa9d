package bench

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/google/uuid"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/enroll"
)

// recognise looks on a key without a USB serial number, that has a PIN,
// for the credential of an enrollment begun on it (on any bench) and not
// finished, and returns that job's id ("" when none). It asks the key
// with enroll.HoldsCredential (a silent assertion, CTAP 2.1 §6.2:
// up=false, no PIN, so no touch and no PIN retry) for the RP with the
// candidates' credential ids as the allow list: a key answers only for a
// credential it holds (any other answer: not recognised), and the
// credProtect level Entra asks for (1, userVerificationOptional;
// docs/graph.md §3.2) lets it answer without user verification. A key
// with alwaysUv set, or a job whose credential is not made yet, is not
// recognised this way: such a job resumes at its key's path on the bench
// that began it.
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
	rpID := "login.microsoft.com"
	if len(r.o.Enroller.RPIDs) > 0 {
		rpID = r.o.Enroller.RPIDs[0]
	}
	i, held, _ := enroll.HoldsCredential(ctx, dev, rpID, ids, info.MaxCredCountInList)
	if !held {
		return ""
	}
	job := byCred[base64.RawURLEncoding.EncodeToString(ids[i])]
	r.o.Log.Info("bench: recognised a key without a serial number by its credential", "key", s.Key, "job", job)
	return job
}
