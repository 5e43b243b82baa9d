// Package safetext makes text from outside keyprep — display names, UPNs and
// group names from Graph, Graph's error messages, CSV cells, flag values —
// safe to print for a person to read: on a terminal, in a text slip, in a
// table. It neutralises what a terminal or a text viewer would act on instead
// of showing:
//
//   - C0 controls (ESC starts terminal escape sequences; CR and BS rewrite
//     what is already on the line), DEL and C1 controls (U+0080–U+009F, CSI
//     among them);
//   - Unicode format characters (category Cf), among them the bidirectional
//     embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069 and
//     the marks U+200E, U+200F, U+061C, which reorder what is printed after
//     them (a UPN that reads backwards, a "hint" that hides its command), the
//     zero-width space and the byte order mark; ZWNJ and ZWJ (U+200C, U+200D)
//     stay, as they are part of writing some languages and of emoji;
//   - the line and paragraph separators U+2028, U+2029;
//   - bytes that are not UTF-8.
//
// Each is replaced by a visible escape: \x1b for a control below U+0080, \u202e
// (or \U000e0001) for other runes, \xff for a byte that is not UTF-8. What
// was already safe is returned unchanged, and the output is always safe.
//
// Use Line for one value in a line or a table cell (newlines and tabs are
// escaped too), Text for a multi-line message (newlines and tabs kept), and
// Fprintf/Sprintf, which apply Line to every string, error and Stringer
// argument and leave the format (keyprep's own text) alone. Machine output is
// not for this package: JSON stays JSON (encoding/json escapes controls).
package safetext

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Unsafe reports whether r is one of the runes the package escapes (newline
// and tab included).
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r == 0x200c, r == 0x200d:
		return false
	case r == 0x2028, r == 0x2029:
		return true
	case r < 0xad:
		return false
	}
	return unicode.Is(unicode.Cf, r)
}

// Line returns s safe for one line: every unsafe rune escaped, newlines and
// tabs included.
func Line(s string) string { return clean(s, false) }

// Text returns s safe for a multi-line message: like Line, but newlines and
// tabs are kept.
func Text(s string) string { return clean(s, true) }

func clean(s string, multiline bool) string {
	// The common case, nothing to escape, allocates nothing.
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || (Unsafe(r) && !(multiline && (r == '\n' || r == '\t'))) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case multiline && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case !Unsafe(r):
			b.WriteString(s[i : i+n])
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += n
	}
	return b.String()
}

// Args returns a copy of a with every string (of any string type), []byte,
// error and fmt.Stringer replaced by its Line. Numbers, booleans and other
// values are kept, and so are Stringers that are numbers (an enum, a
// time.Duration), which print the same and may take %d.
func Args(a []any) []any {
	out := make([]any, len(a))
	for i, v := range a {
		switch x := v.(type) {
		case string:
			out[i] = Line(x)
		case []byte:
			out[i] = Line(string(x))
		case error:
			out[i] = Line(x.Error())
		case fmt.Stringer:
			if numeric(reflect.ValueOf(x).Kind()) {
				out[i] = v
			} else {
				out[i] = Line(x.String())
			}
		default:
			if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
				out[i] = Line(rv.String())
			} else {
				out[i] = v
			}
		}
	}
	return out
}

func numeric(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// Sprintf is fmt.Sprintf with its arguments made safe (Args). The format is
// keyprep's own text and is not changed.
func Sprintf(format string, a ...any) string { return fmt.Sprintf(format, Args(a)...) }

// Fprintf is fmt.Fprintf with its arguments made safe (Args).
func Fprintf(w io.Writer, format string, a ...any) (int, error) {
	return fmt.Fprintf(w, format, Args(a)...)
}
