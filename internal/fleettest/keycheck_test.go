//go:build cgo

package fleettest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/simkeys"
)

// keyOpens proves that pin opens the virtual key whose state is in
// keyFile and that the key holds the credential credID for upn: a copy of
// the key is plugged in on its own and asked, through libfido2 as keyprep
// asks, for an assertion for login.microsoft.com with that credential and
// that PIN (a wrong PIN fails with PIN_INVALID; the copy keeps the bench's
// key untouched). scratch is an empty directory for the copy.
func keyOpens(keyFile, scratch string, pin, credID []byte, upn string) error {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(scratch, "0.json"), b, 0o600); err != nil {
		return err
	}
	p, err := simkeys.New(simkeys.Options{Dir: scratch, Count: 1})
	if err != nil {
		return err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(hid.WithVirtual(context.Background(), p), 30e9)
	defer cancel()
	dev, err := hid.Open(ctx, hid.VirtualScheme+"0")
	if err != nil {
		return err
	}
	defer dev.Close()
	if !dev.HasPIN() {
		return fmt.Errorf("the key has no PIN")
	}
	cdh := sha256.Sum256([]byte("fleettest: does the escrowed PIN open the key?"))
	as, err := dev.GetAssertion(ctx, hid.AssertionRequest{RPID: "login.microsoft.com", ClientDataHash: cdh[:],
		AllowList: [][]byte{credID}, UP: true}, pin)
	if err != nil {
		return fmt.Errorf("assertion with the escrowed PIN: %w", err)
	}
	if len(as) != 1 || string(as[0].CredentialID) != string(credID) {
		return fmt.Errorf("assertion for another credential: %d answers", len(as))
	}
	if as[0].Flags&0x04 == 0 {
		return fmt.Errorf("assertion without user verification (flags %#x)", as[0].Flags)
	}
	if as[0].UserName != "" && !strings.EqualFold(as[0].UserName, upn) {
		return fmt.Errorf("the credential is %s's, not %s's", as[0].UserName, upn)
	}
	return nil
}
