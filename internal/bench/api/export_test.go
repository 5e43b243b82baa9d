package api

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/bench"
)

// TestResultsCSVSplitCells: a ';' or a tab inside a cell neither ends the
// cell (every field is quoted, RFC 4180) nor lets a spreadsheet that splits
// on them start a formula in the piece after it.
func TestResultsCSVSplitCells(t *testing.T) {
	names := []string{
		"Eve;=HYPERLINK(\"http://evil.example\")",
		"Eve\t=1+1",
		"Eve; -2+3",
		"Eve,@SUM(A1)",
		"Eve\r\n+cmd",
		"=start",
		"Zoë O'Brien, \"Jr\"",
		"a=b; c-d",
	}
	var results []bench.Result
	for _, n := range names {
		results = append(results, bench.Result{UPN: "eve@contoso.test", User: n, Verified: true})
	}
	var buf bytes.Buffer
	if err := writeResultsCSV(&buf, results); err != nil {
		t.Fatal(err)
	}
	raw := strings.TrimPrefix(buf.String(), "\ufeff")
	lines := strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n")
	for _, l := range lines[:1] {
		if !strings.HasPrefix(l, `"upn","displayName",`) {
			t.Fatalf("header %q: every field quoted", l)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(names)+1 {
		t.Fatalf("%d records, want %d", len(recs), len(names)+1)
	}
	for i, rec := range recs[1:] {
		name := rec[1]
		// (encoding/csv reads a quoted CRLF as LF)
		if strings.ReplaceAll(name, "'", "") != strings.ReplaceAll(strings.ReplaceAll(names[i], "'", ""), "\r\n", "\n") {
			t.Errorf("record %d name %q does not carry %q", i, name, names[i])
		}
		// Split the cell as a ';'-, tab- or ','-locale import that ignores
		// quotes would: no piece may start a formula.
		for _, piece := range strings.FieldsFunc(name, func(r rune) bool { return strings.ContainsRune(",;\t\r\n", r) }) {
			p := strings.TrimLeft(piece, " ")
			if p != "" && strings.ContainsRune("=+-@", rune(p[0])) {
				t.Errorf("record %d name %q: the piece %q starts a formula", i, name, piece)
			}
		}
		if rec[6] != "true" {
			t.Errorf("record %d: verified %q", i, rec[6])
		}
	}
	// A field is quoted even where RFC 4180 does not need it.
	if !strings.Contains(raw, `"Eve;'=HYPERLINK(""http://evil.example"")"`) {
		t.Errorf("the first name is not quoted as RFC 4180 quotes: %q", raw)
	}
}

func FuzzSpreadsheetSafe(f *testing.F) {
	for _, s := range []string{"=1", "a;=b", "a\t+b", "x, -1", "plain", "＝1", "\r\n@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := spreadsheetSafe(s)
		if strings.ReplaceAll(out, "'", "") != strings.ReplaceAll(s, "'", "") {
			t.Fatalf("spreadsheetSafe(%q) = %q changed more than apostrophes", s, out)
		}
		start := true
		for _, r := range out {
			if start && (formulaStart(r)) {
				t.Fatalf("spreadsheetSafe(%q) = %q: a formula can start", s, out)
			}
			switch {
			case strings.ContainsRune(",;\t\r\n", r):
				start = true
			case r == ' ' && start:
			default:
				start = false
			}
		}
	})
}
