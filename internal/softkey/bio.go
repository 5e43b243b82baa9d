package softkey

// bioEnrollment answers authenticatorBioEnrollment (0x09, CTAP 2.1 §6.7)
// for models that have the command (a bio key). The virtual key has no
// fingerprint sensor and its simulated user never enrolls a finger:
// getModality (parameter 0x06) answers {0x01: 1} (fingerprint, §6.7.2);
// every other request is CTAP2_ERR_OPERATION_DENIED.
func (a *Authenticator) bioEnrollment(body []byte) (map[int]any, error) {
	p, err := parseParams(body)
	if err != nil {
		return nil, err
	}
	var modality bool
	if _, err := p.get(0x06, &modality); err != nil {
		return nil, err
	}
	if modality {
		return map[int]any{0x01: 1}, nil
	}
	return nil, fail(StatusOperationDenied)
}
