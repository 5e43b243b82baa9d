package softkey

// getInfo implements authenticatorGetInfo (0x04, CTAP 2.1 §6.4).
func (a *Authenticator) getInfo() map[int]any {
	protocols := make([]int, len(a.cfg.PINProtocols))
	copy(protocols, a.cfg.PINProtocols)
	remaining := a.cfg.ResidentCapacity - len(a.st.Credentials)
	if remaining < 0 {
		remaining = 0
	}
	return map[int]any{
		0x01: []string{"FIDO_2_0", "FIDO_2_1_PRE", "FIDO_2_1"},
		0x02: []string{"credProtect", "hmac-secret", "minPinLength"},
		0x03: aaguid[:],
		0x04: map[string]bool{
			"rk":                    true,
			"up":                    true,
			"plat":                  false,
			"clientPin":             a.st.PINHash != nil,
			"pinUvAuthToken":        true,
			"credMgmt":              true,
			"credentialMgmtPreview": true,
			"authnrCfg":             true,
			"setMinPINLength":       true,
			"makeCredUvNotRqd":      !a.st.AlwaysUV,
			"alwaysUv":              a.st.AlwaysUV,
		},
		0x05: a.cfg.MaxMsgSize,
		0x06: protocols,
		0x07: a.cfg.MaxCredentialCountInList,
		0x08: MaxCredentialIDLength,
		0x09: []string{"usb"},
		0x0A: []map[string]any{{"type": "public-key", "alg": coseAlgES256}},
		0x0C: a.st.ForcePINChange,
		0x0D: a.st.MinPINLength,
		0x0E: FirmwareVersion,
		0x10: a.cfg.MaxRPIDsForSetMinPINLength,
		0x14: remaining,
	}
}
