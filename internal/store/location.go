package store

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
)

// Backend names (Location.Backend, Store.Backend).
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// ErrPasswordInURL is returned (wrapped) by ParseLocation and Open for a
// PostgreSQL URL that carries a password: a password given on a command
// line or in an environment variable holding the URL ends up in shell
// history, process listings and logs.
var ErrPasswordInURL = errors.New("store: a password in the store URL is not accepted")

// PasswordHint says where a PostgreSQL password goes instead.
const PasswordHint = "remove the password from the URL and put it in PGPASSWORD or a ~/.pgpass file (PGPASSFILE)"

// Location is where a store lives: an SQLite file or a PostgreSQL
// database.
type Location struct {
	Backend string // BackendSQLite or BackendPostgres
	// Path is the SQLite database file (absolute).
	Path string
	// URL is the PostgreSQL connection URL as given (it has no
	// password: ParseLocation refuses one).
	URL string
}

// ParseLocation reads a store location:
//
//   - a file path, or sqlite:PATH (also sqlite://PATH): the embedded SQLite
//     store in that file;
//   - postgres://… or postgresql://…: a PostgreSQL database, in libpq's URL
//     form (host, port, database, user; sslmode, sslrootcert, sslcert,
//     sslkey and the other parameters as libpq spells them; whatever the
//     URL leaves out comes from the PG* environment variables as libpq
//     reads them). The password comes from PGPASSWORD or the password
//     file (PGPASSFILE, default ~/.pgpass), never from the URL: a URL
//     with one is refused with an error wrapping ErrPasswordInURL.
//
// Errors never echo a password.
func ParseLocation(s string) (Location, error) {
	if strings.TrimSpace(s) == "" {
		return Location{}, errors.New("store: empty store location")
	}
	scheme, rest, hasScheme := strings.Cut(s, ":")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return Location{}, fmt.Errorf("store: %s: a PostgreSQL store is a URL: postgres://[user@]host[:port]/database[?sslmode=...]", Redact(s))
		}
		u, err := url.Parse(s)
		if err != nil {
			// url's error quotes the URL, password and all.
			return Location{}, fmt.Errorf("store: %s: not a valid PostgreSQL URL", Redact(s))
		}
		if _, ok := u.User.Password(); ok {
			return Location{}, fmt.Errorf("%w (%s)", ErrPasswordInURL, Redact(s))
		}
		for k := range u.Query() {
			if k == "password" {
				return Location{}, fmt.Errorf("%w (%s)", ErrPasswordInURL, Redact(s))
			}
		}
		return Location{Backend: BackendPostgres, URL: s}, nil
	case "sqlite":
		p := strings.TrimPrefix(rest, "//")
		if p == "" {
			return Location{}, errors.New("store: sqlite: needs a file path (sqlite:PATH)")
		}
		return sqliteLocation(p)
	}
	if hasScheme && strings.HasPrefix(rest, "//") && len(scheme) > 1 && !strings.ContainsAny(scheme, `/\`) {
		return Location{}, fmt.Errorf("store: %s: unknown kind of store %q (want a path, sqlite:PATH or postgres://...)", Redact(s), scheme)
	}
	return sqliteLocation(s)
}

func sqliteLocation(p string) (Location, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return Location{}, fmt.Errorf("store: %s: %w", p, err)
	}
	return Location{Backend: BackendSQLite, Path: abs}, nil
}

// String is the location for people: the SQLite file's path or the
// PostgreSQL URL, redacted.
func (l Location) String() string {
	if l.Backend == BackendPostgres {
		return Redact(l.URL)
	}
	return l.Path
}

// Redact returns s with any password removed from a URL's user
// information and from its password and sslpassword parameters. A string
// that does not parse as a URL but looks like one keeps only its scheme.
// Anything else (a file path) is returned as it is.
func Redact(s string) string {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.HasPrefix(rest, "//") || strings.ContainsAny(scheme, `/\`) {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return scheme + "://(unreadable URL)"
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	changed := false
	for k := range q {
		if k == "password" || k == "sslpassword" {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
