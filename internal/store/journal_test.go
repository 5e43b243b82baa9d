package store

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// TestDecodeStepLegacyRows decodes journal rows as the previous version
// wrote them (maps encoded with sorted keys, times as RFC 3339) into the
// typed step data, through the database, so that jobs interrupted before an
// upgrade still resume.
func testDecodeStepLegacyRows(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	j := mustJob(t, s, nil)
	started := time.Date(2026, 12, 5, 6, 1, 2, 345678900, time.UTC)
	rows := []struct {
		name, phase, data string
		decode            func(*Step) (any, error)
		want              any
	}{
		{"makecred", "done", `{"aaguid":"ee882879-721c-4913-9775-3dfcce97072a","alg":-7,"credProtect":2,"credentialId":"AQID","flags":69,"publicKey":"pQECAyYgASFYIA"}`,
			dec[MakeCredDone], MakeCredDone{CredentialID: "AQID", PublicKey: "pQECAyYgASFYIA", AAGUID: "ee882879-721c-4913-9775-3dfcce97072a", Alg: -7, Flags: 69, CredProtect: 2}},
		{"register", "begin", `{"credentialId":"AQID","displayName":"YubiKey 5 2026-12-05","started":"2026-12-05T06:01:02.3456789Z"}`,
			dec[RegisterBegin], RegisterBegin{DisplayName: "YubiKey 5 2026-12-05", CredentialID: "AQID", Started: started}},
		{"register", "done", `{"displayName":"YubiKey 5 2026-12-05","methodId":"m-1","reconciled":true}`,
			dec[RegisterDone], RegisterDone{MethodID: "m-1", DisplayName: "YubiKey 5 2026-12-05", Reconciled: true}},
		{"selftest", "done", `{"signCount":3,"verified":true}`, dec[SelfTestDone], SelfTestDone{Verified: true, SignCount: 3}},
		{"pin", "skipped", `{"escrowId":"e-1","reconciled":true,"source":"escrow"}`, dec[PINSkipped], PINSkipped{Source: "escrow", EscrowID: "e-1", Reconciled: true}},
		{"minpin", "done", `{"minPinLength":8,"rpId":true}`, dec[MinPINDone], MinPINDone{MinPINLength: 8, RPID: true}},
		{"escrow", "done", `{"escrowId":"e-1","kind":"age"}`, dec[EscrowDone], EscrowDone{EscrowID: "e-1", Kind: EscrowAge}},
		{"options", "done", `{"attempt":2,"challengeExpiry":"2026-12-05T06:06:02Z","excludeCredentials":1,"rpId":"login.microsoft.com"}`,
			dec[OptionsDone], OptionsDone{Attempt: 2, ChallengeExpiry: time.Date(2026, 12, 5, 6, 6, 2, 0, time.UTC), ExcludeCredentials: 1, RPID: "login.microsoft.com"}},
		{"reset", "begin", `null`, dec[RegisterBegin], RegisterBegin{}},
		{"result", "failed", `{"error":"cannot record the result"}`, dec[StepFailed], StepFailed{Error: "cannot record the result"}},
	}
	for i, r := range rows {
		if _, err := s.db.ExecContext(ctx, s.d.q(`INSERT INTO steps (job_id, seq, name, phase, data, time) VALUES (?, ?, ?, ?, ?, ?)`),
			j.ID, i+1, r.name, r.phase, r.data, fmtTime(started)); err != nil {
			t.Fatal(err)
		}
	}
	steps, err := s.Steps(ctx, j.ID)
	if err != nil || len(steps) != len(rows) {
		t.Fatalf("Steps: %d, %v", len(steps), err)
	}
	for i, r := range rows {
		got, err := r.decode(&steps[i])
		if err != nil {
			t.Errorf("%s/%s: %v", r.name, r.phase, err)
			continue
		}
		if !reflect.DeepEqual(got, r.want) {
			t.Errorf("%s/%s = %+v, want %+v", r.name, r.phase, got, r.want)
		}
	}
	if _, err := DecodeStep[RegisterBegin](&Step{Name: "register", Data: []byte(`{"started":"yesterday"}`)}); err == nil {
		t.Error("a bad time decoded without an error")
	}
}

func dec[T StepData](st *Step) (any, error) { return DecodeStep[T](st) }

// TestUpdateCommitsTogether checks that the writes of one Update land
// together or not at all.
func testUpdateCommitsTogether(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	j := mustJob(t, s, nil)
	uid := "u-1"
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.UpdateJob(j.ID, JobUpdate{UserID: &uid}); err != nil {
			return err
		}
		if err := tx.RecordStep(j.ID, "resolve", PhaseDone, ResolveDone{UserID: uid}); err != nil {
			return err
		}
		return tx.RecordStep(j.ID, "escrow", PhaseBegin, EscrowBegin{Kind: EscrowAge})
	})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Steps(ctx, j.ID); len(st) != 2 || st[1].Phase != PhaseBegin {
		t.Fatalf("steps after a committed Update: %+v", st)
	}
	err = s.Update(ctx, func(tx *Tx) error {
		if err := tx.RecordStep(j.ID, "pin", PhaseBegin, PINBegin{EscrowID: "e"}); err != nil {
			return err
		}
		return tx.RecordStep("no-such-job", "pin", PhaseBegin, nil)
	})
	if err == nil {
		t.Fatal("an Update whose last write failed succeeded")
	}
	if st, _ := s.Steps(ctx, j.ID); len(st) != 2 {
		t.Errorf("a failed Update left %d steps, want 2", len(st))
	}
	if j2, _ := s.Job(ctx, j.ID); j2.UserID != uid || j2.Step != "escrow" {
		t.Errorf("job after Updates: %+v", j2)
	}
	verify(t, s)
}
