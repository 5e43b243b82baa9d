//go:build windows && keyprep_wine_unelevated

package elevate

import "os"

// A build for the Wine tests only (scripts/windows/elevate-test.sh builds
// it with this tag; the release never does). Wine runs every process
// elevated, so the relay would never start there: in this build only the
// copy started with ChildArg counts as elevated.
func init() {
	elevated = func() bool { return len(os.Args) > 1 && os.Args[1] == ChildArg }
}
