package store

import (
	"context"
	"testing"
)

// A database at schema 1 (before key identity) opens with the new
// columns: its rows read back with the defaults, and the new fields are
// written and found.
func testMigrateKeyIdentity(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	old, err := Open(ctx, loc, Options{schemaVersion: 1})
	if err != nil {
		t.Fatal(err)
	}
	if from, to := old.Schema(); from != 0 || to != 1 {
		t.Fatalf("schema at version 1: Schema() = %d, %d", from, to)
	}
	const ts = "2024-05-01T10:00:00Z"
	if _, err := old.db.Exec(old.d.q(`INSERT INTO jobs (id, kind, upn, aaguid, state, created_at, updated_at)
		VALUES ('old-job', 'enroll', 'adele@contoso.test', 'aa', 'done', ?, ?)`), ts, ts); err != nil {
		t.Fatal(err)
	}
	if _, err := old.db.Exec(old.d.q(`INSERT INTO results (job_id, upn, user_id, method_id, credential_id, aaguid, model, recorded_at)
		VALUES ('old-job', 'adele@contoso.test', 'u1', 'm1', 'Y3JlZA', 'aa', 'Old model', ?)`), ts); err != nil {
		t.Fatal(err)
	}
	if _, err := old.db.Exec(`SELECT serial FROM results`); err == nil {
		t.Fatal("a schema 1 database already has results.serial")
	}
	_ = old.Close()

	s := b.openAt(t, loc)
	if from, to := s.Schema(); from != 1 || to != schemaVersion {
		t.Errorf("Schema() = %d, %d; want 1, %d", from, to, schemaVersion)
	}
	if v, err := s.d.version(ctx, s.db); err != nil || v != schemaVersion || schemaVersion < 2 {
		t.Fatalf("schema version = %d, %v; want %d (≥ 2)", v, err, schemaVersion)
	}
	j, err := s.Job(ctx, "old-job")
	if err != nil {
		t.Fatal(err)
	}
	if j.Serial != "" || j.Model != "" || j.Firmware != 0 || j.CredentialID != "" || j.UPN != "adele@contoso.test" {
		t.Errorf("old job = %+v", j)
	}
	rs, err := s.Results(ctx, ResultFilter{CredentialIDs: []string{"Y3JlZA"}})
	if err != nil || len(rs) != 1 || rs[0].Serial != "" || rs[0].Firmware != 0 || rs[0].Model != "Old model" {
		t.Fatalf("old result by credential: %+v, %v", rs, err)
	}

	// New rows carry the identity.
	nj := mustJob(t, s, &Job{Kind: "enroll", UPN: "alex@contoso.test", Serial: "SN-1", Model: "Token2 PIN+", Firmware: 4})
	cred := "bmV3LWNyZWQ"
	if err := s.UpdateJob(ctx, nj.ID, JobUpdate{CredentialID: &cred, Serial: ptr("SN-2"), Firmware: ptr(int64(329473))}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Job(ctx, nj.ID)
	if err != nil || got.Serial != "SN-2" || got.Model != "Token2 PIN+" || got.Firmware != 329473 || got.CredentialID != cred {
		t.Fatalf("new job = %+v, %v", got, err)
	}
	if err := s.RecordResult(ctx, &Result{JobID: nj.ID, UPN: "alex@contoso.test", UserID: "u2", MethodID: "m2",
		CredentialID: cred, Serial: "SN-2", Firmware: 329473}); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]ResultFilter{
		"serial":      {Serial: "SN-2"},
		"credentials": {CredentialIDs: []string{"nope", cred}},
	} {
		rs, err := s.Results(ctx, f)
		if err != nil || len(rs) != 1 || rs[0].JobID != nj.ID || rs[0].Serial != "SN-2" || rs[0].Firmware != 329473 {
			t.Errorf("results by %s: %+v, %v", name, rs, err)
		}
	}
	if rs, _ := s.Results(ctx, ResultFilter{Serial: "SN-404"}); len(rs) != 0 {
		t.Errorf("an unknown serial matched %d results", len(rs))
	}
	verify(t, s)
}
