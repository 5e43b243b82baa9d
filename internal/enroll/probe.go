package enroll

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/keyprep/keyprep/hid"
)

// Asserter is what HoldsCredential needs of a key; every Device is one.
type Asserter interface {
	GetAssertion(ctx context.Context, req hid.AssertionRequest, pin []byte) ([]hid.Assertion, error)
}

// probeClientData is the client data hash of the silent assertions that
// ask a key whether it holds a credential (nothing is signed for anyone:
// only whether the key answers matters).
var probeClientData = sha256.Sum256([]byte("keyprep: does this key hold one of these credentials?"))

// defaultMaxInList is the allow list length used with a key whose getInfo
// names no maxCredentialCountInList.
const defaultMaxInList = 8

// HoldsCredential asks the key dev whether it holds one of the credentials
// ids of the relying party rpID, without a touch and without its PIN: a
// silent assertion (CTAP 2.1 §6.2: up=false, no pinUvAuthParam, so no
// touch is waited for and no PIN retry is spent) with the ids as its allow
// list, in lists of at most maxInList ids (the key's getInfo
// maxCredentialCountInList; 0: 8). A key answers such an assertion only
// for a credential it holds, and answers CTAP2_ERR_NO_CREDENTIALS
// otherwise; credProtect level 1 or 2 lets it answer without user
// verification (§12.1; level 3 credentials are not found this way), and
// alwaysUv asks for user verification only where a touch is asked for.
//
// It returns the index in ids of the first credential found (in the first
// allow list the key answered for) and ok. Otherwise ok is false and err
// is nil when the key said, for every list, that it holds none of them;
// err is the last other answer when some list got one (the key cannot
// tell: e.g. it wants a PIN even for this, or it left) — an error wrapping
// CTAP2_ERR_NO_CREDENTIALS is never returned. A key that leaves (or ctx
// ends) is not asked any further.
func HoldsCredential(ctx context.Context, dev Asserter, rpID string, ids [][]byte, maxInList uint64) (index int, ok bool, err error) {
	n := defaultMaxInList
	if maxInList > 0 {
		n = int(min(maxInList, uint64(max(len(ids), 1))))
	}
	var cannotTell error
	for start := 0; start < len(ids); start += n {
		list := ids[start:min(start+n, len(ids))]
		as, err := dev.GetAssertion(ctx, hid.AssertionRequest{RPID: rpID, ClientDataHash: probeClientData[:],
			AllowList: list, NoUP: true}, nil)
		switch {
		case err == nil:
			if i, found := answeredFor(list, as); found {
				return start + i, true, nil
			}
			cannotTell = fmt.Errorf("the key answered an assertion for none of the %d credentials asked for", len(list))
		case errors.Is(err, hid.ErrNoCredentials):
		default:
			cannotTell = err
			if keyLeft(ctx, err) {
				return -1, false, err
			}
		}
	}
	return -1, false, cannotTell
}

// answeredFor is the index in list of the credential of the assertion as.
// A key may leave the credential out when the allow list has exactly one
// (CTAP 2.1 §6.2.2, response member credential): that one answered.
func answeredFor(list [][]byte, as []hid.Assertion) (int, bool) {
	if len(list) == 1 {
		return 0, true
	}
	if len(as) == 0 {
		return -1, false
	}
	for i, id := range list {
		if bytes.Equal(id, as[0].CredentialID) {
			return i, true
		}
	}
	return -1, false
}
