package ctaphid

import "testing"

func TestParseFaults(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Faults
	}{
		{"", Faults{}},
		{"none", Faults{}},
		{"wrong-continuation-seq", Faults{WrongContinuationSeq: true}},
		{" Drop-Continuation , wrong-init-nonce", Faults{DropContinuation: true, WrongInitNonce: true}},
		{"wrong-continuation-seq,drop-continuation,wrong-init-nonce", Faults{true, true, true}},
	} {
		got, err := ParseFaults(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseFaults(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.Any() != (tc.want != Faults{}) {
			t.Errorf("ParseFaults(%q).Any() = %v", tc.in, got.Any())
		}
	}
	for _, bad := range []string{"wrong-seq", "wrong-continuation-seq,bogus"} {
		if _, err := ParseFaults(bad); err == nil {
			t.Errorf("ParseFaults(%q): no error", bad)
		}
	}
}
