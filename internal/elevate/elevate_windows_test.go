//go:build windows

package elevate

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

// TestMain makes this test binary its own elevated copy: started with
// ChildArg (by Relaunch, through ShellExecuteEx), it runs childMain instead
// of the tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ChildArg {
		os.Exit(childMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// childMain is the stand-in command: it reports what it got from the relay
// and exits with the code its arguments name. Commands (req.Args[0]):
//
//	report CODE  print the stdin lines (up to EOF or a line ".")
//	             upper-cased on stdout, the working
//	             directory and $KEYPREP_ELEVATE_TEST on stderr, exit CODE
//	wait         block until the relay says stop, then exit 130
func childMain(args []string) int {
	req, stop, err := RunChild(args)
	if err != nil {
		return 99
	}
	switch req.Args[0] {
	case "report":
		fmt.Fprintln(os.Stderr, "reading stdin")
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() && sc.Text() != "." {
			fmt.Fprintln(os.Stdout, strings.ToUpper(sc.Text()))
		}
		wd, _ := os.Getwd()
		fmt.Fprintf(os.Stderr, "dir=%s\nmark=%s\nelevated-copy=%v\n", wd, os.Getenv("KEYPREP_ELEVATE_TEST"), true)
		code, _ := strconv.Atoi(req.Args[1])
		return code
	case "wait":
		fmt.Fprintln(os.Stdout, "waiting")
		select {
		case <-stop:
			return 130
		case <-time.After(time.Minute):
			return 98
		}
	}
	return 97
}

// redirect points os.Stdin, os.Stdout and os.Stderr at files for one test,
// as a script running keyprep with its streams redirected would.
func redirect(t *testing.T, stdin string) (stdout, stderr func() string) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, []byte(stdin), 0o600); err != nil {
		t.Fatal(err)
	}
	open := func(name string, flag int) *os.File {
		f, err := os.OpenFile(filepath.Join(dir, name), flag, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	fi, fo, fe := open("in", os.O_RDONLY), open("out", os.O_RDWR|os.O_CREATE), open("err", os.O_RDWR|os.O_CREATE)
	si, so, se := os.Stdin, os.Stdout, os.Stderr
	os.Stdin, os.Stdout, os.Stderr = fi, fo, fe
	t.Cleanup(func() { os.Stdin, os.Stdout, os.Stderr = si, so, se })
	read := func(name string) func() string {
		return func() string {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	return read("out"), read("err")
}

// The whole relay on Windows' own calls: ShellExecuteEx "runas", the named
// pipes with their process id checks, the Request, stdin from a file,
// stdout and stderr into files, the environment, the working directory and
// the exit code.
func TestRelaunchRelaysStreams(t *testing.T) {
	for _, code := range []int{0, 4} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			// The copy must take the relay's environment from the
			// Request, not inherit it (on Windows it would get the
			// user's default environment): the two differ here.
			t.Setenv("KEYPREP_ELEVATE_TEST", "inherited")
			environ = func() []string {
				return append(os.Environ(), "KEYPREP_ELEVATE_TEST=mark-"+strconv.Itoa(code))
			}
			t.Cleanup(func() { environ = os.Environ })
			wd := t.TempDir()
			t.Chdir(wd)
			stdout, stderr := redirect(t, "first line\nsecond line\n")
			got, err := Relaunch(t.Context(), []string{"report", strconv.Itoa(code)})
			if err != nil {
				t.Fatalf("Relaunch: %v", err)
			}
			if got != code {
				t.Errorf("exit code %d, want %d", got, code)
			}
			if out := stdout(); out != "FIRST LINE\nSECOND LINE\n" {
				t.Errorf("stdout %q", out)
			}
			e := stderr()
			for _, want := range []string{"dir=" + wd + "\n", "mark=mark-" + strconv.Itoa(code) + "\n", "elevated-copy=true\n"} {
				if !strings.Contains(e, want) {
					t.Errorf("stderr %q lacks %q", e, want)
				}
			}
		})
	}
}

// Ctrl-C in the relay (its context cancelled) stops the elevated copy
// through the control pipe, and the relay still waits for it and returns
// its exit code.
func TestRelaunchCancel(t *testing.T) {
	stdout, _ := redirect(t, "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		// Cancel once the copy has printed that it waits, so the stop
		// arrives while it runs.
		for range 1200 {
			if strings.Contains(stdout(), "waiting") {
				cancel()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	got, err := Relaunch(ctx, []string{"wait"})
	if err != nil {
		t.Fatalf("Relaunch: %v", err)
	}
	if got != 130 {
		t.Errorf("exit code %d, want 130 (stopped by the relay)", got)
	}
}

// The pipes are this user's only; a second process cannot open a pipe
// name that exists (one instance), and a client other than the expected
// process is refused by accept.
func TestServerPipeRefusesStranger(t *testing.T) {
	sa, err := pipeSecurity()
	if err != nil {
		t.Fatal(err)
	}
	name := PipeName(strings.Repeat("ab", 16), "ctl")
	p, err := newServerPipe(name, windows.PIPE_ACCESS_DUPLEX, sa)
	if err != nil {
		t.Fatal(err)
	}
	defer p.f.Close()
	if _, err := newServerPipe(name, windows.PIPE_ACCESS_DUPLEX, sa); err == nil {
		t.Fatal("a second server pipe of the same name was created")
	}
	done := make(chan error, 1)
	go func() { done <- p.accept(12345) }()
	h, err := openClient(name, windows.GENERIC_READ|windows.GENERIC_WRITE)
	if err != nil {
		t.Fatal(err)
	}
	defer windows.CloseHandle(h)
	// This process is both ends: accept takes that as "released".
	if err := <-done; err != errNoClient {
		t.Errorf("accept with this process as client: %v, want errNoClient", err)
	}
	if err := checkServer(h, 12345); err == nil {
		t.Error("checkServer accepted a pipe of another process")
	}
	if err := checkServer(h, uint32(os.Getpid())); err != nil {
		t.Errorf("checkServer: %v", err)
	}
}

// An operator's console: the elevated copy attaches to the relay's console
// and reads and writes it itself; nothing goes through the pipes. Under
// Wine only a program started in a terminal has a console, so `go test`
// skips this, and scripts/windows/elevate-test.sh runs it in a
// pseudo-terminal (script(1)), types two lines and "." (the end) into
// it, and looks for the copy's upper-cased lines on that terminal.
func TestRelaunchConsole(t *testing.T) {
	for i, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		if k := streamKind(f); k != Console {
			t.Skipf("stream %d is %q, not a console: scripts/windows/elevate-test.sh runs this test in a terminal", i, k)
		}
	}
	code, err := Relaunch(t.Context(), []string{"report", "5"})
	if err != nil {
		t.Fatalf("Relaunch: %v", err)
	}
	if code != 5 {
		t.Errorf("exit code %d, want 5", code)
	}
}
