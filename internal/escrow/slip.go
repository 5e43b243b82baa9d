package escrow

import (
	"fmt"
	"html"
	"strings"
	"time"
)

// Slip is what a PIN hand-over slip says: whose key, which key, its PIN.
type Slip struct {
	UPN         string
	DisplayName string
	Model       string
	KeyPath     string
	Serial      string
	Enrolled    time.Time
	PIN         []byte
}

// Render writes the slip as plain text or, with asHTML, as a printable
// HTML page (every value escaped). The caller wipes the result: it holds
// the PIN.
func (s Slip) Render(asHTML bool) []byte {
	who := s.UPN
	if s.DisplayName != "" {
		who = s.DisplayName + " (" + s.UPN + ")"
	}
	key := s.Model
	if s.Serial != "" {
		key += ", serial " + s.Serial
	}
	when := ""
	if !s.Enrolled.IsZero() {
		when = s.Enrolled.Local().Format("2006-01-02")
	}
	lines := [][2]string{
		{"For", who},
		{"Security key", key},
		{"Prepared", when},
	}
	advice := []string{
		"Keep this slip private and destroy it once you know the PIN.",
		"Your key asks for this PIN when you sign in with it (Windows, a browser, a phone).",
		"Eight wrong PINs in a row block the key: ask the helpdesk before that.",
		"If the key asks for a new PIN at first use, choose one only you know.",
	}
	var b strings.Builder
	if !asHTML {
		b.WriteString("Security key PIN hand-over\n\n")
		for _, l := range lines {
			if l[1] != "" {
				fmt.Fprintf(&b, "%-14s%s\n", l[0], l[1])
			}
		}
		fmt.Fprintf(&b, "%-14s%s\n\n", "PIN", s.PIN)
		for _, a := range advice {
			b.WriteString("- " + a + "\n")
		}
		return []byte(b.String())
	}
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Security key PIN hand-over</title>\n")
	b.WriteString("<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}th{text-align:left;padding-right:1em}" +
		".pin{font-family:monospace;font-size:2em;letter-spacing:.2em}</style></head><body>\n<h1>Security key PIN hand-over</h1>\n<table>\n")
	for _, l := range lines {
		if l[1] != "" {
			fmt.Fprintf(&b, "<tr><th>%s</th><td>%s</td></tr>\n", l[0], html.EscapeString(l[1]))
		}
	}
	fmt.Fprintf(&b, "<tr><th>PIN</th><td class=\"pin\">%s</td></tr>\n</table>\n<ul>\n", html.EscapeString(string(s.PIN)))
	for _, a := range advice {
		fmt.Fprintf(&b, "<li>%s</li>\n", html.EscapeString(a))
	}
	b.WriteString("</ul>\n</body></html>\n")
	return []byte(b.String())
}
