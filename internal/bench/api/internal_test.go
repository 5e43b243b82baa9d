package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// FuzzStrictJSON: what strictJSON accepts is one JSON object without a
// key twice, decoded as encoding/json decodes it.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{`{"confirm":true}`, `{"confirm":true,"confirm":false}`, `{"confirm":true} `, `{"confirm":true}x`,
		`{"batch":"a","failed":true}`, `{"a":{"b":1,"b":2}}`, `[1]`, `{}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			Confirm bool   `json:"confirm"`
			Batch   string `json:"batch"`
			Failed  bool   `json:"failed"`
		}
		if err := strictJSON(body, &v); err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted %q, which is not one JSON object: %v", body, err)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := noDuplicateKeys(dec); err != nil {
			t.Fatalf("accepted %q with a key twice", body)
		}
	})
}

// TestWarnLimiter: a burst per period, then silence; the first warning of
// the next period says how many were held back.
func TestWarnLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newWarnLimiter(3, time.Minute)
	l.now = func() time.Time { return now }
	var got []string
	for i := range 10 {
		if ok, held := l.allow(); ok {
			got = append(got, fmt.Sprintf("%d:%d", i, held))
		}
	}
	now = now.Add(time.Minute)
	if ok, held := l.allow(); ok {
		got = append(got, fmt.Sprintf("next:%d", held))
	}
	if want := "0:0 1:0 2:0 next:7"; strings.Join(got, " ") != want {
		t.Errorf("let through %q, want %q", strings.Join(got, " "), want)
	}
}

// TestClipLog: long values are cut at a rune boundary and say how long
// they were.
func TestClipLog(t *testing.T) {
	long := strings.Repeat("é", 300)
	got := clipLog(long)
	if len(got) > maxLogValue+32 || !utf8.ValidString(got) || !strings.HasSuffix(got, "(600 bytes)") {
		t.Errorf("clipLog = %q", got)
	}
	if clipLog("short") != "short" {
		t.Error("a short value changed")
	}
}
