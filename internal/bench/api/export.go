package api

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyprep/keyprep/internal/bench"
)

// resultColumns is the header of the results export.
var resultColumns = []string{"upn", "displayName", "userId", "model", "aaguid", "key", "verified", "createdDateTime", "jobId", "methodId", "credentialId", "pinEscrow"}

// writeResultsCSV writes results as CSV (UTF-8 with a byte order mark, so
// spreadsheets read non-ASCII names right) per RFC 4180: CRLF line ends and
// every field in double quotes (a quote doubled), so a ';' or a tab inside a
// cell cannot start a new cell in a spreadsheet that splits on them. Every
// text cell goes through spreadsheetSafe as well.
func writeResultsCSV(w io.Writer, results []bench.Result) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("\ufeff")
	writeCSVRecord(bw, resultColumns)
	for _, r := range results {
		created := ""
		if !r.CreatedDateTime.IsZero() {
			created = r.CreatedDateTime.UTC().Format(time.RFC3339)
		}
		row := []string{r.UPN, r.User, r.UserID, r.Model, r.AAGUID, r.Key, strconv.FormatBool(r.Verified), created, r.JobID, r.MethodID, r.CredentialID, r.PINEscrow}
		for i := range row {
			row[i] = spreadsheetSafe(row[i])
		}
		writeCSVRecord(bw, row)
	}
	return bw.Flush()
}

// writeCSVRecord writes one RFC 4180 record with every field quoted.
func writeCSVRecord(bw *bufio.Writer, fields []string) {
	for i, f := range fields {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('"')
		bw.WriteString(strings.ReplaceAll(f, `"`, `""`))
		bw.WriteByte('"')
	}
	bw.WriteString("\r\n")
}

// spreadsheetSafe stops a cell from being run as a formula when the file is
// opened in a spreadsheet (CSV injection). A formula may start at the
// cell's start, or after any character a spreadsheet's import may split
// cells or lines on (',', ';', a tab, a line break) should it ignore the
// quotes: each such place whose next character (after spaces) starts a
// formula (= + - @, their full-width forms, or at the very start a tab or a
// line break) gets an apostrophe, which spreadsheets show as text. Values
// come from the directory (display names) and must be treated as hostile.
func spreadsheetSafe(v string) string {
	var b strings.Builder
	start, first := true, true
	for i, r := range v {
		if start && (formulaStart(r) || (first && (r == '\t' || r == '\r' || r == '\n'))) {
			b.WriteByte('\'')
		}
		first = false
		switch {
		case r == ',' || r == ';' || r == '\t' || r == '\r' || r == '\n':
			start = true
		case r == ' ' && start:
		default:
			start = false
		}
		_, n := utf8.DecodeRuneInString(v[i:])
		b.WriteString(v[i : i+n]) // bytes kept as they are, UTF-8 or not
	}
	return b.String()
}

func formulaStart(r rune) bool {
	switch r {
	case '=', '+', '-', '@', '＝', '＋', '－', '＠':
		return true
	}
	return false
}
