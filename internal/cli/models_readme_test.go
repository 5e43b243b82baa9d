package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/softkey"
)

// TestREADMEModelTable keeps the README's supported-model table equal to
// what `keyprep sim models --markdown` prints from the built-in profiles
// (KEYPREP_UPDATE_README=1 rewrites it).
func TestREADMEModelTable(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	begin, end := "<!-- models:begin -->\n", "<!-- models:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no models block")
	}
	want := modelsMarkdown(softkey.Models())
	if got := s[i+len(begin) : j]; got != want {
		if os.Getenv("KEYPREP_UPDATE_README") == "1" {
			if err := os.WriteFile(path, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's model table is out of date; rerun with KEYPREP_UPDATE_README=1.\ngot:\n%s\nwant:\n%s", got, want)
	}
	if n := strings.Count(want, "\n") - 2; n != len(softkey.Models()) || n < 11 {
		t.Errorf("the table has %d models", n)
	}
}
