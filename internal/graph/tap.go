package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"

	"github.com/keyprep/keyprep/internal/policy"
)

// Secret holds a Temporary Access Pass. It never prints: every fmt verb,
// JSON and text marshalling show a placeholder; Reveal returns the value for
// the one place that must show or encrypt it (docs/graph.md §7: the pass is
// returned only on creation).
type Secret struct{ v string }

// NewSecret wraps s (tests, decoding).
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret value.
func (s Secret) Reveal() string { return s.v }

// Empty reports whether no secret is held (every GET after creation).
func (s Secret) Empty() bool { return s.v == "" }

const redactedSecret = "[REDACTED]"

func (s Secret) String() string               { return redactedSecret }
func (s Secret) GoString() string             { return redactedSecret }
func (s Secret) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redactedSecret)) }
func (s Secret) MarshalText() ([]byte, error) { return []byte(redactedSecret), nil }
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedSecret + `"`), nil }
func (s *Secret) UnmarshalJSON(b []byte) error { // accepts a string or null
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		s.v = ""
		return nil
	}
	return json.Unmarshal(b, &s.v)
}

// TAP is a temporaryAccessPassAuthenticationMethod (docs/graph.md §7).
type TAP struct {
	ID                string
	Pass              Secret // only set in the answer to CreateTAP
	CreatedDateTime   time.Time
	StartDateTime     time.Time
	LifetimeInMinutes int
	IsUsableOnce      bool
	IsUsable          bool
	// MethodUsabilityReason: EnabledByPolicy, DisabledByPolicy, Expired,
	// NotYetValid, OneTimeUsed.
	MethodUsabilityReason string
}

// Expiry is StartDateTime (or CreatedDateTime) plus the lifetime.
func (t *TAP) Expiry() time.Time {
	s := t.StartDateTime
	if s.IsZero() {
		s = t.CreatedDateTime
	}
	return s.Add(time.Duration(t.LifetimeInMinutes) * time.Minute)
}

type tapWire struct {
	ID                    string `json:"id"`
	TemporaryAccessPass   Secret `json:"temporaryAccessPass"`
	CreatedDateTime       string `json:"createdDateTime"`
	StartDateTime         string `json:"startDateTime"`
	LifetimeInMinutes     int    `json:"lifetimeInMinutes"`
	IsUsableOnce          bool   `json:"isUsableOnce"`
	IsUsable              bool   `json:"isUsable"`
	MethodUsabilityReason string `json:"methodUsabilityReason"`
}

func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

func (w *tapWire) tap() *TAP {
	return &TAP{
		ID: sanitize(w.ID), Pass: w.TemporaryAccessPass,
		CreatedDateTime: parseTime(w.CreatedDateTime), StartDateTime: parseTime(w.StartDateTime),
		LifetimeInMinutes: w.LifetimeInMinutes, IsUsableOnce: w.IsUsableOnce, IsUsable: w.IsUsable,
		MethodUsabilityReason: sanitize(w.MethodUsabilityReason),
	}
}

// TAP lifetime bounds of the API (internal/policy).
const (
	MinTAPLifetimeMinutes = policy.MinTAPLifetimeMinutes
	MaxTAPLifetimeMinutes = policy.MaxTAPLifetimeMinutes
)

// TAPRequest is the body of a TAP creation; zero fields are omitted so the
// tenant's policy defaults apply.
type TAPRequest struct {
	Start           time.Time // zero: usable at once
	LifetimeMinutes int       // 0: the policy's default
	IsUsableOnce    *bool     // nil: the policy decides
}

// CreateTAP issues a Temporary Access Pass for a user (POST
// /users/{id}/authentication/temporaryAccessPassMethods). It replaces a
// user's existing pass (one per user). The POST is never retried: after an
// ambiguous failure the result matches ErrAmbiguousRegistration (a pass may
// exist, but its code cannot be read back; create a new one).
func (c *Client) CreateTAP(ctx context.Context, userID string, req TAPRequest) (*TAP, error) {
	if err := checkID(OpCreateTAP, "user id", userID); err != nil {
		return nil, err
	}
	if req.LifetimeMinutes != 0 && (req.LifetimeMinutes < MinTAPLifetimeMinutes || req.LifetimeMinutes > MaxTAPLifetimeMinutes) {
		return nil, fmt.Errorf("graph: %s: lifetime %s out of range: allowed %s to %s", OpCreateTAP,
			policy.Minutes(req.LifetimeMinutes), policy.Minutes(MinTAPLifetimeMinutes), policy.Minutes(MaxTAPLifetimeMinutes))
	}
	body := map[string]any{}
	if !req.Start.IsZero() {
		body["startDateTime"] = req.Start.UTC().Format(time.RFC3339)
	}
	if req.LifetimeMinutes != 0 {
		body["lifetimeInMinutes"] = req.LifetimeMinutes
	}
	if req.IsUsableOnce != nil {
		body["isUsableOnce"] = *req.IsUsableOnce
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	ri, err := c.user(userID).Authentication().TemporaryAccessPassMethods().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", OpCreateTAP, err)
	}
	ri.Method = abs.POST
	ri.QueryParameters = map[string]string{}
	ri.Headers.TryAdd("Accept", "application/json")
	ri.SetStreamContentAndContentType(raw, "application/json")
	r, err := c.send(ctx, OpCreateTAP, false, ri)
	if err != nil {
		if ambiguous(err) {
			var ge *Error
			if errors.As(err, &ge) {
				return nil, &Error{Op: OpCreateTAP, Class: ErrAmbiguousRegistration, Status: ge.Status,
					RequestID: ge.RequestID, Message: "a pass may have been created but its code cannot be read back", Err: err}
			}
			return nil, &Error{Op: OpCreateTAP, Class: ErrAmbiguousRegistration,
				Message: "a pass may have been created but its code cannot be read back", Err: err}
		}
		return nil, err
	}
	var w tapWire
	if err := decodeJSON(OpCreateTAP, r, &w); err != nil {
		return nil, err
	}
	if w.ID == "" || w.TemporaryAccessPass.Empty() {
		return nil, &Error{Op: OpCreateTAP, Status: r.status, Class: ErrService,
			RequestID: sanitize(r.header.Get("request-id")), Err: errors.New("response without the pass")}
	}
	return w.tap(), nil
}

// ListTAPs lists a user's Temporary Access Passes (at most one). The code is
// never included.
func (c *Client) ListTAPs(ctx context.Context, userID string) ([]*TAP, error) {
	if err := checkID(OpListTAPs, "user id", userID); err != nil {
		return nil, err
	}
	ri, err := c.user(userID).Authentication().TemporaryAccessPassMethods().ToGetRequestInformation(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("graph: %s: %w", OpListTAPs, err)
	}
	r, err := c.send(ctx, OpListTAPs, false, ri)
	if err != nil {
		return nil, err
	}
	var coll struct {
		Value []tapWire `json:"value"`
	}
	if err := decodeJSON(OpListTAPs, r, &coll); err != nil {
		return nil, err
	}
	out := make([]*TAP, 0, len(coll.Value))
	for i := range coll.Value {
		t := coll.Value[i].tap()
		t.Pass = Secret{} // never carried past creation, whatever the service sent
		out = append(out, t)
	}
	return out, nil
}

// DeleteTAP deletes one of a user's Temporary Access Passes.
func (c *Client) DeleteTAP(ctx context.Context, userID, methodID string) error {
	if err := checkID(OpDeleteTAP, "user id", userID); err != nil {
		return err
	}
	if err := checkID(OpDeleteTAP, "method id", methodID); err != nil {
		return err
	}
	ri, err := c.user(userID).Authentication().TemporaryAccessPassMethods().
		ByTemporaryAccessPassAuthenticationMethodId(methodID).ToDeleteRequestInformation(ctx, nil)
	if err != nil {
		return fmt.Errorf("graph: %s: %w", OpDeleteTAP, err)
	}
	_, err = c.send(ctx, OpDeleteTAP, false, ri)
	return err
}
