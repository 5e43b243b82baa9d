package onboard

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/keyprep/keyprep/internal/escrow"
)

func TestDeliver(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	seal := func(p []byte) ([]byte, error) { return escrow.SealDocument(p, []age.Recipient{id.Recipient()}) }
	failSeal := func([]byte) ([]byte, error) { return nil, errors.New("no recipient") }
	const code = "Qx7-pass"
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.txt")
	if err := os.WriteFile(existing, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		d         Delivery
		handed    bool   // the slip comes back to the caller
		plain     string // in the plain slip (handed back or decrypted)
		where     string
		errIs     error
		writeErr  bool
		errSubstr string
	}{
		{name: "printed", d: Delivery{Format: "text"}, handed: true, plain: "Access pass   " + code, where: "printed"},
		{name: "html printed", d: Delivery{Format: "html"}, handed: true, plain: "<!DOCTYPE html>", where: "printed"},
		{name: "sealed on stdout", d: Delivery{Format: "text", Seal: seal, Recipients: []string{"helpdesk"}}, handed: true,
			plain: code, where: "encrypted on stdout (age: helpdesk)"},
		{name: "file", d: Delivery{Format: "text", File: filepath.Join(dir, "a.txt")}, plain: code, where: "file " + filepath.Join(dir, "a.txt")},
		{name: "sealed file", d: Delivery{Format: "html", Seal: seal, Recipients: []string{"r1", "r2"}, File: filepath.Join(dir, "b.html.age")},
			plain: "<!DOCTYPE html>", where: "file " + filepath.Join(dir, "b.html.age") + " (age: r1, r2)"},
		{name: "never overwritten", d: Delivery{Format: "text", File: existing}, errIs: fs.ErrExist, writeErr: true},
		{name: "a batch replaces its own", d: Delivery{Format: "text", File: existing, Replace: true}, plain: code, where: "file " + existing},
		{name: "missing directory", d: Delivery{Format: "text", File: filepath.Join(dir, "no", "c.txt")}, errIs: fs.ErrNotExist, writeErr: true},
		{name: "seal fails", d: Delivery{Format: "text", Seal: failSeal, File: filepath.Join(dir, "d.txt")}, errSubstr: "encrypt the slip: no recipient"},
		{name: "unknown format", d: Delivery{Format: "pdf"}, errSubstr: "want text or html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := &Issued{User: &User{UPN: "adele.vance@contoso.test", DisplayName: "Adele Vance"},
				Pass: &Pass{Code: []byte(code), Created: t0, Start: t0, Lifetime: time.Hour}}
			got, err := tt.d.Deliver(iss, t0)
			if tt.errIs != nil || tt.errSubstr != "" {
				var we *WriteError
				if err == nil || (tt.errIs != nil && !errors.Is(err, tt.errIs)) || !strings.Contains(err.Error(), tt.errSubstr) ||
					errors.As(err, &we) != tt.writeErr {
					t.Fatalf("Deliver = %v, want %v %q (write error %v)", err, tt.errIs, tt.errSubstr, tt.writeErr)
				}
				if strings.Contains(err.Error(), code) {
					t.Errorf("the pass is in the error: %v", err)
				}
				if b, _ := os.ReadFile(existing); tt.d.File == existing && string(b) != "old" {
					t.Errorf("existing file changed: %q", b)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w := got.Where(); w != tt.where {
				t.Errorf("Where = %q, want %q", w, tt.where)
			}
			data := got.Data
			if tt.handed != (data != nil) || (got.File != "") == tt.handed {
				t.Fatalf("handed back %d bytes, file %q", len(data), got.File)
			}
			if !tt.handed {
				fi, err := os.Stat(got.File)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("slip file %v %v", fi, err)
				}
				data, _ = os.ReadFile(got.File)
			}
			if got.Sealed != (tt.d.Seal != nil) {
				t.Errorf("Sealed = %v", got.Sealed)
			}
			if tt.d.Seal != nil {
				if bytes.Contains(data, []byte(code)) {
					t.Fatal("the pass is in the sealed slip")
				}
				r, err := age.Decrypt(armorReader(data), id)
				if err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				if _, err := b.ReadFrom(r); err != nil {
					t.Fatal(err)
				}
				data = b.Bytes()
			}
			if !bytes.Contains(data, []byte(tt.plain)) {
				t.Errorf("slip lacks %q:\n%s", tt.plain, data)
			}
			got.Wipe()
			if tt.handed && bytes.Contains(got.Data, []byte(code)) {
				t.Error("Wipe left the pass in the slip")
			}
		})
	}
}
