//go:build cgo

package fleettest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Environment of the benches the tests start: fast leases and heartbeats
// so that a dead bench's claims come back within seconds, and a quick
// simulated operator.
var benchEnv = []string{
	"KEYPREP_LEASE=2s",
	"KEYPREP_SIM_SWAP=5ms",
	"NO_COLOR=1",
}

// buildFlags are the go command's flags of this test build (race_test.go
// adds the race detector's), used for the keyprep binary too.
var buildFlags []string

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// keyprepBin builds keyprep from this module's tree, once per test binary.
func keyprepBin(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		gomod, err := exec.Command(goCmd(), "env", "GOMOD").Output()
		if err != nil || strings.TrimSpace(string(gomod)) == "" {
			buildErr = fmt.Errorf("finding the module: %v", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(gomod)))
		if binDir, err = os.MkdirTemp("", "keyprep-fleettest-"); err != nil {
			buildErr = err
			return
		}
		// Others (the cluster's owner when this runs as root) need not
		// read it: only this process runs the binary.
		binPath = filepath.Join(binDir, "keyprep")
		args := append(append([]string{"build", "-o", binPath}, buildFlags...), "./cmd/keyprep")
		cmd := exec.Command(goCmd(), args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		tb.Fatalf("building keyprep: %v", buildErr)
	}
	return binPath
}

func goCmd() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// inCI reports whether the tests run in CI, where PostgreSQL is required.
func inCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// needPostgres returns the test server's URL (KEYPREP_TEST_POSTGRES, set
// by scripts/pg.sh under make test). Without one the test skips, except
// in CI, where a missing PostgreSQL is a failure.
func needPostgres(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("KEYPREP_TEST_POSTGRES")
	if u == "" || u == "off" {
		if inCI() {
			tb.Fatal("the fleet tests need PostgreSQL: KEYPREP_TEST_POSTGRES is not set (run them through make test, which starts a throwaway cluster with scripts/pg.sh)")
		}
		tb.Skip("the fleet tests need PostgreSQL: KEYPREP_TEST_POSTGRES is not set (make test sets it: scripts/pg.sh starts a throwaway cluster)")
	}
	return u
}

// withParam returns the URL u with the query parameter k set to v.
func withParam(tb testing.TB, u, k, v string) string {
	tb.Helper()
	p, err := url.Parse(u)
	if err != nil {
		tb.Fatalf("KEYPREP_TEST_POSTGRES: %v", err)
	}
	q := p.Query()
	q.Set(k, v)
	p.RawQuery = q.Encode()
	return p.String()
}

// newSchema creates a schema of the test's own in the database at base
// (dropped when the test ends) and returns the store URL selecting it.
func newSchema(tb testing.TB, base string) string {
	tb.Helper()
	db, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("fleet_%d_%d", os.Getpid(), time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		tb.Fatalf("creating the test's schema: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			tb.Error(err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			tb.Errorf("dropping the test's schema %s: %v", name, err)
		}
	})
	return withParam(tb, base, "search_path", name)
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// proc is a keyprep process the test started.
type proc struct {
	name   string
	args   []string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	err    error     // set when done is closed
	exited time.Time // set when done is closed
}

// start runs keyprep with args and env (added to this process's
// environment); the process is killed when the test ends if it still runs.
func start(tb testing.TB, name string, env []string, args ...string) *proc {
	tb.Helper()
	p := &proc{name: name, args: args, done: make(chan struct{})}
	p.cmd = exec.Command(keyprepBin(tb), args...)
	p.cmd.Env = append(os.Environ(), env...)
	if os.Getenv("GORACE") == "" {
		// A race-built keyprep exits at once instead of sleeping a
		// second at exit.
		p.cmd.Env = append(p.cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		p.exited = time.Now()
		close(p.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exitCode is the process's exit status once it ended (-1: killed by a
// signal).
func (p *proc) exitCode() int {
	<-p.done
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -2
	}
	return 0
}

// wait waits for the process to end, at most d (a guard against a hung
// run, not a performance assertion), and returns its exit status.
func (p *proc) wait(tb testing.TB, d time.Duration) int {
	tb.Helper()
	select {
	case <-p.done:
		return p.exitCode()
	case <-time.After(d):
		_ = p.cmd.Process.Signal(syscall.SIGQUIT) // goroutine dump on stderr
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		tb.Fatalf("%s did not finish within %s\nstderr:\n%s", p.name, d, tail(p.stderr.String(), 6000))
		return 0
	}
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// run runs keyprep to completion and returns its exit status and output.
func run(tb testing.TB, env []string, stdin string, args ...string) (int, string, string) {
	tb.Helper()
	cmd := exec.Command(keyprepBin(tb), args...)
	cmd.Env = append(os.Environ(), env...)
	if os.Getenv("GORACE") == "" {
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		tb.Fatalf("keyprep %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// eventually polls cond every 50 ms until it holds or d passes (a guard
// against a hang: the test fails naming what it waited for).
func eventually(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jsonLines decodes the stream of JSON objects in s (one per line, or
// indented), up to the first thing that is not one (such as an object
// a running process is still writing).
func jsonLines(s string) []map[string]any {
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return out
		}
		out = append(out, m)
	}
}

// clusterOwner is who runs a PostgreSQL cluster the test starts: this
// user, or "nobody" when the test runs as root (PostgreSQL refuses root;
// CI runs as root). nil credential: this user.
func clusterOwner(tb testing.TB) *syscall.Credential {
	tb.Helper()
	if os.Getuid() != 0 {
		return nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		tb.Fatalf("running PostgreSQL as root's stand-in: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: false, Groups: []uint32{}}
}

// pgBinDir finds initdb and pg_ctl (Debian's /usr/lib/postgresql/N/bin,
// newest first, or on PATH).
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p)
		}
	}
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// cluster is a PostgreSQL cluster of the test's own, for tests that stop
// and start the server: initdb in a temporary directory, listening on a
// unix socket there only, local connections trusted.
type cluster struct {
	bin, dir, data string
	cred           *syscall.Credential
}

// startCluster creates and starts a cluster. It needs PostgreSQL's
// server binaries: without them the test skips, except in CI.
func startCluster(tb testing.TB) *cluster {
	tb.Helper()
	bin := pgBinDir()
	if bin == "" {
		if inCI() {
			tb.Fatal("PostgreSQL's initdb and pg_ctl not found (Debian: apt-get install postgresql; make test installs it)")
		}
		tb.Skip("this test runs a PostgreSQL cluster of its own: initdb and pg_ctl not found (Debian: apt-get install postgresql)")
	}
	dir, err := os.MkdirTemp("", "kpfleet-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	c := &cluster{bin: bin, dir: dir, data: filepath.Join(dir, "data"), cred: clusterOwner(tb)}
	if c.cred != nil {
		if err := os.Chown(dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err == nil {
			_ = c.pgctl("-m", "immediate", "-w", "stop")
		}
		_ = os.RemoveAll(dir)
	})
	if out, err := c.as(filepath.Join(bin, "initdb"), "-D", c.data, "-U", "keyprep", "--auth-local=trust", "--auth-host=reject",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		tb.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := c.start(); err != nil {
		tb.Fatal(err)
	}
	return c
}

// as runs a PostgreSQL program as the cluster's owner.
func (c *cluster) as(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(prog, args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

func (c *cluster) pgctl(args ...string) error {
	out, err := c.as(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data}, args...)...)
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s\n%s", strings.Join(args, " "), err, out, tail(c.serverLog(), 3000))
	}
	return nil
}

func (c *cluster) serverLog() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return string(b)
}

func (c *cluster) start() error {
	return c.pgctl("-w", "-l", filepath.Join(c.dir, "server.log"), "-o",
		fmt.Sprintf("-c listen_addresses='' -c unix_socket_directories='%s' -c fsync=off -c full_page_writes=off -c max_connections=100", c.dir),
		"start")
}

// stop shuts the server down as an administrator's restart does (fast:
// open connections are terminated).
func (c *cluster) stop() error { return c.pgctl("-m", "fast", "-w", "stop") }

// url is the cluster's postgres database as role keyprep.
func (c *cluster) url() string {
	return "postgres://keyprep@/postgres?host=" + url.QueryEscape(c.dir) + "&sslmode=disable"
}

var _ io.Writer = (*syncBuffer)(nil)
