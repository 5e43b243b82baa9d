package graph

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode"
)

func envelope(code, msg string) []byte {
	return []byte(`{"error":{"code":"` + code + `","message":"` + msg + `","innerError":{"date":"2026-11-02T10:00:00","request-id":"req-1","client-request-id":"creq-1"}}}`)
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name   string
		op     string
		beta   bool
		status int
		body   []byte
		class  error
		perm   string
	}{
		{"expired token", OpGetUser, false, 401, envelope("InvalidAuthenticationToken", "Lifetime validation failed, the token is expired."), ErrAuthentication, ""},
		{"no permission v1 options", OpCreationOptions, false, 403, envelope("Authorization_RequestDenied", "Insufficient privileges to complete the operation."), ErrPermission, "UserAuthMethod-Passkey.ReadWrite.All"},
		{"no permission beta options", OpCreationOptions, true, 403, envelope("accessDenied", "Request Authorization failed"), ErrPermission, "UserAuthenticationMethod.ReadWrite.All"},
		{"no permission register", OpRegister, false, 403, envelope("accessDenied", "Request Authorization failed"), ErrPermission, "UserAuthMethod-Passkey.ReadWrite.All"},
		{"no permission list", OpListMethods, false, 403, envelope("accessDenied", "Request Authorization failed"), ErrPermission, "UserAuthMethod-Passkey.Read.All"},
		{"no permission delete", OpDeleteMethod, false, 403, envelope("accessDenied", "Request Authorization failed"), ErrPermission, "UserAuthMethod-Passkey.ReadWrite.All"},
		{"no permission user", OpGetUser, false, 403, envelope("Authorization_RequestDenied", "Insufficient privileges to complete the operation."), ErrPermission, "User.Read.All"},
		{"user 404", OpCreationOptions, false, 404, envelope("Request_ResourceNotFound", "Resource 'nobody@contoso.test' does not exist or one of its queried reference-property objects are not present."), ErrUserNotFound, ""},
		{"guest UPN in not-found text", OpGetUser, false, 404, envelope("Request_ResourceNotFound", "Resource 'kim_fabrikam.com#EXT#@contoso.onmicrosoft.com' does not exist or one of its queried reference-property objects are not present."), ErrUserNotFound, ""},
		{"user 400", OpCreationOptions, false, 400, envelope("invalidRequest", "The user does not exist."), ErrUserNotFound, ""},
		{"method 404", OpDeleteMethod, false, 404, envelope("itemNotFound", "The requested authentication method was not found."), ErrMethodNotFound, ""},
		{"guest", OpCreationOptions, false, 400, envelope("invalidRequest", "Passkey registration is not supported for guest users."), ErrGuestUser, ""},
		{"policy disabled", OpCreationOptions, false, 403, envelope("accessDenied", "The FIDO2 authentication method is disabled for this user."), ErrMethodDisabled, ""},
		{"not in scope", OpRegister, false, 400, envelope("invalidRequest", "The user is not in scope of the authentication method policy."), ErrMethodDisabled, ""},
		{"self-service off", OpCreationOptions, false, 403, envelope("accessDenied", "Self-service setup of passkeys is not allowed by the tenant policy."), ErrSelfServiceSetupOff, ""},
		{"aaguid blocked", OpRegister, false, 400, envelope("invalidRequest", "The authenticator AAGUID ee882879-721c-4913-9775-3dfcce97072a is blocked by key restrictions."), ErrKeyModelNotAllowed, ""},
		{"profile", OpRegister, false, 403, envelope("accessDenied", "The passkey profile does not accept this authenticator model."), ErrKeyModelNotAllowed, ""},
		{"attestation", OpRegister, false, 400, envelope("invalidRequest", "Attestation verification failed: attestation statement of format none is not accepted."), ErrAttestationRejected, ""},
		{"attestation naming the profile", OpRegister, false, 400, envelope("badRequest", "Attestation verification failed: the authenticator returned no attestation (fmt none) and the passkey profile 'Default passkey profile' enforces attestation."), ErrAttestationRejected, ""},
		{"restrictions naming the profile", OpRegister, false, 400, envelope("badRequest", "The authenticator model (AAGUID 65bc18f9-32a6-46a3-be99-a753dc433836) is not allowed by the key restrictions of the passkey profile 'Admins'."), ErrKeyModelNotAllowed, ""},
		{"challenge expired", OpRegister, false, 400, envelope("invalidRequest", "The challenge has expired."), ErrChallengeExpired, ""},
		{"expired challenge", OpRegister, false, 400, envelope("badRequest", "Registration failed: expired challenge."), ErrChallengeExpired, ""},
		{"duplicate", OpRegister, false, 409, envelope("conflict", "A credential with this id is already registered."), ErrAlreadyRegistered, ""},
		{"missing entity", OpRegister, false, 400, envelope("invalidRequest", "The request is missing a fido2AuthenticationMethod entity"), ErrInvalidRequest, ""},
		{"405", OpCreationOptions, true, 405, envelope("methodNotAllowed", "The method is not supported for this URL."), ErrInvalidRequest, ""},
		{"throttled", OpListMethods, false, 429, envelope("TooManyRequests", "Too many requests."), ErrThrottled, ""},
		{"503", OpGetUser, false, 503, envelope("serviceNotAvailable", "Service unavailable."), ErrService, ""},
		{"500 html", OpGetUser, false, 500, []byte("<html>oops</html>"), ErrService, ""},
		{"empty 502", OpGetUser, false, 502, nil, ErrService, ""},
		{"tap lifetime (live text)", OpCreateTAP, false, 400, envelope("badRequest", "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."), ErrTAPPolicy, ""},
		{"tap one-time forced", OpCreateTAP, false, 400, envelope("badRequest", "A multi-use pass cannot be created: one-time use is required by policy."), ErrTAPPolicy, ""},
		{"tap disabled", OpCreateTAP, false, 400, envelope("badRequest", "TemporaryAccessPass is disabled by policy for this user."), ErrTAPPolicy, ""},
		{"tap guest", OpCreateTAP, false, 400, envelope("badRequest", "Temporary Access Pass is not supported for external guest users."), ErrGuestUser, ""},
		{"tap no permission (live)", OpCreateTAP, false, 403, envelope("accessDenied", "Request Authorization failed"), ErrPermission, "UserAuthMethod-TAP.ReadWrite.All"},
		{"tap list no permission", OpListTAPs, false, 403, envelope("accessDenied", "Request Authorization failed"), ErrPermission, "UserAuthMethod-TAP.Read.All"},
		{"tap delete gone", OpDeleteTAP, false, 404, envelope("itemNotFound", "The requested authentication method was not found."), ErrMethodNotFound, ""},
		{"policy read no permission", OpGetPolicy, false, 403, envelope("Authorization_RequestDenied", "Insufficient privileges to complete the operation."), ErrPermission, "Policy.Read.AuthenticationMethod"},
		{"policy write no permission", OpUpdatePolicy, false, 403, envelope("Authorization_RequestDenied", "Insufficient privileges to complete the operation."), ErrPermission, "Policy.ReadWrite.AuthenticationMethod"},
		{"policy invalid", OpUpdatePolicy, false, 400, envelope("badRequest", "Invalid value for property 'state'."), ErrInvalidRequest, ""},
		{"group 404", OpGetGroup, false, 404, envelope("Request_ResourceNotFound", "Resource '0000' does not exist or one of its queried reference-property objects are not present."), ErrGroupNotFound, ""},
		{"groups no permission", OpCheckGroups, false, 403, envelope("Authorization_RequestDenied", "Insufficient privileges to complete the operation."), ErrPermission, "GroupMember.Read.All"},
		{"emulated scope text", OpCreationOptions, false, 400, envelope("badRequest", "The user is not in the scope of the passkey (FIDO2) policy."), ErrMethodDisabled, ""},
		{"emulated replay text", OpRegister, false, 400, envelope("badRequest", "The challenge is no longer valid: it has already been used."), ErrChallengeExpired, ""},
		{"odata v4 message object", OpGetUser, false, 403, []byte(`{"error":{"code":"Authorization_RequestDenied","message":{"lang":"en","value":"Insufficient privileges"}}}`), ErrPermission, "User.Read.All"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("request-id", "hdr-req")
			e := newHTTPError(tc.op, tc.beta, tc.status, h, tc.body)
			var err error = e
			if !errors.Is(err, tc.class) {
				t.Fatalf("class = %v, want %v (%v)", e.Class, tc.class, err)
			}
			for _, other := range []error{ErrAuthentication, ErrPermission, ErrUserNotFound, ErrGuestUser, ErrMethodDisabled, ErrSelfServiceSetupOff, ErrKeyModelNotAllowed, ErrAttestationRejected, ErrChallengeExpired, ErrThrottled, ErrService, ErrTAPPolicy, ErrGroupNotFound, ErrMethodNotFound, ErrInvalidRequest, ErrAlreadyRegistered} {
				if other != tc.class && errors.Is(err, other) {
					t.Errorf("also matches %v", other)
				}
			}
			if e.MissingPermission != tc.perm {
				t.Errorf("MissingPermission = %q, want %q", e.MissingPermission, tc.perm)
			}
			if tc.perm != "" && !strings.Contains(Hint(err), tc.perm) {
				t.Errorf("hint %q does not name %s", Hint(err), tc.perm)
			}
			if Hint(err) == "" {
				t.Error("no hint")
			}
			if len(tc.body) > 0 && tc.body[0] == '{' && strings.Contains(string(tc.body), "req-1") && (e.RequestID != "req-1" || e.ClientRequestID != "creq-1" || e.Date == "") {
				t.Errorf("innerError ids lost: %+v", e)
			}
			if e.RequestID == "" || !strings.Contains(err.Error(), e.RequestID) {
				t.Errorf("request id missing from %q", err.Error())
			}
		})
	}
}

func TestHintEveryClass(t *testing.T) {
	for _, h := range hints {
		if got := Hint(&Error{Op: "x", Class: h.class}); got == "" {
			t.Errorf("no hint for %v", h.class)
		}
	}
	if Hint(errors.New("other")) != "" || Hint(nil) != "" {
		t.Error("hint for a non-Graph error")
	}
}

func TestProfileHint(t *testing.T) {
	for _, tc := range []struct {
		msg, want string
	}{
		{"Attestation verification failed: the authenticator returned no attestation (fmt none) and the passkey profile 'Default passkey profile' enforces attestation.",
			`passkey profile "Default passkey profile" enforces attestation: use a certified key model, or turn its enforcement off (keyprep policy set fido2 --profile "Default passkey profile" --enforce-attestation off)`},
		{"The authenticator model (AAGUID 65bc18f9-32a6-46a3-be99-a753dc433836) is not allowed by the key restrictions of the passkey profile 'Admins'.",
			`the key restrictions of passkey profile "Admins" do not accept this key model: use another key, or change them (keyprep policy set fido2 --profile Admins --add-aaguid AAGUID`},
		{"Attestation verification failed: attestation statement of format none is not accepted.", "use a certified key or disable attestation enforcement"},
	} {
		e := newHTTPError(OpRegister, false, 400, http.Header{}, envelope("badRequest", tc.msg))
		if got := Hint(e); !strings.Contains(got, tc.want) {
			t.Errorf("hint for %q:\n%s\nwant\n%s", tc.msg, got, tc.want)
		}
	}
}

func FuzzDecodeErrorBody(f *testing.F) {
	f.Add(envelope("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
	f.Add([]byte(`{"error":{"code":"x","message":{"value":"v"},"innererror":{"request-id":"r"}}}`))
	f.Add([]byte(`{"error":null}`))
	f.Add([]byte("\x1b[31mred\x1b[0m\r\nInjected: yes"))
	f.Add([]byte(`{"error":{"message":"\u001b[2J\u202eevil"}}`))
	f.Add([]byte{0xff, 0xfe, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		d := decodeErrorBody(body)
		for _, s := range []string{d.Code, d.Message, d.InnerMessage, d.Date, d.RequestID, d.ClientRequestID} {
			if len([]rune(s)) > maxFieldLen+1 {
				t.Fatalf("field too long: %d", len(s))
			}
			for _, r := range s {
				if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
					t.Fatalf("control character %U in %q", r, s)
				}
			}
		}
		for _, st := range []int{400, 401, 403, 404, 409, 429, 500} {
			e := newHTTPError(OpRegister, false, st, http.Header{}, body)
			if e.Class == nil || e.Error() == "" {
				t.Fatal("no class")
			}
		}
	})
}
