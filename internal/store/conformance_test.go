package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The conformance suite: every test in conformanceTests runs, unchanged,
// against each backend: SQLite always, PostgreSQL when
// KEYPREP_TEST_POSTGRES names a server (make test starts a throwaway one:
// scripts/pg.sh). Each test gets a fresh, empty database from b.fresh: a
// file in a temporary directory, or a schema of its own in the PostgreSQL
// database (dropped at the end), selected with the URL's search_path.

// testPostgresEnv names the PostgreSQL server the tests may use (a URL, no
// password in it: PGPASSWORD or PGPASSFILE carry one).
const testPostgresEnv = "KEYPREP_TEST_POSTGRES"

var conformanceTests = []struct {
	name string
	fn   func(*testing.T, backend)
}{
	{"OpenRefusesNewerSchema", testOpenRefusesNewerSchema},
	{"TimeRoundTrip", testTimeRoundTrip},
	{"JobCRUD", testJobCRUD},
	{"JobPrefixLookup", testJobPrefixLookup},
	{"JobsFilterAndOrder", testJobsFilterAndOrder},
	{"UPNCaseASCIIOnly", testUPNCaseASCIIOnly},
	{"Steps", testSteps},
	{"SecretFieldRefusal", testSecretFieldRefusal},
	{"Results", testResults},
	{"EscrowLifecycle", testEscrowLifecycle},
	{"EscrowFromAnotherHandle", testEscrowFromAnotherHandle},
	{"AuditChain", testAuditChain},
	{"ConcurrentAppendTwoHandles", testConcurrentAppendTwoHandles},
	{"ConcurrentProcesses", testConcurrentProcesses},
	{"ConcurrentMigrate", testConcurrentMigrate},
	{"MigrateKeyIdentity", testMigrateKeyIdentity},
	{"ContextCanceled", testContextCanceled},
	{"DecodeStepLegacyRows", testDecodeStepLegacyRows},
	{"UpdateCommitsTogether", testUpdateCommitsTogether},
}

func TestConformance(t *testing.T) {
	for _, b := range []backend{sqliteBackend(), postgresBackend()} {
		t.Run(b.name, func(t *testing.T) {
			if b.skip != "" {
				t.Skip(b.skip)
			}
			for _, c := range conformanceTests {
				t.Run(c.name, func(t *testing.T) { c.fn(t, b) })
			}
		})
	}
}

// backend is one store backend under test.
type backend struct {
	name string
	skip string // why this backend's tests are skipped, if they are
	// fresh returns the location of a new, empty database.
	fresh func(t testing.TB) string
	// setVersion writes schema version v into the database at loc
	// behind the Store's back (creating the version record if needed).
	setVersion func(t *testing.T, loc string, v int)
}

// open opens a Store on a fresh database, closed when the test ends.
func (b backend) open(t testing.TB) *Store {
	t.Helper()
	return b.openAt(t, b.fresh(t))
}

// openAt opens a Store (with the test clock) on loc, closed when the test
// ends.
func (b backend) openAt(t testing.TB, loc string) *Store {
	t.Helper()
	s, err := Open(context.Background(), loc, Options{Now: newClock().Now, Actor: "tester@bench"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func sqliteBackend() backend {
	return backend{
		name: BackendSQLite,
		fresh: func(t testing.TB) string {
			return filepath.Join(t.TempDir(), "state", "keyprep.db")
		},
		setVersion: func(t *testing.T, loc string, v int) {
			if err := os.MkdirAll(filepath.Dir(loc), 0o700); err != nil {
				t.Fatal(err)
			}
			db := rawDB(t, loc)
			if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
				t.Fatal(err)
			}
			_ = db.Close()
		},
	}
}

// pgAdmin is the tests' own connection to KEYPREP_TEST_POSTGRES, for
// creating and dropping the per-test schemas.
var pgAdmin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

func pgAdminDB(t testing.TB) *sql.DB {
	t.Helper()
	pgAdmin.once.Do(func() {
		url := os.Getenv(testPostgresEnv)
		if _, err := ParseLocation(url); err != nil {
			pgAdmin.err = err
			return
		}
		db, err := openPostgres(context.Background(), url)
		if err != nil {
			pgAdmin.err = fmt.Errorf("%s=%s: %w", testPostgresEnv, Redact(url), err)
			return
		}
		pgAdmin.db = db
	})
	if pgAdmin.err != nil {
		t.Fatalf("PostgreSQL for the tests: %v", pgAdmin.err)
	}
	return pgAdmin.db
}

// withParam adds the query parameter k=v to the URL u.
func withParam(u, k, v string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + k + "=" + v
}

// pgSchema creates a new schema (owned by owner, if not empty) that is
// dropped when the test ends, and returns its name.
func pgSchema(t testing.TB, owner string) string {
	t.Helper()
	admin := pgAdminDB(t)
	name := "kpt_" + newID()[:16]
	q := "CREATE SCHEMA " + name
	if owner != "" {
		q += " AUTHORIZATION " + owner
	}
	if _, err := admin.Exec(q); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", name, err)
		}
	})
	return name
}

func postgresBackend() backend {
	b := backend{name: BackendPostgres}
	url := os.Getenv(testPostgresEnv)
	if url == "" {
		b.skip = testPostgresEnv + " is not set: the PostgreSQL backend is not tested (make test starts a throwaway server; " +
			"or set " + testPostgresEnv + "=postgres://user@host/db, password in PGPASSWORD or ~/.pgpass)"
		return b
	}
	b.fresh = func(t testing.TB) string {
		return withParam(url, "search_path", pgSchema(t, ""))
	}
	b.setVersion = func(t *testing.T, loc string, v int) {
		db, err := openPostgres(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_version (
			one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), version INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO schema_version (version) VALUES ($1)
			ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version`, v); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestMigrationsInStep(t *testing.T) {
	if len(sqliteMigrations) != len(pgMigrations) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL migrations: schema version N must mean the same on both",
			len(sqliteMigrations), len(pgMigrations))
	}
}

// testUPNCaseASCIIOnly: UPNs match ignoring ASCII case only, the same on
// both backends.
func testUPNCaseASCIIOnly(t *testing.T, b backend) {
	ctx := context.Background()
	s := b.open(t)
	mustJob(t, s, &Job{ID: "j1", Kind: "enroll", UPN: "adele.vance@contoso.test"})
	mustJob(t, s, &Job{ID: "j2", Kind: "enroll", UPN: "émile@contoso.test"})
	for _, tc := range []struct {
		upn  string
		want string
	}{
		{"ADELE.VANCE@CONTOSO.TEST", "j1"},
		{"Adele.Vance@contoso.test", "j1"},
		{"émile@CONTOSO.test", "j2"},
		{"Émile@contoso.test", ""}, // not ASCII: no match, as with SQLite's NOCASE
		{"adele.vance@contoso.tes_", ""},
		{"adele.vance@contoso.tes%", ""},
	} {
		jobs, err := s.Jobs(ctx, JobFilter{UPN: tc.upn})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(jobs) == 1 {
			got = jobs[0].ID
		} else if len(jobs) > 1 {
			got = fmt.Sprintf("%d jobs", len(jobs))
		}
		if got != tc.want {
			t.Errorf("Jobs(UPN %q) = %q, want %q", tc.upn, got, tc.want)
		}
	}
}

// testEscrowFromAnotherHandle: an age escrow written through one Store is
// read, whole, through another (another bench, the helpdesk's machine):
// nothing about it lives outside the database.
func testEscrowFromAnotherHandle(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	bench := b.openAt(t, loc)
	j := mustJob(t, bench, nil)
	e := &Escrow{JobID: j.ID, UPN: j.UPN, KeyPath: "vkey:one", Kind: EscrowAge, Location: "store",
		Recipients: []string{"age1helpdesk"}, Ciphertext: testCiphertext}
	if err := bench.PutEscrow(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := bench.Close(); err != nil {
		t.Fatal(err)
	}
	helpdesk := b.openAt(t, loc)
	es, err := helpdesk.Escrows(ctx, EscrowFilter{UPN: strings.ToUpper(j.UPN)})
	if err != nil || len(es) != 1 {
		t.Fatalf("Escrows from another handle = %d, %v", len(es), err)
	}
	if string(es[0].Ciphertext) != string(testCiphertext) || es[0].Recipients[0] != "age1helpdesk" {
		t.Errorf("escrow read back = %+v", es[0])
	}
}

// testConcurrentMigrate: several Stores open one empty database at once;
// one migrates, the others wait and find the work done, and all end at
// the current version.
func testConcurrentMigrate(t *testing.T, b backend) {
	ctx := context.Background()
	loc := b.fresh(t)
	const n = 6
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied int
	)
	for i := range n {
		wg.Go(func() {
			s, err := Open(ctx, loc, Options{Actor: fmt.Sprintf("bench%d@host", i)})
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				return
			}
			defer s.Close()
			from, to := s.Schema()
			if to != schemaVersion {
				t.Errorf("Open %d left schema %d, want %d", i, to, schemaVersion)
			}
			if from == 0 {
				mu.Lock()
				applied++
				mu.Unlock()
			}
			if err := s.Audit(ctx, "probe", "", map[string]int{"bench": i}); err != nil {
				t.Errorf("Audit %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	// SQLite migrates one version per transaction, so two openers may
	// share the work; PostgreSQL migrates all at once.
	if applied < 1 || (b.name == BackendPostgres && applied != 1) {
		t.Errorf("%d of %d openers found the database empty", applied, n)
	}
	s := b.openAt(t, loc)
	if n := verify(t, s); n != 6 {
		t.Errorf("VerifyAudit = %d events, want 6", n)
	}
}

// helperEnv makes the test binary a writer process (see
// TestStoreWriterProcess).
const helperEnv = "KEYPREP_STORE_TEST_WRITER"

// testConcurrentProcesses: separate processes (this test binary, see
// TestStoreWriterProcess) open one empty database together and append to
// the audit chain and to one job's journal at once: one schema, one linear
// chain, consecutive step numbers.
func testConcurrentProcesses(t *testing.T, b backend) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := context.Background()
	loc := b.fresh(t)
	const procs, each = 3, 20
	var wg sync.WaitGroup
	for i := range procs {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStoreWriterProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d", helperEnv, loc, i, each))
		wg.Go(func() {
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("writer %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()
	s := b.openAt(t, loc)
	if n := verify(t, s); n != procs*(1+each) {
		t.Errorf("VerifyAudit = %d events, want %d", n, procs*(1+each))
	}
	jobs, err := s.Jobs(ctx, JobFilter{})
	if err != nil || len(jobs) != procs {
		t.Fatalf("jobs = %d, %v", len(jobs), err)
	}
	for _, j := range jobs {
		steps, err := s.Steps(ctx, j.ID)
		if err != nil || len(steps) != each/2 {
			t.Errorf("job %s: %d steps, %v; want %d", j.ID, len(steps), err, each/2)
		}
	}
}

// TestStoreWriterProcess is a writer process of testConcurrentProcesses
// (it does nothing in a normal run): KEYPREP_STORE_TEST_WRITER is
// "LOCATION|ID|N": open the store, create a job, then append N events,
// every other one a journal row.
func TestStoreWriterProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("a helper process of testConcurrentProcesses")
	}
	parts := strings.Split(spec, "|")
	if len(parts) != 3 {
		t.Fatalf("%s=%q", helperEnv, spec)
	}
	id, _ := strconv.Atoi(parts[1])
	n, _ := strconv.Atoi(parts[2])
	ctx := context.Background()
	s, err := Open(ctx, parts[0], Options{Actor: fmt.Sprintf("proc%d@host", id)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	j := &Job{Kind: "enroll", UPN: fmt.Sprintf("user%d@contoso.test", id)}
	if err := s.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if i%2 == 0 {
			err = s.RecordStep(ctx, j.ID, "register", PhaseBegin, MakeCredBegin{Attempt: i})
		} else {
			err = s.Audit(ctx, "probe", j.ID, map[string]int{"proc": id, "i": i})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Backends' differences that are not behaviour.
func TestNumberPlaceholders(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{`"we?ird" = ? AND z = 'it''s ?' OR w = ?`, `"we?ird" = $1 AND z = 'it''s ?' OR w = $2`},
		{"IN (?, ?, ?)", "IN ($1, $2, $3)"},
	} {
		if got := numberPlaceholders(tc.in); got != tc.want {
			t.Errorf("numberPlaceholders(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// BenchmarkRecordStep: one journal row (with its audit event) per
// transaction, on each backend, from 8 goroutines sharing one Store
// (writers are serialised: this is the store's write rate). The throwaway
// cluster of scripts/pg.sh runs with fsync=off; a real server's commit
// waits for its disk.
func BenchmarkRecordStep(b *testing.B) {
	for _, be := range []backend{sqliteBackend(), postgresBackend()} {
		b.Run(be.name, func(b *testing.B) {
			if be.skip != "" {
				b.Skip(be.skip)
			}
			s := be.open(b)
			ctx := context.Background()
			j := &Job{Kind: "enroll", UPN: "adele.vance@contoso.test"}
			if err := s.CreateJob(ctx, j); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.RecordStep(ctx, j.ID, "register", PhaseBegin, MakeCredBegin{Attempt: 1}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
