package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock hands out strictly increasing times, safe for concurrent use.
type fakeClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func newClock() *fakeClock {
	// Non-UTC zone and odd nanoseconds to exercise the exact round trip.
	loc := time.FixedZone("UTC+5:30", 5*3600+1800)
	return &fakeClock{t: time.Date(2026, 11, 3, 14, 7, 9, 123456789, loc), step: time.Millisecond + 7}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "state", "keyprep.db")
	}
	s, err := Open(context.Background(), path, Options{Now: newClock().Now, Actor: "tester@bench"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustJob(t *testing.T, s *Store, j *Job) *Job {
	t.Helper()
	if j == nil {
		j = &Job{Kind: "enroll", UPN: "adele.vance@contoso.test"}
	}
	if err := s.CreateJob(context.Background(), j); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	return j
}

func verify(t *testing.T, s *Store) int {
	t.Helper()
	n, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return n
}

// rawDB opens the store's file directly, bypassing the Store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func ptr[T any](v T) *T { return &v }

func TestOpenCloseReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a", "b", "keyprep.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	if !strings.Contains(s.actor, "@") {
		t.Errorf("default actor %q is not user@host", s.actor)
	}
	j := mustJob(t, s, nil)
	if err := s.RecordStep(ctx, j.ID, "pin", "begin", PINBegin{EscrowID: "e-1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	got, err := s2.Job(ctx, j.ID)
	if err != nil {
		t.Fatalf("Job after reopen: %v", err)
	}
	if got.Step != "pin" || got.Phase != "begin" || !got.CreatedAt.Equal(j.CreatedAt) {
		t.Errorf("job after reopen = %+v", got)
	}
	if n := verify(t, s2); n != 2 {
		t.Errorf("audit events after reopen = %d, want 2", n)
	}
	var v int
	if err := s2.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil || v != schemaVersion {
		t.Errorf("user_version = %d, %v; want %d", v, err, schemaVersion)
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := s2.db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
}

func TestOpenPathWithURISyntax(t *testing.T) {
	// '?', '#' and '%' in a path must not be read as URI syntax ('?' is
	// not allowed in a Windows file name).
	odd := "odd?dir#x%41"
	if runtime.GOOS == "windows" {
		odd = "odd#dir%3Fx%41"
	}
	dir := filepath.Join(t.TempDir(), odd)
	s := openTest(t, filepath.Join(dir, "k.db"))
	mustJob(t, s, nil)
	if _, err := os.Stat(filepath.Join(dir, "k.db")); err != nil {
		t.Fatalf("database not at the given path: %v", err)
	}
}

func TestFileModes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix modes; TestStorePrivate checks the Windows DACL")
	}
	dir := filepath.Join(t.TempDir(), "state")
	s := openTest(t, filepath.Join(dir, "keyprep.db"))
	mustJob(t, s, nil) // make sure -wal and -shm exist
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o700 {
		t.Errorf("directory mode = %o, want 700", m)
	}
	for _, p := range []string{s.Path(), s.Path() + "-wal", s.Path() + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode = %o, want 600", filepath.Base(p), m)
		}
	}
}

func TestOpenChmodsExistingFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix modes; TestStorePrivate checks the Windows DACL")
	}
	path := filepath.Join(t.TempDir(), "keyprep.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, path)
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("mode = %o, want 600", m)
	}
}

func testOpenRefusesNewerSchema(t *testing.T, b backend) {
	tests := []struct {
		name  string
		setup func(t *testing.T, loc string)
	}{
		{"fresh database from the future", func(t *testing.T, loc string) {}},
		{"migrated then bumped", func(t *testing.T, loc string) {
			s, err := Open(context.Background(), loc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			mustJob(t, s, nil)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc := b.fresh(t)
			tc.setup(t, loc)
			b.setVersion(t, loc, schemaVersion+1)
			s, err := Open(context.Background(), loc, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted a newer schema")
			}
			if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "upgrade keyprep") {
				t.Errorf("error = %v, want ErrNewerSchema with a hint", err)
			}
		})
	}
}

func TestOpenRejectsNonDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyprep.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(context.Background(), path, Options{}); err == nil {
		s.Close()
		t.Fatal("Open accepted a non-database file")
	}
}

func testTimeRoundTrip(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	loc := time.FixedZone("x", -7*3600)
	created := time.Date(2024, 2, 29, 23, 59, 59, 1, loc)
	j := mustJob(t, s, &Job{Kind: "enroll", CreatedAt: created})
	got, err := s.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(created) || got.CreatedAt.Nanosecond() != 1 || got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, created)
	}
	if !got.UpdatedAt.Equal(j.UpdatedAt) {
		t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, j.UpdatedAt)
	}
	r := &Result{JobID: j.ID, CreatedDateTime: time.Date(2026, 1, 2, 3, 4, 5, 600000000, loc)}
	if err := s.RecordResult(ctx, r); err != nil {
		t.Fatal(err)
	}
	rs, err := s.Results(ctx, ResultFilter{JobID: j.ID})
	if err != nil || len(rs) != 1 {
		t.Fatalf("Results = %v, %v", rs, err)
	}
	if !rs[0].CreatedDateTime.Equal(r.CreatedDateTime) || !rs[0].RecordedAt.Equal(r.RecordedAt) {
		t.Errorf("result times = %v %v, want %v %v", rs[0].CreatedDateTime, rs[0].RecordedAt, r.CreatedDateTime, r.RecordedAt)
	}
	r2 := &Result{JobID: j.ID} // zero CreatedDateTime round-trips as zero
	if err := s.RecordResult(ctx, r2); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ResultForMethod(ctx, "", ""); err != nil || !got.CreatedDateTime.IsZero() {
		t.Errorf("zero CreatedDateTime came back as %v, %v", got, err)
	}
}

func testJobCRUD(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	params := json.RawMessage(`{ "upn": "adele.vance@contoso.test", "forcePinChange": true }`)
	j := &Job{Kind: "enroll", UPN: "adele.vance@contoso.test", KeyPath: "vkey:one", Params: params}
	mustJob(t, s, j)
	if len(j.ID) != 32 || strings.Trim(j.ID, "0123456789abcdef") != "" {
		t.Errorf("ID = %q, want 32 hex digits", j.ID)
	}
	if j.State != JobRunning || j.CreatedAt.IsZero() || !j.UpdatedAt.Equal(j.CreatedAt) {
		t.Errorf("defaults not filled: %+v", j)
	}
	got, err := s.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Params) != `{"upn":"adele.vance@contoso.test","forcePinChange":true}` {
		t.Errorf("Params = %s", got.Params)
	}
	got.Params, j.Params = nil, nil
	if fmt.Sprint(*got) != fmt.Sprint(*j) {
		t.Errorf("Job = %+v\nwant %+v", *got, *j)
	}

	if err := s.UpdateJob(ctx, j.ID, JobUpdate{UserID: ptr("u-1"), AAGUID: ptr("aa-1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateJob(ctx, j.ID, JobUpdate{State: ptr(JobFailed), Error: ptr("key removed")}); err != nil {
		t.Fatal(err)
	}
	got, err = s.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != "u-1" || got.AAGUID != "aa-1" || got.KeyPath != "vkey:one" || got.State != JobFailed ||
		got.Error != "key removed" || !got.UpdatedAt.After(got.CreatedAt) {
		t.Errorf("after updates: %+v", got)
	}
	evs, err := s.AuditEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, ev := range evs {
		events = append(events, ev.Event+" "+string(ev.Data))
		if ev.JobID != j.ID || ev.Actor != "tester@bench" {
			t.Errorf("event %d: jobID %q actor %q", ev.Seq, ev.JobID, ev.Actor)
		}
	}
	want := []string{
		`job.created {"aaguid":"","keyPath":"vkey:one","kind":"enroll","state":"running","upn":"adele.vance@contoso.test","userId":""}`,
		`job.updated {"fields":["userId","aaguid"],"state":"running"}`,
		`job.updated {"error":"key removed","fields":["state","error"],"state":"failed"}`,
	}
	if !slices.Equal(events, want) {
		t.Errorf("audit events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}

	// No fields: only an existence check, nothing written.
	if err := s.UpdateJob(ctx, j.ID, JobUpdate{}); err != nil {
		t.Errorf("empty update: %v", err)
	}
	if n := verify(t, s); n != 3 {
		t.Errorf("empty update wrote an audit event (%d events)", n)
	}

	errTests := []struct {
		name string
		fn   func() error
		is   error
	}{
		{"update unknown job", func() error { return s.UpdateJob(ctx, "nope", JobUpdate{State: ptr(JobDone)}) }, ErrNotFound},
		{"empty update unknown job", func() error { return s.UpdateJob(ctx, "nope", JobUpdate{}) }, ErrNotFound},
		{"invalid update state", func() error { return s.UpdateJob(ctx, j.ID, JobUpdate{State: ptr(JobState("paused"))}) }, nil},
		{"invalid create state", func() error { return s.CreateJob(ctx, &Job{Kind: "enroll", State: "paused"}) }, nil},
		{"empty kind", func() error { return s.CreateJob(ctx, &Job{}) }, nil},
		{"nil job", func() error { return s.CreateJob(ctx, nil) }, nil},
		{"duplicate ID", func() error { return s.CreateJob(ctx, &Job{ID: j.ID, Kind: "enroll"}) }, nil},
		{"bad params", func() error { return s.CreateJob(ctx, &Job{Kind: "enroll", Params: json.RawMessage(`{`)}) }, nil},
		{"secret params", func() error {
			return s.CreateJob(ctx, &Job{Kind: "enroll", Params: json.RawMessage(`{"opts":{"PIN":"123456"}}`)})
		}, ErrSecretField},
	}
	for _, tc := range errTests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.fn()
			if err == nil {
				t.Fatal("no error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if strings.Contains(err.Error(), "123456") {
				t.Errorf("error echoes the secret: %v", err)
			}
		})
	}
	if n := verify(t, s); n != 3 {
		t.Errorf("failed calls changed the audit log (%d events)", n)
	}
	if jobs, _ := s.Jobs(ctx, JobFilter{}); len(jobs) != 1 {
		t.Errorf("failed calls left %d jobs", len(jobs))
	}
}

func testJobPrefixLookup(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	for _, id := range []string{"abcdef0011", "abcdef0022", "123456789a", "short"} {
		mustJob(t, s, &Job{ID: id, Kind: "enroll"})
	}
	tests := []struct {
		id     string
		want   string
		errIs  error
		errHas string
	}{
		{id: "abcdef0011", want: "abcdef0011"},
		{id: "abcdef001", want: "abcdef0011"},
		{id: "123456", want: "123456789a"},
		{id: "short", want: "short"}, // exact match shorter than a prefix may be
		{id: "12345", errIs: ErrNotFound, errHas: "at least 6"},
		{id: "abcdef", errIs: ErrAmbiguousID, errHas: "abcdef0011"},
		{id: "ABCDEF0011", errIs: ErrNotFound},
		{id: "fffffff", errIs: ErrNotFound},
		{id: "", errIs: ErrNotFound},
		{id: "abcdef%", errIs: ErrNotFound},
		{id: "abcde_", errIs: ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			j, err := s.Job(ctx, tc.id)
			if tc.errIs != nil {
				if !errors.Is(err, tc.errIs) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("Job(%q) = %v, %v; want error %v containing %q", tc.id, j, err, tc.errIs, tc.errHas)
				}
				return
			}
			if err != nil || j.ID != tc.want {
				t.Fatalf("Job(%q) = %v, %v; want %s", tc.id, j, err, tc.want)
			}
		})
	}
}

func testJobsFilterAndOrder(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	// Two jobs share a creation time: insertion order breaks the tie.
	same := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	jobs := []*Job{
		{ID: "j1", Kind: "enroll", UPN: "adele.vance@contoso.test"},
		{ID: "j2", Kind: "enroll", UPN: "alex.wilber@contoso.test", State: JobFailed},
		{ID: "j3", Kind: "reset", UPN: "Adele.Vance@contoso.test", State: JobDone},
		{ID: "j4", Kind: "enroll", UPN: "megan.bowen@contoso.test", State: JobAbandoned, CreatedAt: same},
		{ID: "j5", Kind: "enroll", UPN: "lee.gu@contoso.test", CreatedAt: same},
	}
	for _, j := range jobs {
		mustJob(t, s, j)
	}
	tests := []struct {
		name string
		f    JobFilter
		want []string
	}{
		{"all newest first", JobFilter{}, []string{"j3", "j2", "j1", "j5", "j4"}},
		{"limit", JobFilter{Limit: 2}, []string{"j3", "j2"}},
		{"running", JobFilter{States: []JobState{JobRunning}}, []string{"j1", "j5"}},
		{"unfinished", JobFilter{States: []JobState{JobRunning, JobFailed}}, []string{"j2", "j1", "j5"}},
		{"upn any case", JobFilter{UPN: "ADELE.vance@contoso.test"}, []string{"j3", "j1"}},
		{"upn and state", JobFilter{UPN: "adele.vance@contoso.test", States: []JobState{JobDone}}, []string{"j3"}},
		{"no match", JobFilter{UPN: "nobody@contoso.test"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Jobs(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, j := range got {
				ids = append(ids, j.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Jobs(%+v) = %v, want %v", tc.f, ids, tc.want)
			}
		})
	}
}

func testSteps(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	j := mustJob(t, s, nil)
	other := mustJob(t, s, &Job{Kind: "enroll"})
	type step struct {
		name, phase string
		data        StepData
	}
	steps := []step{
		{"user", "begin", nil},
		{"user", "done", ResolveDone{UserID: "u-1"}},
		{"pin", "begin", PINBegin{EscrowID: "e-1"}},
		{"pin", "done", PINDone{EscrowID: "e-1"}},
		{"register", "begin", RegisterBegin{DisplayName: "Key <1> & co", CredentialID: "AQ"}},
	}
	for i, st := range steps {
		if err := s.RecordStep(ctx, j.ID, st.name, st.phase, st.data); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if i == 1 {
			if err := s.RecordStep(ctx, other.ID, "user", "begin", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.Steps(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantData := []string{`null`, `{"userId":"u-1","upn":"","profile":"","attestationEnforced":false}`, `{"escrowId":"e-1"}`,
		`{"escrowId":"e-1"}`, `{"displayName":"Key <1> & co","credentialId":"AQ","started":"0001-01-01T00:00:00Z"}`}
	if len(got) != len(steps) {
		t.Fatalf("got %d steps, want %d", len(got), len(steps))
	}
	for i, st := range got {
		if st.Seq != int64(i+1) || st.JobID != j.ID || st.Name != steps[i].name || st.Phase != steps[i].phase ||
			string(st.Data) != wantData[i] || st.Time.IsZero() {
			t.Errorf("step %d = %+v (data %s)", i, st, st.Data)
		}
		if i > 0 && !st.Time.After(got[i-1].Time) {
			t.Errorf("step %d time %v not after %v", i, st.Time, got[i-1].Time)
		}
	}
	if o, _ := s.Steps(ctx, other.ID); len(o) != 1 || o[0].Seq != 1 {
		t.Errorf("other job's steps = %+v, want one with seq 1", o)
	}

	job, err := s.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if job.Step != "register" || job.Phase != "begin" || !job.UpdatedAt.Equal(got[4].Time) {
		t.Errorf("job step/phase/updatedAt = %s/%s/%v", job.Step, job.Phase, job.UpdatedAt)
	}

	lastTests := []struct {
		name    string
		wantSeq int64
	}{
		{"pin", 4}, {"user", 2}, {"register", 5}, {"verify", 0},
	}
	for _, tc := range lastTests {
		st, err := s.LastStep(ctx, j.ID, tc.name)
		if tc.wantSeq == 0 {
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("LastStep(%s) = %v, %v; want ErrNotFound", tc.name, st, err)
			}
			continue
		}
		if err != nil || st.Seq != tc.wantSeq {
			t.Errorf("LastStep(%s) = %+v, %v; want seq %d", tc.name, st, err, tc.wantSeq)
		}
	}

	evs, err := s.AuditEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Event != "step" || last.JobID != j.ID || string(last.Data) != `{"name":"register","phase":"begin","seq":5}` {
		t.Errorf("last audit event = %+v (%s)", last, last.Data)
	}

	if err := s.RecordStep(ctx, "nope", "user", "begin", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordStep on unknown job: %v, want ErrNotFound", err)
	}
	if err := s.RecordStep(ctx, j.ID, "", "begin", nil); err == nil {
		t.Error("RecordStep accepted an empty name")
	}
	if st, _ := s.Steps(ctx, j.ID); len(st) != 5 {
		t.Errorf("refused steps were written: %d steps", len(st))
	}
	verify(t, s)
}

func testSecretFieldRefusal(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	j := mustJob(t, s, nil)
	tests := []struct {
		name   string
		data   any
		refuse bool
	}{
		{"top-level pin", map[string]any{"pin": "123456"}, true},
		{"upper case", map[string]any{"PIN": "123456"}, true},
		{"mixed case", json.RawMessage(`{"NewPin":"123456"}`), true},
		{"nested", map[string]any{"a": map[string]any{"b": map[string]any{"temporaryAccessPass": "x"}}}, true},
		{"array of objects", map[string]any{"keys": []any{map[string]any{"ok": 1}, map[string]any{"accessToken": "x"}}}, true},
		{"top-level array", []any{map[string]any{"clientSecret": "x"}}, true},
		{"deep raw", json.RawMessage(`[[[[{"x":[{"refreshToken":"x"}]}]]]]`), true},
		{"escaped key", json.RawMessage(`{"p\u0069n":"123456"}`), true},
		{"struct tag", struct {
			Password string `json:"password"`
		}{"hunter2"}, true},
		{"empty secret value", map[string]any{"token": ""}, true},
		{"null secret value", map[string]any{"secret": nil}, true},
		{"every listed key", nil, true}, // filled below
		{"pinSet", map[string]any{"pinSet": true}, false},
		{"pinEscrow", map[string]any{"pinEscrow": "age"}, false},
		{"lookalikes", map[string]any{"pinLength": 8, "pinRetries": 8, "tokenExpiry": "x", "passkey": "y", "secretName": "z", "escrowId": "e"}, false},
		{"secret as value only", map[string]any{"field": "pin", "list": []string{"password", "token"}}, false},
		{"null", nil, false},
		{"scalar", "pin", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			datas := []any{tc.data}
			if tc.name == "every listed key" {
				datas = nil
				for _, k := range secretKeys {
					datas = append(datas, map[string]any{k: "x"}, map[string]any{strings.ToUpper(k): "x"})
				}
			}
			for _, d := range datas {
				before := verify(t, s)
				errAudit := s.Audit(ctx, "probe", j.ID, d)
				after := verify(t, s)
				for _, err := range []error{errAudit} {
					if tc.refuse {
						if !errors.Is(err, ErrSecretField) {
							t.Errorf("data %v: err = %v, want ErrSecretField", d, err)
						} else if strings.Contains(err.Error(), "123456") || strings.Contains(err.Error(), "hunter2") {
							t.Errorf("error echoes the value: %v", err)
						}
					} else if err != nil {
						t.Errorf("data %v refused: %v", d, err)
					}
				}
				if tc.refuse && after != before {
					t.Errorf("refused data still wrote %d audit events", after-before)
				}
			}
		})
	}
	steps, err := s.Steps(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		if strings.Contains(string(st.Data), "123456") || strings.Contains(string(st.Data), "hunter2") {
			t.Errorf("a secret reached the journal: %s", st.Data)
		}
	}
}

func testResults(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	j1 := mustJob(t, s, &Job{Kind: "enroll", UPN: "adele.vance@contoso.test"})
	j2 := mustJob(t, s, &Job{Kind: "enroll", UPN: "alex.wilber@contoso.test"})
	j3 := mustJob(t, s, &Job{Kind: "enroll", UPN: "adele.vance@contoso.test"})

	r1 := &Result{JobID: j1.ID, UPN: j1.UPN, UserID: "u-adele", MethodID: "m-1", CredentialID: "AAEC_-8", AAGUID: "aa",
		Model: "YubiKey 5", DisplayName: "YubiKey 5 (adele)", KeyPath: "vkey:one", EscrowID: "e-1", PINEscrow: "age",
		Verified: true, ForcePINChange: true, CreatedDateTime: time.Date(2026, 11, 3, 1, 2, 3, 0, time.UTC)}
	if err := s.RecordResult(ctx, r1); err != nil {
		t.Fatal(err)
	}
	if r1.RecordedAt.IsZero() {
		t.Error("RecordedAt not filled")
	}
	if job, _ := s.Job(ctx, j1.ID); job.State != JobDone {
		t.Errorf("job state after RecordResult = %s, want done", job.State)
	}
	got, err := s.ResultForMethod(ctx, "u-adele", "m-1")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*got) != fmt.Sprint(*r1) {
		t.Errorf("ResultForMethod = %+v\nwant %+v", *got, *r1)
	}

	// Job 2's result, then job 1's again: the second replaces the first.
	if err := s.RecordResult(ctx, &Result{JobID: j2.ID, UPN: j2.UPN, UserID: "u-alex", MethodID: "m-2"}); err != nil {
		t.Fatal(err)
	}
	r1b := *r1
	r1b.RecordedAt, r1b.Reconciled, r1b.MethodID = time.Time{}, true, "m-1b"
	if err := s.RecordResult(ctx, &r1b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResultForMethod(ctx, "u-adele", "m-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("replaced result still found: %v", err)
	}
	if err := s.RecordResult(ctx, &Result{JobID: j3.ID, UPN: j3.UPN, UserID: "u-adele", MethodID: "m-3"}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		f    ResultFilter
		want []string // method IDs
	}{
		{"all newest first", ResultFilter{}, []string{"m-3", "m-1b", "m-2"}},
		{"limit", ResultFilter{Limit: 1}, []string{"m-3"}},
		{"upn", ResultFilter{UPN: "ADELE.VANCE@contoso.test"}, []string{"m-3", "m-1b"}},
		{"user", ResultFilter{UserID: "u-alex"}, []string{"m-2"}},
		{"job", ResultFilter{JobID: j1.ID}, []string{"m-1b"}},
		{"user and job", ResultFilter{UserID: "u-alex", JobID: j1.ID}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := s.Results(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range rs {
				ids = append(ids, r.MethodID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Results(%+v) = %v, want %v", tc.f, ids, tc.want)
			}
		})
	}
	rs, _ := s.Results(ctx, ResultFilter{JobID: j1.ID})
	if !rs[0].Reconciled || !rs[0].Verified {
		t.Errorf("replacement not stored: %+v", rs[0])
	}

	evs, _ := s.AuditEvents(ctx, 0, 0)
	var results []string
	for _, ev := range evs {
		if ev.Event == "result" && ev.JobID == j1.ID {
			var d struct{ Replaced bool }
			_ = json.Unmarshal(ev.Data, &d)
			results = append(results, fmt.Sprint(d.Replaced))
		}
	}
	if !slices.Equal(results, []string{"false", "true"}) {
		t.Errorf("result audit events replaced = %v", results)
	}

	if err := s.RecordResult(ctx, &Result{JobID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordResult for unknown job: %v, want ErrNotFound", err)
	}
	if err := s.RecordResult(ctx, &Result{}); err == nil {
		t.Error("RecordResult accepted an empty job ID")
	}
	verify(t, s)
}

var testCiphertext = []byte("-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBmYWtlCg==\n-----END AGE ENCRYPTED FILE-----\n")

func testEscrowLifecycle(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	j := mustJob(t, s, nil)

	age := &Escrow{JobID: j.ID, UPN: j.UPN, UserID: "u-1", KeyPath: "vkey:one", AAGUID: "aa", Kind: EscrowAge,
		Location: "store", Recipients: []string{"age1helpdesk", "age1bench"}, Ciphertext: testCiphertext}
	if err := s.PutEscrow(ctx, age); err != nil {
		t.Fatal(err)
	}
	if age.ID == "" || age.State != EscrowPending || age.CreatedAt.IsZero() {
		t.Errorf("defaults not filled: %+v", age)
	}
	got, err := s.Escrow(ctx, age.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(*got) != fmt.Sprint(*age) {
		t.Errorf("Escrow = %+v\nwant %+v", *got, *age)
	}

	file := &Escrow{UPN: "lee.gu@contoso.test", KeyPath: "vkey:two", Kind: EscrowFile, Location: "/tmp/pins.txt"}
	if err := s.PutEscrow(ctx, file); err != nil {
		t.Fatal(err)
	}
	binAge := &Escrow{JobID: j.ID, UPN: j.UPN, KeyPath: "vkey:one", Kind: EscrowAge, Recipients: []string{"age1x"},
		Ciphertext: []byte("age-encryption.org/v1\n-> X25519 abc\n")}
	if err := s.PutEscrow(ctx, binAge); err != nil {
		t.Fatal(err)
	}

	if err := s.SetEscrowState(ctx, age.ID, EscrowSuperseded); err != nil {
		t.Fatal(err)
	}
	if err := s.SetEscrowState(ctx, binAge.ID, EscrowApplied); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Escrow(ctx, age.ID)
	if got.State != EscrowSuperseded || !got.UpdatedAt.After(got.CreatedAt) {
		t.Errorf("after SetEscrowState: %+v", got)
	}
	if f, _ := s.Escrow(ctx, file.ID); f.JobID != "" || f.Ciphertext != nil || f.Recipients != nil {
		t.Errorf("file escrow = %+v", f)
	}

	filters := []struct {
		name string
		f    EscrowFilter
		want []string
	}{
		{"all newest first", EscrowFilter{}, []string{binAge.ID, file.ID, age.ID}},
		{"job", EscrowFilter{JobID: j.ID}, []string{binAge.ID, age.ID}},
		{"upn", EscrowFilter{UPN: "LEE.GU@contoso.test"}, []string{file.ID}},
		{"key", EscrowFilter{KeyPath: "vkey:one"}, []string{binAge.ID, age.ID}},
		{"states", EscrowFilter{States: []string{EscrowPending, EscrowApplied}}, []string{binAge.ID, file.ID}},
		{"key and state", EscrowFilter{KeyPath: "vkey:one", States: []string{EscrowApplied}}, []string{binAge.ID}},
	}
	for _, tc := range filters {
		t.Run(tc.name, func(t *testing.T) {
			es, err := s.Escrows(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range es {
				ids = append(ids, e.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Escrows(%+v) = %v, want %v", tc.f, ids, tc.want)
			}
		})
	}

	// The JSON form and the audit log never carry the ciphertext.
	js, _ := json.Marshal(got)
	if strings.Contains(string(js), "AGE ENCRYPTED") || strings.Contains(strings.ToLower(string(js)), "ciphertext") {
		t.Errorf("escrow JSON carries the ciphertext: %s", js)
	}
	evs, _ := s.AuditEvents(ctx, 0, 0)
	var escrowEvents []string
	for _, ev := range evs {
		if strings.Contains(string(ev.Data), "AGE") || strings.Contains(string(ev.Data), "WVuY3J5") {
			t.Errorf("audit event %d carries the ciphertext: %s", ev.Seq, ev.Data)
		}
		if strings.HasPrefix(ev.Event, "escrow") {
			escrowEvents = append(escrowEvents, ev.Event+" "+string(ev.Data))
		}
	}
	want := []string{
		`escrow {"id":"` + age.ID + `","kind":"age","recipients":2,"state":"pending"}`,
		`escrow {"id":"` + file.ID + `","kind":"file","recipients":0,"state":"pending"}`,
		`escrow {"id":"` + binAge.ID + `","kind":"age","recipients":1,"state":"pending"}`,
		`escrow.state {"id":"` + age.ID + `","previous":"pending","state":"superseded"}`,
		`escrow.state {"id":"` + binAge.ID + `","previous":"pending","state":"applied"}`,
	}
	if !slices.Equal(escrowEvents, want) {
		t.Errorf("escrow audit events:\n%s\nwant:\n%s", strings.Join(escrowEvents, "\n"), strings.Join(want, "\n"))
	}

	bad := []struct {
		name string
		e    *Escrow
		is   error
	}{
		{"nil", nil, nil},
		{"no kind", &Escrow{Ciphertext: testCiphertext, Recipients: []string{"r"}}, nil},
		{"unknown kind", &Escrow{Kind: "plain", Location: "x"}, nil},
		{"bad state", &Escrow{Kind: EscrowFile, Location: "x", State: "lost"}, nil},
		{"age without ciphertext", &Escrow{Kind: EscrowAge, Recipients: []string{"r"}}, nil},
		{"age with a clear PIN", &Escrow{Kind: EscrowAge, Recipients: []string{"r"}, Ciphertext: []byte("123456")}, nil},
		{"age without recipients", &Escrow{Kind: EscrowAge, Ciphertext: testCiphertext}, nil},
		{"file without location", &Escrow{Kind: EscrowFile}, nil},
		{"file with ciphertext", &Escrow{Kind: EscrowFile, Location: "x", Ciphertext: testCiphertext}, nil},
		{"unknown job", &Escrow{JobID: "nope", Kind: EscrowFile, Location: "x"}, nil},
		{"duplicate ID", &Escrow{ID: age.ID, Kind: EscrowFile, Location: "x"}, nil},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.PutEscrow(ctx, tc.e); err == nil {
				t.Fatal("accepted")
			} else if strings.Contains(err.Error(), "123456") {
				t.Errorf("error echoes the ciphertext field: %v", err)
			}
		})
	}
	if err := s.SetEscrowState(ctx, age.ID, "lost"); err == nil {
		t.Error("SetEscrowState accepted an invalid state")
	}
	if err := s.SetEscrowState(ctx, "nope", EscrowApplied); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetEscrowState on unknown escrow: %v, want ErrNotFound", err)
	}
	if _, err := s.Escrow(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Escrow(unknown): %v, want ErrNotFound", err)
	}
	if n := verify(t, s); n != 1+3+2 {
		t.Errorf("audit events = %d, want 6", n)
	}
}

func testAuditChain(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	if n := verify(t, s); n != 0 {
		t.Fatalf("empty store has %d audit events", n)
	}
	j := mustJob(t, s, nil)
	for i := range 5 {
		if err := s.Audit(ctx, "probe", "", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordStep(ctx, j.ID, "user", "begin", nil); err != nil {
		t.Fatal(err)
	}
	if n := verify(t, s); n != 7 {
		t.Fatalf("VerifyAudit = %d, want 7", n)
	}
	evs, err := s.AuditEvents(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].PrevHash != zeroHash {
		t.Errorf("first PrevHash = %s", evs[0].PrevHash)
	}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || len(ev.Hash) != 64 || (i > 0 && ev.PrevHash != evs[i-1].Hash) {
			t.Errorf("event %d = %+v", i, ev)
		}
		if i > 0 && !ev.Time.After(evs[i-1].Time) {
			t.Errorf("event %d time %v not after %v", i, ev.Time, evs[i-1].Time)
		}
	}
	page, err := s.AuditEvents(ctx, 2, 3)
	if err != nil || len(page) != 3 || page[0].Seq != 3 || page[2].Seq != 5 {
		t.Errorf("AuditEvents(2, 3) = %+v, %v", page, err)
	}
	if err := s.Audit(ctx, "", "", nil); err == nil {
		t.Error("Audit accepted an empty event name")
	}

	tamper := []struct {
		name    string
		sql     string
		args    []any
		wantSeq int64
	}{
		{"data changed", `UPDATE audit SET data = '{"i":99}' WHERE seq = 3`, nil, 3},
		{"actor changed", `UPDATE audit SET actor = 'mallory@bench' WHERE seq = 5`, nil, 5},
		{"time changed", `UPDATE audit SET time = '2020-01-01T00:00:00.000000000Z' WHERE seq = 2`, nil, 2},
		{"job changed", `UPDATE audit SET job_id = 'other' WHERE seq = 7`, nil, 7},
		{"event renamed", `UPDATE audit SET event = 'nothing' WHERE seq = 1`, nil, 1},
		{"middle row deleted", `DELETE FROM audit WHERE seq = 4`, nil, 5},
		{"first row deleted", `DELETE FROM audit WHERE seq = 1`, nil, 2},
		{"hash of a row recomputed", "", nil, 4}, // seq 3 rewritten consistently: seq 4 no longer links
		{"seq renumbered", `UPDATE audit SET seq = 10 WHERE seq = 7`, nil, 10},
		{"unreadable time", `UPDATE audit SET time = 'yesterday' WHERE seq = 6`, nil, 6},
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			// Each case works on its own copy of a freshly built chain.
			s := b.open(t)
			j := mustJob(t, s, nil)
			for i := range 5 {
				if err := s.Audit(ctx, "probe", "", map[string]any{"i": i}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.RecordStep(ctx, j.ID, "user", "begin", nil); err != nil {
				t.Fatal(err)
			}
			if tc.sql != "" {
				if _, err := s.db.Exec(s.d.q(tc.sql), tc.args...); err != nil {
					t.Fatal(err)
				}
			} else {
				ev, err := s.AuditEvents(ctx, 2, 1)
				if err != nil {
					t.Fatal(err)
				}
				e := ev[0]
				e.Data = json.RawMessage(`{"i":42}`)
				h := auditHash(e.PrevHash, e.Seq, e.Time, e.Actor, e.Event, e.JobID, e.Data)
				if _, err := s.db.Exec(s.d.q(`UPDATE audit SET data = ?, hash = ? WHERE seq = ?`), string(e.Data), h, e.Seq); err != nil {
					t.Fatal(err)
				}
			}
			n, err := s.VerifyAudit(ctx)
			if !errors.Is(err, ErrAuditBroken) {
				t.Fatalf("VerifyAudit = %d, %v; want ErrAuditBroken", n, err)
			}
			if want := fmt.Sprintf("at seq %d:", tc.wantSeq); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
			if n != int(tc.wantSeq)-1 && tc.name != "middle row deleted" && tc.name != "first row deleted" && tc.name != "seq renumbered" {
				t.Errorf("count before the break = %d, want %d", n, tc.wantSeq-1)
			}
		})
	}
}

func testConcurrentAppendTwoHandles(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	const handles, workers, each = 2, 3, 15
	stores := make([]*Store, handles)
	for i := range stores {
		s, err := Open(ctx, loc, Options{Actor: fmt.Sprintf("bench%d@host", i)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	j := mustJob(t, stores[0], nil)
	var wg sync.WaitGroup
	errs := make(chan error, handles*workers*each)
	for h, s := range stores {
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					var err error
					if i%3 == 0 {
						err = s.RecordStep(ctx, j.ID, fmt.Sprintf("h%dw%d", h, w), "begin", MakeCredBegin{Attempt: i})
					} else {
						err = s.Audit(ctx, "probe", j.ID, map[string]int{"h": h, "w": w, "i": i})
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	want := 1 + handles*workers*each
	for i, s := range stores {
		if n := verify(t, s); n != want {
			t.Errorf("handle %d: VerifyAudit = %d, want %d", i, n, want)
		}
	}
	steps, err := stores[1].Steps(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != handles*workers*((each+2)/3) {
		t.Errorf("got %d steps", len(steps))
	}
	for i, st := range steps {
		if st.Seq != int64(i+1) {
			t.Fatalf("step %d has seq %d", i, st.Seq)
		}
	}
}

func testContextCanceled(t *testing.T, b backend) {
	s := b.open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.CreateJob(ctx, &Job{Kind: "enroll"}); err == nil {
		t.Error("CreateJob succeeded with a canceled context")
	}
	if _, err := Open(ctx, b.fresh(t), Options{}); err == nil {
		t.Error("Open succeeded with a canceled context")
	}
}

func TestCheckSecretsDirect(t *testing.T) {
	tests := []struct {
		in     string
		refuse bool
	}{
		{`{}`, false},
		{`[]`, false},
		{`"pin"`, false},
		{`{"pin":1}`, true},
		{`{"Pin":1}`, true},
		{`{"PaSsWoRd":null}`, true},
		{`{"a":{"b":[{"c":{"currentPin":1}}]}}`, true},
		{`{"oldPin":1,"pin":2}`, true},
		{`{"pinSet":true,"pinEscrow":"age","newPinLength":8}`, false},
		{`{"pin ":1}`, false},
		{`{"paſſ":1}`, true}, // Unicode folding: ſ folds to s
	}
	for _, tc := range tests {
		err := checkSecrets([]byte(tc.in))
		if got := errors.Is(err, ErrSecretField); got != tc.refuse {
			t.Errorf("checkSecrets(%s) = %v, want refuse=%v", tc.in, err, tc.refuse)
		}
	}
}
