package softkey

import (
	"crypto/sha256"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestCredentialManagement(t *testing.T) {
	for _, cmd := range []byte{CmdCredentialManagement, CmdCredentialMgmtPreview} {
		a, _ := newKey(t, Config{ResidentCapacity: 10})
		c := newClient(t, a, 2)
		c.setPIN("1234")
		for _, u := range []struct{ rp, user string }{{"a.example", "u1"}, {"a.example", "u2"}, {"b.example", "u3"}} {
			tok, _ := c.token("1234", PermMakeCredential, u.rp)
			if st, _ := c.makeCred(mcReq{rpID: u.rp, rk: true, token: tok, userID: []byte(u.user), userName: u.user}); st != StatusOK {
				t.Fatal(st)
			}
		}
		cm := func(tok []byte, sub byte, sp map[int]any) (Status, map[int]cbor.RawMessage) {
			req := map[int]any{1: sub}
			msg := []byte{sub}
			if sp != nil {
				b, _ := encMode.Marshal(sp)
				req[2] = cbor.RawMessage(b)
				msg = append(msg, b...)
			}
			if tok != nil {
				req[3] = 2
				req[4] = c.authParam(tok, msg)
			}
			return c.do(cmd, req)
		}
		st, _ := cm(nil, 1, nil)
		wantStatus(t, "no auth", st, StatusPUATRequired)
		mcTok, _ := c.token("1234", PermMakeCredential, "a.example")
		st, _ = cm(mcTok, 1, nil)
		wantStatus(t, "without cm permission", st, StatusPINAuthInvalid)
		tok, _ := c.token("1234", PermCredentialMgmt, "")
		st, m := cm(tok, 1, nil)
		wantStatus(t, "metadata", st, StatusOK)
		var n, rem int
		cbor.Unmarshal(m[1], &n)
		cbor.Unmarshal(m[2], &rem)
		if n != 3 || rem != 7 {
			t.Fatalf("metadata %d %d", n, rem)
		}
		st, m = cm(tok, 2, nil)
		wantStatus(t, "enumerateRPsBegin", st, StatusOK)
		var total int
		var rp map[string]any
		cbor.Unmarshal(m[5], &total)
		cbor.Unmarshal(m[3], &rp)
		if total != 2 || rp["id"] != "a.example" {
			t.Fatalf("rps %d %v", total, rp)
		}
		st, m = cm(nil, 3, nil)
		wantStatus(t, "enumerateRPsGetNextRP", st, StatusOK)
		cbor.Unmarshal(m[3], &rp)
		if rp["id"] != "b.example" {
			t.Fatalf("rp %v", rp)
		}
		st, _ = cm(nil, 3, nil)
		wantStatus(t, "no more RPs", st, StatusNotAllowed)

		hash := sha256.Sum256([]byte("a.example"))
		st, m = cm(tok, 4, map[int]any{1: hash[:]})
		wantStatus(t, "enumerateCredentialsBegin", st, StatusOK)
		cbor.Unmarshal(m[9], &total)
		var user map[string]any
		var cred map[string]any
		cbor.Unmarshal(m[6], &user)
		cbor.Unmarshal(m[7], &cred)
		if total != 2 || user["name"] != "u1" {
			t.Fatalf("creds %d %v", total, user)
		}
		st, m = cm(nil, 5, nil)
		wantStatus(t, "enumerateCredentialsGetNextCredential", st, StatusOK)
		var cred2 map[string]any
		cbor.Unmarshal(m[7], &cred2)

		// Update then delete the first credential.
		st, _ = cm(tok, 7, map[int]any{2: cred, 3: map[string]any{"id": []byte("u1"), "name": "renamed"}})
		wantStatus(t, "updateUserInformation", st, StatusOK)
		st, _ = cm(tok, 7, map[int]any{2: cred, 3: map[string]any{"id": []byte("xx"), "name": "renamed"}})
		wantStatus(t, "update with other user id", st, StatusInvalidParameter)
		st, m = cm(tok, 4, map[int]any{1: hash[:]})
		wantStatus(t, "enumerate again", st, StatusOK)
		cbor.Unmarshal(m[6], &user)
		if user["name"] != "renamed" {
			t.Fatalf("user %v", user)
		}
		st, _ = cm(tok, 6, map[int]any{2: cred})
		wantStatus(t, "deleteCredential", st, StatusOK)
		st, _ = cm(tok, 6, map[int]any{2: cred})
		wantStatus(t, "delete again", st, StatusNoCredentials)
		st, _ = c.getAssertion("a.example", [][]byte{cred["id"].([]byte)}, nil, nil)
		wantStatus(t, "deleted credential", st, StatusNoCredentials)
		st, _ = c.getAssertion("a.example", [][]byte{cred2["id"].([]byte)}, nil, nil)
		wantStatus(t, "other credential", st, StatusOK)
		if a.Status().ResidentCount != 2 {
			t.Fatal("count")
		}
		none := sha256.Sum256([]byte("none.example"))
		st, _ = cm(tok, 4, map[int]any{1: none[:]})
		wantStatus(t, "unknown RP", st, StatusNoCredentials)
		st, _ = cm(tok, 4, nil)
		wantStatus(t, "missing rpIDHash", st, StatusMissingParameter)
		st, _ = cm(tok, 0x20, nil)
		wantStatus(t, "unknown subcommand", st, StatusInvalidSubcommand)
		// An RP-bound token cannot enumerate RPs.
		tok, _ = c.token("1234", PermCredentialMgmt, "b.example")
		st, _ = cm(tok, 2, nil)
		wantStatus(t, "rp-bound token enumerating RPs", st, StatusPINAuthInvalid)
		st, _ = cm(tok, 4, map[int]any{1: hash[:]})
		wantStatus(t, "rp-bound token, other RP", st, StatusPINAuthInvalid)
	}
}
