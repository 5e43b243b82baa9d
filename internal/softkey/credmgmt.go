package softkey

import (
	"slices"
	"strings"
)

// credentialManagement subcommands (CTAP 2.1 §6.8).
const (
	cmSubGetCredsMetadata      = 0x01
	cmSubEnumerateRPsBegin     = 0x02
	cmSubEnumerateRPsGetNext   = 0x03
	cmSubEnumerateCredsBegin   = 0x04
	cmSubEnumerateCredsGetNext = 0x05
	cmSubDeleteCredential      = 0x06
	cmSubUpdateUserInformation = 0x07
)

// rpEnumState is the enumerateRPs state (§6.8.3).
type rpEnumState struct{ rpIDs []string }

// credEnumState is the enumerateCredentials state (§6.8.4).
type credEnumState struct{ ids [][]byte }

// credentialManagement implements authenticatorCredentialManagement (0x0A
// and the FIDO_2_1_PRE alias 0x41, CTAP 2.1 §6.8). pinUvAuthParam =
// authenticate(token, subCommand ‖ subCommandParams) with the cm
// permission; the GetNext subcommands need no authentication.
func (a *Authenticator) credentialManagement(body []byte) (map[int]any, error) {
	p, err := parseParams(body)
	if err != nil {
		return nil, err
	}
	var sub uint64
	if err := p.need(0x01, &sub); err != nil {
		return nil, err
	}
	if sub != cmSubEnumerateRPsGetNext {
		a.rpEnum = nil
	}
	if sub != cmSubEnumerateCredsGetNext {
		a.crEnum = nil
	}
	var sp params
	if _, err := p.get(0x02, &sp); err != nil {
		return nil, err
	}
	if sp == nil {
		sp = params{}
	}
	switch sub {
	case cmSubEnumerateRPsGetNext:
		return a.nextRP()
	case cmSubEnumerateCredsGetNext:
		return a.nextCred()
	case cmSubGetCredsMetadata, cmSubEnumerateRPsBegin, cmSubEnumerateCredsBegin,
		cmSubDeleteCredential, cmSubUpdateUserInformation:
	default:
		return nil, fail(StatusInvalidSubcommand)
	}
	var param []byte
	ok, err := p.get(0x04, &param)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fail(StatusPUATRequired)
	}
	v, err := a.checkProtocol(p, 0x03)
	if err != nil {
		return nil, err
	}
	msg := append([]byte{byte(sub)}, p[0x02]...)
	if err := a.verifyToken(v, msg, param); err != nil {
		return nil, err
	}
	if err := a.requirePermission(PermCredentialMgmt, "", false); err != nil {
		return nil, err
	}
	switch sub {
	case cmSubGetCredsMetadata:
		if a.tok.hasRPID {
			return nil, fail(StatusPINAuthInvalid)
		}
		remaining := a.cfg.ResidentCapacity - len(a.st.Credentials)
		if remaining < 0 {
			remaining = 0
		}
		return map[int]any{1: len(a.st.Credentials), 2: remaining}, nil
	case cmSubEnumerateRPsBegin:
		if a.tok.hasRPID {
			return nil, fail(StatusPINAuthInvalid)
		}
		return a.beginRPs()
	case cmSubEnumerateCredsBegin:
		var hash []byte
		if err := sp.need(0x01, &hash); err != nil {
			return nil, err
		}
		return a.beginCreds(hash)
	case cmSubDeleteCredential:
		s, err := a.credFromParams(sp)
		if err != nil {
			return nil, err
		}
		idx := slices.IndexFunc(a.st.Credentials, func(c storedCred) bool { return string(c.ID) == string(s.ID) })
		a.st.Credentials = slices.Delete(a.st.Credentials, idx, idx+1)
		return nil, nil
	default: // cmSubUpdateUserInformation
		s, err := a.credFromParams(sp)
		if err != nil {
			return nil, err
		}
		if !sp.has(0x03) {
			return nil, fail(StatusMissingParameter)
		}
		u, err := parseUser(sp[0x03])
		if err != nil {
			return nil, err
		}
		if string(u.ID) != string(s.UserID) {
			return nil, fail(StatusInvalidParameter)
		}
		s.UserName, s.UserDisplayName = u.Name, u.DisplayName
		return nil, nil
	}
}

// credFromParams finds the credential named by subCommandParams 0x02
// (credentialId descriptor); unknown → 0x2E NO_CREDENTIALS.
func (a *Authenticator) credFromParams(sp params) (*storedCred, error) {
	if !sp.has(0x02) {
		return nil, fail(StatusMissingParameter)
	}
	d, err := parseDescriptor(sp[0x02])
	if err != nil {
		return nil, err
	}
	s := a.findResident(d.ID)
	if s == nil {
		return nil, fail(StatusNoCredentials)
	}
	if a.tok.hasRPID && a.tok.rpID != s.RPID {
		return nil, fail(StatusPINAuthInvalid)
	}
	return s, nil
}

// rpList returns the distinct RP IDs of resident credentials, sorted.
func (a *Authenticator) rpList() []string {
	var ids []string
	for _, c := range a.st.Credentials {
		if !slices.Contains(ids, c.RPID) {
			ids = append(ids, c.RPID)
		}
	}
	slices.SortFunc(ids, strings.Compare)
	return ids
}

func (a *Authenticator) rpEntry(rpID string) map[int]any {
	rp := map[string]any{"id": rpID}
	for _, c := range a.st.Credentials {
		if c.RPID == rpID && c.RPName != "" {
			rp["name"] = c.RPName
			break
		}
	}
	return map[int]any{3: rp, 4: rpIDHash(rpID)}
}

func (a *Authenticator) beginRPs() (map[int]any, error) {
	ids := a.rpList()
	if len(ids) == 0 {
		switch a.model.Behaviour.ZeroCredentials {
		case ZeroCredsTotalRPsZero:
			return map[int]any{5: 0}, nil
		case ZeroCredsEmptyMap:
			return map[int]any{}, nil
		}
		return nil, fail(StatusNoCredentials)
	}
	resp := a.rpEntry(ids[0])
	resp[5] = len(ids)
	if len(ids) > 1 {
		a.rpEnum = &rpEnumState{rpIDs: ids[1:]}
	}
	return resp, nil
}

func (a *Authenticator) nextRP() (map[int]any, error) {
	if a.rpEnum == nil || len(a.rpEnum.rpIDs) == 0 {
		a.rpEnum = nil
		return nil, fail(StatusNotAllowed)
	}
	id := a.rpEnum.rpIDs[0]
	a.rpEnum.rpIDs = a.rpEnum.rpIDs[1:]
	if len(a.rpEnum.rpIDs) == 0 {
		a.rpEnum = nil
	}
	return a.rpEntry(id), nil
}

func (a *Authenticator) credEntry(s *storedCred) map[int]any {
	u := map[string]any{"id": s.UserID}
	if s.UserName != "" {
		u["name"] = s.UserName
	}
	if s.UserDisplayName != "" {
		u["displayName"] = s.UserDisplayName
	}
	c := residentCredential(s)
	return map[int]any{
		6:    u,
		7:    map[string]any{"id": s.ID, "type": "public-key"},
		8:    coseES256(&c.priv.PublicKey),
		0x0A: s.CredProtect,
	}
}

func (a *Authenticator) beginCreds(hash []byte) (map[int]any, error) {
	var list []*storedCred
	for i := range a.st.Credentials {
		s := &a.st.Credentials[i]
		if string(rpIDHash(s.RPID)) == string(hash) {
			list = append(list, s)
		}
	}
	if len(list) == 0 {
		return nil, fail(StatusNoCredentials)
	}
	if a.tok.hasRPID && a.tok.rpID != list[0].RPID {
		return nil, fail(StatusPINAuthInvalid)
	}
	slices.SortFunc(list, func(x, y *storedCred) int {
		switch {
		case x.Seq < y.Seq:
			return -1
		case x.Seq > y.Seq:
			return 1
		}
		return 0
	})
	resp := a.credEntry(list[0])
	resp[9] = len(list)
	if len(list) > 1 {
		st := &credEnumState{}
		for _, s := range list[1:] {
			st.ids = append(st.ids, s.ID)
		}
		a.crEnum = st
	}
	return resp, nil
}

func (a *Authenticator) nextCred() (map[int]any, error) {
	for a.crEnum != nil && len(a.crEnum.ids) > 0 {
		id := a.crEnum.ids[0]
		a.crEnum.ids = a.crEnum.ids[1:]
		if len(a.crEnum.ids) == 0 {
			a.crEnum = nil
		}
		if s := a.findResident(id); s != nil {
			return a.credEntry(s), nil
		}
	}
	a.crEnum = nil
	return nil, fail(StatusNotAllowed)
}
