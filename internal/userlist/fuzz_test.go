package userlist

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRead: any input either fails as a whole or yields rows that are
// valid, unique users with increasing line numbers, and row errors that
// quote only printable text.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"upn\nalice@contoso.com\n", "\xef\xbb\xbfUser principal name;Name\r\na@b.c;A\r\n", "a@b.c\nA@B.C\n",
		"upn,x\n\"a@b.c\",\"q\"\"\"\n", "id\n6f1c3f4e-8a1b-4c2d-9e3f-0a1b2c3d4e5f\n", "# c\n\nupn\n\n,\n\x01@b.c\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, errs, err := Read(bytes.NewReader(data))
		if err != nil {
			if rows != nil || errs != nil {
				t.Fatalf("file error %v with rows", err)
			}
			return
		}
		seen := map[string]bool{}
		last := 0
		for _, r := range rows {
			if CheckUser(r.UPN) != nil {
				t.Fatalf("row %d: invalid UPN %q accepted", r.Line, r.UPN)
			}
			k := strings.ToLower(r.UPN)
			if seen[k] {
				t.Fatalf("duplicate %q", r.UPN)
			}
			seen[k] = true
			if r.Line <= last {
				t.Fatalf("line %d after %d", r.Line, last)
			}
			last = r.Line
		}
		for _, e := range errs {
			msg := e.Error()
			if !utf8.ValidString(msg) {
				t.Fatalf("row error not UTF-8: %q", msg)
			}
			for _, c := range msg {
				if c < 0x20 {
					t.Fatalf("control character in row error %q", msg)
				}
			}
		}
	})
}
