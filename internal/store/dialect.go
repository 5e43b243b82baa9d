package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// dialect is what differs between the store's backends. Everything else
// (every query, every record's rules, the audit chain) is shared: the
// queries are written once, in SQLite's spelling with '?' placeholders,
// and q rebinds them for a backend that numbers its placeholders.
//
// Adding a table: append a migration to BOTH sqliteMigrations and
// pgMigrations (same index, same meaning: schema version N is the same
// logical schema on both backends; TestMigrationsInStep checks the
// lengths), using each backend's types (see the comments on the lists).
// Write the queries once, in the shared spelling; where a query cannot be
// shared, add a field here (a string or a func building the clause) and
// set it in both dialects, as ciEq does for case-insensitive matching.
// Every write goes through Store.update (or Update), which opens the
// transaction with beginWrite: on PostgreSQL that takes the store's write
// lock first, so writers are serialised as on SQLite and the audit chain
// stays linear. The one exception is the fleet queue's lease bookkeeping
// (claims, renewals, releases, heartbeats: Store.leaseTx in queue.go),
// which writes no audit event and so does not take the write lock: on
// PostgreSQL claimers pass each other with SELECT … FOR UPDATE SKIP LOCKED
// (skipLocked) and row locks; SQLite's one writer serialises them anyway.
type dialect struct {
	name string // BackendSQLite or BackendPostgres

	// migrations[i] moves the schema from version i to i+1.
	migrations []string

	// numbered: placeholders are $1, $2, ... (PostgreSQL), not '?'.
	numbered bool

	// prepare: keep a prepared statement per query on the Store
	// (SQLite, where preparing costs about as much as a small
	// statement). pgx already caches each query's prepared statement per
	// connection; preparing through database/sql there would also take a
	// second pooled connection inside a transaction.
	prepare bool

	// writeTx are the options of a write transaction.
	writeTx *sql.TxOptions

	// beginWrite runs first in every write transaction (after BEGIN).
	beginWrite func(ctx context.Context, tx *sql.Tx) error

	// ciEq returns the condition "col equals the next placeholder,
	// ignoring ASCII case" (the index on col uses the same expression).
	ciEq func(col string) string

	// ciSame returns the condition "columns a and b are equal, ignoring
	// ASCII case" (for joins on UPNs).
	ciSame func(a, b string) string

	// skipLocked ends a SELECT that picks rows to claim: on PostgreSQL
	// " FOR UPDATE SKIP LOCKED" (a claimer passes over rows another
	// claimer's transaction holds instead of waiting for it); "" on
	// SQLite, whose one writer at a time already keeps claimers apart.
	skipLocked string

	// unique reports whether err is a unique constraint violation.
	unique func(err error) bool

	// connLost reports whether err means the connection to the database
	// was lost or could not be made (the server restarting): a
	// transaction that failed so before its commit changed nothing and
	// may run again (see Store.update).
	connLost func(err error) bool

	// migrate brings the schema of db to version target (at most
	// len(migrations)) under the backend's lock, and returns the
	// version found and the version left. A version above
	// len(migrations) is refused with newerSchemaError.
	migrate func(ctx context.Context, db *sql.DB, d *dialect, target int) (from, to int, err error)

	// version reads the schema version without changing anything.
	version func(ctx context.Context, db *sql.DB) (int, error)
}

// rebind caches q's result per query text.
var rebound sync.Map // map[string]string

// q returns query in the dialect's spelling: '?' placeholders become $1,
// $2, ... for a numbered dialect. A '?' inside a quoted string or
// identifier is left alone.
func (d *dialect) q(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	if r, ok := rebound.Load(query); ok {
		return r.(string)
	}
	r := numberPlaceholders(query)
	rebound.Store(query, r)
	return r
}

// numberPlaceholders replaces each '?' outside quotes in query with $n.
func numberPlaceholders(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote reopens on the next byte
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
