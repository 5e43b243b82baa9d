//go:build !windows

package cli

import (
	"os"
	"path/filepath"
)

// defaultStateDirHelp names the default state directory in --help.
const defaultStateDirHelp = "$XDG_STATE_HOME/keyprep"

// defaultStateDir is the state directory when neither --state-dir nor
// $KEYPREP_STATE_DIR names one: $XDG_STATE_HOME/keyprep, else
// ~/.local/state/keyprep (the XDG Base Directory Specification).
func defaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "keyprep"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", usageErr("cannot find a state directory (no $HOME): pass --state-dir")
	}
	return filepath.Join(home, ".local", "state", "keyprep"), nil
}
