package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/elevate"
)

// elevateAnnotation marks a command that needs administrator rights on
// Windows: "keys" for one that opens security keys (not with virtual keys),
// "always" for one that needs them whatever it works on (the service).
// Without the rights, such a command asks Windows for them (the UAC prompt)
// and runs again elevated in the same console (internal/elevate,
// docs/windows.md "Administrator rights").
const elevateAnnotation = "keyprep/elevate"

// noElevateEnv turns the prompt off: the command then stops with the
// "run as administrator" hint instead (scripts that must never wait on a
// prompt).
const noElevateEnv = "KEYPREP_NO_ELEVATE"

// elevatedCommands are the commands that need administrator rights on
// Windows, by their path below keyprep, with their annotation value.
var elevatedCommands = map[string]string{
	"keys":              "keys",
	"info":              "keys",
	"pin set":           "keys",
	"pin change":        "keys",
	"pin generate":      "keys",
	"config":            "keys",
	"reset":             "keys",
	"enroll":            "keys",
	"bio enroll":        "keys",
	"bio list":          "keys",
	"bio rename":        "keys",
	"bio delete":        "keys",
	"serve":             "keys",
	"journal resume":    "keys",
	"service install":   "always",
	"service uninstall": "always",
}

// annotateElevation marks the commands of elevatedCommands in root's tree.
func annotateElevation(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if v, ok := elevatedCommands[strings.TrimPrefix(c.CommandPath(), root.Name()+" ")]; ok && c != root {
			if c.Annotations == nil {
				c.Annotations = map[string]string{}
			}
			c.Annotations[elevateAnnotation] = v
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// errRelaunched carries the exit code of the elevated copy that ran the
// command: it printed everything, this process only passes the code on.
type errRelaunched struct{ code int }

func (e *errRelaunched) Error() string {
	return fmt.Sprintf("the elevated keyprep exited with code %d", e.code)
}

// elevation is how this run learns about and gets administrator rights:
// internal/elevate in production, fakes in tests.
type elevation struct {
	elevated func() bool
	relaunch func(ctx context.Context, args []string) (int, error)
}

func (g *globals) elevation() elevation {
	if g.wire.elevation != nil {
		return *g.wire.elevation
	}
	return elevation{elevated: elevate.Elevated, relaunch: elevate.Relaunch}
}

// wantsElevation decides, before the command does anything, whether it
// must run again with administrator rights.
func (g *globals) wantsElevation(cmd *cobra.Command) bool {
	if g.elevatedChild {
		return false // asked once: the copy never asks again
	}
	switch cmd.Annotations[elevateAnnotation] {
	case "keys":
		if g.SimKeys > 0 {
			return false // virtual keys need no rights
		}
	case "always":
	default:
		return false
	}
	if os.Getenv(noElevateEnv) != "" {
		return false
	}
	return !g.elevation().elevated()
}

// elevateAndRun runs the whole command line again elevated and returns
// errRelaunched with its exit code, or why it could not.
func (g *globals) elevateAndRun(cmd *cobra.Command) error {
	// Say why a prompt appears (stderr: --json output stays clean).
	g.infof("%s needs administrator rights on Windows: asking for them (answer Yes at the Windows prompt)", cmd.CommandPath())
	code, err := g.elevation().relaunch(cmd.Context(), g.args)
	if err != nil {
		return err
	}
	return &errRelaunched{code: code}
}

// runElevatedChild is the elevated copy of a command that asked for
// administrator rights: it takes the relay's streams, environment and
// command line (elevate.RunChild) and runs the command; a stop from the
// relay (Ctrl-C there) cancels it.
func runElevatedChild(ctx context.Context, args []string) int {
	req, stop, err := elevate.RunChild(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyprep: %v\n", err)
		return int(ExitFailure)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return runAs(ctx, req.Args, IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, wiring{}, true)
}
