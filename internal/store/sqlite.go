package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/keyprep/keyprep/internal/fileguard"
)

// The embedded backend: one SQLite database file (modernc.org/sqlite, pure
// Go, so CGO_ENABLED=0 builds still work). The file and its -wal/-shm
// companions are mode 0600; on Windows, where an open SQLite file cannot
// be changed, their protection is the access control list of the
// directory, which keyprep creates private (fileguard.MkdirAll) and checks,
// and the database file's own, set when keyprep creates it. Every connection runs with journal_mode=WAL,
// synchronous=FULL (a commit is on disk when the call returns),
// busy_timeout=10000 and foreign_keys=on, and every write transaction
// starts with BEGIN IMMEDIATE (the DSN's _txlock), so several keyprep
// processes may share one file: they serialise on SQLite's write lock
// instead of forking the audit chain. The schema version is PRAGMA
// user_version.

var sqliteDialect = &dialect{
	name:       BackendSQLite,
	migrations: sqliteMigrations,
	prepare:    true,
	beginWrite: func(context.Context, *sql.Tx) error { return nil }, // BEGIN IMMEDIATE (dsn)
	ciEq:       func(col string) string { return col + " = ? COLLATE NOCASE" },
	ciSame:     func(a, b string) string { return a + " = " + b + " COLLATE NOCASE" },
	unique: func(err error) bool {
		return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
	},
	connLost: func(error) bool { return false }, // a file: there is no connection to lose
	migrate:  sqliteMigrate,
	version:  func(ctx context.Context, db *sql.DB) (int, error) { return userVersion(ctx, db) },
}

// openSQLite opens (creating it, private, if needed) the database file
// abs, an absolute path.
func openSQLite(abs string) (*sql.DB, error) {
	if err := fileguard.MkdirAll(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("create directory: %w", err)
	}
	// Create the file ourselves, before SQLite opens it, so that it is
	// never, even briefly, readable by others (mode 0600 whatever the
	// umask; on Windows a private DACL); SQLite gives the -wal and -shm
	// files the database file's permissions on Unix.
	f, err := fileguard.OpenFile(abs, os.O_RDWR)
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return sql.Open("sqlite", dsn(abs))
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

// sqliteMigrate applies the missing migrations up to target, each in its
// own write transaction (BEGIN IMMEDIATE: SQLite's write lock keeps a
// second process from migrating at the same time), and refuses a schema
// newer than this build's.
func sqliteMigrate(ctx context.Context, db *sql.DB, d *dialect, target int) (from, to int, err error) {
	// Every read of the version happens under the write lock too: a
	// plain read racing an opener that is converting the file to WAL can
	// get SQLITE_BUSY without the busy handler being asked (seen once
	// with six openers), while BEGIN IMMEDIATE waits busy_timeout.
	from = -1
	v := 0
	var waited time.Duration
	for {
		done := false
		err := withTx(ctx, db, nil, func(tx *sql.Tx) error {
			cur, err := userVersion(ctx, tx)
			if err != nil {
				return err
			}
			if from < 0 {
				from = cur
			}
			v = cur
			if cur > len(d.migrations) {
				return newerSchemaError(cur)
			}
			if cur >= target {
				done = true
				return nil
			}
			if _, err := tx.ExecContext(ctx, d.migrations[cur]); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", cur+1, err)
			}
			// PRAGMA takes no bound parameters; cur+1 is an int.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", cur+1)); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", cur+1, err)
			}
			v = cur + 1
			return nil
		})
		if err != nil {
			if sqliteBusy(err) && busyWait(ctx, &waited) {
				continue
			}
			return max(from, 0), v, err
		}
		if done {
			return from, v, nil
		}
	}
}

// sqliteBusy reports SQLITE_BUSY (5, in the primary code's low byte).
// SQLite answers it without calling the busy handler where waiting could
// deadlock, e.g. while another opener turns the file into WAL mode.
func sqliteBusy(err error) bool {
	var c interface{ Code() int }
	return errors.As(err, &c) && c.Code()&0xff == 5
}

// busyWait sleeps before the next attempt of a transaction SQLite refused
// as busy, for up to the busy_timeout in all (10 s); false when that is
// spent or ctx ends.
func busyWait(ctx context.Context, waited *time.Duration) bool {
	const limit = 10 * time.Second
	d := min(25*time.Millisecond, limit-*waited)
	if d <= 0 {
		return false
	}
	*waited += d
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func userVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// sqliteMigrations[i] moves the schema from user_version i to i+1 (see
// dialect.migrations; pgMigrations[i] is the same change for PostgreSQL).
// Entries are append-only: never edit one that has shipped. SQLite types:
// TEXT, INTEGER (also for booleans, 0/1), BLOB; the insertion order is the
// implicit rowid; case-insensitive columns are indexed COLLATE NOCASE.
var sqliteMigrations = []string{
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
	// 3: the fleet's shared queue (docs/architecture.md §3.2): one row
	// per user of a loaded list (unique per batch and UPN, ignoring ASCII
	// case); at most one row per user held (claimed or begun) at a time,
	// whatever the batch (queue_held); the benches' heartbeats; and the
	// bench that began each job.
	`
CREATE TABLE queue (
	id           INTEGER PRIMARY KEY NOT NULL,
	batch        TEXT NOT NULL,
	upn          TEXT NOT NULL,
	display_name TEXT NOT NULL DEFAULT '',
	line         INTEGER NOT NULL DEFAULT 0,
	state        TEXT NOT NULL CHECK (state IN ('queued', 'claimed', 'begun', 'done', 'skipped', 'failed')),
	bench        TEXT NOT NULL DEFAULT '',
	lease_until  TEXT NOT NULL DEFAULT '',
	job_id       TEXT NOT NULL DEFAULT '',
	key_serial   TEXT NOT NULL DEFAULT '',
	key_path     TEXT NOT NULL DEFAULT '',
	attempts     INTEGER NOT NULL DEFAULT 0,
	error        TEXT NOT NULL DEFAULT '',
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX queue_batch_upn ON queue (batch, upn COLLATE NOCASE);
CREATE UNIQUE INDEX queue_held ON queue (upn COLLATE NOCASE) WHERE state IN ('claimed', 'begun');
CREATE INDEX queue_state ON queue (state, id);
CREATE INDEX queue_upn ON queue (upn COLLATE NOCASE);

CREATE TABLE benches (
	id         TEXT PRIMARY KEY NOT NULL,
	started_at TEXT NOT NULL,
	last_seen  TEXT NOT NULL,
	info       TEXT NOT NULL DEFAULT '{}'
);

ALTER TABLE jobs ADD COLUMN bench TEXT NOT NULL DEFAULT '';
`,
}
