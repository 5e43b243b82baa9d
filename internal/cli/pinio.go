package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/keyprep/keyprep/internal/pin"
)

// pinReader reads PINs from a terminal without echo, or one per line from
// standard input when it is not a terminal. PINs are never taken from flags
// (they would be visible to ps). Callers wipe the returned slices.
type pinReader struct {
	in     io.Reader
	errOut io.Writer
	tty    *os.File // non-nil when stdin is a terminal
	lines  *bufio.Reader
}

func newPINReader(in io.Reader, errOut io.Writer) *pinReader {
	r := &pinReader{in: in, errOut: errOut}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		r.tty = f
	} else {
		r.lines = bufio.NewReaderSize(in, 256)
	}
	return r
}

// interactive reports whether PINs are prompted for on a terminal.
func (r *pinReader) interactive() bool { return r.tty != nil }

// read returns one PIN. what names it in the prompt and in errors
// ("current PIN", "new PIN").
func (r *pinReader) read(what string) ([]byte, error) {
	if r.tty != nil {
		fmt.Fprintf(r.errOut, "Enter %s: ", what)
		b, err := term.ReadPassword(int(r.tty.Fd()))
		fmt.Fprintln(r.errOut)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		n := pin.Normalize(b)
		pin.Wipe(b)
		return n, nil
	}
	line, err := r.lines.ReadSlice('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read %s from stdin: %w", what, err)
	}
	line = bytes.TrimRight(line, "\r\n")
	if len(line) == 0 {
		return nil, usageErr("no %s on standard input (give one PIN per line, or run in a terminal to be prompted)", what)
	}
	out := pin.Normalize(line) // CTAP 2.1 §6.5.1: PINs go to the key in NFC
	pin.Wipe(line)             // the bufio buffer still holds the bytes
	return out, nil
}

// newPINEntries bounds the attempts at typing a new PIN twice the same.
const newPINEntries = 3

// readNew reads a new PIN; on a terminal it asks twice and compares, and
// asks again (newPINEntries times) when the two entries differ.
func (r *pinReader) readNew(what string) ([]byte, error) {
	for try := 1; ; try++ {
		p, err := r.read(what)
		if err != nil {
			return nil, err
		}
		if r.tty == nil {
			return p, nil
		}
		again, err := r.read(what + " again")
		if err != nil {
			pin.Wipe(p)
			return nil, err
		}
		same := bytes.Equal(p, again)
		pin.Wipe(again)
		if same {
			return p, nil
		}
		pin.Wipe(p)
		if try == newPINEntries {
			return nil, usageErr("the two entries of the %s differ", what)
		}
		fmt.Fprintf(r.errOut, "The two entries differ; type the %s again.\n", what)
	}
}

// confirm asks a yes/no-style question on the terminal, with echo (the answer
// is not a secret), and returns the trimmed answer.
func (r *pinReader) confirm(prompt string) (string, error) {
	if r.tty == nil {
		return "", usageErr("confirmation needs a terminal")
	}
	fmt.Fprint(r.errOut, prompt)
	line, err := bufio.NewReader(r.tty).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read confirmation: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// confirmed reports whether a confirmation answer says yes: "y" or "yes"
// in any case, or one of words (a prompt may offer the action's name,
// "delete"). Anything else, the empty answer included, is no.
func confirmed(answer string, words ...string) bool {
	a := strings.ToLower(strings.TrimSpace(answer))
	if a == "y" || a == "yes" {
		return true
	}
	for _, w := range words {
		if a == w {
			return true
		}
	}
	return false
}
