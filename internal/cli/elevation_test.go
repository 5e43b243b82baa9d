package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/keyprep/keyprep/internal/elevate"
)

// Every command of elevatedCommands exists (a renamed command would
// silently stop asking for the rights) and carries its annotation; no other
// command does.
func TestElevatedCommandsExist(t *testing.T) {
	root := newRoot(&globals{io: IO{In: eofReader{}, Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}})
	seen := map[string]string{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if v, ok := c.Annotations[elevateAnnotation]; ok {
			seen[strings.TrimPrefix(c.CommandPath(), "keyprep ")] = v
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for name, v := range elevatedCommands {
		if seen[name] != v {
			t.Errorf("command %q: annotation %q, want %q (does the command exist?)", name, seen[name], v)
		}
	}
	for name := range seen {
		if _, ok := elevatedCommands[name]; !ok {
			t.Errorf("command %q is annotated but not in elevatedCommands", name)
		}
	}
}

// A command that opens keys, started without administrator rights, runs
// again elevated with the same command line before it does anything (not
// even create the state directory), and passes the copy's exit code on;
// virtual keys, commands without keys, the elevated copy itself and
// KEYPREP_NO_ELEVATE never ask. A refused or impossible request stops with
// exit code 3 and says what to do.
func TestElevationRelaunch(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		elevated  bool
		child     bool
		noElevate bool
		result    error // what the relaunch returns
		want      bool  // relaunched
		wantCode  int   // when relaunched
		wantErr   string
		wantHint  string
	}{
		{name: "keys", args: []string{"keys"}, want: true, wantCode: 0},
		{name: "exit code passed on", args: []string{"pin", "change", "--key", `\\?\hid#vid_1050`}, want: true, wantCode: 4},
		{name: "enroll", args: []string{"enroll", "--sim-tenant", "--user", "alice@contoso.com"}, want: true, wantCode: 0},
		{name: "journal resume", args: []string{"journal", "resume"}, want: true, wantCode: 10},
		{name: "serve", args: []string{"serve", "--listen", "127.0.0.1:0"}, want: true, wantCode: 130},
		{name: "service install always", args: []string{"--sim", "service", "install"}, want: true, wantCode: 0},
		{name: "virtual keys need none", args: []string{"--sim", "keys"}},
		{name: "no key command", args: []string{"version"}},
		{name: "journal list opens no key", args: []string{"journal", "list"}},
		{name: "elevated already", args: []string{"keys"}, elevated: true},
		{name: "the copy never asks again", args: []string{"keys"}, child: true},
		{name: "KEYPREP_NO_ELEVATE", args: []string{"keys"}, noElevate: true},
		{name: "declined", args: []string{"keys"}, want: true, result: elevate.ErrDeclined, wantCode: 3,
			wantErr: "declined", wantHint: "answer Yes to the Windows prompt"},
		{name: "cannot ask", args: []string{"reset", "--key", "k"}, want: true, result: elevate.ErrUnavailable, wantCode: 3,
			wantErr: "cannot be requested", wantHint: "Run as administrator"},
		{name: "relay broken", args: []string{"keys"}, want: true, result: elevate.ErrRelay, wantCode: 1,
			wantErr: "relay", wantHint: noElevateEnv},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			t.Setenv("KEYPREP_STATE_DIR", dir)
			t.Setenv(noElevateEnv, "")
			if tc.noElevate {
				t.Setenv(noElevateEnv, "1")
			}
			var got [][]string
			w := wiring{elevation: &elevation{
				elevated: func() bool { return tc.elevated },
				relaunch: func(_ context.Context, args []string) (int, error) {
					got = append(got, slices.Clone(args))
					return tc.wantCode, tc.result
				},
			}}
			var out, errOut bytes.Buffer
			code := runAs(context.Background(), tc.args, IO{In: eofReader{}, Out: &out, ErrOut: &errOut}, w, tc.child)
			if !tc.want {
				if len(got) != 0 {
					t.Fatalf("relaunched with %q, want no relaunch", got)
				}
				return
			}
			if len(got) != 1 || !slices.Equal(got[0], tc.args) {
				t.Fatalf("relaunched with %q, want once with %q", got, tc.args)
			}
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.wantCode, errOut.String())
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the state directory exists after the relaunch (err %v): the relay did something itself", err)
			}
			asking := "needs administrator rights on Windows: asking for them"
			if first, _, _ := strings.Cut(errOut.String(), "\n"); !strings.Contains(first, asking) {
				t.Errorf("stderr starts %q, want the line saying why a prompt appears", first)
			}
			if tc.result == nil {
				if out.Len() != 0 || strings.Count(errOut.String(), "\n") != 1 {
					t.Errorf("the relay printed more than why it asks:\nstdout: %s\nstderr: %s", out.String(), errOut.String())
				}
				return
			}
			if !strings.Contains(errOut.String(), tc.wantErr) || !strings.Contains(errOut.String(), "hint: ") || !strings.Contains(errOut.String(), tc.wantHint) {
				t.Errorf("stderr %q: want %q and a hint with %q", errOut.String(), tc.wantErr, tc.wantHint)
			}
		})
	}
}
