package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
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
			code := Main(os.Args[1:], recordIO(os.Args[1:], IO{In: os.Stdin, Out: os.Stdout, ErrOut: watchPanics(os.Stderr)}))
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
	n, k, pins := len(collected), len(secrets), escrowedPINs
	collectedMu.Unlock()
	// A whole run (no -run) enrolls, sets PINs and signs in: a scan that
	// learnt no secret would pass whatever leaked. (A selection of tests
	// may hold none.)
	if f := flag.Lookup("test.run"); n > 0 && k == 0 && (f == nil || f.Value.String() == "") {
		fmt.Fprintf(os.Stderr, "secret scan: %d outputs and journal rows but no secret to look for in them\n", n)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "secret scan: %d secrets (%d escrowed PINs), %d outputs and journal rows, none leaked\n", k, pins, n)
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
			// Every keyprep of the scenario, whatever its exit status
			// (a server that recovers a handler's panic still exits 0),
			// records a panic in this file; the scenario fails at its end
			// if there is one.
			crashes := filepath.Join(env.WorkDir, ".keyprep-panics")
			env.Setenv(panicRecordEnv, crashes)
			env.Defer(func() {
				if b, err := os.ReadFile(crashes); err == nil && len(b) > 0 {
					env.T().Fatal("a keyprep process of this scenario panicked:\n" + string(b))
				}
			})
			// The secret scan (scanningM) sees what the scenario's keyprep
			// processes wrote, the PINs and tokens they were given, and
			// the journals, audit logs and escrowed PINs they left.
			env.Setenv(outputRecordEnv, filepath.Join(env.WorkDir, ".keyprep-output"))
			env.Setenv(secretRecordEnv, filepath.Join(env.WorkDir, ".keyprep-secrets"))
			env.Defer(func() {
				if err := collectScenario(env.WorkDir); err != nil {
					env.T().Fatal(err)
				}
			})
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

// panicRecordEnv names the file where a scenario's keyprep processes record
// panics: the runtime's own report of a panic that kills the process
// (debug.SetCrashOutput), and every write to keyprep's standard error that
// reports one, such as net/http's log line for a handler's panic that it
// recovered (the emulated tenant, the dashboard), after which the process
// goes on and may exit 0.
const panicRecordEnv = "KEYPREP_TEST_PANICS"

// loggedPanic is what a recovered panic's report looks like in a log line
// (net/http: "http: panic serving ADDR: VALUE" and the goroutine's stack).
var loggedPanic = regexp.MustCompile(`panic: |panic serving |fatal error: |goroutine \d+ \[running\]`)

// watchPanics returns stderr for one keyprep process of a scenario, after
// arranging for its panics to be recorded in the file named by
// panicRecordEnv (when set).
func watchPanics(stderr *os.File) io.Writer {
	name := os.Getenv(panicRecordEnv)
	if name == "" {
		return stderr
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "keyprep test wrapper: %v\n", err)
		os.Exit(1)
	}
	if err := debug.SetCrashOutput(f, debug.CrashOptions{}); err != nil {
		fmt.Fprintf(stderr, "keyprep test wrapper: %v\n", err)
		os.Exit(1)
	}
	return &panicWatch{out: stderr, record: f}
}

// panicWatch passes writes on to out and copies those that report a panic
// to record.
type panicWatch struct {
	mu     sync.Mutex
	out    io.Writer
	record io.Writer
}

func (w *panicWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if loggedPanic.Match(p) {
		_, _ = w.record.Write(p)
	}
	return w.out.Write(p)
}

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

// TestScriptsAssertExitCodes: the exit codes are a contract (README "Exit
// codes"), and `! exec` passes on any non-zero status, a panic's included.
// So every `! exec keyprep …` in a scenario is followed by `exitcode N`
// before the scenario runs anything else.
func TestScriptsAssertExitCodes(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	checked := 0
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, missing := range exitCodesMissing(string(b)) {
			t.Errorf("%s:%d: `! exec keyprep` without `exitcode N` before the next command that runs something", file, missing)
		}
		checked++
	}
	t.Logf("%d scenarios checked", checked)
}

// scriptCond is a testscript line's leading conditions, e.g. "[!short] ".
const scriptCond = `^(?:\[[^\]]*\]\s*)*`

var (
	negKeyprep = regexp.MustCompile(scriptCond + `!\s*exec\s+keyprep(?:\s|$)`)
	runsCmd    = regexp.MustCompile(scriptCond + `(?:!\s*)?(?:exec|wait|kill)(?:\s|$)`)
	exitCodeRe = regexp.MustCompile(scriptCond + `exitcode\s+\d+\s*$`)
)

// exitCodesMissing returns the lines (1-based) of the script's `! exec
// keyprep` commands that no `exitcode N` follows before the next command
// that runs a process (exec, wait, kill) or the script's end.
func exitCodesMissing(script string) []int {
	var missing []int
	open := 0 // line of a `! exec keyprep` still waiting for its exitcode
	sc := bufio.NewScanner(strings.NewReader(script))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") {
			break // the archive's files
		}
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case exitCodeRe.MatchString(line):
			open = 0
		case runsCmd.MatchString(line):
			if open != 0 {
				missing = append(missing, open)
			}
			open = 0
			if negKeyprep.MatchString(line) {
				open = n
			}
		}
	}
	if open != 0 {
		missing = append(missing, open)
	}
	return missing
}

func TestExitCodesMissing(t *testing.T) {
	cases := []struct {
		name, script string
		want         []int
	}{
		{"asserted", "! exec keyprep keys\nexitcode 2\nstderr x\n", nil},
		{"asserted after the output checks", "! exec keyprep keys\nstderr x\n# why\nexitcode 2\nexec keyprep keys\n", nil},
		{"next command first", "! exec keyprep keys\nstderr x\nexec keyprep keys\nexitcode 0\n", []int{1}},
		{"at the end", "exec keyprep keys\n! exec keyprep info\nstderr x\n", []int{2}},
		{"conditional", "[linux] ! exec keyprep keys\n[linux] exitcode 3\n[!linux] !exec keyprep keys\n", []int{3}},
		{"two in a row", "! exec keyprep a\n! exec keyprep b\nexitcode 2\n", []int{1}},
		{"not keyprep", "! exec sh -c false\n! exec keyprepx\n", nil},
		{"archive ignored", "exec keyprep keys\n-- f --\n! exec keyprep keys\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCodesMissing(tc.script); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// outputRecordEnv and secretRecordEnv name the files where a scenario's
// keyprep processes append their output, and the secrets they were given,
// for the secret scan.
const (
	outputRecordEnv = "KEYPREP_TEST_OUTPUT"
	secretRecordEnv = "KEYPREP_TEST_SECRETS"
)

// recordIO copies one scenario keyprep process's output to the output
// record and notes its secrets in the secret record: the access token it
// was given (KEYPREP_ACCESS_TOKEN, KEYPREP_ACCESS_TOKEN_FILE), for the
// commands that read PINs from standard input every line of it, and the
// PIN that pin generate and pins show print.
func recordIO(args []string, stdio IO) IO {
	outName, secName := os.Getenv(outputRecordEnv), os.Getenv(secretRecordEnv)
	if outName == "" || secName == "" {
		return stdio
	}
	open := func(name string) *os.File {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			fmt.Fprintf(os.Stderr, "keyprep test wrapper: %v\n", err)
			os.Exit(1)
		}
		return f
	}
	out, sec := open(outName), open(secName)
	// pin generate and pins show print a PIN on standard output: that
	// is what they are for (the PIN is noted as a secret instead).
	shows := func(cmd, sub string) bool {
		i := slices.Index(args, cmd)
		return i >= 0 && slices.Contains(args[i+1:], sub)
	}
	if shows("pin", "generate") || shows("pins", "show") {
		stdio.Out = io.MultiWriter(stdio.Out, sec)
	} else {
		stdio.Out = io.MultiWriter(stdio.Out, out)
	}
	stdio.ErrOut = io.MultiWriter(stdio.ErrOut, out)
	if tok := os.Getenv("KEYPREP_ACCESS_TOKEN"); tok != "" {
		fmt.Fprintln(sec, tok)
	}
	if name := os.Getenv("KEYPREP_ACCESS_TOKEN_FILE"); name != "" {
		if b, err := os.ReadFile(name); err == nil {
			fmt.Fprintln(sec, strings.TrimSpace(string(b)))
		}
	}
	if readsPINs(args) {
		stdio.In = io.TeeReader(stdio.In, sec)
	}
	return stdio
}

// readsPINs reports whether a keyprep command line reads PINs from standard
// input: pin set/change, config, and anything given --pin stdin (not, say,
// a CSV of users on standard input).
func readsPINs(args []string) bool {
	for i, a := range args {
		switch {
		case a == "pin" && i+1 < len(args) && (args[i+1] == "set" || args[i+1] == "change"),
			a == "config",
			a == "--pin" && i+1 < len(args) && args[i+1] == "stdin",
			a == "--pin=stdin":
			return true
		}
	}
	return false
}

// collectScenario feeds a finished scenario's records to the secret scan:
// the output of its keyprep processes, the secrets they were given, and
// every state directory in its work directory.
func collectScenario(work string) error {
	if b, err := os.ReadFile(filepath.Join(work, ".keyprep-output")); err == nil {
		recordOutput(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(work, ".keyprep-secrets")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); len(l) >= 4 {
				recordSecret(l)
			}
		}
	}
	return filepath.WalkDir(work, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "keyprep.db" {
			return err
		}
		return collectStateNow(filepath.Dir(path))
	})
}
