package enroll_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/enroll"
	"github.com/keyprep/keyprep/internal/enroll/enrolltest"
	"github.com/keyprep/keyprep/internal/keycaps"
	"github.com/keyprep/keyprep/internal/pin"
	"github.com/keyprep/keyprep/internal/store"
)

// Key models as getInfo declares them (docs/ctap.md): the workflow asks
// each only for what it lists and refuses, before any side effect, what it
// cannot take.

// ctap20 is a minimal CTAP 2.0 key like the one of issue 15: PIN protocol
// 1, credentialMgmtPreview, credProtect listed but hmac-secret not.
func ctap20() *keycaps.GetInfo {
	return &keycaps.GetInfo{Versions: []string{"FIDO_2_0", "FIDO_2_1_PRE"}, Extensions: []string{"credProtect"},
		AAGUID: "11111111-2222-3333-4444-555555555555", PINUVAuthProtocols: []int{1},
		Options: map[string]bool{"rk": true, "up": true, "clientPin": false, "credentialMgmtPreview": true}}
}

// titan is modeled on the Titan v2 metadata: CTAP 2.0 only, no credential
// management at all.
func titan() *keycaps.GetInfo {
	return &keycaps.GetInfo{Versions: []string{"FIDO_2_0", "U2F_V2"}, Extensions: []string{"hmac-secret"},
		AAGUID: "42b4fb4a-2866-43b2-9bf7-6c6669c2e5d3", PINUVAuthProtocols: []int{1},
		Options: map[string]bool{"rk": true, "clientPin": false}, MaxMsgSize: 2200}
}

// pinPlus is modeled on the Token2 PIN+ metadata (its own PIN rules).
func pinPlus() *keycaps.GetInfo {
	n := 50
	return &keycaps.GetInfo{Versions: []string{"FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"},
		Extensions: []string{"credBlob", "credProtect", "hmac-secret", "largeBlobKey", "minPinLength"},
		AAGUID:     "eabb46cc-e241-80bf-ae9e-96fa6d2975cf", PINUVAuthProtocols: []int{2, 1},
		Options: map[string]bool{"rk": true, "up": true, "clientPin": false, "pinUvAuthToken": true, "authnrCfg": true,
			"credMgmt": true, "credentialMgmtPreview": true, "setMinPINLength": true, "makeCredUvNotRqd": true, "alwaysUv": false},
		MinPINLength: 6, FirmwareVersion: 1, MaxRPIDsForSetMinPIN: 6, RemainingDiscoverableCredentials: &n}
}

// token2Refuses is the PIN+ numeric rules as the key applies them.
func token2Refuses(p string) bool {
	digits := strings.Trim(p, "0123456789") == ""
	if !digits {
		return len(p) < 10
	}
	if len(p) < 6 {
		return true
	}
	rev := []rune(p)
	pal := true
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		pal = pal && rev[i] == rev[j]
	}
	step, arith := (int(p[1])-int(p[0])+10)%10, true
	run, longest := 1, 1
	for i := 1; i < len(p); i++ {
		arith = arith && (int(p[i])-int(p[i-1])+10)%10 == step
		if p[i] == p[i-1] {
			run++
		} else {
			run = 1
		}
		longest = max(longest, run)
	}
	return pal || arith || longest > 3
}

type eventLog struct {
	mu sync.Mutex
	ev []enroll.Event
}

func (l *eventLog) add(e enroll.Event) { l.mu.Lock(); l.ev = append(l.ev, e); l.mu.Unlock() }

func (l *eventLog) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if strings.Contains(e.Message, sub) {
			return true
		}
	}
	return false
}

func journal(v *env, jobID, step, phase string) []store.Step {
	v.t.Helper()
	steps, err := v.st.Steps(v.ctx, jobID)
	if err != nil {
		v.t.Fatal(err)
	}
	var out []store.Step
	for _, s := range steps {
		if s.Name == step && (phase == "" || s.Phase == phase) {
			out = append(out, s)
		}
	}
	return out
}

func TestKeyModels(t *testing.T) {
	enforced := func(level string) map[string]any {
		return map[string]any{"credentialProtectionPolicy": level, "enforceCredentialProtectionPolicy": true, "hmacCreateSecret": true}
	}
	cases := []struct {
		name    string
		key     enrolltest.KeyConfig
		prepare func(v *env)
		req     enroll.Request
		err     error
		msg     string // in the error's message
		// untouched: refused before any side effect (no PIN, no passkey,
		// no escrow, retries unchanged).
		untouched bool
		check     func(t *testing.T, v *env, res *enroll.Result, err error)
	}{
		{name: "CTAP 2.0 key: credProtect 1 not echoed, hmac-secret not listed",
			key: enrolltest.KeyConfig{Profile: ctap20(), NoCredProtectEcho: true},
			check: func(t *testing.T, v *env, res *enroll.Result, _ error) {
				if n := len(v.key.State().Credentials); n != 1 {
					t.Errorf("%d passkeys on the key, want 1", n)
				}
			}},
		{name: "CTAP 2.0 key: enforced credProtect 1 not echoed is the baseline",
			key:     enrolltest.KeyConfig{Profile: ctap20(), NoCredProtectEcho: true},
			prepare: func(v *env) { v.dir.SetExtensions(enforced("userVerificationOptional")) }},
		{name: "key without credProtect: enforced level 2 refused before the touch",
			key:     enrolltest.KeyConfig{Profile: titan()},
			prepare: func(v *env) { v.dir.SetExtensions(enforced("userVerificationOptionalWithCredentialIdList")) },
			err:     enroll.ErrUnsupportedSetting, msg: "does not list credProtect",
			check: func(t *testing.T, v *env, _ *enroll.Result, _ error) {
				if n := v.key.Calls(enrolltest.OpMakeCredential); n != 0 {
					t.Errorf("%d makeCredential calls", n)
				}
			}},
		{name: "--min-pin-length without authenticatorConfig refused at inspect",
			key: enrolltest.KeyConfig{Profile: ctap20()}, req: enroll.Request{MinPINLength: 8},
			err: enroll.ErrUnsupportedSetting, msg: "this key has no authenticatorConfig (CTAP 2.1 §6.11): --min-pin-length cannot be applied", untouched: true},
		{name: "--force-pin-change without authenticatorConfig refused at inspect",
			key: enrolltest.KeyConfig{Profile: titan()}, req: enroll.Request{ForcePINChange: true},
			err: hid.ErrUnsupported, msg: "--force-pin-change cannot be applied", untouched: true},
		{name: "--always-uv without authenticatorConfig refused at inspect",
			key: enrolltest.KeyConfig{Profile: titan()}, req: enroll.Request{AlwaysUV: true},
			err: enroll.ErrUnsupportedSetting, msg: "--always-uv", untouched: true},
		{name: "--skip-unsupported: enrolled, the settings skipped and recorded",
			key: enrolltest.KeyConfig{Profile: ctap20()},
			req: enroll.Request{MinPINLength: 8, ForcePINChange: true, SkipUnsupported: true},
			check: func(t *testing.T, v *env, res *enroll.Result, _ error) {
				if len(res.Skipped) != 2 || !strings.HasPrefix(res.Skipped[0], "--min-pin-length: this key has no authenticatorConfig") || res.ForcePINChange {
					t.Errorf("skipped %q, force change %v", res.Skipped, res.ForcePINChange)
				}
				if s := v.key.State(); s.ForcePINChange || s.MinPINLength != 4 {
					t.Errorf("a skipped setting was applied: %+v", s)
				}
				rows := journal(v, res.JobID, string(enroll.StepInspect), store.PhaseDone)
				if len(rows) != 1 || !strings.Contains(string(rows[0].Data), "--min-pin-length") {
					t.Errorf("inspect journal %v does not record the skipped settings", rows)
				}
			}},
		{name: "--always-uv on a key with authenticatorConfig",
			key: enrolltest.KeyConfig{Profile: pinPlus()}, req: enroll.Request{AlwaysUV: true},
			check: func(t *testing.T, v *env, res *enroll.Result, _ error) {
				if !v.key.AlwaysUV() || v.key.Calls(enrolltest.OpToggleAlwaysUV) != 1 {
					t.Errorf("alwaysUv %v after %d toggles", v.key.AlwaysUV(), v.key.Calls(enrolltest.OpToggleAlwaysUV))
				}
			}},
		{name: "no credential management: the refused passkey is journaled as orphaned",
			key:     enrolltest.KeyConfig{Profile: titan(), Attestation: enrolltest.AttestSelf},
			prepare: func(v *env) { v.dir.SetPolicy(enroll.Eligibility{Allowed: true, AttestationEnforced: true}) },
			err:     enroll.ErrAttestation,
			check: func(t *testing.T, v *env, _ *enroll.Result, err error) {
				var ee *enroll.Error
				creds := v.key.State().Credentials
				if !errors.As(err, &ee) || len(ee.Orphans) != 1 || len(creds) != 1 || b64(creds[0].ID) != ee.Orphans[0] {
					t.Fatalf("orphans %v, hint %q, %d passkeys on the key", ee.Orphans, ee.Hint, len(creds))
				}
				rows := journal(v, ee.JobID, string(enroll.StepCleanup), store.PhaseDone)
				if len(rows) != 1 || !strings.Contains(string(rows[0].Data), `"orphaned":true`) || !strings.Contains(string(rows[0].Data), ee.Orphans[0]) {
					t.Errorf("cleanup journal %v", rows)
				}
			}},
		{name: "credential management preview only: the refused passkey is deleted",
			key:     enrolltest.KeyConfig{Profile: ctap20(), Attestation: enrolltest.AttestSelf},
			prepare: func(v *env) { v.dir.SetPolicy(enroll.Eligibility{Allowed: true, AttestationEnforced: true}) },
			err:     enroll.ErrAttestation,
			check: func(t *testing.T, v *env, _ *enroll.Result, err error) {
				var ee *enroll.Error
				if n := len(v.key.State().Credentials); n != 0 || !errors.As(err, &ee) || len(ee.Orphans) != 0 {
					t.Errorf("%d passkeys left on the key, orphans %v", n, ee.Orphans)
				}
			}},
		{name: "key's own PIN rules known: the generated PIN passes them first time",
			key: enrolltest.KeyConfig{Profile: pinPlus(), RefusePIN: token2Refuses},
			check: func(t *testing.T, v *env, res *enroll.Result, _ error) {
				if n := v.key.Calls(enrolltest.OpSetPIN); n != 1 {
					t.Errorf("%d setPIN calls", n)
				}
			}},
		{name: "key refuses a generated PIN: another, escrowed first",
			key: enrolltest.KeyConfig{Profile: ctap20(), RefusePIN: refuseFirst()},
			check: func(t *testing.T, v *env, res *enroll.Result, _ error) {
				if n := v.key.Calls(enrolltest.OpSetPIN); n != 2 {
					t.Errorf("%d setPIN calls, want 2", n)
				}
				if sup := v.escrows(store.EscrowSuperseded); len(sup) != 1 {
					t.Errorf("%d superseded escrows, want 1", len(sup))
				}
				if s := v.key.State(); s.Retries != 8 || v.openEscrow(res.PINEscrow.ID) != s.PIN {
					t.Errorf("retries %d; the result's escrow holds the key's PIN: %v", s.Retries, v.openEscrow(res.PINEscrow.ID) == s.PIN)
				}
			}},
		{name: "key refuses the operator's PIN: stopped, nothing changed",
			key:     enrolltest.KeyConfig{Profile: ctap20(), RefusePIN: func(string) bool { return true }},
			prepare: func(v *env) { v.pins.QueueNew("27495813") },
			req:     enroll.Request{PINMode: enroll.PINOperator},
			err:     enroll.ErrKeyPINRules, msg: "nothing was changed",
			check: func(t *testing.T, v *env, _ *enroll.Result, _ error) {
				if s := v.key.State(); s.PIN != "" || len(v.escrows(store.EscrowPending, store.EscrowApplied)) != 0 {
					t.Errorf("PIN %q set or escrow live after the key refused it", s.PIN)
				}
			}},
		{name: "operator's PIN breaking the model's known rules refused before setPIN",
			key:     enrolltest.KeyConfig{Profile: pinPlus(), RefusePIN: token2Refuses},
			prepare: func(v *env) { v.pins.QueueNew("2749472") }, // a palindrome
			req:     enroll.Request{PINMode: enroll.PINOperator},
			err:     pin.RulePalindrome, untouched: true},
		{name: "reset window passed: the replug instruction",
			key: enrolltest.KeyConfig{ResetWindowPassed: true},
			req: enroll.Request{Reset: true},
			err: enroll.ErrResetWindow,
			check: func(t *testing.T, v *env, _ *enroll.Result, err error) {
				var ee *enroll.Error
				if !errors.As(err, &ee) || !strings.Contains(ee.Hint, "unplug the key, plug it back in and run again within 10 seconds") {
					t.Errorf("hint %q", ee.Hint)
				}
			}},
		{name: "reset first on a key that takes a reset only as the first command (OpenSK)",
			key: enrolltest.KeyConfig{ResetOnlyFirst: true},
			prepare: func(v *env) {
				v.key.Edit(func(s *enrolltest.KeyState) { s.PIN, s.Retries = "48213957", 8; s.ForcePINChange = true })
			},
			req: enroll.Request{Reset: true},
			check: func(t *testing.T, v *env, res *enroll.Result, _ error) {
				if n := v.key.Calls(enrolltest.OpPINRetries); n != 0 {
					t.Errorf("%d getRetries before the reset: a clientPIN command voids the reset on such keys", n)
				}
				if !res.Verified || v.key.State().PIN == "48213957" {
					t.Errorf("verified %v; the key still has its old PIN", res.Verified)
				}
			}},
		{name: "{serial} without a serial refused up front",
			req: enroll.Request{DisplayNameTemplate: "{model} {serial}"},
			err: enroll.ErrNoSerial, msg: "{serial}", untouched: true},
		{name: "{serial} with the key's serial",
			key: enrolltest.KeyConfig{Profile: ctap20(), Serial: "SN-0042"},
			req: enroll.Request{DisplayNameTemplate: "{model} {serial}"},
			check: func(t *testing.T, v *env, res *enroll.Result, _ error) {
				if !strings.Contains(res.DisplayName, "SN-0042") || res.Serial != "SN-0042" {
					t.Errorf("display name %q, serial %q", res.DisplayName, res.Serial)
				}
				j, err := v.st.Job(v.ctx, res.JobID)
				rs, _ := v.st.Results(v.ctx, store.ResultFilter{Serial: "SN-0042"})
				if err != nil || j.Serial != "SN-0042" || j.CredentialID != res.CredentialID || j.Model == "" || len(rs) != 1 {
					t.Errorf("job %+v (%v), %d results by serial", j, err, len(rs))
				}
			}},
		{name: "PIN protocol 1 only, no pinUvAuthToken",
			key: enrolltest.KeyConfig{Profile: titan()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, tc.key)
			if tc.prepare != nil {
				tc.prepare(v)
			}
			res, err := v.enroll(adele, tc.req)
			wantErr(t, err, tc.err)
			if tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
				t.Errorf("error %v, want it to say %q", err, tc.msg)
			}
			if tc.untouched {
				s := v.key.State()
				if n := v.key.Calls(enrolltest.OpSetPIN) + v.key.Calls(enrolltest.OpMakeCredential); n != 0 || s.PIN != "" ||
					len(s.Credentials) != 0 || len(v.escrows()) != 0 || s.Retries != 8 {
					t.Errorf("a refused key was changed: %d calls, PIN set %v, %d passkeys, %d escrows, retries %d",
						n, s.PIN != "", len(s.Credentials), len(v.escrows()), s.Retries)
				}
			}
			if tc.check != nil {
				tc.check(t, v, res, err)
			}
			if err == nil {
				v.finished(adele)
			} else {
				v.invariants()
			}
		})
	}
}

// refuseFirst refuses the first PIN it sees (a key whose complexity rules
// keyprep does not know).
func refuseFirst() func(string) bool {
	var mu sync.Mutex
	n := 0
	return func(string) bool {
		mu.Lock()
		defer mu.Unlock()
		n++
		return n == 1
	}
}

// A key recorded for another user is recognised at inspect, by its serial
// number and by the passkeys it holds, without spending a PIN retry.
func TestKeyRecognised(t *testing.T) {
	v := newEnv(t, enrolltest.KeyConfig{Serial: "SN-7"})
	first, err := v.enroll(alex, enroll.Request{})
	if err != nil {
		t.Fatal(err)
	}
	var log eventLog
	v.e = v.enroller()
	v.e.Events = log.add
	res, err := v.enroll(adele, enroll.Request{SharedKeyOK: true})
	if err != nil {
		t.Fatal(err)
	}
	if !log.has("this key was enrolled for " + alex) {
		t.Errorf("no event names the earlier user; events %+v", log.ev)
	}
	rows := journal(v, res.JobID, string(enroll.StepInspect), store.PhaseInfo)
	found := false
	for _, r := range rows {
		found = found || strings.Contains(string(r.Data), first.JobID)
	}
	if !found {
		t.Errorf("the journal does not note job %s: %v", first.JobID, rows)
	}
	if s := v.key.State(); s.Retries != 8 {
		t.Errorf("retries %d", s.Retries)
	}
	v.finished(adele)
}

// Resume removes, with the PIN the job set, a passkey an earlier attempt
// could not delete.
func TestResumeRemovesOrphan(t *testing.T) {
	v := newEnv(t, enrolltest.KeyConfig{Profile: ctap20(), Attestation: enrolltest.AttestSelf})
	v.dir.SetPolicy(enroll.Eligibility{Allowed: true, AttestationEnforced: true})
	v.key.FailCall(enrolltest.OpDeleteCredential, 1, enrolltest.Err(enrolltest.OpDeleteCredential, hid.CodeTX))
	_, err := v.enroll(adele, enroll.Request{})
	var ee *enroll.Error
	if !errors.As(err, &ee) || len(ee.Orphans) != 1 || len(v.key.State().Credentials) != 1 {
		t.Fatalf("first attempt: %v, orphans %v", err, ee)
	}
	v.dir.SetPolicy(enroll.Eligibility{Allowed: true})
	j, err := v.st.Job(v.ctx, ee.JobID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.enroller().Resume(v.ctx, v.key, j)
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	creds := v.key.State().Credentials
	orphan, _ := base64.RawURLEncoding.DecodeString(ee.Orphans[0])
	if len(creds) != 1 || string(creds[0].ID) == string(orphan) || res.CredentialID == ee.Orphans[0] {
		t.Errorf("the orphan is still on the key (%d passkeys)", len(creds))
	}
	// Removed by resume itself (before the new passkey), journaled so.
	rows := journal(v, j.ID, string(enroll.StepCleanup), store.PhaseDone)
	if len(rows) != 2 || strings.Contains(string(rows[1].Data), "orphaned") || !strings.Contains(string(rows[1].Data), ee.Orphans[0]) ||
		v.key.Calls(enrolltest.OpDeleteCredential) != 2 {
		t.Errorf("cleanup journal %v, %d deletions", rows, v.key.Calls(enrolltest.OpDeleteCredential))
	}
	v.finished(adele)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// zeroAAGUIDKey is a key without a model identity (all-zero AAGUID in
// getInfo), as uncertified keys report.
type zeroAAGUIDKey struct{ *enrolltest.Key }

func (k zeroAAGUIDKey) Info(ctx context.Context) (*hid.Info, error) {
	info, err := k.Key.Info(ctx)
	if err == nil {
		info.AAGUID = [16]byte{}
	}
	return info, err
}

// A refusal caused by a passkey profile names the profile in its message
// and gives the command that changes that profile (issue 15); without
// passkey profiles the policy-wide wording stays.
func TestProfileRefusals(t *testing.T) {
	const def = "Default passkey profile"
	model := strings.ToLower(uuidString(enrolltest.DefaultAAGUID))
	allow := []enroll.KeyRestrictions{{Enforced: true, Allow: true, AAGUIDs: []string{"00000000-0000-0000-0000-0000000000aa"}}}
	block := []enroll.KeyRestrictions{{Enforced: true, Allow: false, AAGUIDs: []string{model}}}
	cases := []struct {
		name     string
		key      enrolltest.KeyConfig
		zero     bool // the key reports the zero AAGUID
		elig     enroll.Eligibility
		err      error
		msg      string
		hint     string
		touched  bool // the refusal comes after the passkey was made
		notInMsg string
	}{
		{name: "allow list of one profile",
			elig: enroll.Eligibility{Allowed: true, Profile: "Admins", Restrictions: allow}, err: enroll.ErrKeyModel,
			msg:  `the key model Security key (AAGUID ` + model + `) is not on the allow list of passkey profile "Admins" (Passkey (FIDO2) policy) for ` + adele,
			hint: `use a key model the profile allows, or add it: keyprep policy set fido2 --profile "Admins" --add-aaguid ` + model},
		{name: "block list of one profile",
			elig: enroll.Eligibility{Allowed: true, Profile: def, Restrictions: block}, err: enroll.ErrKeyModel,
			msg:  `is on the block list of passkey profile "Default passkey profile" (Passkey (FIDO2) policy)`,
			hint: `keyprep policy set fido2 --profile "Default passkey profile" --remove-aaguid ` + model},
		{name: "key restrictions of several profiles",
			elig: enroll.Eligibility{Allowed: true, Profile: `"Admins", "Default passkey profile"`, Restrictions: allow}, err: enroll.ErrKeyModel,
			msg:  `is not on the allow list of passkey profiles "Admins", "Default passkey profile" (Passkey (FIDO2) policy)`,
			hint: `keyprep policy check --user ` + adele + ` --aaguid ` + model + ` names the profile that refuses it and the command`},
		{name: "key restrictions without passkey profiles",
			elig: enroll.Eligibility{Allowed: true, Restrictions: block}, err: enroll.ErrKeyModel,
			msg: "is on the block list of the Passkey (FIDO2) policy", hint: "keyprep policy show fido2", notInMsg: "passkey profile"},
		{name: "zero AAGUID under a profile's enforcement",
			zero: true, elig: enroll.Eligibility{Allowed: true, Profile: def, AttestationEnforced: true}, err: enroll.ErrAttestation,
			msg:  `attestation is enforced by passkey profile "Default passkey profile" and fake:0 has no model identity (zero AAGUID)`,
			hint: `use a certified key model, or turn the profile's attestation enforcement off: keyprep policy set fido2 --profile "Default passkey profile" --enforce-attestation off`},
		{name: "self attestation under a profile's enforcement",
			key:  enrolltest.KeyConfig{Attestation: enrolltest.AttestSelf},
			elig: enroll.Eligibility{Allowed: true, Profile: def, AttestationEnforced: true}, err: enroll.ErrAttestation, touched: true,
			msg:  `attestation is enforced by passkey profile "Default passkey profile" and fake:0 attests itself without a certificate`,
			hint: `keyprep policy set fido2 --profile "Default passkey profile" --enforce-attestation off`},
		{name: "self attestation under several profiles",
			key:  enrolltest.KeyConfig{Attestation: enrolltest.AttestSelf},
			elig: enroll.Eligibility{Allowed: true, Profile: `"A", "B"`, AttestationEnforced: true}, err: enroll.ErrAttestation, touched: true,
			msg:  `attestation is enforced by passkey profiles "A", "B" and fake:0 attests itself`,
			hint: `--aaguid ` + model + ` --self-attesting names the profiles`},
		{name: "self attestation without passkey profiles",
			key:  enrolltest.KeyConfig{Attestation: enrolltest.AttestSelf},
			elig: enroll.Eligibility{Allowed: true, AttestationEnforced: true}, err: enroll.ErrAttestation, touched: true,
			msg: "attestation is enforced and fake:0 attests itself without a certificate", hint: "keyprep policy set fido2 --enforce-attestation off"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newEnv(t, tc.key)
			v.dir.SetPolicy(tc.elig)
			var dev enroll.Device = v.key
			if tc.zero {
				dev = zeroAAGUIDKey{v.key}
			}
			_, _, err := v.e.Enroll(v.ctx, dev, enroll.Request{UPN: adele})
			wantErr(t, err, tc.err)
			var ee *enroll.Error
			if !errors.As(err, &ee) {
				t.Fatalf("error %T %v", err, err)
			}
			if !strings.Contains(ee.Msg, tc.msg) || (tc.notInMsg != "" && strings.Contains(ee.Msg, tc.notInMsg)) {
				t.Errorf("message %q, want %q", ee.Msg, tc.msg)
			}
			if !strings.Contains(ee.Hint, tc.hint) {
				t.Errorf("hint %q, want %q", ee.Hint, tc.hint)
			}
			if made := v.key.Calls(enrolltest.OpMakeCredential) > 0; made != tc.touched {
				t.Errorf("makeCredential called %v, want %v", made, tc.touched)
			}
			v.invariants()
		})
	}
}
