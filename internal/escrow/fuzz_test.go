package escrow

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"filippo.io/age"
)

// pinFileErrors are all the errors parsePINFile may return.
var pinFileErrors = map[string]bool{
	`not a keyprep PIN file: the first line must start with "# keyprep PIN for "`: true,
	"no PIN line after the header":               true,
	"unexpected content after the PIN line":      true,
	"PIN line: empty PIN":                        true,
	"PIN line: PIN longer than 63 bytes":         true,
	"PIN line: PIN contains a line break or NUL": true,
	"PIN line: PIN is not valid UTF-8":           true,
}

// FuzzReadPINFile checks the PIN-file parser on arbitrary content: it
// never panics, whatever it accepts is a valid PIN taken verbatim from the
// second line, and its errors never quote the content after the header.
func FuzzReadPINFile(f *testing.F) {
	hdr := pinFileHeaderPrefix + "u@contoso.test on key vkey:1 (AAGUID x), 2026-11-05T09:30:00Z\n"
	for _, s := range []string{
		hdr + "12345678\n",
		hdr + "Grüße-€𝄞\r\n",
		hdr + "#hash\n\n",
		hdr + "1234",
		hdr + "\n",
		hdr,
		hdr + "1234\n5678\n",
		"1234\n",
		"",
		"# keyprep PIN for \n\x00\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		p, err := parsePINFile(data)
		if !bytes.Equal(data, orig) {
			t.Fatal("parsePINFile modified its input")
		}
		if err != nil {
			if p != nil {
				t.Fatal("non-nil PIN with an error")
			}
			// Errors are fixed strings: they never quote the content.
			if !pinFileErrors[err.Error()] {
				t.Fatalf("unexpected error %q", err)
			}
			return
		}
		if err := validatePIN(p); err != nil {
			t.Fatalf("accepted an invalid PIN %q: %v", p, err)
		}
		if !bytes.HasPrefix(data, []byte(pinFileHeaderPrefix)) {
			t.Fatal("accepted a file without the header")
		}
		_, rest, _ := bytes.Cut(data, []byte("\n"))
		if !bytes.HasPrefix(rest, p) {
			t.Fatalf("PIN %q is not the start of the second line", p)
		}
		// The PIN is a copy: wiping it leaves the input alone.
		wipe(p)
		if !bytes.Equal(data, orig) {
			t.Fatal("the returned PIN aliases the input")
		}
	})
}

// FuzzPINFileRoundTrip checks that whatever header fields are given, a
// valid PIN written by formatPINFile reads back unchanged.
func FuzzPINFileRoundTrip(f *testing.F) {
	f.Add("adele.vance@contoso.test", "vkey:1", "ee882879-721c-4913-9775-3dfcce97072a", []byte("12345678"))
	f.Add("x\n0000", "k\r", "a\u2028b", []byte("#1 2"))
	f.Add("", "", "", []byte("Ünïcødé"))
	f.Fuzz(func(t *testing.T, upn, keyPath, aaguid string, p []byte) {
		content := formatPINFile(PINFileHeader{UPN: upn, KeyPath: keyPath, AAGUID: aaguid, Time: time.Unix(0, 0)}, p)
		if n := bytes.Count(content, []byte("\n")); validatePIN(p) == nil && n != 2 {
			t.Fatalf("%d lines in %q", n, content)
		}
		got, err := parsePINFile(content)
		if validatePIN(p) != nil {
			return // WritePINFile refuses it before formatting
		}
		if err != nil {
			t.Fatalf("parse(format(%q)): %v", p, err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("round trip: got %q, want %q", got, p)
		}
	})
}

// FuzzParseRecipients checks the recipient parsers (one spec, and a
// recipients file) on arbitrary input: no panic, a normalised form that
// parses back to itself, and bounded errors that do not quote a long input
// in full, nor a private key.
func FuzzParseRecipients(f *testing.F) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	rec := id.Recipient().String()
	for _, s := range []string{
		rec,
		strings.ToUpper(rec),
		"age1notakey",
		"age1yubikey1qfoo",
		"age1pq1qqqq",
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEX6xQSW5gYLTCRkiwqyXAq+5W5Bb7M/jvgmFsq4uG9A comment",
		"ssh-rsa AAAA",
		"ssh-ed25519 AAAAnotbase64!",
		id.String(),
		"-----BEGIN OPENSSH PRIVATE KEY-----",
		"# comment\n\n" + rec + "\n@other\n",
		"age1" + strings.Repeat("q", 200),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkErr := func(err error) {
			t.Helper()
			msg := err.Error()
			if len(msg) > 1500 {
				t.Fatalf("error of %d bytes: %q", len(msg), msg)
			}
			if utf8.RuneCountInString(s) > maxSpecRunes+8 && strings.Contains(msg, s) {
				t.Fatalf("error quotes all %d characters of the input: %q", len(s), msg)
			}
			if strings.Contains(msg, "AGE-SECRET-KEY-1") {
				t.Fatalf("error quotes a secret key: %q", msg)
			}
		}

		// One spec, as parseRecipient sees it after trimming.
		line := strings.TrimSpace(s)
		if line != "" && isRecipientSyntax(line) {
			r, norm, err := parseRecipient(line)
			if err != nil {
				checkErr(err)
			} else {
				if r == nil || norm == "" {
					t.Fatalf("nil recipient or empty name for %q", line)
				}
				_, norm2, err := parseRecipient(norm)
				if err != nil || norm2 != norm {
					t.Fatalf("normalised form %q re-parses to %q, %v", norm, norm2, err)
				}
			}
		}

		// The same input as a recipients file.
		var names []string
		err := parseRecipientsReader(strings.NewReader(s), "fuzz", func(_ age.Recipient, n string) {
			names = append(names, n)
		})
		if err != nil {
			checkErr(err)
			return
		}
		if len(names) == 0 {
			t.Fatal("no error and no recipients")
		}
	})
}
