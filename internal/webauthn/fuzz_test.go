package webauthn

import (
	"bytes"
	"testing"
)

func FuzzParseCreationOptions(f *testing.F) {
	for _, name := range fixtures {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte(`{"value":{"publicKey":{"challenge":"AAAAAAAAAAAAAAAAAAAAAA","rp":{"id":"x"},"user":{"id":"AQ0","name":"n"},"excludeCredentials":[{"id":"AQ1"}]}}}`))
	f.Add([]byte(`{"publicKey":{"timeout":"1e3"}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		o, err := ParseCreationOptions(raw)
		if err != nil {
			if bytes.Contains([]byte(err.Error()), raw) && len(raw) > 80 {
				t.Fatalf("error echoes the payload")
			}
			return
		}
		cdj := ClientDataJSON(o)
		p, err := MakeCredentialParams(o, ClientDataHash(cdj), AllowRPID(o.RP.ID))
		if err == nil && len(p.Algorithms) == 0 {
			t.Fatal("params without algorithms")
		}
	})
}

func FuzzParseAuthData(f *testing.F) {
	cdh := make([]byte, 32)
	for _, mod := range []func(*regSpec){
		func(*regSpec) {},
		func(s *regSpec) { s.alg = AlgRS256 },
		func(s *regSpec) { s.flags &^= FlagED },
		func(s *regSpec) { s.flags &^= FlagAT | FlagED },
		func(s *regSpec) { s.ext = map[string]any{"credProtect": 3, "minPinLength": 4, "credBlob": false} },
	} {
		s := defaultSpec()
		mod(&s)
		ad, st := craft(f, s, cdh)
		f.Add(ad, st)
	}
	f.Fuzz(func(t *testing.T, ad, st []byte) {
		parsed, err := ParseAuthData(ad)
		if err == nil && parsed.Flags.AT() && parsed.PublicKey == nil {
			t.Fatal("AT without public key")
		}
		req := testRequest(cdh)
		_ = CheckRegistration(req, cdh, "packed", ad, st)
		_ = CheckRegistration(req, cdh, "none", ad, st)
		if obj, err := AttestationObject("packed", ad, st); err == nil && len(obj) < len(ad) {
			t.Fatal("attestation object shorter than authData")
		}
	})
}
