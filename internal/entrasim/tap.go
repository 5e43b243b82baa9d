package entrasim

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/google/uuid"
)

// tapAlphabet: letters, digits and a few symbols, like the live code
// "+drkzqAD" (docs/graph.md).
const tapAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-=#%@&"

func newTAPCode(n int) string {
	max := big.NewInt(int64(len(tapAlphabet)))
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b[i] = tapAlphabet[k.Int64()]
	}
	return string(b)
}

// tapWire is temporaryAccessPassAuthenticationMethod.
type tapWire struct {
	Context               string  `json:"@odata.context,omitempty"`
	ID                    string  `json:"id"`
	TemporaryAccessPass   *string `json:"temporaryAccessPass"`
	CreatedDateTime       string  `json:"createdDateTime"`
	StartDateTime         string  `json:"startDateTime"`
	LifetimeInMinutes     int     `json:"lifetimeInMinutes"`
	IsUsableOnce          bool    `json:"isUsableOnce"`
	IsUsable              bool    `json:"isUsable"`
	MethodUsabilityReason string  `json:"methodUsabilityReason"`
}

const graphTime = "2006-01-02T15:04:05.0000000Z"

// usability computes isUsable and methodUsabilityReason at read time:
// OneTimeUsed, Expired, NotYetValid, DisabledByPolicy (policy off, user
// out of scope, or a multi-use pass while the policy allows one-time passes
// only), else EnabledByPolicy.
//
// A multi-use pass issued before the tenant switched its policy to
// one-time use stays listed but cannot sign in: Entra refuses it ("TAP sign
// in was blocked due to User Credential Policy"); the documented reasons
// have no value of their own for it, so it reads DisabledByPolicy
// (https://learn.microsoft.com/en-us/graph/api/resources/temporaryaccesspassauthenticationmethod).
func (s *state) usability(u *userRec, tp *tapRec, now time.Time) (bool, string) {
	end := tp.StartDateTime.Add(time.Duration(tp.LifetimeInMinutes) * time.Minute)
	switch {
	case tp.Used:
		return false, "OneTimeUsed"
	case !now.Before(end):
		return false, "Expired"
	case now.Before(tp.StartDateTime):
		return false, "NotYetValid"
	case !s.tapScope(u):
		return false, "DisabledByPolicy"
	case !tp.IsUsableOnce && s.TAPPolicy.IsUsableOnce:
		return false, "DisabledByPolicy"
	}
	return true, "EnabledByPolicy"
}

func codeHash(code string) string {
	h := sha256.Sum256([]byte(code))
	return hex.EncodeToString(h[:])
}

func (s *state) tapWire(u *userRec, tp *tapRec, now time.Time, code *string) tapWire {
	ok, why := s.usability(u, tp, now)
	return tapWire{ID: tp.ID, TemporaryAccessPass: code,
		CreatedDateTime: tp.CreatedDateTime.UTC().Format(graphTime), StartDateTime: tp.StartDateTime.UTC().Format(graphTime),
		LifetimeInMinutes: tp.LifetimeInMinutes, IsUsableOnce: tp.IsUsableOnce, IsUsable: ok, MethodUsabilityReason: why}
}

func tapContext(c *call, u *userRec, entity bool) string {
	f := fmt.Sprintf("users('%s')/authentication/temporaryAccessPassMethods", u.ID)
	if entity {
		f += "/$entity"
	}
	return odataContext(c.version, f)
}

// hCreateTAP: POST …/temporaryAccessPassMethods.
func (t *Tenant) hCreateTAP(c *call) (*reply, *apiError) {
	u, e := t.lookupUser(c)
	if e != nil {
		return nil, e
	}
	var body struct {
		ODataType         string           `json:"@odata.type"`
		StartDateTime     *string          `json:"startDateTime"`
		LifetimeInMinutes *json.Number     `json:"lifetimeInMinutes"`
		IsUsableOnce      *bool            `json:"isUsableOnce"`
		Extra             *json.RawMessage `json:"temporaryAccessPass"`
	}
	raw := bytes.TrimSpace(c.body)
	if len(raw) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, badRequest("The request body is not a valid temporaryAccessPassAuthenticationMethod: %s.", truncateForError(err.Error()))
	}
	if body.Extra != nil {
		return nil, badRequest("temporaryAccessPass is read-only.")
	}
	if isExternalGuestUPN(u.UPN) {
		return nil, badRequest("Temporary Access Pass is not supported for external guest users.")
	}
	p := &t.st.TAPPolicy
	if p.State != "enabled" {
		return nil, badRequest("TemporaryAccessPass is disabled by policy.")
	}
	lifetime := p.DefaultLifetimeInMinutes
	if body.LifetimeInMinutes != nil {
		n, err := body.LifetimeInMinutes.Int64()
		if err != nil || n < minTAPLifetime || n > maxTAPLifetime ||
			n < int64(p.MinimumLifetimeInMinutes) || n > int64(p.MaximumLifetimeInMinutes) {
			return nil, badRequest("Invalid LifetimeInMinutes specified. The valid range between %d and %d.",
				p.MinimumLifetimeInMinutes, p.MaximumLifetimeInMinutes)
		}
		lifetime = int(n)
	}
	once := p.IsUsableOnce
	if body.IsUsableOnce != nil {
		if !*body.IsUsableOnce && p.IsUsableOnce {
			return nil, badRequest("A multi-use Temporary Access Pass cannot be created: one-time use is required by policy.")
		}
		once = *body.IsUsableOnce
	}
	start := c.now
	if body.StartDateTime != nil && strings.TrimSpace(*body.StartDateTime) != "" {
		st, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(*body.StartDateTime))
		if err != nil {
			return nil, badRequest("Invalid startDateTime '%s': want an ISO 8601 date-time.", truncateForError(*body.StartDateTime))
		}
		start = st
	}
	code := newTAPCode(p.DefaultLength)
	tp := &tapRec{ID: uuid.NewString(), CreatedDateTime: c.now.UTC(), StartDateTime: start.UTC(),
		LifetimeInMinutes: lifetime, IsUsableOnce: once, CodeHash: codeHash(code)}
	// One pass per user: a new one replaces the old.
	t.st.TAPs[u.ID] = tp
	c.dirty = true
	w := t.st.tapWire(u, tp, c.now, &code)
	w.Context = tapContext(c, u, true)
	return &reply{201, w}, nil
}

// hListTAP: GET …/temporaryAccessPassMethods (at most one).
func (t *Tenant) hListTAP(c *call) (*reply, *apiError) {
	u, e := t.lookupUser(c)
	if e != nil {
		return nil, e
	}
	out := []tapWire{}
	if tp := t.st.TAPs[u.ID]; tp != nil {
		out = append(out, t.st.tapWire(u, tp, c.now, nil))
	}
	return &reply{200, struct {
		Context string    `json:"@odata.context"`
		Value   []tapWire `json:"value"`
	}{tapContext(c, u, false), out}}, nil
}

func tapNotFound(id string) *apiError {
	return &apiError{Status: 404, Code: "itemNotFound",
		Message: fmt.Sprintf("The Temporary Access Pass method '%s' was not found.", truncateForError(id))}
}

func (t *Tenant) findTAP(c *call) (*userRec, *tapRec, *apiError) {
	u, e := t.lookupUser(c)
	if e != nil {
		return nil, nil, e
	}
	tp := t.st.TAPs[u.ID]
	if tp == nil || !strings.EqualFold(tp.ID, c.methodID) {
		return nil, nil, tapNotFound(c.methodID)
	}
	return u, tp, nil
}

// hGetTAP: GET …/temporaryAccessPassMethods/{id}; the code is never
// returned again (null).
func (t *Tenant) hGetTAP(c *call) (*reply, *apiError) {
	u, tp, e := t.findTAP(c)
	if e != nil {
		return nil, e
	}
	w := t.st.tapWire(u, tp, c.now, nil)
	w.Context = tapContext(c, u, true)
	return &reply{200, w}, nil
}

// hDeleteTAP: DELETE …/temporaryAccessPassMethods/{id} → 204.
func (t *Tenant) hDeleteTAP(c *call) (*reply, *apiError) {
	u, _, e := t.findTAP(c)
	if e != nil {
		return nil, e
	}
	delete(t.st.TAPs, u.ID)
	c.dirty = true
	return &reply{status: 204}, nil
}

// useTAP signs a user in with their pass; the caller holds t.mu. A
// non-nil code must be the pass (a pass created before the tenant kept
// hashes is taken on trust).
func (t *Tenant) useTAP(key string, code *string) *apiError {
	u := t.st.userByKey(key)
	if u == nil {
		return userNotFound(key)
	}
	tp := t.st.TAPs[u.ID]
	if tp == nil {
		return badRequest("User '%s' has no Temporary Access Pass.", u.UPN)
	}
	if ok, why := t.st.usability(u, tp, t.now()); !ok {
		if why == "DisabledByPolicy" && t.st.tapScope(u) && !tp.IsUsableOnce && t.st.TAPPolicy.IsUsableOnce {
			return badRequest("TAP sign in was blocked due to User Credential Policy: the pass of '%s' is multi-use and the policy allows one-time passes only.", u.UPN)
		}
		return badRequest("The Temporary Access Pass of '%s' is not usable: %s.", u.UPN, why)
	}
	if code != nil && tp.CodeHash != "" &&
		subtle.ConstantTimeCompare([]byte(codeHash(*code)), []byte(tp.CodeHash)) != 1 {
		return badRequest("The Temporary Access Pass entered for '%s' is not right.", u.UPN)
	}
	if tp.IsUsableOnce {
		tp.Used = true
	}
	return nil
}
