package enroll

import (
	"encoding/json"
	"testing"

	"github.com/keyprep/keyprep/internal/store"
)

func steps(rows ...[3]string) []store.Step {
	var out []store.Step
	for i, r := range rows {
		out = append(out, store.Step{Seq: int64(i + 1), Name: r[0], Phase: r[1], Data: json.RawMessage(r[2])})
	}
	return out
}

// TestHistory: what Resume believes about each step from the journal.
func TestHistory(t *testing.T) {
	h := loadHistory(steps(
		[3]string{"escrow", "begin", `{"kind":"age"}`},
		[3]string{"escrow", "done", `{"escrowId":"e1"}`},
		[3]string{"pin", "begin", `{"escrowId":"e1"}`},
		[3]string{"makecred", "begin", `{"attempt":1}`},
		[3]string{"makecred", "done", `{"credentialId":"AQ"}`},
		[3]string{"register", "begin", `{"displayName":"x"}`},
		[3]string{"makecred", "begin", `{"attempt":2}`}, // a retry after an expired challenge
		[3]string{"selftest", "failed", `{"error":"boom"}`},
		[3]string{"bogus", "done", `not json`},
	))
	tests := []struct {
		step       Step
		has, done  bool
		beginAfter bool // begun without a later done
	}{
		{StepEscrow, true, true, false},
		{StepPIN, true, false, true},
		{StepMakeCred, true, false, true}, // the later begin supersedes the earlier done
		{StepRegister, true, false, true},
		{StepSelfTest, false, false, false}, // a failure is neither begun nor done
		{StepForcePIN, false, false, false},
		{"bogus", true, true, false},
	}
	for _, tc := range tests {
		if got := h.has(tc.step); got != tc.has {
			t.Errorf("%s: has %v, want %v", tc.step, got, tc.has)
		}
		if _, got := doneData[store.EscrowDone](h, tc.step); got != tc.done {
			t.Errorf("%s: done %v, want %v", tc.step, got, tc.done)
		}
		if _, got := beginData[store.MakeCredBegin](h, tc.step); got != tc.beginAfter {
			t.Errorf("%s: begun-not-done %v, want %v", tc.step, got, tc.beginAfter)
		}
	}
	if d, _ := doneData[store.EscrowDone](h, StepEscrow); d.EscrowID != "e1" {
		t.Errorf("escrow done data %+v", d)
	}
	if d, _ := beginData[store.MakeCredBegin](h, StepMakeCred); d.Attempt != 2 {
		t.Errorf("makecred begin data %+v, want the retry's", d)
	}
	if d, ok := doneData[store.EscrowDone](h, "bogus"); !ok || d != (store.EscrowDone{}) {
		t.Errorf("undecodable done data: %+v, %v; want the zero value, done", d, ok)
	}
	var empty *history
	if empty.has(StepPIN) {
		t.Error("nil history has steps")
	}
}

func TestKeyRestrictions(t *testing.T) {
	const a = "65bc18f9-32a6-46a3-be99-a753dc433836"
	tests := []struct {
		kr   KeyRestrictions
		want bool
	}{
		{KeyRestrictions{}, true},
		{KeyRestrictions{Enforced: true, Allow: true, AAGUIDs: []string{"65BC18F9-32A6-46A3-BE99-A753DC433836"}}, true},
		{KeyRestrictions{Enforced: true, Allow: true, AAGUIDs: []string{"00000000-0000-0000-0000-000000000001"}}, false},
		{KeyRestrictions{Enforced: true, Allow: false, AAGUIDs: []string{a}}, false},
		{KeyRestrictions{Enforced: true, Allow: false}, true},
		{KeyRestrictions{Enforced: false, Allow: true}, true},
	}
	for i, tc := range tests {
		if got := tc.kr.Allows(a); got != tc.want {
			t.Errorf("%d: %+v Allows = %v, want %v", i, tc.kr, got, tc.want)
		}
	}
}

// FuzzLoadHistory: the journal's step rows, whatever they hold, never
// break Resume's reading of them.
func FuzzLoadHistory(f *testing.F) {
	f.Add("register", "begin", []byte(`{"displayName":"k 2026-11-22","credentialId":"AQID","started":"2026-11-22T08:00:00Z"}`))
	f.Add("makecred", "done", []byte(`{"credentialId":"AQID","publicKey":"pQECAyYgASFYIA"}`))
	f.Add("pin", "skipped", []byte(`null`))
	f.Add("x", "done", []byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, name, phase string, data []byte) {
		h := loadHistory([]store.Step{{Name: name, Phase: phase, Data: data}, {Name: name, Phase: "done", Data: data}})
		d, ok := doneData[store.MakeCredDone](h, Step(name))
		if !ok {
			t.Fatalf("done step lost: %+v", d)
		}
		_ = b64dec(d.CredentialID)
		_ = b64dec(d.PublicKey)
		b, _ := beginData[store.RegisterBegin](h, Step(name))
		_ = b.Started.IsZero()
	})
}
