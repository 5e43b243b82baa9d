package webauthn

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// DefaultDisplayNameTemplate is "<model> <date>".
const DefaultDisplayNameTemplate = "{model} {date}"

// ErrSerialTooLong reports a display name that cannot hold the serial.
var ErrSerialTooLong = errors.New("webauthn: serial does not fit the display name")

// DisplayName renders the fido2Method displayName from a template with the
// placeholders {model}, {serial} and {date} (now's date, YYYY-MM-DD); an
// empty template means DefaultDisplayNameTemplate. The result has at most
// MaxDisplayNameLength characters (docs/graph.md §4.1). When too long,
// the model is shortened (never the serial or the date); if the name still
// does not fit with the model removed, DisplayName fails, with
// ErrSerialTooLong when the template holds a serial. Control characters are
// dropped and runs of spaces collapsed.
func DisplayName(template, model, serial string, now time.Time) (string, error) {
	if template == "" {
		template = DefaultDisplayNameTemplate
	}
	if err := checkTemplate(template); err != nil {
		return "", err
	}
	model = clean(model)
	serial = clean(serial)
	date := now.Format("2006-01-02")
	m := []rune(model)
	for k := len(m); k >= 0; k-- {
		part := strings.TrimSpace(string(m[:k]))
		s := render(template, part, serial, date)
		if s == "" {
			return "", errors.New("webauthn: display name is empty")
		}
		if len([]rune(s)) <= MaxDisplayNameLength {
			return s, nil
		}
	}
	if strings.Contains(template, "{serial}") {
		return "", fmt.Errorf("%w: %q with the model removed is longer than %d characters", ErrSerialTooLong, render(template, "", serial, date), MaxDisplayNameLength)
	}
	return "", fmt.Errorf("webauthn: display name template %q renders longer than %d characters without the model", template, MaxDisplayNameLength)
}

func render(template, model, serial, date string) string {
	s := strings.NewReplacer("{model}", model, "{serial}", serial, "{date}", date).Replace(template)
	return strings.Join(strings.Fields(s), " ")
}

func checkTemplate(t string) error {
	rest := t
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("webauthn: display name template: unclosed '{'")
		}
		switch name := rest[i : i+j+1]; name {
		case "{model}", "{serial}", "{date}":
		default:
			return fmt.Errorf("webauthn: display name template: unknown placeholder %s (use {model}, {serial}, {date})", truncate(name, 20))
		}
		rest = rest[i+j+1:]
	}
	return nil
}

func clean(s string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)), " ")
}
