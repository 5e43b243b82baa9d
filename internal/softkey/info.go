package softkey

import "maps"

// getInfo implements authenticatorGetInfo (0x04, CTAP 2.1 §6.4): the
// model's factory getInfo with the state-dependent members computed from
// the key's state. A member the model does not report is left out.
func (a *Authenticator) getInfo() map[int]any {
	g := &a.model.GetInfo
	aaguid := a.model.AAGUID()
	out := map[int]any{
		0x01: append([]string(nil), g.Versions...),
		0x03: aaguid[:],
		0x05: a.cfg.MaxMsgSize,
		0x06: append([]int(nil), a.cfg.PINProtocols...),
	}
	if len(g.Extensions) > 0 {
		out[0x02] = append([]string(nil), g.Extensions...)
	}
	opts := maps.Clone(g.Options)
	if opts == nil {
		opts = map[string]bool{}
	}
	if _, ok := opts["clientPin"]; ok {
		opts["clientPin"] = a.st.PINHash != nil
	}
	if _, ok := opts["alwaysUv"]; ok {
		opts["alwaysUv"] = a.st.AlwaysUV
	}
	if _, ok := opts["makeCredUvNotRqd"]; ok {
		opts["makeCredUvNotRqd"] = !a.st.AlwaysUV
	}
	if a.model.Behaviour.BioEnrollment {
		// A bio key's built-in UV and bio enrollment options are true once
		// a fingerprint is enrolled, false before (CTAP 2.1 §6.4).
		for _, o := range []string{"uv", "bioEnroll", "userVerificationMgmtPreview"} {
			if _, ok := opts[o]; ok {
				opts[o] = len(a.st.Templates) > 0
			}
		}
	}
	out[0x04] = opts
	if g.MaxCredentialCountInList != 0 {
		out[0x07] = a.cfg.MaxCredentialCountInList
	}
	if g.MaxCredentialIDLength != 0 {
		out[0x08] = g.MaxCredentialIDLength
	}
	if len(g.Transports) > 0 {
		out[0x09] = append([]string(nil), g.Transports...)
	}
	if len(g.Algorithms) > 0 {
		algs := make([]map[string]any, 0, len(g.Algorithms))
		for _, al := range g.Algorithms {
			algs = append(algs, map[string]any{"type": "public-key", "alg": al.Alg})
		}
		out[0x0A] = algs
	}
	if g.MaxSerializedLargeBlob != 0 {
		out[0x0B] = g.MaxSerializedLargeBlob
	}
	if _, ok := g.Options["setMinPINLength"]; ok {
		// forcePINChange exists with authenticatorConfig's setMinPINLength.
		out[0x0C] = a.st.ForcePINChange
	}
	if g.MinPINLength != 0 {
		out[0x0D] = a.st.MinPINLength
	}
	if g.FirmwareVersion != 0 {
		out[0x0E] = g.FirmwareVersion
	}
	if g.MaxCredBlobLength != 0 {
		out[0x0F] = g.MaxCredBlobLength
	}
	if g.MaxRPIDsForSetMinPIN != 0 {
		out[0x10] = a.cfg.MaxRPIDsForSetMinPINLength
	}
	if g.PreferredPlatformUVTries != 0 {
		out[0x11] = g.PreferredPlatformUVTries
	}
	if g.UVModality != 0 {
		out[0x12] = g.UVModality
	}
	if len(g.Certifications) > 0 {
		out[0x13] = maps.Clone(g.Certifications)
	}
	if g.RemainingDiscoverableCredentials != nil {
		out[0x14] = a.remainingSlots()
	}
	return out
}

// remainingSlots is the number of discoverable credentials the key can
// still store.
func (a *Authenticator) remainingSlots() int {
	return max(a.cfg.ResidentCapacity-len(a.st.Credentials), 0)
}
