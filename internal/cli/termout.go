package cli

import (
	"io"
	"os"

	"github.com/charmbracelet/log"
	"github.com/muesli/termenv"
	"golang.org/x/term"
)

// Terminals are never queried. Given a terminal, the logger's styling
// library (lipgloss, termenv) asks it for its colours (OSC 10 and 11, each
// followed by a cursor-position report, ECMA-48 DSR 6) when the logger is
// made, and waits up to 5 seconds per question for answers that serial
// consoles, some multiplexers and pseudo-terminals never send; there the
// questions also show up as garbage. keyprep hides the terminal from it and
// chooses colours from the environment alone (NO_COLOR, TERM).

// plainWriter is a writer without a file descriptor: termenv sees no
// terminal behind it.
type plainWriter struct{ io.Writer }

// newLogger is the command's logger on w (stderr).
func newLogger(w io.Writer, opts log.Options) *log.Logger {
	l := log.NewWithOptions(plainWriter{w}, opts)
	if colours(w) {
		l.SetColorProfile(termenv.ANSI256)
	}
	return l
}

// colours: w is a terminal that is not dumb, and NO_COLOR is not set
// (https://no-color.org).
func colours(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	t := os.Getenv("TERM")
	return t != "" && t != "dumb"
}
