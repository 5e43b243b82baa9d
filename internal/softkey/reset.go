package softkey

// reset implements authenticatorReset (0x07, CTAP 2.1 §6.6): allowed only
// within the model's reset window (10 s by default; none on some models)
// of power-up, else 0x30 NOT_ALLOWED (also when Behaviour.ResetOnlyFirst
// and another command came first); it
// needs user presence and wipes PIN, credentials and settings, restoring the
// factory defaults. The power-up time is kept.
func (a *Authenticator) reset(x *exchange) error {
	if a.resetWindow > 0 && a.cfg.Clock().Sub(a.st.PowerUp) > a.resetWindow {
		return fail(StatusNotAllowed)
	}
	if a.model.Behaviour.ResetOnlyFirst && a.resetVoid {
		return fail(StatusNotAllowed)
	}
	if s := a.waitPresence(x); s != StatusOK {
		return fail(s)
	}
	st, err := a.factoryState(a.st.PowerUp)
	if err != nil {
		return fail(StatusOther)
	}
	st.USBSerial = a.st.USBSerial // the USB device stays the same
	a.st = st
	return a.powerOn()
}
