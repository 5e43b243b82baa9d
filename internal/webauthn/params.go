package webauthn

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DefaultRPID is the relying party id Entra issues for workforce passkeys
// (docs/graph.md §2.3, §3.1).
const DefaultRPID = "login.microsoft.com"

// MakeCredentialRequest is keyprep's view of a CTAP 2.1 §6.1
// authenticatorMakeCredential request, derived from Graph's creationOptions
// per docs/graph.md §3.2. The hid layer turns it into libfido2 calls.
type MakeCredentialRequest struct {
	// ClientDataHash is parameter 0x01: SHA-256 of ClientDataJSON.
	ClientDataHash []byte

	// RPID, RPName: parameter 0x02 (PublicKeyCredentialRpEntity).
	RPID   string
	RPName string

	// UserID, UserName, UserDisplayName: parameter 0x03.
	UserID          []byte
	UserName        string
	UserDisplayName string

	// Algorithms is parameter 0x04 reduced to what keyprep verifies, in
	// preference order: ES256 first when offered, then RS256.
	Algorithms []int

	// ExcludeList is parameter 0x05: the excluded credential ids; an id
	// that was ambiguous on the wire is present in both readings.
	ExcludeList [][]byte

	// ResidentKey is option "rk" (discoverable credential).
	ResidentKey bool
	// UV records that the RP requires user verification: the request
	// carries a pinUvAuthParam from a PIN/UV token and CheckRegistration
	// requires the UV flag. userVerification "preferred" maps to true (keyprep
	// always sets a PIN, so it can verify); "discouraged" maps to false, which
	// only relaxes the UV-flag check: on a key with a PIN set, CTAP 2.1 §6.1.2
	// still makes the platform send a pinUvAuthParam unless the key reports
	// makeCredUvNotRqd.
	UV bool

	// CredProtect is the credProtect extension input (CTAP 2.1 §12.1:
	// 1, 2 or 3; 0 = not requested); EnforceCredProtect mirrors
	// enforceCredentialProtectionPolicy.
	CredProtect        int
	EnforceCredProtect bool
	// HMACSecret requests the hmac-secret extension (CTAP 2.1 §12.5).
	HMACSecret bool
	// MinPINLength requests the minPinLength extension (CTAP 2.1 §12.4).
	MinPINLength bool

	// Attestation is the conveyance preference ("direct", "enterprise",
	// "indirect", "none"); "enterprise" asks the hid layer for enterprise
	// attestation (CTAP 2.1 §7.1).
	Attestation string
	// Timeout is the RP's ceremony timeout (0 = none given).
	Timeout time.Duration
}

// ParamsOption adjusts MakeCredentialParams.
type ParamsOption func(*paramsConfig)

type paramsConfig struct {
	rpIDs []string
}

// AllowRPID accepts rp.id values other than login.microsoft.com (for
// example the emulated tenant's, or login.microsoftonline.com of the v1.0
// doc example, docs/graph.md §3.1).
func AllowRPID(ids ...string) ParamsOption {
	return func(c *paramsConfig) { c.rpIDs = append(c.rpIDs, ids...) }
}

// ErrUnsupportedOptions is wrapped by every refusal of MakeCredentialParams.
var ErrUnsupportedOptions = errors.New("webauthn: creationOptions not supported by keyprep")

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupportedOptions, fmt.Sprintf(format, args...))
}

// MakeCredentialParams maps creationOptions to a makeCredential request
// (docs/graph.md §3.2) and refuses options keyprep cannot satisfy:
//   - rp.id other than login.microsoft.com unless allowed by AllowRPID;
//   - no ES256 (-7) or RS256 (-257) among pubKeyCredParams of type
//     "public-key" (an empty list means ES256 and RS256, WebAuthn L3 §5.4);
//   - an unknown userVerification or residentKey value;
//   - a credentialProtectionPolicy keyprep cannot name to CTAP.
//
// The challenge expiry is not checked here (the package reads no clock):
// see CreationOptions.ChallengeExpired.
func MakeCredentialParams(opts *CreationOptions, clientDataHash []byte, options ...ParamsOption) (*MakeCredentialRequest, error) {
	if opts == nil {
		return nil, unsupported("no options")
	}
	if len(clientDataHash) != 32 {
		return nil, fmt.Errorf("webauthn: clientDataHash is %d bytes, want 32", len(clientDataHash))
	}
	cfg := paramsConfig{rpIDs: []string{DefaultRPID}}
	for _, o := range options {
		o(&cfg)
	}
	if !slices.Contains(cfg.rpIDs, opts.RP.ID) {
		return nil, unsupported("rp.id %q is not %s (allow it explicitly to proceed)", truncate(opts.RP.ID, 64), strings.Join(cfg.rpIDs, ", "))
	}

	p := &MakeCredentialRequest{
		ClientDataHash:  slices.Clone(clientDataHash),
		RPID:            opts.RP.ID,
		RPName:          opts.RP.Name,
		UserID:          slices.Clone(opts.User.ID),
		UserName:        opts.User.Name,
		UserDisplayName: opts.User.DisplayName,
		Attestation:     opts.Attestation,
		Timeout:         opts.Timeout,
		HMACSecret:      opts.Extensions.HMACCreateSecret,
		MinPINLength:    opts.Extensions.MinPINLength,
	}
	if p.RPName == "" {
		p.RPName = "Microsoft" // Yubico hard-codes it; CTAP wants a name
	}

	// Algorithms: WebAuthn L3 §5.4 — an empty list means ES256 and RS256.
	var es, rs bool
	if len(opts.PubKeyCredParams) == 0 {
		es, rs = true, true
	}
	var offered []string
	for _, cp := range opts.PubKeyCredParams {
		if cp.Type != "" && cp.Type != "public-key" {
			continue
		}
		offered = append(offered, fmt.Sprint(cp.Alg))
		switch cp.Alg {
		case AlgES256:
			es = true
		case AlgRS256:
			rs = true
		}
	}
	if es {
		p.Algorithms = append(p.Algorithms, AlgES256)
	}
	if rs {
		p.Algorithms = append(p.Algorithms, AlgRS256)
	}
	if len(p.Algorithms) == 0 {
		return nil, unsupported("pubKeyCredParams offers algorithms [%s], keyprep needs ES256 (-7) or RS256 (-257)", strings.Join(offered, ", "))
	}

	for _, d := range opts.ExcludeCredentials {
		if d.Type != "" && d.Type != "public-key" {
			continue
		}
		p.ExcludeList = append(p.ExcludeList, slices.Clone(d.ID))
		if d.AltID != nil {
			p.ExcludeList = append(p.ExcludeList, slices.Clone(d.AltID))
		}
	}

	sel := opts.AuthenticatorSelection
	switch sel.ResidentKey {
	case "required", "preferred":
		p.ResidentKey = true
	case "", "discouraged":
		p.ResidentKey = sel.RequireResidentKey
	default:
		return nil, unsupported("authenticatorSelection.residentKey %q unknown", truncate(sel.ResidentKey, 32))
	}
	switch sel.UserVerification {
	case "required", "preferred", "":
		p.UV = true
	case "discouraged":
		p.UV = false
	default:
		return nil, unsupported("authenticatorSelection.userVerification %q unknown", truncate(sel.UserVerification, 32))
	}

	if name := opts.Extensions.CredentialProtectionPolicy; name != "" {
		lvl, ok := credProtectLevels[name]
		if !ok {
			return nil, unsupported("credentialProtectionPolicy %q unknown", truncate(name, 64))
		}
		p.CredProtect = lvl
		p.EnforceCredProtect = opts.Extensions.EnforceCredentialProtectionPolicy
	}
	return p, nil
}

// ChallengeExpired reports whether Graph's challenge has expired at now
// (challengeTimeoutDateTime, docs/graph.md §2.2); always false when
// Graph sent no expiry. Entra rejects a registration with an expired
// challenge, so callers check before touching the key and again before
// POSTing.
func (o *CreationOptions) ChallengeExpired(now time.Time) bool {
	return !o.ChallengeExpiry.IsZero() && !now.Before(o.ChallengeExpiry)
}
