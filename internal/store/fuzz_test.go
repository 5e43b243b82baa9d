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

// FuzzRecordStep feeds arbitrary bytes as step data (json.RawMessage).
// RecordStep must not panic; it must accept exactly the valid JSON that has
// no secret key, storing it compacted, and write nothing otherwise; and the
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
		err = s.RecordStep(ctx, job.ID, "fuzz", "begin", json.RawMessage(data))
		valid := json.Valid(data)
		switch {
		case err == nil && !valid:
			t.Fatalf("invalid JSON %q accepted", data)
		case err != nil && valid && !errors.Is(err, ErrSecretField):
			t.Fatalf("valid JSON %q refused: %v", data, err)
		}
		last, lerr := s.LastStep(ctx, job.ID, "fuzz")
		added := 0
		if err == nil {
			added = 1
			var compact bytes.Buffer
			if err := json.Compact(&compact, data); err != nil {
				t.Fatal(err)
			}
			if lerr != nil {
				t.Fatal(lerr)
			}
			if got := string(last.Data); got != compact.String() {
				t.Fatalf("stored %q, want %q", got, compact.String())
			}
		}
		// Another step after it, so that the new event is linked to.
		if err := s.RecordStep(ctx, job.ID, "fuzz-next", "done", map[string]bool{"ok": true}); err != nil {
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
