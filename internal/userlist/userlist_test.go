package userlist

import (
	"errors"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		upns     []string
		lines    []int
		rowErrs  []string // substrings, in order
		fileErr  string
		nameOf0  string
		fieldsOf map[string]string
	}{
		{name: "header upn", in: "upn\nalice@contoso.com\nbob@contoso.com\n",
			upns: []string{"alice@contoso.com", "bob@contoso.com"}, lines: []int{2, 3}},
		{name: "entra export column and BOM, CRLF", in: "\xef\xbb\xbfUser principal name,Display name\r\nalice@contoso.com,Alice A\r\n",
			upns: []string{"alice@contoso.com"}, nameOf0: "Alice A"},
		{name: "semicolon (Excel)", in: "displayName;userPrincipalName\nAlice;alice@contoso.com\n",
			upns: []string{"alice@contoso.com"}, nameOf0: "Alice"},
		{name: "tab", in: "upn\tdept\nalice@contoso.com\tIT\n",
			upns: []string{"alice@contoso.com"}, fieldsOf: map[string]string{"upn": "alice@contoso.com", "dept": "IT"}},
		{name: "headerless", in: "alice@contoso.com\n\n# a comment\nbob@contoso.com\n",
			upns: []string{"alice@contoso.com", "bob@contoso.com"}, lines: []int{1, 4}},
		{name: "object id", in: "id\n6f1c3f4e-8a1b-4c2d-9e3f-0a1b2c3d4e5f\n",
			upns: []string{"6f1c3f4e-8a1b-4c2d-9e3f-0a1b2c3d4e5f"}},
		{name: "guest form", in: "upn\nkim_fabrikam.com#EXT#@contoso.test\n", upns: []string{"kim_fabrikam.com#EXT#@contoso.test"}},
		{name: "spaces trimmed", in: "upn , name\n  alice@contoso.com , A\n", upns: []string{"alice@contoso.com"}, nameOf0: "A"},
		{name: "row errors", in: "upn,name\nalice@contoso.com,A\n,nobody\nnot-a-upn,B\nALICE@contoso.com,again\nbad@@x.com\nc@d\nshort\n",
			upns: []string{"alice@contoso.com"},
			rowErrs: []string{"line 3: no UPN", "line 4 (not-a-upn): not a UPN", "line 5 (ALICE@contoso.com): listed twice (first on line 2)",
				"line 6 (bad@@x.com): not a UPN or object id: want exactly one '@'", "line 7 (c@d): not a UPN or object id: domain needs a dot",
				"line 8 (short)"}},
		{name: "long display name and other columns", in: "upn,displayName,dept\nalice@contoso.com," + strings.Repeat("x", 1025) + ",IT\nbob@contoso.com,Bob," + strings.Repeat("y", 5000) + "\ncarol@contoso.com," + strings.Repeat("z", 1024) + "\n",
			upns:    []string{"carol@contoso.com"},
			rowErrs: []string{"line 2 (alice@contoso.com): displayname longer than 1024 bytes", "line 3 (bob@contoso.com): dept longer than 1024 bytes"}},
		{name: "long header", in: "upn," + strings.Repeat("h", 2000) + "\nalice@contoso.com,x\n", fileErr: "column 2 of the header is longer than 1024 bytes"},
		{name: "empty", in: "", fileErr: "empty"},
		{name: "only comments", in: "# nothing\n\n", fileErr: "empty"},
		{name: "only header", in: "upn\n", fileErr: "only a header"},
		{name: "no upn column", in: "name,mail\nA,a@b.c\n", fileErr: `no UPN column`},
		{name: "not utf-8", in: "upn\n\xff\xfe@x.com\n", fileErr: "not UTF-8"},
		{name: "unterminated quote tolerated", in: "upn\n\"alice@contoso.com\n", upns: []string{"alice@contoso.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, errs, err := Read(strings.NewReader(tt.in))
			if tt.fileErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.fileErr) || !errors.Is(err, ErrFormat) {
					t.Fatalf("err = %v, want %q (ErrFormat)", err, tt.fileErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.UPN)
			}
			if strings.Join(got, " ") != strings.Join(tt.upns, " ") {
				t.Errorf("upns = %v, want %v", got, tt.upns)
			}
			for i, l := range tt.lines {
				if rows[i].Line != l {
					t.Errorf("row %d line = %d, want %d", i, rows[i].Line, l)
				}
			}
			if len(errs) != len(tt.rowErrs) {
				t.Fatalf("row errors = %v, want %d", errs, len(tt.rowErrs))
			}
			for i, want := range tt.rowErrs {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("row error %d = %q, want %q", i, errs[i], want)
				}
			}
			if tt.nameOf0 != "" && rows[0].DisplayName != tt.nameOf0 {
				t.Errorf("display name = %q, want %q", rows[0].DisplayName, tt.nameOf0)
			}
			for k, v := range tt.fieldsOf {
				if rows[0].Fields[k] != v {
					t.Errorf("field %s = %q, want %q", k, rows[0].Fields[k], v)
				}
			}
		})
	}
}

func TestCheckUPN(t *testing.T) {
	good := []string{"a@b.c", "adele.vance@contoso.test", "o'brien@x.org", "kim_fabrikam.com#EXT#@contoso.onmicrosoft.com"}
	bad := []string{"", "a", "@b.c", "a@", "a@b", "a@@b.c", ".a@b.c", "a..b@c.d", "a b@c.d", "a@-b.c", "a@b..c", "ä@b.c",
		strings.Repeat("a", 114) + "@b.c", "a@" + strings.Repeat("b", 64) + ".c"}
	for _, s := range good {
		if err := CheckUPN(s); err != nil {
			t.Errorf("CheckUPN(%q) = %v", s, err)
		}
	}
	for _, s := range bad {
		if CheckUPN(s) == nil {
			t.Errorf("CheckUPN(%q) accepted", s)
		}
	}
}
