package api

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/keyprep/keyprep/internal/bench"
)

// resultColumns is the header of the results export.
var resultColumns = []string{"upn", "displayName", "userId", "model", "aaguid", "key", "verified", "createdDateTime", "jobId", "methodId", "credentialId", "pinEscrow"}

// writeResultsCSV writes results as CSV (UTF-8 with a byte order mark, so
// spreadsheets read non-ASCII names right). Every text cell goes through
// spreadsheetSafe.
func writeResultsCSV(w io.Writer, results []bench.Result) error {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(resultColumns); err != nil {
		return err
	}
	for _, r := range results {
		created := ""
		if !r.CreatedDateTime.IsZero() {
			created = r.CreatedDateTime.UTC().Format(time.RFC3339)
		}
		row := []string{r.UPN, r.User, r.UserID, r.Model, r.AAGUID, r.Key, strconv.FormatBool(r.Verified), created, r.JobID, r.MethodID, r.CredentialID, r.PINEscrow}
		for i := range row {
			row[i] = spreadsheetSafe(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// spreadsheetSafe stops a cell from being run as a formula when the file is
// opened in a spreadsheet (CSV injection): a value starting with = + - @,
// a tab or a carriage return gets a leading apostrophe, which spreadsheets
// show as text. Values come from the directory (display names) and must
// be treated as hostile.
func spreadsheetSafe(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + v
	}
	// Full-width forms some spreadsheets also accept as formula starts.
	switch []rune(v)[0] {
	case '＝', '＋', '－', '＠':
		return "'" + v
	}
	return v
}
