//go:build !cgo

package hid_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/hid"
)

func TestStubsReturnErrNoLibfido2(t *testing.T) {
	ctx := context.Background()
	if _, err := hid.Enumerate(ctx); !errors.Is(err, hid.ErrNoLibfido2) {
		t.Errorf("Enumerate = %v", err)
	}
	d, err := hid.Open(ctx, "vkey:x", hid.WithTimeout(1))
	if !errors.Is(err, hid.ErrNoLibfido2) || hid.CodeOf(err) != hid.CodeNoLibfido2 {
		t.Fatalf("Open = %v", err)
	}
	var dev *hid.Device = d
	errs := []error{
		dev.SetPIN(ctx, []byte("1234")),
		dev.ChangePIN(ctx, []byte("1"), []byte("2")),
		dev.Reset(ctx),
		dev.SetMinPINLength(ctx, 6, nil),
		dev.SetMinPINLengthRPIDs(ctx, []string{"a"}, nil),
		dev.ForcePINChange(ctx, nil),
		dev.ToggleAlwaysUV(ctx, nil),
		dev.EnableEnterpriseAttestation(ctx, nil),
		dev.DeleteCredential(ctx, []byte{1}, nil),
		dev.UpdateUser(ctx, []byte{1}, hid.User{}, nil),
		dev.Selection(ctx),
		dev.BioSetName(ctx, nil, []byte{1}, "x"),
		dev.BioRemove(ctx, nil, []byte{1}),
		dev.BioEnrollCancel(ctx),
	}
	_, err = dev.BioInfo(ctx)
	errs = append(errs, err)
	_, err = dev.BioTemplates(ctx, nil)
	errs = append(errs, err)
	_, _, err = dev.BioEnrollBegin(ctx, []byte("1234"), 0)
	errs = append(errs, err)
	_, err = dev.Info(ctx)
	errs = append(errs, err)
	_, err = dev.PINRetries(ctx)
	errs = append(errs, err)
	_, err = dev.UVRetries(ctx)
	errs = append(errs, err)
	_, err = dev.MakeCredential(ctx, hid.MakeCredentialRequest{}, nil)
	errs = append(errs, err)
	_, err = dev.GetAssertion(ctx, hid.AssertionRequest{}, nil)
	errs = append(errs, err)
	_, err = dev.CredentialMetadata(ctx, nil)
	errs = append(errs, err)
	_, err = dev.RelyingParties(ctx, nil)
	errs = append(errs, err)
	_, err = dev.Credentials(ctx, "a", nil)
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, hid.ErrNoLibfido2) {
			t.Errorf("op %d: %v", i, err)
		}
		// What the user reads (README: every key command says it was
		// built without libfido2).
		if err != nil && !strings.Contains(err.Error(), "without cgo/libfido2") {
			t.Errorf("op %d: %q does not say it was built without libfido2", i, err)
		}
	}
	if v, p := hid.LibraryVersion(); v != "" || p != "" {
		t.Errorf("LibraryVersion = %q, %q without cgo", v, p)
	}
}
