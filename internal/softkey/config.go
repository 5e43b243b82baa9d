package softkey

import "bytes"

// authenticatorConfig subcommands (CTAP 2.1 §6.11.1).
const (
	cfgSubEnableEnterpriseAttestation = 0x01
	cfgSubToggleAlwaysUV              = 0x02
	cfgSubSetMinPINLength             = 0x03
	cfgSubVendorPrototype             = 0xFF
)

// config implements authenticatorConfig (0x0D, CTAP 2.1 §6.11).
//
// Request: 0x01 subCommand, 0x02 subCommandParams, 0x03 pinUvAuthProtocol,
// 0x04 pinUvAuthParam. When a PIN is set or alwaysUv is on, pinUvAuthParam
// must equal authenticate(token, 32×0xFF ‖ 0x0D ‖ uint8(subCommand) ‖
// subCommandParams) for a token with the acfg permission (§6.11 step 4);
// otherwise the command is accepted without one.
func (a *Authenticator) config(body []byte) error {
	p, err := parseParams(body)
	if err != nil {
		return err
	}
	var sub uint64
	if err := p.need(0x01, &sub); err != nil {
		return err
	}
	var sp params
	if _, err := p.get(0x02, &sp); err != nil {
		return err
	}
	if sp == nil {
		sp = params{}
	}
	if a.st.PINHash != nil || a.st.AlwaysUV {
		var param []byte
		ok, err := p.get(0x04, &param)
		if err != nil {
			return err
		}
		if !ok {
			return fail(StatusPUATRequired)
		}
		v, err := a.checkProtocol(p, 0x03)
		if err != nil {
			return err
		}
		msg := append(bytes.Repeat([]byte{0xFF}, 32), CmdConfig, byte(sub))
		msg = append(msg, p[0x02]...)
		if err := a.verifyToken(v, msg, param); err != nil {
			return err
		}
		if err := a.requirePermission(PermAuthenticatorCfg, "", false); err != nil {
			return err
		}
	}
	switch sub {
	case cfgSubEnableEnterpriseAttestation:
		// The "ep" feature is not supported (§6.11.2).
		return fail(StatusInvalidParameter)
	case cfgSubToggleAlwaysUV:
		// §6.11.3: flip alwaysUv; makeCredUvNotRqd follows it in getInfo.
		// A key whose alwaysUv cannot be turned off refuses.
		if a.st.AlwaysUV && a.model.Behaviour.AlwaysUVLocked {
			return fail(StatusOperationDenied)
		}
		a.st.AlwaysUV = !a.st.AlwaysUV
		return nil
	case cfgSubSetMinPINLength:
		return a.setMinPINLength(sp)
	case cfgSubVendorPrototype:
		return fail(StatusInvalidSubcommand)
	}
	return fail(StatusInvalidSubcommand)
}

// setMinPINLength implements §6.11.4: params 0x01 newMinPINLength, 0x02
// minPinLengthRPIDs, 0x03 forceChangePin.
func (a *Authenticator) setMinPINLength(sp params) error {
	newMin := uint64(a.st.MinPINLength)
	if _, err := sp.get(0x01, &newMin); err != nil {
		return err
	}
	var rpIDs []string
	hasRPIDs, err := sp.get(0x02, &rpIDs)
	if err != nil {
		return err
	}
	var force bool
	if _, err := sp.get(0x03, &force); err != nil {
		return err
	}
	if newMin < uint64(a.st.MinPINLength) || newMin > 63 {
		return fail(StatusPINPolicyViolation)
	}
	if hasRPIDs && len(rpIDs) > a.cfg.MaxRPIDsForSetMinPINLength {
		return fail(StatusKeyStoreFull)
	}
	if force && a.st.PINHash == nil {
		return fail(StatusPINNotSet)
	}
	a.st.MinPINLength = int(newMin)
	if hasRPIDs {
		a.st.MinPINLengthRPIDs = append([]string(nil), rpIDs...)
	}
	if force || (a.st.PINHash != nil && a.st.PINLength < a.st.MinPINLength) {
		a.st.ForcePINChange = true
	}
	return nil
}
