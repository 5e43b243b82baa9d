package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The PostgreSQL backend, for a store several benches share: pgx v5
// through its database/sql driver (stdlib), so that every query and every
// record's rules are the ones the SQLite backend runs. pgx's own pool
// (pgxpool) would give nothing the store needs: the store's transactions
// are short, serialised writers spend their time waiting for the commit
// (a disk sync on the server), and database/sql's pool reconnects after a
// lost connection as pgxpool does.
//
// Connection settings are libpq's: the URL's host, port, database, user
// and parameters (sslmode, sslrootcert, sslcert, sslkey, connect_timeout,
// application_name, ...), then the PG* environment variables (PGHOST,
// PGUSER, PGPASSWORD, PGPASSFILE, PGSSLMODE, ...), then libpq's defaults
// (~/.pgpass, sslmode=prefer); pgx's config parser reads them all. The
// password never comes from the URL (ParseLocation refuses one).
//
// Schema: the version is the one row of schema_version; migrations run in
// one transaction holding a transaction-scoped advisory lock (lockMigrate),
// so of several benches starting together one migrates and the others
// wait and find the work done. Writes: every write transaction is READ
// COMMITTED and first takes the advisory lock lockWrite, which serialises
// writers as SQLite's write lock does: the audit chain's head read and
// the append cannot interleave with another writer (the chain stays
// linear; audit.seq's primary key would refuse a fork anyway), and there
// is one lock order (lockWrite, then rows), so writers cannot deadlock.
// READ COMMITTED matters: each statement after the lock sees every commit
// made before the lock was granted.
//
// Both locks are keyed by the current schema (hashtext(current_schema())),
// so stores in different schemas of one database (one per event, or one
// per test) do not wait for each other.

// Advisory lock classes (the first key of pg_advisory_xact_lock(int, int);
// the second is the schema's hash).
const (
	lockWrite   = 0x6b700001 // "kp" 1: every write transaction
	lockMigrate = 0x6b700002 // "kp" 2: schema migrations
)

// pgConnectTimeout bounds each connection attempt when neither the URL
// (connect_timeout) nor PGCONNECT_TIMEOUT does.
const pgConnectTimeout = 10 * time.Second

// pgMaxConns caps the connections one Store opens: writers are
// serialised, so more would only wait.
const pgMaxConns = 8

// ErrUnavailable is returned (wrapped) by Open when the database server
// cannot be reached.
var ErrUnavailable = errors.New("the database server cannot be reached")

// ErrAccessDenied is returned (wrapped) by Open when the database server
// refuses the credentials (wrong or missing password, no such role, or
// pg_hba.conf rejects the connection) or the role may not use the
// database.
var ErrAccessDenied = errors.New("the database refused the connection")

const writeLockSQL = `SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`

var pgDialect = &dialect{
	name:       BackendPostgres,
	migrations: pgMigrations,
	numbered:   true,
	writeTx:    &sql.TxOptions{Isolation: sql.LevelReadCommitted},
	beginWrite: func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, writeLockSQL, lockWrite); err != nil {
			return fmt.Errorf("take the store's write lock: %w", err)
		}
		return nil
	},
	// lower() under the "C" collation folds ASCII letters only, as
	// SQLite's NOCASE does; the indexes use the same expression.
	ciEq:       func(col string) string { return `lower(` + col + ` COLLATE "C") = lower(CAST(? AS TEXT) COLLATE "C")` },
	ciSame:     func(a, b string) string { return `lower(` + a + ` COLLATE "C") = lower(` + b + ` COLLATE "C")` },
	skipLocked: " FOR UPDATE SKIP LOCKED",
	unique: func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "23505" // unique_violation
	},
	connLost: pgConnLost,
	migrate:  pgMigrate,
	version:  func(ctx context.Context, db *sql.DB) (int, error) { return pgVersion(ctx, db) },
}

// pgConnLost reports whether err is a lost or refused connection: the
// driver's bad connection, a network error, a connect error, an
// unexpected end of the stream, or the server saying it is shutting down
// or starting up (SQLSTATE class 08, 57P01-57P03). Errors are matched by
// type and errors.Is, never by their text, which differs between platforms
// (a reset on Windows is WSAECONNRESET, reported as a *net.OpError).
func pgConnLost(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, ErrUnavailable) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, syscall.ECONNRESET)
}

// openPostgres connects to the database at url (no password in it) and
// checks, once, that it answers.
func openPostgres(ctx context.Context, url string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgconn's parse errors can quote the connection string.
		return nil, errors.New("not a valid PostgreSQL connection URL")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxConns)
	db.SetMaxIdleConns(pgMaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, pgConnectError(err)
	}
	return db, nil
}

// pgConnectError classifies a failure to connect.
func pgConnectError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000": // invalid_password, invalid_authorization_specification
			return fmt.Errorf("%w: %s (SQLSTATE %s)", ErrAccessDenied, pe.Message, pe.Code)
		case "42501", "3D000": // insufficient_privilege, invalid_catalog_name
			return fmt.Errorf("%w: %s (SQLSTATE %s)", ErrAccessDenied, pe.Message, pe.Code)
		}
		return err
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ne) || errors.As(err, &ce) || errors.Is(err, context.DeadlineExceeded) {
		// A password requested but none known is a connect error
		// without a server code.
		if ce != nil && isNoPassword(ce) {
			return fmt.Errorf("%w: the server asks for a password and none is set: %w", ErrAccessDenied, err)
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// isNoPassword reports whether a connect error is the server asking for a
// password that the client does not have.
func isNoPassword(ce *pgconn.ConnectError) bool {
	var pe *pgconn.PgError
	if errors.As(ce, &pe) {
		return false
	}
	msg := ce.Error()
	for _, s := range []string{"no password", "password authentication", "SASL"} {
		if strings.Contains(strings.ToLower(msg), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// pgVersion reads the schema version: 0 when schema_version is missing.
func pgVersion(ctx context.Context, q queryer) (int, error) {
	var exists bool
	if err := q.QueryRowContext(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// pgMigrate brings the schema to version target in one transaction that
// holds the migration lock and the write lock (PostgreSQL's DDL is
// transactional: a failed migration leaves nothing behind).
func pgMigrate(ctx context.Context, db *sql.DB, d *dialect, target int) (from, to int, err error) {
	err = withTx(ctx, db, d.writeTx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, writeLockSQL, lockMigrate); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		v, err := pgVersion(ctx, tx)
		if err != nil {
			return err
		}
		from, to = v, v
		if v > len(d.migrations) {
			return newerSchemaError(v)
		}
		if v >= target {
			return nil
		}
		if err := d.beginWrite(ctx, tx); err != nil {
			return err
		}
		if v == 0 {
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
	one     BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
	version INTEGER NOT NULL
);
INSERT INTO schema_version (version) VALUES (0) ON CONFLICT (one) DO NOTHING`); err != nil {
				return fmt.Errorf("create schema_version: %w", err)
			}
		}
		for ; v < target; v++ {
			if _, err := tx.ExecContext(ctx, d.migrations[v]); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = $1`, v); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", v, err)
		}
		to = v
		return nil
	})
	return from, to, err
}

// pgMigrations[i] is sqliteMigrations[i] for PostgreSQL (see
// dialect.migrations). Append-only. PostgreSQL types: TEXT; BIGINT for
// integers; BOOLEAN; BYTEA. Times are TEXT in the store's fixed RFC 3339
// layout on both backends (see timeLayout): they keep nanoseconds, which
// the audit chain's hashes cover and timestamptz would round to
// microseconds, and they sort in time order under the "C" collation the
// time and ID columns are declared with. A rowid identity column keeps
// the insertion order SQLite's implicit rowid gives; case-insensitive
// columns are indexed as lower(col COLLATE "C") (see ciEq).
var pgMigrations = []string{
	// 1: initial schema.
	`
CREATE TABLE jobs (
	rowid      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
	id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
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
	created_at TEXT COLLATE "C" NOT NULL,
	updated_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_upn ON jobs (lower(upn COLLATE "C"));

CREATE TABLE steps (
	job_id TEXT COLLATE "C" NOT NULL REFERENCES jobs (id),
	seq    BIGINT NOT NULL,
	name   TEXT NOT NULL,
	phase  TEXT NOT NULL,
	data   TEXT NOT NULL,
	time   TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (job_id, seq)
);
CREATE INDEX steps_name ON steps (job_id, name, seq);

CREATE TABLE results (
	rowid             BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
	job_id            TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES jobs (id),
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
	verified          BOOLEAN NOT NULL DEFAULT false,
	force_pin_change  BOOLEAN NOT NULL DEFAULT false,
	reconciled        BOOLEAN NOT NULL DEFAULT false,
	created_date_time TEXT COLLATE "C" NOT NULL DEFAULT '',
	recorded_at       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX results_method ON results (user_id, method_id);
CREATE INDEX results_upn ON results (lower(upn COLLATE "C"));
CREATE INDEX results_recorded ON results (recorded_at);

CREATE TABLE escrows (
	rowid      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
	id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
	job_id     TEXT COLLATE "C" REFERENCES jobs (id),
	upn        TEXT NOT NULL DEFAULT '',
	user_id    TEXT NOT NULL DEFAULT '',
	key_path   TEXT NOT NULL DEFAULT '',
	aaguid     TEXT NOT NULL DEFAULT '',
	kind       TEXT NOT NULL CHECK (kind IN ('age', 'file')),
	location   TEXT NOT NULL DEFAULT '',
	state      TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'unused', 'superseded')),
	recipients TEXT NOT NULL DEFAULT '[]',
	ciphertext BYTEA,
	created_at TEXT COLLATE "C" NOT NULL,
	updated_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX escrows_job ON escrows (job_id);
CREATE INDEX escrows_upn ON escrows (lower(upn COLLATE "C"));
CREATE INDEX escrows_created ON escrows (created_at);

CREATE TABLE audit (
	seq       BIGINT PRIMARY KEY NOT NULL,
	time      TEXT COLLATE "C" NOT NULL,
	actor     TEXT NOT NULL,
	event     TEXT NOT NULL,
	job_id    TEXT NOT NULL DEFAULT '',
	data      TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX audit_job ON audit (job_id);
`,
	// 2: key identity (see sqliteMigrations[1]).
	`
ALTER TABLE jobs ADD COLUMN serial TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN model TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN firmware BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN credential_id TEXT NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN serial TEXT NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN firmware BIGINT NOT NULL DEFAULT 0;
CREATE INDEX results_serial ON results (serial) WHERE serial <> '';
CREATE INDEX results_credential ON results (credential_id);
`,
	// 3: the fleet's shared queue (see sqliteMigrations[2]).
	`
CREATE TABLE queue (
	id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	batch        TEXT NOT NULL,
	upn          TEXT NOT NULL,
	display_name TEXT NOT NULL DEFAULT '',
	line         BIGINT NOT NULL DEFAULT 0,
	state        TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'begun', 'done', 'skipped', 'failed')),
	bench        TEXT NOT NULL DEFAULT '',
	lease_until  TEXT COLLATE "C" NOT NULL DEFAULT '',
	job_id       TEXT COLLATE "C" NOT NULL DEFAULT '',
	key_serial   TEXT NOT NULL DEFAULT '',
	key_path     TEXT NOT NULL DEFAULT '',
	attempts     BIGINT NOT NULL DEFAULT 0,
	error        TEXT NOT NULL DEFAULT '',
	created_at   TEXT COLLATE "C" NOT NULL,
	updated_at   TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX queue_batch_upn ON queue (batch, lower(upn COLLATE "C"));
CREATE UNIQUE INDEX queue_held ON queue (lower(upn COLLATE "C")) WHERE state IN ('claimed', 'begun');
CREATE INDEX queue_state ON queue (state, id);
CREATE INDEX queue_upn ON queue (lower(upn COLLATE "C"));

CREATE TABLE benches (
	id         TEXT PRIMARY KEY NOT NULL,
	started_at TEXT COLLATE "C" NOT NULL,
	last_seen  TEXT COLLATE "C" NOT NULL,
	info       TEXT NOT NULL DEFAULT '{}'
);

ALTER TABLE jobs ADD COLUMN bench TEXT NOT NULL DEFAULT '';
`,
}
