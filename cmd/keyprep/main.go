// Command keyprep pre-provisions FIDO2 security keys for Microsoft Entra ID
// users. See README.md; the command tree lives in internal/cli.
package main

import (
	"os"

	"github.com/keyprep/keyprep/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
}
