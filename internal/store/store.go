// Package store is keyprep's durable state: enrollment jobs and their
// journaled steps, results (who got which key), PIN escrow records and a
// hash-chained audit log.
//
// The embedded implementation keeps everything in one SQLite database
// (modernc.org/sqlite, pure Go, so CGO_ENABLED=0 builds still work) in the
// state directory. The file and its -wal/-shm companions are mode 0600.
// Every connection runs with journal_mode=WAL, synchronous=FULL (a commit is
// on disk when the call returns), busy_timeout=10000 and foreign_keys=on,
// and every write transaction starts with BEGIN IMMEDIATE, so several
// keyprep processes may share one database: they serialise on SQLite's
// write lock instead of forking the audit chain.
//
// Every change is recorded in the same transaction as the audit event that
// describes it. Nothing the store records may carry a secret: RecordStep,
// Audit and CreateJob refuse JSON data with an object key that names one
// (see ErrSecretField), as a last line of defence behind the callers, which
// must never hand a PIN, a Temporary Access Pass or a token to the store in
// the first place.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// ErrNotFound is returned (wrapped) when a job, step, result or escrow
// record does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrAmbiguousID is returned (wrapped) by Job when an ID prefix matches more
// than one job.
var ErrAmbiguousID = errors.New("store: ambiguous ID prefix")

// ErrNewerSchema is returned (wrapped) by Open when the database was written
// by a newer keyprep whose schema this build does not understand.
var ErrNewerSchema = errors.New("store: database schema is newer than this keyprep supports")

// Options tunes a Store. The zero value is ready to use.
type Options struct {
	// Now is the clock used for every timestamp the store writes.
	// Default time.Now. It may be called from several goroutines.
	Now func() time.Time
	// Actor names who made each audited change. Default "user@host" from
	// the current OS user and host name.
	Actor string
}

// Store is an open keyprep state database. It is safe for concurrent use by
// several goroutines, and several Stores (in one or more processes) may use
// the same file at once.
type Store struct {
	db    *sql.DB
	path  string
	now   func() time.Time
	actor string

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // see prepared
}

// schemaVersion is the PRAGMA user_version this build writes: the number of
// entries in migrations.
var schemaVersion = len(migrations)

// migrations[i] moves the schema from user_version i to i+1. Entries are
// append-only: never edit one that has shipped.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE jobs (
	id         TEXT PRIMARY KEY NOT NULL,
	kind       TEXT NOT NULL,
	upn        TEXT NOT NULL DEFAULT '',
	user_id    TEXT NOT NULL DEFAULT '',
	key_path   TEXT NOT NULL DEFAULT '',
	aaguid     TEXT NOT NULL DEFAULT '',
	state      TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed', 'abandoned')),
	step       TEXT NOT NULL DEFAULT '',
	phase      TEXT NOT NULL DEFAULT '',
	error      TEXT NOT NULL DEFAULT '',
	params     TEXT,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_upn ON jobs (upn COLLATE NOCASE);

CREATE TABLE steps (
	job_id TEXT NOT NULL REFERENCES jobs (id),
	seq    INTEGER NOT NULL,
	name   TEXT NOT NULL,
	phase  TEXT NOT NULL,
	data   TEXT NOT NULL,
	time   TEXT NOT NULL,
	PRIMARY KEY (job_id, seq)
);
CREATE INDEX steps_name ON steps (job_id, name, seq);

CREATE TABLE results (
	job_id            TEXT PRIMARY KEY NOT NULL REFERENCES jobs (id),
	upn               TEXT NOT NULL DEFAULT '',
	user_id           TEXT NOT NULL DEFAULT '',
	method_id         TEXT NOT NULL DEFAULT '',
	credential_id     TEXT NOT NULL DEFAULT '',
	aaguid            TEXT NOT NULL DEFAULT '',
	model             TEXT NOT NULL DEFAULT '',
	display_name      TEXT NOT NULL DEFAULT '',
	key_path          TEXT NOT NULL DEFAULT '',
	escrow_id         TEXT NOT NULL DEFAULT '',
	pin_escrow        TEXT NOT NULL DEFAULT '',
	verified          INTEGER NOT NULL DEFAULT 0,
	force_pin_change  INTEGER NOT NULL DEFAULT 0,
	reconciled        INTEGER NOT NULL DEFAULT 0,
	created_date_time TEXT NOT NULL DEFAULT '',
	recorded_at       TEXT NOT NULL
);
CREATE INDEX results_method ON results (user_id, method_id);
CREATE INDEX results_upn ON results (upn COLLATE NOCASE);
CREATE INDEX results_recorded ON results (recorded_at);

CREATE TABLE escrows (
	id         TEXT PRIMARY KEY NOT NULL,
	job_id     TEXT REFERENCES jobs (id),
	upn        TEXT NOT NULL DEFAULT '',
	user_id    TEXT NOT NULL DEFAULT '',
	key_path   TEXT NOT NULL DEFAULT '',
	aaguid     TEXT NOT NULL DEFAULT '',
	kind       TEXT NOT NULL CHECK (kind IN ('age', 'file')),
	location   TEXT NOT NULL DEFAULT '',
	state      TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'unused', 'superseded')),
	recipients TEXT NOT NULL DEFAULT '[]',
	ciphertext BLOB,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX escrows_job ON escrows (job_id);
CREATE INDEX escrows_upn ON escrows (upn COLLATE NOCASE);
CREATE INDEX escrows_created ON escrows (created_at);

CREATE TABLE audit (
	seq       INTEGER PRIMARY KEY NOT NULL,
	time      TEXT NOT NULL,
	actor     TEXT NOT NULL,
	event     TEXT NOT NULL,
	job_id    TEXT NOT NULL DEFAULT '',
	data      TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX audit_job ON audit (job_id);
`,
	// 2: key identity (docs/architecture.md §4.4): the USB serial number
	// string, the model name and getInfo's firmwareVersion of the key a
	// job used, and the credential it created. Rows written before carry
	// the defaults ('' and 0: unknown).
	`
ALTER TABLE jobs ADD COLUMN serial TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN firmware INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN credential_id TEXT NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN serial TEXT NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN firmware INTEGER NOT NULL DEFAULT 0;
CREATE INDEX results_serial ON results (serial) WHERE serial != '';
CREATE INDEX results_credential ON results (credential_id);
`,
}

// Open opens (creating it if needed) the state database at path, brings its
// schema up to date and returns a Store. The parent directory is created
// with mode 0700 if missing; the database file and its -wal and -shm
// companions are mode 0600. A database written by a newer keyprep (a higher
// schema version) is refused with an error wrapping ErrNewerSchema.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: open: empty database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: create directory: %w", abs, err)
	}
	// Create the file ourselves so that it is never, even briefly, readable
	// by others; SQLite gives the -wal and -shm files the database file's
	// permissions.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	if err := os.Chmod(abs, 0o600); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}

	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	s := &Store{db: db, path: abs, now: opts.Now, actor: opts.Actor}
	if s.now == nil {
		s.now = time.Now
	}
	if s.actor == "" {
		s.actor = defaultActor()
	}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	for _, p := range []string{abs, abs + "-wal", abs + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			_ = db.Close()
			return nil, fmt.Errorf("store: open %s: %w", abs, err)
		}
	}
	return s, nil
}

// dsn builds the driver's data source name for an absolute file path: a
// SQLite "file:" URI (so that '?', '#' and '%' in the path are escaped, not
// taken for URI syntax) with the per-connection PRAGMAs and BEGIN IMMEDIATE
// for every read-write transaction.
func dsn(abs string) string {
	path := filepath.ToSlash(abs)
	if !strings.HasPrefix(path, "/") {
		path = "/" + path // Windows drive letter: file:/C:/...
	}
	var b strings.Builder
	b.WriteString("file:")
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '?', '#', '%':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	// busy_timeout first, so that a concurrent opener waits rather than
	// failing while another connection converts the file to WAL.
	b.WriteString("?_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)" +
		"&_pragma=foreign_keys(1)" +
		"&_txlock=immediate")
	return b.String()
}

// defaultActor returns "user@host" for the current process, with "unknown"
// standing in for a part that cannot be determined.
func defaultActor() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}

// migrate applies the missing migrations, each in its own write
// transaction, and refuses a schema newer than this build's.
func (s *Store) migrate(ctx context.Context) error {
	v, err := userVersion(ctx, s.db)
	if err != nil {
		return err
	}
	if v > schemaVersion {
		return newerSchemaError(v)
	}
	for v < schemaVersion {
		err := s.withTx(ctx, func(tx *sql.Tx) error {
			// Re-read under the write lock: another process may have
			// migrated since.
			cur, err := userVersion(ctx, tx)
			if err != nil {
				return err
			}
			if cur > schemaVersion {
				return newerSchemaError(cur)
			}
			if cur != v {
				v = cur
				return nil
			}
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
			}
			// PRAGMA takes no bound parameters; v+1 is an int.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
			}
			v++
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func newerSchemaError(v int) error {
	return fmt.Errorf("%w: the database has schema version %d, this keyprep understands up to %d; upgrade keyprep (or use another --state-dir)",
		ErrNewerSchema, v, schemaVersion)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func userVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// Close closes the database. The Store must not be used afterwards.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		_ = st.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// withTx runs fn in a write transaction (BEGIN IMMEDIATE through the DSN's
// _txlock) and commits it if fn returns nil. The commit is durable
// (synchronous=FULL) when withTx returns.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// NewID returns a new random record ID (32 lower-case hex digits), for a
// caller that needs a record's ID before the transaction that writes it.
func NewID() string { return newID() }

// newID returns a random 128-bit identifier as 32 lower-case hex digits.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// timeLayout is RFC 3339 with exactly nine fractional digits. Times are
// stored in UTC with it, so the text sorts in time order and parses back
// (time.RFC3339Nano accepts it) to the same instant, to the nanosecond.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// fmtTime formats t for storage; the zero time is stored as "".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// parseTime reverses fmtTime.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// nowUTC returns the store clock's current time in UTC, without a monotonic
// reading.
func (s *Store) nowUTC() time.Time { return s.now().UTC().Round(0) }

// nullIfEmpty maps "" to SQL NULL.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// limitClause returns " LIMIT n" for n > 0 and "" otherwise (no limit).
func limitClause(n int) string {
	if n > 0 {
		return fmt.Sprintf(" LIMIT %d", n)
	}
	return ""
}

// inClause returns "col IN (?, ?, ...)" for n values.
func inClause(col string, n int) string {
	return col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// queryAll runs q and scans every row with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, q string, args []any, scan func(scanner) (*T, error)) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}
