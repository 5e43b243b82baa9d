//go:build cgo

package hid_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/softkey"
)

func bioModel(t *testing.T) *softkey.Model {
	t.Helper()
	m, err := softkey.LookupModel("yubikey-bio-5.5")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// enrollAll runs an enrollment to its end through libfido2 and returns
// the feedback of every sample.
func enrollAll(t *testing.T, d *hid.Device) ([]byte, []hid.BioFeedback, error) {
	t.Helper()
	ctx := context.Background()
	e, s, err := d.BioEnrollBegin(ctx, testPIN, 10*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer e.Close()
	seen := []hid.BioFeedback{s.Feedback}
	for s.Remaining > 0 {
		if len(seen) > 50 {
			t.Fatal("enrollment does not end")
		}
		if s, err = e.Next(ctx, 10*time.Second); err != nil {
			return e.ID(), seen, err
		}
		seen = append(seen, s.Feedback)
	}
	return e.ID(), seen, nil
}

func TestBioThroughLibfido2(t *testing.T) {
	ctx := context.Background()
	G, P := softkey.FingerGood, softkey.FingerPoor
	a, d := openSoftKey(t, softkey.Config{Model: bioModel(t), Finger: softkey.Finger{Samples: []softkey.FingerSample{P, G}}}, testPIN)
	info, err := d.BioInfo(ctx)
	if err != nil || info.Kind != 1 || info.MaxSamples != softkey.BioSamplesPerEnrollment {
		t.Fatalf("BioInfo = %+v, %v", info, err)
	}
	if ts, err := d.BioTemplates(ctx, testPIN); err != nil || len(ts) != 0 {
		t.Fatalf("templates before enrollment: %v, %v", ts, err)
	}
	id, seen, err := enrollAll(t, d)
	if err != nil {
		t.Fatal(err)
	}
	want := []hid.BioFeedback{hid.BioFeedbackPoorQuality, 0, 0, 0, 0, 0}
	if !bytes.Equal(feedbackBytes(seen), feedbackBytes(want)) {
		t.Fatalf("feedback %v, want %v", seen, want)
	}
	if err := d.BioSetName(ctx, testPIN, id, "right thumb"); err != nil {
		t.Fatal(err)
	}
	ts, err := d.BioTemplates(ctx, testPIN)
	if err != nil || len(ts) != 1 || !bytes.Equal(ts[0].ID, id) || ts[0].Name != "right thumb" {
		t.Fatalf("templates %+v, %v", ts, err)
	}
	if got := a.Status().Fingerprints; len(got) != 1 || got[0] != "right thumb" {
		t.Fatalf("key holds %q", got)
	}
	// Built-in UV: a reopened session sees uv:true and gets a token by
	// fingerprint (getPinUvAuthTokenUsingUvWithPermissions), no PIN.
	d.Close()
	d = openT(t, d.Path())
	if !d.HasUV() {
		t.Fatal("uv not configured after enrollment")
	}
	req := mcReq("example.com", 1, true)
	req.UV = true
	cred, err := d.MakeCredential(ctx, req, nil)
	if err != nil {
		t.Fatalf("makeCredential with UV by fingerprint: %v", err)
	}
	if cred.Flags&0x04 == 0 {
		t.Fatal("credential without UV flag")
	}
	as, err := d.GetAssertion(ctx, hid.AssertionRequest{RPID: "example.com", ClientDataHash: cdh("ga"),
		AllowList: [][]byte{cred.ID}, UV: true}, nil)
	if err != nil || len(as) != 1 || as[0].Flags&0x04 == 0 {
		t.Fatalf("getAssertion with UV by fingerprint: %v, %+v", err, as)
	}
	a.SetFinger(softkey.Finger{Samples: []softkey.FingerSample{P}})
	_, err = d.MakeCredential(ctx, req, nil)
	if hid.CodeOf(err) != hid.CodeUVInvalid {
		t.Fatalf("poor finger: %v", err)
	}
	if n, err := d.UVRetries(ctx); err != nil || n != 2 {
		t.Fatalf("UVRetries = %d, %v", n, err)
	}
	if err := d.BioRemove(ctx, testPIN, id); err != nil {
		t.Fatal(err)
	}
	if ts, err := d.BioTemplates(ctx, testPIN); err != nil || len(ts) != 0 {
		t.Fatalf("templates after delete: %v, %v", ts, err)
	}
}

func feedbackBytes(f []hid.BioFeedback) []byte {
	b := make([]byte, len(f))
	for i, x := range f {
		b[i] = byte(x)
	}
	return b
}

func TestBioTimeoutThenCancel(t *testing.T) {
	G, T := softkey.FingerGood, softkey.FingerTimeout
	a, d := openSoftKey(t, softkey.Config{Model: bioModel(t), Finger: softkey.Finger{Samples: []softkey.FingerSample{G, T}}}, testPIN)
	_, _, err := enrollAll(t, d)
	if !errors.Is(err, hid.ErrUserActionTimeout) {
		t.Fatalf("enrollment with no finger: %v", err)
	}
	if !a.Status().EnrollmentPending {
		t.Fatal("the key dropped the enrollment by itself")
	}
	if err := d.BioEnrollCancel(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := a.Status(); s.EnrollmentPending || len(s.Fingerprints) != 0 {
		t.Fatalf("after cancel: %+v", s)
	}
}
