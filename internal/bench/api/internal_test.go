package api

import (
	"encoding/json"
	"testing"
)

func TestSpreadsheetSafe(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"plain":        "plain",
		"=1+1":         "'=1+1",
		"+1":           "'+1",
		"-1":           "'-1",
		"@A1":          "'@A1",
		"\tx":          "'\tx",
		"\rx":          "'\rx",
		"＝1":           "'＝1",
		"a=b":          "a=b",
		"'quoted":      "'quoted",
		"Zoë":          "Zoë",
		"x@contoso.eu": "x@contoso.eu",
	} {
		if got := spreadsheetSafe(in); got != want {
			t.Errorf("spreadsheetSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, in := range []string{"", "123456", `a"b\c`, "<&>", "\x00\x01\n\t\x1f", "Zoë 🔑", "bad\xffutf8", "\u2028"} {
		out := appendJSONString(nil, []byte(in))
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%q → %s: %v", in, out, err)
		}
		want := in
		// encoding/json decodes invalid UTF-8 to U+FFFD as well.
		var ref string
		b, _ := json.Marshal(in)
		json.Unmarshal(b, &ref)
		want = ref
		if got != want {
			t.Errorf("%q → %s decodes to %q, want %q", in, out, got, want)
		}
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"users.csv":                  "users.csv",
		`C:\Users\op\bench list.csv`: "bench list.csv",
		"../../etc/passwd":           "passwd",
		"a\nb\x00c.csv":              "abc.csv",
		"":                           "",
		"/":                          "",
	} {
		if got := cleanName(in); got != want {
			t.Errorf("cleanName(%q) = %q, want %q", in, got, want)
		}
	}
	long := ""
	for range 60 {
		long += "ë"
	}
	if got := cleanName(long); len([]rune(got)) != 50 || len(got) > 100 {
		t.Errorf("cleanName(long) has %d runes / %d bytes", len([]rune(got)), len(got))
	}
}

func TestAllowedHosts(t *testing.T) {
	hosts, loop, err := allowedHosts("127.0.0.1", "8765")
	if err != nil || !loop {
		t.Fatal(err, loop)
	}
	for _, h := range []string{"127.0.0.1:8765", "localhost:8765", "[::1]:8765"} {
		if !hosts[h] {
			t.Errorf("%s not allowed", h)
		}
	}
	if len(hosts) != 3 {
		t.Errorf("hosts = %v", hosts)
	}
	hosts, loop, err = allowedHosts("192.0.2.10", "80")
	if err != nil || loop || !hosts["192.0.2.10:80"] || !hosts["192.0.2.10"] {
		t.Fatalf("LAN address: %v %v %v", hosts, loop, err)
	}
	if _, _, err := allowedHosts("::", "8765"); err == nil {
		t.Fatal("unspecified IPv6 accepted")
	}
}
