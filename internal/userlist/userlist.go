// Package userlist reads the user lists that drive keyprep's batch commands
// (`keyprep tap create --csv`, bench mode): a CSV file with a header row
// naming a UPN column, as exported from Entra, Excel or a script.
//
// Every problem is reported per row with its line number before any
// directory call or key is touched: a missing or empty UPN, a UPN that
// cannot be one, a user listed twice. A file-level problem (no UPN column,
// not CSV, empty) is an error of its own. The reader tolerates what real
// exports contain: a UTF-8 byte order mark, ';' or tab as the delimiter
// (Excel in many locales), CRLF line ends, blank lines, '#' comment lines,
// surrounding spaces, and a headerless file with one UPN per line.
package userlist

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Row is one user of the list.
type Row struct {
	// Line is the 1-based line of the file the row starts on.
	Line int
	// UPN is the user principal name or object id, trimmed.
	UPN string
	// DisplayName is the optional displayName column.
	DisplayName string
	// Fields holds every column of the row by its lower-cased header name
	// (headerless files: only "upn").
	Fields map[string]string
}

// RowError is a problem with one row.
type RowError struct {
	Line int
	UPN  string // as written, may be empty
	Msg  string
}

func (e *RowError) Error() string {
	if e.UPN != "" {
		return fmt.Sprintf("line %d (%s): %s", e.Line, e.UPN, e.Msg)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// ErrFormat is matched (errors.Is) by file-level errors.
var ErrFormat = errors.New("user list")

type formatError struct{ msg string }

func (e *formatError) Error() string   { return "user list: " + e.msg }
func (e *formatError) Is(t error) bool { return t == ErrFormat }

func formatErr(format string, a ...any) error { return &formatError{fmt.Sprintf(format, a...)} }

// Limits keep a hostile or mistaken file from exhausting memory.
const (
	MaxRows      = 200000
	MaxFileBytes = 64 << 20
	maxFieldLen  = 1024
)

// upnColumns are the header names accepted for the UPN column, compared
// case-insensitively after removing spaces, '_' and '-'.
var upnColumns = []string{"upn", "userprincipalname", "user", "username", "signinname", "id", "objectid"}

func normHeader(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.NewReplacer(" ", "", "_", "", "-", "").Replace(h)
}

// Read parses a user list. It returns the good rows, the per-row errors
// (in file order) and a file-level error that makes the whole list
// unusable. Duplicates (case-insensitive) are row errors on every later
// occurrence; the first stays a good row.
func Read(r io.Reader) ([]Row, []*RowError, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("user list: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, nil, formatErr("larger than %d MiB", MaxFileBytes>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		return nil, nil, formatErr("not UTF-8 text (save the file as CSV UTF-8)")
	}
	first := firstContentLine(data)
	if first == "" {
		return nil, nil, formatErr("no users: the file is empty")
	}
	delim := sniffDelimiter(first)

	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = delim
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.LazyQuotes = true

	var (
		rows    []Row
		errs    []*RowError
		header  []string
		upnCol  = -1
		nameCol = -1
		seen    = map[string]int{}
	)
	headerless := false
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, formatErr("line %d: not valid CSV: %v", pe.StartLine, pe.Err)
			}
			return nil, nil, fmt.Errorf("user list: %w", err)
		}
		if blank(rec) {
			continue
		}
		if header == nil && !headerless {
			if CheckUser(strings.TrimSpace(rec[0])) == nil {
				headerless = true
				upnCol = 0
			} else {
				if i := longField(rec); i >= 0 {
					return nil, nil, formatErr("line %d: column %d of the header is longer than %d bytes", line, i+1, maxFieldLen)
				}
				header = make([]string, len(rec))
				for i, h := range rec {
					header[i] = normHeader(h)
				}
				upnCol = findColumn(header, upnColumns)
				if upnCol < 0 {
					return nil, nil, formatErr("line %d: no UPN column: want a header naming one of upn, userPrincipalName, user (found %s)",
						line, quoteList(rec))
				}
				nameCol = findColumn(header, []string{"displayname", "name"})
				continue
			}
		}
		if len(rows)+len(errs) >= MaxRows {
			return rows, errs, formatErr("more than %d rows: split the file", MaxRows)
		}
		raw := ""
		if upnCol < len(rec) {
			raw = strings.TrimSpace(rec[upnCol])
		}
		if raw == "" {
			errs = append(errs, &RowError{Line: line, Msg: "no UPN in this row"})
			continue
		}
		if len(raw) > maxFieldLen {
			errs = append(errs, &RowError{Line: line, UPN: raw[:32] + "…", Msg: "UPN too long"})
			continue
		}
		if err := CheckUser(raw); err != nil {
			errs = append(errs, &RowError{Line: line, UPN: printable(raw), Msg: "not a UPN or object id: " + err.Error()})
			continue
		}
		if i := longField(rec); i >= 0 {
			col := fmt.Sprintf("column %d", i+1)
			if header != nil && i < len(header) && header[i] != "" {
				col = header[i]
			}
			errs = append(errs, &RowError{Line: line, UPN: raw, Msg: fmt.Sprintf("%s longer than %d bytes", printable(col), maxFieldLen)})
			continue
		}
		k := strings.ToLower(raw)
		if at, dup := seen[k]; dup {
			errs = append(errs, &RowError{Line: line, UPN: raw, Msg: fmt.Sprintf("listed twice (first on line %d)", at)})
			continue
		}
		seen[k] = line
		row := Row{Line: line, UPN: raw, Fields: map[string]string{}}
		if headerless {
			row.Fields["upn"] = raw
		} else {
			for i, h := range header {
				if i < len(rec) && h != "" {
					row.Fields[h] = strings.TrimSpace(rec[i])
				}
			}
		}
		if nameCol >= 0 && nameCol < len(rec) {
			row.DisplayName = strings.TrimSpace(rec[nameCol])
		}
		rows = append(rows, row)
	}
	if header == nil && !headerless {
		return nil, nil, formatErr("no users: the file is empty")
	}
	if len(rows) == 0 && len(errs) == 0 {
		return nil, nil, formatErr("no users: only a header")
	}
	return rows, errs, nil
}

// longField returns the index of the first field of rec longer than
// maxFieldLen bytes, or -1: no column of a user list needs more, and a
// list's fields stay in memory for as long as its users are queued.
func longField(rec []string) int {
	for i, f := range rec {
		if len(f) > maxFieldLen {
			return i
		}
	}
	return -1
}

// firstContentLine returns the first line that is neither blank nor a
// comment.
func firstContentLine(data []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), MaxFileBytes+1)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		return l
	}
	return ""
}

// sniffDelimiter picks ',' unless the first line uses ';' or tabs and no
// commas outside quotes.
func sniffDelimiter(line string) rune {
	count := func(r rune) int {
		n, quoted := 0, false
		for _, c := range line {
			switch {
			case c == '"':
				quoted = !quoted
			case c == r && !quoted:
				n++
			}
		}
		return n
	}
	c, s, t := count(','), count(';'), count('\t')
	switch {
	case c == 0 && s > 0 && s >= t:
		return ';'
	case c == 0 && t > 0:
		return '\t'
	}
	return ','
}

func findColumn(header []string, names []string) int {
	for _, n := range names {
		for i, h := range header {
			if h == n {
				return i
			}
		}
	}
	return -1
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func quoteList(rec []string) string {
	var q []string
	for i, f := range rec {
		if i == 8 {
			q = append(q, "…")
			break
		}
		q = append(q, fmt.Sprintf("%q", printable(f)))
	}
	if len(q) == 0 {
		return "no columns"
	}
	return strings.Join(q, ", ")
}

// printable cuts s to 64 runes and replaces control characters, so a row
// can be quoted in a message.
func printable(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 64 {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
