package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/store"
)

// storeEnv names the store when --store is not given.
const storeEnv = "KEYPREP_STORE"

// storeLocation is where this run's store is: --store, else
// $KEYPREP_STORE, else keyprep.db in the state directory.
func (g *globals) storeLocation() string {
	if g.Store != "" {
		return g.Store
	}
	if v := os.Getenv(storeEnv); v != "" {
		return v
	}
	return filepath.Join(g.StateDir, "keyprep.db")
}

// storeOpenError turns a failure to open the store into a message and a
// hint. The store's errors name the location with no password in it.
func storeOpenError(err error) error {
	var msg = "cannot open the store: " + err.Error()
	switch {
	case errors.Is(err, store.ErrPasswordInURL):
		return &Error{Code: ExitUsage, Msg: "--store / " + storeEnv + ": the URL has a password in it; it was not used",
			Hint: store.PasswordHint, Err: err}
	case errors.Is(err, store.ErrUnavailable):
		// Retrying later may succeed: the service-unavailable class.
		return &Error{Code: ExitService, Msg: msg, Err: err,
			Hint: "check the host and port in --store (or " + storeEnv + ") and that the PostgreSQL server is running and reachable from this machine; the command did nothing, run it again once the server answers"}
	case errors.Is(err, store.ErrAccessDenied):
		// The credentials are wrong: retrying will not help (the sign-in class).
		return &Error{Code: ExitAuth, Msg: msg, Err: err,
			Hint: "check the user and database in the URL, and the password in PGPASSWORD or ~/.pgpass (PGPASSFILE); the server's pg_hba.conf must let this machine in"}
	case errors.Is(err, store.ErrNewerSchema):
		return &Error{Code: ExitFailure, Msg: msg, Err: err,
			Hint: "a newer keyprep has upgraded this store: install that version (every bench sharing a store runs the same keyprep)"}
	}
	var le *locationError
	if errors.As(err, &le) {
		return &Error{Code: ExitUsage, Msg: "--store / " + storeEnv + ": " + le.Error(), Err: err,
			Hint: "give a file path, sqlite:PATH, or postgres://[user@]host[:port]/database[?sslmode=verify-full]"}
	}
	return fmt.Errorf("open the store: %w", err)
}

// locationError is a store location that does not parse.
type locationError struct{ err error }

func (e *locationError) Error() string { return e.err.Error() }
func (e *locationError) Unwrap() error { return e.err }

// openStoreAt opens the store at this run's location (see storeLocation).
func (g *globals) openStoreAt(ctx context.Context) (*store.Store, error) {
	loc, err := store.ParseLocation(g.storeLocation())
	if err != nil {
		if errors.Is(err, store.ErrPasswordInURL) {
			return nil, err
		}
		return nil, &locationError{err}
	}
	return store.OpenLocation(ctx, loc, store.Options{})
}

// ---- keyprep store ------------------------------------------------------------

func newStoreCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "The store (journal, results, PIN escrow records, audit log): schema migration",
		Long: `The store is keyprep's durable state: the embedded SQLite file in the state
directory (the default), or a PostgreSQL database that several benches share
(--store postgres://... or $` + storeEnv + `).`,
	}
	cmd.AddCommand(newStoreMigrateCmd(g))
	return cmd
}

func newStoreMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Bring the store's schema up to this keyprep's version (also done on first use)",
		Long: `migrate creates the store's tables, or upgrades them to this keyprep's schema
version, and prints the version found and the version left. Every command that
uses the store does the same on first use; run it on its own to upgrade a
shared PostgreSQL store before the benches start, or to check a store's
version. Concurrent migrations wait for each other: one applies, the others
find the work done. A store written by a newer keyprep is refused.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			from, to := st.Schema()
			res := map[string]any{"store": st.Path(), "backend": st.Backend(), "from": from, "to": to}
			if from == to {
				return g.done(res, "%s: schema version %d, up to date", st.Path(), to)
			}
			return g.done(res, "%s: schema migrated from version %d to %d", st.Path(), from, to)
		},
	}
}
