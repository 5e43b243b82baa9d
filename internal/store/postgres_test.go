package store

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLocation(t *testing.T) {
	// Absolute as the platform has it ("/srv/k.db" is on the current drive on Windows).
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		in      string
		backend string
		path    string
		errIs   error
		errHas  string
	}{
		{in: "/var/lib/keyprep/keyprep.db", backend: BackendSQLite, path: abs("/var/lib/keyprep/keyprep.db")},
		{in: "state/keyprep.db", backend: BackendSQLite, path: abs("state/keyprep.db")},
		{in: "sqlite:/srv/k.db", backend: BackendSQLite, path: abs("/srv/k.db")},
		{in: "sqlite:///srv/k.db", backend: BackendSQLite, path: abs("/srv/k.db")},
		{in: "sqlite:k.db", backend: BackendSQLite, path: abs("k.db")},
		{in: "odd?dir#x%41/k.db", backend: BackendSQLite, path: abs("odd?dir#x%41/k.db")},
		{in: "postgres://keyprep@db.example/keyprep?sslmode=verify-full", backend: BackendPostgres},
		{in: "postgresql://db.example:5433/keyprep", backend: BackendPostgres},
		{in: "POSTGRES://db.example/keyprep", backend: BackendPostgres},
		{in: "postgres:///keyprep?host=/run/postgresql", backend: BackendPostgres},
		{in: "postgres://keyprep:s3cret-horse@db.example/keyprep", errIs: ErrPasswordInURL},
		{in: "postgres://keyprep:@db.example/keyprep", errIs: ErrPasswordInURL},
		{in: "postgres://db.example/keyprep?password=s3cret-horse", errIs: ErrPasswordInURL},
		{in: "postgres:db.example", errHas: "a PostgreSQL store is a URL"},
		{in: "postgres://k:s3cret-horse@db.example:port/x", errHas: "not a valid PostgreSQL URL"},
		{in: "mysql://db.example/keyprep", errHas: "unknown kind of store"},
		{in: "sqlite:", errHas: "needs a file path"},
		{in: "  ", errHas: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			loc, err := ParseLocation(tc.in)
			if tc.errIs != nil || tc.errHas != "" {
				if err == nil {
					t.Fatalf("ParseLocation(%q) = %+v, want an error", tc.in, loc)
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Errorf("error %v is not %v", err, tc.errIs)
				}
				if !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("error %q does not say %q", err, tc.errHas)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error echoes the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLocation(%q): %v", tc.in, err)
			}
			if loc.Backend != tc.backend || loc.Path != tc.path {
				t.Errorf("ParseLocation(%q) = %+v, want backend %s path %q", tc.in, loc, tc.backend, tc.path)
			}
			if tc.backend == BackendPostgres && loc.URL != tc.in {
				t.Errorf("URL = %q, want it as given", loc.URL)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/var/lib/keyprep/keyprep.db", "/var/lib/keyprep/keyprep.db"},
		{"postgres://keyprep@db.example/k", "postgres://keyprep@db.example/k"},
		{"postgres://keyprep:s3cret@db.example/k", "postgres://keyprep:xxxxx@db.example/k"},
		{"postgres://db.example/k?password=s3cret&sslmode=require", "postgres://db.example/k?password=xxxxx&sslmode=require"},
		{"postgres://db.example/k?sslpassword=s3cret", "postgres://db.example/k?sslpassword=xxxxx"},
		{"postgres://k:s3cret@db.example:port/x", "postgres://(unreadable URL)"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// An unreachable server fails Open at once with ErrUnavailable, naming
// the server without a password.
func TestOpenPostgresUnreachable(t *testing.T) {
	// A port on loopback that nothing listens on: bind one, close it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no loopback: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	t.Setenv("PGPASSWORD", "s3cret-horse")
	loc := "postgres://keyprep@" + addr + "/keyprep?sslmode=disable&connect_timeout=5"
	s, err := Open(context.Background(), loc, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded against a closed port")
	}
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrAccessDenied) {
		t.Errorf("error = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), addr) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q should name %s and never the password", err, addr)
	}
}

// The password comes from PGPASSWORD or the password file as libpq reads
// them; a wrong one fails Open at once with ErrAccessDenied. Needs a
// server that checks the password of the role keyprep_pwtest (the
// throwaway cluster of scripts/pg.sh does).
func TestOpenPostgresPassword(t *testing.T) {
	url := os.Getenv(testPostgresEnv)
	if url == "" {
		t.Skip(testPostgresEnv + " is not set")
	}
	const role, password = "keyprep_pwtest", "correct-horse-battery"
	admin := pgAdminDB(t)
	if _, err := admin.Exec(`DO $$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '` + role + `') THEN
			CREATE ROLE ` + role + ` LOGIN;
		END IF;
	END $$`); err != nil {
		t.Fatalf("create role: %v", err)
	}
	if _, err := admin.Exec(`ALTER ROLE ` + role + ` PASSWORD '` + password + `'`); err != nil {
		t.Fatalf("set password: %v", err)
	}
	schema := pgSchema(t, role)
	loc, err := ParseLocation(url)
	if err != nil {
		t.Fatal(err)
	}
	// The same server and database, as the password role.
	u := withParam(withParam(loc.URL, "user", role), "search_path", schema)

	open := func(t *testing.T) (*Store, error) {
		t.Helper()
		s, err := Open(context.Background(), u, Options{})
		if err == nil {
			t.Cleanup(func() { _ = s.Close() })
		}
		return s, err
	}
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("PGPASSWORD", "wrong-"+password)
	if _, err := open(t); err == nil {
		t.Skip("the server let " + role + " in with a wrong password (it does not check passwords)")
	} else if !errors.Is(err, ErrAccessDenied) || strings.Contains(err.Error(), password) {
		t.Fatalf("wrong password: %v, want ErrAccessDenied (and no password in the message)", err)
	}

	t.Run("PGPASSWORD", func(t *testing.T) {
		t.Setenv("PGPASSWORD", password)
		s, err := open(t)
		if err != nil {
			t.Fatalf("right password in PGPASSWORD: %v", err)
		}
		if err := s.Audit(context.Background(), "probe", "", nil); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("PGPASSFILE", func(t *testing.T) {
		t.Setenv("PGPASSWORD", "")
		os.Unsetenv("PGPASSWORD")
		pass := filepath.Join(t.TempDir(), "pgpass")
		if err := os.WriteFile(pass, []byte("*:*:*:"+role+":"+password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("PGPASSFILE", pass)
		if _, err := open(t); err != nil {
			t.Fatalf("right password in PGPASSFILE: %v", err)
		}
	})
	t.Run("no password", func(t *testing.T) {
		t.Setenv("PGPASSWORD", "")
		os.Unsetenv("PGPASSWORD")
		if _, err := open(t); !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("no password: %v, want ErrAccessDenied", err)
		}
	})
}
