package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"keyprep": func() {
			os.Exit(Main(os.Args[1:], IO{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}))
		},
	})
}

// TestScripts runs the CLI scenarios in testdata/script: real libfido2
// driving virtual keys through the keyprep binary, as a user would.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("KEYPREP_STATE_DIR", filepath.Join(env.WorkDir, "state"))
			env.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}

// TestExitCodesDocumented keeps the README's exit-code table and exitCodes in
// step.
func TestExitCodesDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\| (\d+) \| (.+) \|$`)
	got := map[int]string{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		n, _ := strconv.Atoi(m[1])
		got[n] = strings.TrimSpace(m[2])
	}
	for _, c := range exitCodes {
		if got[int(c.Code)] != c.Meaning {
			t.Errorf("README exit code %d: got %q, want %q", c.Code, got[int(c.Code)], c.Meaning)
		}
		delete(got, int(c.Code))
	}
	for n := range got {
		t.Errorf("README documents exit code %d that the code does not define", n)
	}
}
