package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
)

// FuzzRecordStep feeds arbitrary bytes as recorded data (json.RawMessage,
// through Audit: journal rows take only the typed StepData, whose encoding
// passes the same check). Audit must not panic; it must accept exactly the
// valid JSON that has no secret key, storing it compacted, and write
// nothing otherwise; a journal row after it must still be written and the
// audit chain must still verify.
//
// One store (in the fuzz target's temporary directory) is shared by the
// iterations of a worker process, for speed, and replaced by a fresh one
// every few hundred iterations so that verifying the chain stays cheap.
func FuzzRecordStep(f *testing.F) {
	seeds := []string{
		`null`,
		`{"kind":"age"}`,
		`{"userId":"5f3c1e0a-7c1b-4a9e-9f1e-0d6b2a1c3e4f","upn":"adele.vance@contoso.test"}`,
		`{"pinSet":true,"retries":8,"minPinLength":6,"forcePinChange":true}`,
		`{"escrowId":"0123456789abcdef0123456789abcdef","kind":"file","location":"/srv/pins/batch1.txt"}`,
		`{"aaguid":"ee882879-721c-4913-9775-3dfcce97072a","credentialId":"AAECAwQFBgcICQ","excluded":false}`,
		`{"error":"CTAP2_ERR_PIN_INVALID (0x31)","hint":"check the PIN <here> & there"}`,
		`{"creationOptions":{"challenge":"dGVzdA","user":{"id":"dQ","name":"adele"},"excludeCredentials":[{"id":"AQ","type":"public-key"}]}}`,
		`{"pin":"123456"}`,
		`[{"a":[{"b":{"TemporaryAccessPass":"x"}}]}]`,
		`{"p\u0069n":1}`,
		`{"a":`,
		``,
		"{\"a\":\"\xff\xfe\"}",
		`  [1, 2.5e300, -0, "x\n", true, false, null]  `,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	dir := f.TempDir()
	var (
		s     *Store
		job   *Job
		iters int
	)
	f.Cleanup(func() {
		if s != nil {
			_ = s.Close()
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if s == nil || iters%300 == 0 {
			if s != nil {
				_ = s.Close()
			}
			var err error
			s, err = Open(ctx, filepath.Join(dir, fmt.Sprintf("k%d.db", iters)), Options{Actor: "fuzz@bench"})
			if err != nil {
				t.Fatal(err)
			}
			job = &Job{Kind: "enroll"}
			if err := s.CreateJob(ctx, job); err != nil {
				t.Fatal(err)
			}
		}
		iters++
		before, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Audit(ctx, "fuzz", job.ID, json.RawMessage(data))
		valid := json.Valid(data)
		switch {
		case err == nil && !valid:
			t.Fatalf("invalid JSON %q accepted", data)
		case err != nil && valid && !errors.Is(err, ErrSecretField):
			t.Fatalf("valid JSON %q refused: %v", data, err)
		}
		evs, lerr := s.AuditEvents(ctx, int64(before)-1, 0)
		var last *AuditEvent
		if lerr == nil && len(evs) > 0 {
			last = &evs[len(evs)-1]
		}
		added := 0
		if err == nil {
			added = 1
			var compact bytes.Buffer
			if err := json.Compact(&compact, data); err != nil {
				t.Fatal(err)
			}
			if lerr != nil || last == nil || last.Event != "fuzz" {
				t.Fatalf("the accepted event is not the last one: %v", lerr)
			}
			if got := string(last.Data); got != compact.String() {
				t.Fatalf("stored %q, want %q", got, compact.String())
			}
		}
		// Another step after it, so that the new event is linked to.
		if err := s.RecordStep(ctx, job.ID, "fuzz-next", "done", SelfTestDone{Verified: true}); err != nil {
			t.Fatal(err)
		}
		n, err := s.VerifyAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := before + added + 1; n != want {
			t.Fatalf("%d audit events, want %d", n, want)
		}
	})
}

// FuzzDecodeStep feeds arbitrary bytes as a stored journal row's data:
// DecodeStep must not panic for any step type, and what it decodes must
// encode and decode again to the same value.
func FuzzDecodeStep(f *testing.F) {
	for _, s := range []string{
		`null`, ``, `{}`, `{"escrowId":"e","kind":"age"}`,
		`{"methodId":"m","displayName":"YubiKey 5 2026-12-05","reconciled":true}`,
		`{"displayName":"d","credentialId":"AQ","started":"2026-12-05T06:00:00.123456789Z"}`,
		`{"credentialId":"AQ","publicKey":"pQ","aaguid":"x","alg":-7,"flags":69,"credProtect":2}`,
		`{"started":"yesterday"}`, `[1]`, `{"flags":300}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st := &Step{JobID: "j", Seq: 1, Name: "fuzz", Phase: PhaseDone, Data: data}
		roundTrip(t, st, DecodeStep[RegisterBegin])
		roundTrip(t, st, DecodeStep[MakeCredDone])
		roundTrip(t, st, DecodeStep[OptionsDone])
		roundTrip(t, st, DecodeStep[InspectDone])
		roundTrip(t, st, DecodeStep[PINSkipped])
	})
}

func roundTrip[T StepData](t *testing.T, st *Step, decode func(*Step) (T, error)) {
	t.Helper()
	v, err := decode(st)
	if err != nil {
		return
	}
	raw, err := encodeStepData(v)
	if err != nil {
		t.Fatalf("%T decoded from %q does not encode: %v", v, st.Data, err)
	}
	again, err := decode(&Step{Data: raw})
	if err != nil {
		t.Fatalf("%T: its own encoding %s does not decode: %v", v, raw, err)
	}
	raw2, _ := encodeStepData(again)
	if !bytes.Equal(raw, raw2) {
		t.Fatalf("%T: %s decodes to %s", v, raw, raw2)
	}
}
