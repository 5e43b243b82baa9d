package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	// Every keyprep these tests start is this binary. Under -race, each
	// process would sleep a second at exit (the detector's atexit_sleep_ms)
	// for races that are already reported when they happen: hundreds of
	// processes, minutes of sleep. Unless the caller set GORACE, children
	// exit at once.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", goraceChildren)
	}
	if os.Getenv("KEYPREP_CLI_MAIN") == "1" {
		// A keyprep process for the tests that must kill one (crash_test),
		// with the crash hook a released binary does not have.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, os.Args[1:], IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, wiring{crash: crashFromEnv()})
		stop()
		os.Exit(code)
	}
	testscript.Main(scanningM{m}, map[string]func(){
		"keyprep": func() {
			// The exit status is recorded for the scenarios' exitcode
			// command; the record is removed first, so a process that
			// panics or is killed leaves none behind.
			status := os.Getenv(exitStatusEnv)
			if status != "" {
				os.Remove(status)
			}
			code := Main(os.Args[1:], IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
			if status != "" {
				_ = os.WriteFile(status, []byte(strconv.Itoa(code)), 0o600)
			}
			os.Exit(code)
		},
	})
}

// goraceChildren is GORACE for the keyprep processes the tests start.
const goraceChildren = "atexit_sleep_ms=0"

// scanningM runs the tests, then scans every output and journal row they
// produced for the PINs and tokens they used (docs/architecture.md §4.1).
type scanningM struct{ m *testing.M }

func (s scanningM) Run() int {
	code := s.m.Run()
	if bad := scanSecrets(); len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "SECRET LEAK:", b)
		}
		return 1
	}
	collectedMu.Lock()
	n, k := len(collected), len(secrets)
	collectedMu.Unlock()
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "secret scan: %d secrets, %d outputs and journal rows, none leaked\n", k, n)
	}
	return code
}

// TestScripts runs the CLI scenarios in testdata/script: real libfido2
// driving virtual keys through the keyprep binary, as a user would.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exitcode N: the last keyprep command exited with status N
			// (the contract in README "Exit codes"), returned normally
			// (no panic) and wrote no Go panic or stack trace on stderr.
			// Use it after every `! exec keyprep …`.
			"exitcode": cmdExitCode,
			// waitfile FILE: wait up to 20 s for FILE to appear (a
			// background server being ready).
			"waitfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitfile FILE")
				}
				deadline := time.Now().Add(20 * time.Second)
				for {
					_, err := os.Stat(ts.MkAbs(args[0]))
					if err == nil {
						return
					}
					if time.Now().After(deadline) {
						ts.Fatalf("%s did not appear", args[0])
					}
					time.Sleep(20 * time.Millisecond)
				}
			},
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("KEYPREP_STATE_DIR", filepath.Join(env.WorkDir, "state"))
			env.Setenv("NO_COLOR", "1")
			env.Setenv("GORACE", os.Getenv("GORACE"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "config"))
			env.Setenv(exitStatusEnv, filepath.Join(env.WorkDir, ".keyprep-exit"))
			// A free loopback port for scenarios that serve the emulated tenant.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			env.Setenv("PORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
			return ln.Close()
		},
	})
}

// exitStatusEnv names the file where a scenario's keyprep process records
// its exit status for the exitcode command.
const exitStatusEnv = "KEYPREP_TEST_EXIT_STATUS"

// panicMarks are what the Go runtime writes when a process panics or dies
// of a fatal error.
var panicMarks = regexp.MustCompile(`(?m)^(panic: |fatal error: |goroutine \d+ \[)`)

func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) != 1 {
		ts.Fatalf("usage: exitcode N")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	if panicMarks.MatchString(ts.ReadFile("stderr")) {
		ts.Fatalf("keyprep panicked or died of a fatal error (see stderr above)")
	}
	b, err := os.ReadFile(ts.Getenv(exitStatusEnv))
	if err != nil {
		ts.Fatalf("keyprep recorded no exit status (it panicked, was killed, or was not run): %v", err)
	}
	got, err := strconv.Atoi(string(b))
	if err != nil {
		ts.Fatalf("exitcode: bad record %q", b)
	}
	if got != want {
		ts.Fatalf("keyprep exited %d, want %d", got, want)
	}
}

// TestExitCodesDocumented keeps the README's exit-code table and exitCodes in
// step.
func TestExitCodesDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| (.+) \|$`)
	got := map[int]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[1])
		got[n] = strings.TrimSpace(m[2])
	}
	for _, c := range exitCodes {
		if got[int(c.Code)] != c.Meaning {
			t.Errorf("README exit code %d: got %q, want %q", c.Code, got[int(c.Code)], c.Meaning)
		}
		delete(got, int(c.Code))
	}
	for n := range got {
		t.Errorf("README documents exit code %d that the code does not define", n)
	}
}
