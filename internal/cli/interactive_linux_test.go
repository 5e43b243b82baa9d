package cli

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// ptySession is keyprep run on a pseudo-terminal as its controlling
// terminal, as an operator at a bench runs it: prompts without echo,
// confirmations.
type ptySession struct {
	t    *testing.T
	m    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	cond *sync.Cond
	out  strings.Builder
	pos  int // how far expect has read
	eof  bool
}

func startPTY(t *testing.T, state string, args ...string) *ptySession {
	t.Helper()
	m, s := openPTY(t)
	cmd := exec.Command(os.Args[0], append([]string{"--state-dir", state}, args...)...)
	cmd.Env = append(os.Environ(), "KEYPREP_CLI_MAIN=1", "NO_COLOR=1", "TERM=xterm", "KEYPREP_TEST_CRASH=")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	p := &ptySession{t: t, m: m, cmd: cmd}
	p.cond = sync.NewCond(&p.mu)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			if err != nil {
				p.eof = true
			}
			p.cond.Broadcast()
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); m.Close() })
	return p
}

// expect waits until the output shows s (after what earlier calls
// matched); a guard ends the wait if keyprep stops without showing it.
func (p *ptySession) expect(s string) {
	p.t.Helper()
	guard := time.AfterFunc(60*time.Second, func() {
		p.mu.Lock()
		p.eof = true
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer guard.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if i := strings.Index(p.out.String()[p.pos:], s); i >= 0 {
			p.pos += i + len(s)
			return
		}
		if p.eof {
			p.t.Fatalf("keyprep never showed %q; it showed:\n%s", s, p.out.String())
		}
		p.cond.Wait()
	}
}

// sendSecret types a PIN once keyprep has turned the terminal's echo off
// (the prompt is printed just before), so a typed PIN is never echoed by
// the terminal itself either.
func (p *ptySession) sendSecret(line string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var tio syscall.Termios
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, p.m.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
			p.t.Fatalf("tcgetattr: %v", e)
		}
		if tio.Lflag&syscall.ECHO == 0 {
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatal("keyprep never turned the terminal's echo off for the PIN")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.send(line)
}

func (p *ptySession) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.m, line+"\r"); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for keyprep to end and returns its exit status and all it
// showed.
func (p *ptySession) wait() (int, string) {
	p.t.Helper()
	err := p.cmd.Wait()
	p.mu.Lock()
	for !p.eof {
		p.cond.Wait()
	}
	out := p.out.String()
	p.mu.Unlock()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out
	}
	if err != nil {
		p.t.Fatal(err)
	}
	return 0, out
}

// TestPromptedPIN: the person at the bench is told the rules, a refused PIN
// is asked again, and the PIN they chose is never shown.
func TestPromptedPIN(t *testing.T) {
	state := t.TempDir()
	p := startPTY(t, state, "--sim", "enroll", "--user", "adele.vance@contoso.test", "--pin", "prompt")
	p.expect("the rules:")
	p.expect("at least 6 digits")
	p.expect("Enter new PIN for vkey:0: ")
	p.sendSecret("123456")
	p.expect("Enter new PIN for vkey:0 again: ")
	p.sendSecret("123456")
	p.expect("That PIN was refused: ")
	p.expect("(2 tries left)")
	p.expect("Enter new PIN for vkey:0: ")
	p.sendSecret("24681357")
	p.expect("Enter new PIN for vkey:0 again: ")
	p.sendSecret("24681357")
	code, out := p.wait()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "Enrolled adele.vance@contoso.test") {
		t.Errorf("no result:\n%s", out)
	}
	for _, secret := range []string{"24681357", "123456"} {
		if strings.Contains(out, secret) {
			t.Errorf("the PIN %s was shown:\n%s", secret, out)
		}
	}
}

// TestSharedKeyConfirmed: on a terminal, adding a second user to a key asks
// first, after saying what sharing the key means; y adds the user.
func TestSharedKeyConfirmed(t *testing.T) {
	state := t.TempDir()
	first := startPTY(t, state, "--sim", "enroll", "--user", "adele.vance@contoso.test")
	if code, out := first.wait(); code != 0 {
		t.Fatalf("first enrollment: %d\n%s", code, out)
	}
	for _, tc := range []struct {
		answer string
		code   int
	}{{"n", int(ExitUsage)}, {"y", 0}} {
		p := startPTY(t, state, "--sim", "enroll", "--user", "megan.bowen@contoso.test")
		p.expect("shares the key's PIN")
		p.expect("Windows sign-in with this key uses the last account added (megan.bowen@contoso.test)")
		p.expect("Add megan.bowen@contoso.test to this key? [y/N] ")
		p.send(tc.answer)
		if code, out := p.wait(); code != tc.code {
			t.Fatalf("answer %q: exit %d, want %d\n%s", tc.answer, code, tc.code, out)
		}
	}
}
