package cli

import (
	"io"

	"github.com/spf13/cobra"
)

// CommandTree returns keyprep's command tree, for generating the manual
// pages and the shell completion files from the same definitions --help
// prints (scripts/gen-docs). It includes cobra's completion and help
// commands, which Execute adds on its own; it must not be executed.
func CommandTree() *cobra.Command {
	g := &globals{io: IO{In: eofReader{}, Out: io.Discard, ErrOut: io.Discard}}
	root := newRoot(g)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return root
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
