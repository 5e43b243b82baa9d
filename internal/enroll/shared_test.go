package enroll_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
)

// TestSharedKey: a second user on a key that holds another user's passkey
// is added only when allowed (the request) or confirmed (the operator),
// with the notice; otherwise nothing changes and no job is left.
func TestSharedKey(t *testing.T) {
	tests := []struct {
		name    string
		req     enroll.Request
		answer  *bool // ConfirmShared's answer; nil: no ConfirmShared
		err     error
		asked   bool
		again   bool // enroll alex (already on the key) instead of adele
		noticed bool
	}{
		{name: "no one to ask", err: enroll.ErrSharedKey},
		{name: "declined", answer: ptr(false), err: enroll.ErrSharedKey, asked: true},
		{name: "confirmed", answer: ptr(true), asked: true, noticed: true},
		{name: "allowed by the request", req: enroll.Request{SharedKeyOK: true}, answer: ptr(false), noticed: true},
		{name: "the same user again is not sharing", answer: ptr(true), again: true, err: enroll.ErrExcluded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newEnv(t, enrolltest.KeyConfig{})
			if _, err := v.enroll(alex, enroll.Request{}); err != nil {
				t.Fatal(err)
			}
			var log eventLog
			v.e = v.enroller()
			v.e.Events = log.add
			var asked []enroll.SharedKey
			if tt.answer != nil {
				v.e.ConfirmShared = func(_ context.Context, s enroll.SharedKey) (bool, error) {
					asked = append(asked, s)
					return *tt.answer, nil
				}
			}
			upn := adele
			if tt.again {
				upn = alex
			}
			jobsBefore := len(v.jobs())
			_, err := v.enroll(upn, tt.req)
			if !errors.Is(err, tt.err) && !(err == nil && tt.err == nil) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if (len(asked) > 0) != tt.asked {
				t.Fatalf("asked %v, want asked %v", asked, tt.asked)
			}
			if tt.asked && (asked[0].UPN != adele || !slices.Equal(asked[0].Users, []string{alex}) || asked[0].Key != "fake:0") {
				t.Errorf("asked about %+v", asked[0])
			}
			notice := "Adding " + adele + " shares the key's PIN"
			if got := log.has(notice) && log.has("Windows sign-in with this key uses the last account added"); got != tt.noticed {
				t.Errorf("notice given %v, want %v", got, tt.noticed)
			}
			if errors.Is(err, enroll.ErrSharedKey) {
				if !strings.Contains(err.Error(), notice) {
					t.Errorf("refusal %q does not say what sharing means", err)
				}
				if n := v.key.Calls(enrolltest.OpMakeCredential); n != 1 {
					t.Errorf("%d makeCredential calls: the key was changed for a refused user", n)
				}
				if n := len(v.jobs()); n != jobsBefore {
					t.Errorf("%d jobs after the refusal, want %d (none added)", n, jobsBefore)
				}
			}
			if err == nil {
				v.finished(adele)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// prompter is a PINPrompter: it records the rules and refusals it is told.
type prompter struct {
	*enrolltest.PINs
	rules   []string
	refused []string
	again   bool
}

func (p *prompter) NewPINRules(_ string, rules []string) {
	if p.PINs.Asked() != 0 {
		panic("rules told after a PIN was asked")
	}
	p.rules = rules
}

func (p *prompter) PINRefused(_ string, why string, left int) bool {
	p.refused = append(p.refused, why)
	return p.again
}

// TestOperatorPINAskedAgain: the person choosing a PIN is told the rules
// first; a PIN the policy or the key refuses is asked again (3 PINs in all)
// when the source can ask; the PIN typed is never in the result.
func TestOperatorPINAskedAgain(t *testing.T) {
	tests := []struct {
		name    string
		key     enrolltest.KeyConfig
		pins    []string
		again   bool
		err     error
		refused int
		onKey   string
	}{
		{name: "policy refusal, then a good PIN", pins: []string{"123456", "24681357"}, again: true, refused: 1, onKey: "24681357"},
		{name: "three refusals", pins: []string{"123456", "1111", "000000", "24681357"}, again: true, err: pin.RuleRepeat, refused: 2},
		{name: "a source that cannot ask again", pins: []string{"123456", "24681357"}, err: pin.RuleSequence, refused: 1},
		{name: "the key refuses, then a good PIN", key: enrolltest.KeyConfig{RefusePIN: func(p string) bool { return p == "97531864" }},
			pins: []string{"97531864", "24681357"}, again: true, refused: 1, onKey: "24681357"},
		{name: "the key refuses and no one can be asked", key: enrolltest.KeyConfig{RefusePIN: func(p string) bool { return p == "97531864" }},
			pins: []string{"97531864", "24681357"}, err: enroll.ErrKeyPINRules, refused: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newEnv(t, tt.key)
			pr := &prompter{PINs: v.pins, again: tt.again}
			v.pins.QueueNew(tt.pins...)
			v.e.PINs = pr
			req := enroll.Request{UPN: adele, PINMode: enroll.PINOperator}
			res, _, err := v.e.Enroll(v.ctx, v.key, req)
			if !errors.Is(err, tt.err) && !(err == nil && tt.err == nil) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if len(pr.rules) == 0 || !strings.Contains(pr.rules[0], "at least 6 digits") {
				t.Errorf("rules told: %q", pr.rules)
			}
			if len(pr.refused) != tt.refused {
				t.Errorf("refusals told %q, want %d", pr.refused, tt.refused)
			}
			if got := v.key.State().PIN; got != tt.onKey {
				t.Errorf("the key's PIN is %q, want %q", got, tt.onKey)
			}
			if res != nil {
				if res.PIN != nil {
					t.Error("the result carries the PIN the person typed")
				}
				if v.openEscrow(res.PINEscrow.ID) != tt.onKey {
					t.Error("the escrow does not hold the PIN on the key")
				}
				if n := len(v.escrows(store.EscrowApplied)); n != 1 {
					t.Errorf("%d applied escrows", n)
				}
			}
		})
	}
}
