package cli

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// defaultStateDirHelp names the default state directory in --help.
const defaultStateDirHelp = `%ProgramData%\keyprep`

// defaultStateDir is the state directory when neither --state-dir nor
// %KEYPREP_STATE_DIR% names one: %ProgramData%\keyprep, the machine's
// directory for application data (usually C:\ProgramData;
// https://learn.microsoft.com/en-us/windows/win32/shell/knownfolderid,
// FOLDERID_ProgramData). Keys are provisioned for the machine, not for
// the operator's profile, and the service (SYSTEM) and an operator share
// it. Everyone may create directories in %ProgramData%, so keyprep creates
// its own with a private access control list and refuses one that another
// user made or others can write (fileguard; docs/windows.md).
func defaultStateDir() (string, error) {
	d := os.Getenv("ProgramData")
	if d == "" {
		var err error
		if d, err = windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0); err != nil || d == "" {
			return "", usageErr("cannot find a state directory (no %%ProgramData%%): pass --state-dir")
		}
	}
	return filepath.Join(d, "keyprep"), nil
}
