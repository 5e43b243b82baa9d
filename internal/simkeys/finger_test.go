package simkeys

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyprep/keyprep/internal/softkey"
)

func TestParseFinger(t *testing.T) {
	G, P, T := softkey.FingerGood, softkey.FingerPoor, softkey.FingerTimeout
	for _, tc := range []struct {
		in   string
		want softkey.Finger
		bad  bool
	}{
		{in: "", want: softkey.Finger{}},
		{in: "good", want: softkey.Finger{Samples: []softkey.FingerSample{G}}},
		{in: " Poor , good ", want: softkey.Finger{Samples: []softkey.FingerSample{P, G}}},
		{in: "good,good,timeout", want: softkey.Finger{Samples: []softkey.FingerSample{G, G, T}}},
		{in: "timeout=2s", want: softkey.Finger{Samples: []softkey.FingerSample{T}, Delay: 2 * time.Second}},
		{in: "wet", bad: true},
		{in: "good=1s", bad: true},
		{in: "timeout=soon", bad: true},
		{in: "good,,poor", bad: true},
	} {
		got, err := ParseFinger(tc.in)
		if tc.bad {
			if err == nil || !strings.Contains(err.Error(), "want good, poor") && !strings.Contains(err.Error(), "duration") {
				t.Errorf("ParseFinger(%q) = %v, %v; want an error", tc.in, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseFinger(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseFinger(f *testing.F) {
	for _, s := range []string{"", "good", "poor,good", "timeout=1s", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseFinger(s)
		if err != nil {
			return
		}
		for _, x := range got.Samples {
			if x != softkey.FingerGood && x != softkey.FingerPoor && x != softkey.FingerTimeout {
				t.Fatalf("sample %v", x)
			}
		}
		if got.Delay < 0 {
			t.Fatal("negative delay")
		}
	})
}
