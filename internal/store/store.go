// Package store is keyprep's durable state: enrollment jobs and their
// journaled steps, results (who got which key), PIN escrow records and a
// hash-chained audit log.
//
// It has two backends behind the one Store type: the embedded SQLite
// database in the state directory (the default; sqlite.go) and a
// PostgreSQL database that several benches share (postgres.go). The
// queries are shared; dialect.go holds what differs. Writers are
// serialised on both (SQLite's write lock; a transaction-scoped advisory
// lock on PostgreSQL), so the audit chain stays linear however many
// processes write.
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
	"strings"
	"sync"
	"time"
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

	// schemaVersion, when positive, is the version Open migrates to
	// instead of the newest (tests build older databases with it).
	schemaVersion int
}

// Store is an open keyprep state database. It is safe for concurrent use by
// several goroutines, and several Stores (in one or more processes, on one
// or more machines for PostgreSQL) may use the same database at once.
type Store struct {
	db    *sql.DB
	d     *dialect
	loc   Location
	path  string // loc.String()
	now   func() time.Time
	actor string

	fromVersion, toVersion int // see Schema

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // see prepared

	rp     retryPolicy // see SetRetry
	outage outage      // see retry
}

// schemaVersion is the schema version this build writes: the number of
// migrations (the same on both backends).
var schemaVersion = len(sqliteMigrations)

// Open opens the store at location (see ParseLocation: a file path,
// sqlite:PATH or a postgres:// URL), brings its schema up to date (under
// the backend's lock, so that several keyprep processes starting together
// do not race) and returns a Store.
//
// An SQLite file is created if needed; its parent directory is created
// with mode 0700 if missing, and the database file and its -wal and -shm
// companions are mode 0600. A PostgreSQL database must exist; Open
// connects once, so an unreachable server gives an error wrapping
// ErrUnavailable and refused credentials one wrapping ErrAccessDenied. A
// database written by a newer keyprep (a higher schema version) is refused
// with an error wrapping ErrNewerSchema.
func Open(ctx context.Context, location string, opts Options) (*Store, error) {
	loc, err := ParseLocation(location)
	if err != nil {
		return nil, err
	}
	return OpenLocation(ctx, loc, opts)
}

// OpenLocation is Open for a parsed location.
func OpenLocation(ctx context.Context, loc Location, opts Options) (*Store, error) {
	var (
		db  *sql.DB
		d   *dialect
		err error
	)
	switch loc.Backend {
	case BackendSQLite:
		d = sqliteDialect
		db, err = openSQLite(loc.Path)
	case BackendPostgres:
		d = pgDialect
		db, err = openPostgres(ctx, loc.URL)
	default:
		err = fmt.Errorf("unknown backend %q", loc.Backend)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", loc, err)
	}
	s := &Store{db: db, d: d, loc: loc, path: loc.String(), now: opts.Now, actor: opts.Actor}
	if s.now == nil {
		s.now = time.Now
	}
	if s.actor == "" {
		s.actor = defaultActor()
	}
	target := schemaVersion
	if opts.schemaVersion > 0 {
		target = opts.schemaVersion
	}
	s.fromVersion, s.toVersion, err = d.migrate(ctx, db, d, target)
	if err == nil && loc.Backend == BackendSQLite {
		err = sqliteModes(loc.Path)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: open %s: %w", loc, err)
	}
	return s, nil
}

// Schema returns the schema version Open found and the one it left (equal
// when nothing needed migrating).
func (s *Store) Schema() (from, to int) { return s.fromVersion, s.toVersion }

// Backend returns BackendSQLite or BackendPostgres.
func (s *Store) Backend() string { return s.d.name }

// Location returns where the store lives.
func (s *Store) Location() Location { return s.loc }

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

func newerSchemaError(v int) error {
	return fmt.Errorf("%w: the database has schema version %d, this keyprep understands up to %d; upgrade keyprep (or use another --state-dir or --store)",
		ErrNewerSchema, v, schemaVersion)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
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

// Path returns the absolute path of the SQLite database file, or the
// PostgreSQL URL (redacted) of a PostgreSQL store: where the store is, for
// people.
func (s *Store) Path() string { return s.path }

// withTx runs fn in a transaction on db and commits it if fn returns nil.
func withTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
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

// queryRow runs the query q (in the shared spelling) outside a
// transaction.
func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.d.q(q), args...)
}

// queryAll runs q (in the shared spelling) and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, q string, args []any, scan func(scanner) (*T, error)) ([]T, error) {
	var out []T
	err := s.retry(ctx, func() error {
		var err error
		out, err = queryAllOnce(ctx, s, q, args, scan)
		return err
	})
	return out, err
}

func queryAllOnce[T any](ctx context.Context, s *Store, q string, args []any, scan func(scanner) (*T, error)) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, s.d.q(q), args...)
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
