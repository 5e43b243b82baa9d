package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"

	"github.com/charmbracelet/log"
)

// openPTY opens a pseudo-terminal pair that nobody answers on: like a
// serial console, it never replies to a terminal query.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		t.Skipf("unlockpt: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		m.Close()
		t.Skipf("ptsname: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open the pty's terminal: %v", err)
	}
	return m, s
}

// TestNoTerminalQueries: keyprep run on a terminal (its controlling
// terminal, as in a session on a serial console) writes its output and
// sends the terminal no query (OSC 10/11 colour reports, DSR cursor
// position) that such a terminal would never answer.
func TestNoTerminalQueries(t *testing.T) {
	for _, noColor := range []string{"", "1"} {
		t.Run("NO_COLOR="+noColor, func(t *testing.T) {
			m, s := openPTY(t)
			defer m.Close()
			cmd := exec.Command(os.Args[0], "--state-dir", t.TempDir(), "--sim", "--log-level", "debug", "keys")
			cmd.Env = append(os.Environ(), "KEYPREP_CLI_MAIN=1", "NO_COLOR="+noColor, "TERM=xterm-256color")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			s.Close()
			got := make(chan []byte)
			go func() {
				b, _ := io.ReadAll(m) // until the terminal side closes (EIO)
				got <- b
			}()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("keyprep keys: %v", err)
			}
			out := <-got
			for _, q := range []string{"\x1b]10;?", "\x1b]11;?", "\x1b[6n"} {
				if bytes.Contains(out, []byte(q)) {
					t.Errorf("the terminal was sent the query %q: %q", q, out)
				}
			}
			if !bytes.Contains(out, []byte("vkey:0")) {
				t.Errorf("the key list is missing: %q", out)
			}
		})
	}
}

// TestLoggerColours: colour escapes on a terminal unless NO_COLOR.
func TestLoggerColours(t *testing.T) {
	for _, noColor := range []string{"", "1"} {
		t.Run("NO_COLOR="+noColor, func(t *testing.T) {
			t.Setenv("NO_COLOR", noColor)
			t.Setenv("TERM", "xterm-256color")
			m, s := openPTY(t)
			defer m.Close()
			got := make(chan []byte)
			go func() {
				b, _ := io.ReadAll(m)
				got <- b
			}()
			l := newLogger(s, log.Options{Level: log.InfoLevel})
			l.Info("bench ready", "keys", 2)
			s.Close()
			out := <-got
			if !bytes.Contains(out, []byte("bench ready")) {
				t.Errorf("the log line is missing: %q", out)
			}
			if hasColour := bytes.Contains(out, []byte("\x1b[")); hasColour != (noColor == "") {
				t.Errorf("colour escapes %v with NO_COLOR=%q: %q", hasColour, noColor, out)
			}
		})
	}
}
