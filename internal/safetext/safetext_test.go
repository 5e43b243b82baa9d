package safetext

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"adele.vance@contoso.test", "adele.vance@contoso.test"},
		{"Adèle Vance 日本 ﻣﺮﺣﺒﺎ", "Adèle Vance 日本 ﻣﺮﺣﺒﺎ"},
		{"\x1b[2J\x1b]0;pwned\x07", `\x1b[2J\x1b]0;pwned\x07`},
		{"evil\u202egnp.exe", `evil\u202egnp.exe`},
		{"a\u2066b\u2067c\u2068d\u2069e\u202af\u202bg\u202ch\u202di", `a\u2066b\u2067c\u2068d\u2069e\u202af\u202bg\u202ch\u202di`},
		{"lrm\u200e rlm\u200f alm\u061c zwsp\u200b bom\ufeff shy\u00ad", `lrm\u200e rlm\u200f alm\u061c zwsp\u200b bom\ufeff shy\u00ad`},
		{"csi\u009b31m nel\u0085 del\x7f", `csi\u009b31m nel\u0085 del\x7f`},
		{"two\nlines\r\tand tab\b", `two\x0alines\x0d\x09and tab\x08`},
		{"ls\u2028ps\u2029", `ls\u2028ps\u2029`},
		{"tag\U000e0041", `tag\U000e0041`},
		{"bad \xff\xfe utf8 \xe2\x80", `bad \xff\xfe utf8 \xe2\x80`},
		{"zwnj\u200cзwj\u200d👩\u200d💻", "zwnj\u200cзwj\u200d👩\u200d💻"},
		{"", ""},
	} {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	in := "line one\n\tline two \x1b[31mred\u202e\r\n"
	want := "line one\n\tline two \\x1b[31mred\\u202e\\x0d\n"
	if got := Text(in); got != want {
		t.Errorf("Text(%q) = %q, want %q", in, got, want)
	}
}

type stringer struct{}

func (stringer) String() string { return "str\x1b" }

func TestFprintf(t *testing.T) {
	var b bytes.Buffer
	type status string
	_, err := Fprintf(&b, "user %s (%s) %v %s %d %s %d %s\n", "a\u202eb", []byte("c\x1bd"), errors.New("e\u009bf"), stringer{}, 42,
		time.Duration(90)*time.Second, time.Duration(5), status("s\u2066"))
	if err != nil {
		t.Fatal(err)
	}
	want := "user a\\u202eb (c\\x1bd) e\\u009bf str\\x1b 42 1m30s 5 s\\u2066\n"
	if b.String() != want {
		t.Errorf("Fprintf = %q, want %q", b.String(), want)
	}
	if got := Sprintf("%s\t%s", "x\ty", "z"); got != `x\x09y`+"\tz" {
		t.Errorf("Sprintf = %q", got)
	}
}

func TestUnsafe(t *testing.T) {
	for _, r := range []rune{0, 0x1b, '\n', 0x7f, 0x80, 0x9f, 0xad, 0x61c, 0x200b, 0x200e, 0x202a, 0x202e, 0x2066, 0x2069, 0x2028, 0xfeff, 0xe0001} {
		if !Unsafe(r) {
			t.Errorf("Unsafe(%U) = false", r)
		}
	}
	for _, r := range []rune{' ', 'a', '~', 0xa0, 0xe9, 0x200c, 0x200d, 0x5d0, 0x627, 0xfffd} {
		if Unsafe(r) {
			t.Errorf("Unsafe(%U) = true", r)
		}
	}
	if strings.ContainsFunc(Line("\x1b\u202e"), Unsafe) {
		t.Error("Line left an unsafe rune")
	}
}
