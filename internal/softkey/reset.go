package softkey

// reset implements authenticatorReset (0x07, CTAP 2.1 §6.6): allowed only
// within Config.ResetWindow (10 s) of power-up, else 0x30 NOT_ALLOWED; it
// needs user presence and wipes PIN, credentials and settings, restoring the
// factory defaults. The power-up time is kept.
func (a *Authenticator) reset(x *exchange) error {
	if a.cfg.Clock().Sub(a.st.PowerUp) > a.cfg.ResetWindow {
		return fail(StatusNotAllowed)
	}
	if s := a.waitPresence(x); s != StatusOK {
		return fail(s)
	}
	st, err := a.factoryState(a.st.PowerUp)
	if err != nil {
		return fail(StatusOther)
	}
	a.st = st
	return a.powerOn()
}
