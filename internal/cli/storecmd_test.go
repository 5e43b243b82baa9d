package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/store"
)

// runStoreCmd runs keyprep in this process and returns the exit code,
// stdout and stderr.
func runStoreCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, wiring{})
	return code, out.String(), errOut.String()
}

func TestStoreMigrateSQLite(t *testing.T) {
	t.Setenv(storeEnv, "")
	state := t.TempDir()
	for i, want := range []struct{ from, to int }{{0, 3}, {3, 3}} {
		code, out, errOut := runStoreCmd(t, "--state-dir", state, "--json", "store", "migrate")
		if code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut)
		}
		var res struct {
			Store, Backend string
			From, To       int
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("run %d: %v: %s", i, err, out)
		}
		if res.Backend != store.BackendSQLite || res.Store != filepath.Join(state, "keyprep.db") || res.From != want.from || res.To < want.to {
			t.Errorf("run %d: %+v, want %s from %d", i, res, filepath.Join(state, "keyprep.db"), want.from)
		}
	}
	// --store wins over KEYPREP_STORE; a path and sqlite:PATH are the same.
	other := filepath.Join(t.TempDir(), "other.db")
	t.Setenv(storeEnv, "postgres://nobody:s3cret@localhost/none")
	code, out, errOut := runStoreCmd(t, "--state-dir", state, "--store", "sqlite:"+other, "store", "migrate")
	if code != 0 || !strings.Contains(out, "schema migrated from version 0 to") || !strings.Contains(out, other) {
		t.Errorf("--store sqlite:%s: exit %d: %s%s", other, code, out, errOut)
	}
}

func TestStoreLocationErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip(err)
	}
	closed := l.Addr().String()
	_ = l.Close()
	tests := []struct {
		name     string
		flag     string
		env      string
		code     ExitCode
		msg      string
		hint     string
		password string
	}{
		{name: "password in --store", flag: "postgres://keyprep:s3cret-horse@db.example/keyprep", code: ExitUsage,
			msg: "has a password in it", hint: "PGPASSWORD or a ~/.pgpass file (PGPASSFILE)", password: "s3cret-horse"},
		{name: "password in KEYPREP_STORE", env: "postgresql://keyprep:s3cret-horse@db.example/keyprep", code: ExitUsage,
			msg: "has a password in it", hint: "PGPASSWORD", password: "s3cret-horse"},
		{name: "password parameter", flag: "postgres://db.example/keyprep?password=s3cret-horse", code: ExitUsage,
			msg: "has a password in it", hint: "PGPASSWORD", password: "s3cret-horse"},
		{name: "unknown scheme", flag: "mysql://db.example/keyprep", code: ExitUsage, msg: "unknown kind of store", hint: "postgres://"},
		{name: "unreachable", flag: "postgres://keyprep@" + closed + "/keyprep?sslmode=disable&connect_timeout=5", code: ExitService,
			msg: "cannot be reached", hint: "server is running and reachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(storeEnv, tc.env)
			args := []string{"--state-dir", t.TempDir()}
			if tc.flag != "" {
				args = append(args, "--store", tc.flag)
			}
			code, out, errOut := runStoreCmd(t, append(args, "journal", "list")...)
			if ExitCode(code) != tc.code || !strings.Contains(errOut, tc.msg) || !strings.Contains(errOut, "hint: ") || !strings.Contains(errOut, tc.hint) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, %q and hint %q", code, errOut, tc.code, tc.msg, tc.hint)
			}
			if tc.password != "" && strings.Contains(out+errOut, tc.password) {
				t.Errorf("the password is in the output:\n%s%s", out, errOut)
			}
		})
	}
}

// Against KEYPREP_TEST_POSTGRES (make test's throwaway cluster): store
// migrate on an empty schema, then again; a wrong password is refused at
// start with a hint.
func TestStorePostgres(t *testing.T) {
	url := os.Getenv("KEYPREP_TEST_POSTGRES")
	if url == "" {
		t.Skip("KEYPREP_TEST_POSTGRES is not set (make test sets it)")
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := "kpt_cli_" + store.NewID()[:12]
	const role, password = "keyprep_pwtest", "correct-horse-battery"
	for _, q := range []string{
		`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '` + role + `') THEN CREATE ROLE ` + role + ` LOGIN; END IF; END $$`,
		`ALTER ROLE ` + role + ` PASSWORD '` + password + `'`,
		`CREATE SCHEMA ` + schema + ` AUTHORIZATION ` + role,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	loc := url + sep + "search_path=" + schema + "&user=" + role
	t.Setenv(storeEnv, loc)
	t.Setenv("PGPASSFILE", filepath.Join(t.TempDir(), "none"))

	t.Setenv("PGPASSWORD", password)
	var (
		code        int
		out, errOut string
	)
	for i, want := range []string{"schema migrated from version 0 to", "up to date"} {
		code, out, errOut = runStoreCmd(t, "--state-dir", t.TempDir(), "store", "migrate")
		if code != 0 || !strings.Contains(out, want) || strings.Contains(out, password) {
			t.Fatalf("store migrate %d: exit %d: %s%s", i, code, out, errOut)
		}
	}
	code, _, errOut = runStoreCmd(t, "--state-dir", t.TempDir(), "journal", "verify")
	if code != 0 {
		t.Fatalf("journal verify: exit %d: %s", code, errOut)
	}

	t.Setenv("PGPASSWORD", "wrong-"+password)
	code, out, errOut = runStoreCmd(t, "--state-dir", t.TempDir(), "journal", "list")
	if code == 0 {
		t.Skip("the server does not check " + role + "'s password")
	}
	if ExitCode(code) != ExitAuth || !strings.Contains(errOut, "refused the connection") ||
		!strings.Contains(errOut, "hint: ") || !strings.Contains(errOut, "PGPASSWORD") || strings.Contains(out+errOut, password) {
		t.Errorf("wrong password: exit %d, stderr:\n%s", code, errOut)
	}
}
