package enroll

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/keycaps"
	"github.com/keyprep/keyprep/internal/store"
)

// SharedKey is a key that already holds another user's passkey for the
// relying party: the user being enrolled would share its PIN.
type SharedKey struct {
	Key   string   // the key's path
	UPN   string   // the user being enrolled
	Users []string // the users whose passkeys the key holds
}

// Notice says what adding the user means (the seeds' guidance on keys
// shared by several accounts): one PIN for every account on the key, and
// Windows security-key sign-in offers the account added last.
func (s SharedKey) Notice() string {
	return fmt.Sprintf("%s already holds a passkey for %s. Adding %s shares the key's PIN: whoever knows it can sign in as each of them. "+
		"Windows sign-in with this key uses the last account added (%s).",
		s.Key, strings.Join(s.Users, ", "), s.UPN, s.UPN)
}

// checkShared stops before the first change to a key that holds another
// user's passkey, unless the request allows it or the operator confirms.
// A key this run gave a new PIN holds no one's passkey; a resumed job was
// confirmed when it started.
func (r *run) checkShared(ctx context.Context) error {
	if r.pinSet || !r.prev.empty() {
		return nil
	}
	users, err := r.otherUsers(ctx)
	if err != nil || len(users) == 0 {
		return err
	}
	sk := SharedKey{Key: r.dev.Path(), UPN: r.user.UPN, Users: users}
	ok := r.req.SharedKeyOK
	if !ok && r.e.ConfirmShared != nil {
		if ok, err = r.e.ConfirmShared(ctx, sk); err != nil {
			return stepErr(StepInspect, err, "", "%s: asking whether to add %s", sk.Key, sk.UPN)
		}
	}
	if !ok {
		return stepErr(StepInspect, ErrSharedKey,
			"use another key, or confirm on a terminal (add --shared-key in scripts) to add the user to this one",
			"%s", sk.Notice())
	}
	r.emit(StepInspect, phaseInfo, "%s", sk.Notice())
	r.journal(StepInspect, phaseInfo, store.InspectInfo{SharedWith: users})
	return nil
}

// otherUsers are the users other than this one whose passkeys for the
// relying party the key holds: as the key lists them (credential
// management, with the PIN), else as recorded for the key's serial number.
func (r *run) otherUsers(ctx context.Context) ([]string, error) {
	var users []string
	add := func(u string) {
		if u == "" || strings.EqualFold(u, r.user.UPN) {
			return
		}
		for _, have := range users {
			if strings.EqualFold(have, u) {
				return
			}
		}
		users = append(users, u)
	}
	if r.pin != nil && r.caps.CredMgmt != keycaps.CredMgmtNone {
		creds, err := r.dev.Credentials(ctx, r.rpID(), r.pin)
		switch {
		case err == nil:
			for _, c := range creds {
				if strings.EqualFold(c.UserName, r.user.UPN) {
					// The user is on the key already: the key shares
					// nothing new (the exclude list decides).
					return nil, nil
				}
				add(c.UserName)
			}
			return users, nil
		case errors.Is(err, hid.ErrPINInvalid), errors.Is(err, hid.ErrPINAuthBlocked), errors.Is(err, hid.ErrPINBlocked),
			errors.Is(err, context.Canceled), hid.CodeOf(err) == hid.CodeTX, hid.CodeOf(err) == hid.CodeRX:
			return nil, stepErr(StepInspect, err, "", "%s: listing the passkeys on the key", r.dev.Path())
		case errors.Is(err, hid.ErrNotFound), errors.Is(err, hid.ErrNoCredentials):
			return nil, nil
		}
		r.e.log().Debug("listing resident credentials failed", "key", r.dev.Path(), "err", err)
	}
	for _, u := range r.knownFor {
		add(u)
	}
	return users, nil
}
