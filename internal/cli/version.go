package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/hid"
)

// Set at build time by make build / make release (Makefile, LDFLAGS) with
// -ldflags "-X github.com/keyprep/keyprep/internal/cli.NAME=VALUE". Commit
// and Date are the commit's, never the time of the build, so that the same
// commit builds to the same bytes. A build without them (go build, go
// install) falls back to what the Go toolchain recorded (build info).
var (
	// Commit is the full git commit hash.
	Commit = ""
	// Date is the commit date, RFC 3339 in UTC.
	Date = ""
	// Libfido2 is the libfido2 version the binary was built against
	// (pkg-config --modversion libfido2 at build time).
	Libfido2 = ""
)

// versionInfo is what `keyprep version` prints.
type versionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Modified is true for a build from a work tree with uncommitted
	// changes (known only from the Go toolchain's build info).
	Modified bool   `json:"modified,omitempty"`
	Date     string `json:"date"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
	// Libfido2 is the library this process runs with, Libfido2Path its
	// file, Libfido2Build the version it was compiled against.
	Libfido2      string `json:"libfido2"`
	Libfido2Path  string `json:"libfido2Path,omitempty"`
	Libfido2Build string `json:"libfido2Build,omitempty"`
	// Libfido2Static: libfido2 is linked into the executable (the
	// Windows build), so the version it runs with is the one it was
	// built from.
	Libfido2Static bool `json:"libfido2Static,omitempty"`
}

func currentVersion() versionInfo {
	v := versionInfo{
		Version:       Version,
		Commit:        Commit,
		Date:          Date,
		Go:            runtime.Version(),
		Platform:      runtime.GOOS + "/" + runtime.GOARCH,
		Libfido2Build: Libfido2,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	v.Libfido2, v.Libfido2Path = hid.LibraryVersion()
	if libfido2Static && v.Libfido2 == "" && v.Libfido2Build != "" {
		v.Libfido2, v.Libfido2Static = v.Libfido2Build, true
	}
	return v
}

// short is the one-line form --version prints.
func (v versionInfo) short() string {
	s := "keyprep " + v.Version
	if v.Commit != "" {
		c := v.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if v.Modified {
			c += "+modified"
		}
		s += " (commit " + c
		if v.Date != "" {
			s += ", " + v.Date
		}
		s += ")"
	}
	s += ", " + v.Go + " " + v.Platform + ", libfido2 " + orNone(v.Libfido2)
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show keyprep's version, commit, build date, Go and libfido2 versions",
		Long: `Show keyprep's version, the commit it was built from and that commit's date,
the Go version, and the libfido2 this process runs with (the shared library
the dynamic linker loaded) and was built against. --version prints the same
on one line. Release builds (make release) of one commit are identical byte
for byte: the date is the commit's, not the build's.`,
		Args: cobra.NoArgs,
		// No state directory, logger or keys are needed: version works
		// anywhere, as any user, without $HOME.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(*cobra.Command, []string) error {
			v := currentVersion()
			if g.JSON {
				return g.printJSON(v)
			}
			w := g.io.Out
			fmt.Fprintf(w, "keyprep %s\n", v.Version)
			commit := orNone(v.Commit)
			if v.Modified {
				commit += " (modified work tree)"
			}
			fmt.Fprintf(w, "commit:    %s\n", commit)
			fmt.Fprintf(w, "date:      %s\n", orNone(v.Date))
			fmt.Fprintf(w, "go:        %s %s\n", v.Go, v.Platform)
			lib := orNone(v.Libfido2)
			switch {
			case v.Libfido2Static:
				lib += " (linked into the executable)"
			case v.Libfido2Path != "":
				lib += " (" + v.Libfido2Path + ")"
			}
			if v.Libfido2Build != "" && !v.Libfido2Static {
				lib += ", built against " + v.Libfido2Build
			}
			fmt.Fprintf(w, "libfido2:  %s\n", lib)
			return nil
		},
	}
}
