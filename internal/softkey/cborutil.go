package softkey

import (
	"errors"
	"io"

	"github.com/fxamacker/cbor/v2"
)

var (
	// encMode encodes every response in the CTAP2 canonical CBOR form
	// (CTAP 2.1 §8 "Message Encoding").
	encMode cbor.EncMode
	// decMode rejects duplicate map keys; other non-canonical input is
	// tolerated like most authenticators do.
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CTAP2EncOptions().EncMode(); err != nil {
		panic(err)
	}
	if decMode, err = (cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  16,
		MaxArrayElements: 1024,
		MaxMapPairs:      256,
		TagsMd:           cbor.TagsForbidden,
	}).DecMode(); err != nil {
		panic(err)
	}
}

// ctapErr is an internal error carrying a CTAP status.
type ctapErr struct{ s Status }

func (e ctapErr) Error() string { return e.s.String() }

func fail(s Status) error { return ctapErr{s} }

// statusOf maps an error to a status (non-CTAP errors become 0x7F OTHER).
func statusOf(err error) Status {
	var ce ctapErr
	if errors.As(err, &ce) {
		return ce.s
	}
	return StatusOther
}

// cborStatus classifies a decoding error: syntax errors are 0x12
// INVALID_CBOR, type mismatches 0x11 CBOR_UNEXPECTED_TYPE (CTAP 2.1 §8).
func cborStatus(err error) Status {
	var te *cbor.UnmarshalTypeError
	if errors.As(err, &te) {
		return StatusCBORUnexpectedType
	}
	var ute *cbor.UnknownFieldError
	if errors.As(err, &ute) {
		return StatusCBORUnexpectedType
	}
	return StatusInvalidCBOR
}

// params is a decoded CTAP parameter map with integer keys.
type params map[int]cbor.RawMessage

// parseParams decodes the CBOR map of a request. An empty body is an empty
// map, so that missing mandatory members surface as 0x14.
func parseParams(b []byte) (params, error) {
	p := params{}
	if len(b) == 0 {
		return p, nil
	}
	if err := decMode.Unmarshal(b, &p); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fail(StatusInvalidCBOR)
		}
		return nil, fail(cborStatus(err))
	}
	if p == nil { // CBOR null
		return nil, fail(StatusCBORUnexpectedType)
	}
	return p, nil
}

func (p params) has(k int) bool { _, ok := p[k]; return ok }

// get decodes member k into v. It returns (false, nil) when k is absent.
func (p params) get(k int, v any) (bool, error) {
	raw, ok := p[k]
	if !ok {
		return false, nil
	}
	if err := decMode.Unmarshal(raw, v); err != nil {
		return true, fail(cborStatus(err))
	}
	return true, nil
}

// need decodes a mandatory member; absent → 0x14 MISSING_PARAMETER.
func (p params) need(k int, v any) error {
	ok, err := p.get(k, v)
	if err != nil {
		return err
	}
	if !ok {
		return fail(StatusMissingParameter)
	}
	return nil
}

// decodeInto decodes raw CBOR into v with CTAP error mapping.
func decodeInto(raw []byte, v any) error {
	if err := decMode.Unmarshal(raw, v); err != nil {
		return fail(cborStatus(err))
	}
	return nil
}

// textMap is a CBOR map with text keys (entities, options, extensions).
type textMap map[string]cbor.RawMessage

func (m textMap) get(k string, v any) (bool, error) {
	raw, ok := m[k]
	if !ok {
		return false, nil
	}
	if err := decMode.Unmarshal(raw, v); err != nil {
		return true, fail(cborStatus(err))
	}
	return true, nil
}

// credDescriptor is a PublicKeyCredentialDescriptor (WebAuthn §5.10.3).
type credDescriptor struct {
	Type string
	ID   []byte
}

// parseDescriptor decodes a descriptor map; "id" and "type" are mandatory.
func parseDescriptor(raw cbor.RawMessage) (credDescriptor, error) {
	var m textMap
	if err := decodeInto(raw, &m); err != nil {
		return credDescriptor{}, err
	}
	var d credDescriptor
	okT, err := m.get("type", &d.Type)
	if err != nil {
		return d, err
	}
	okI, err := m.get("id", &d.ID)
	if err != nil {
		return d, err
	}
	if !okT || !okI {
		return d, fail(StatusMissingParameter)
	}
	return d, nil
}

// parseDescriptorList decodes an allowList/excludeList, enforcing
// maxCredentialCountInList (0x15 LIMIT_EXCEEDED).
func parseDescriptorList(raw cbor.RawMessage, limit int) ([]credDescriptor, error) {
	var list []cbor.RawMessage
	if err := decodeInto(raw, &list); err != nil {
		return nil, err
	}
	if len(list) > limit {
		return nil, fail(StatusLimitExceeded)
	}
	out := make([]credDescriptor, 0, len(list))
	for _, r := range list {
		d, err := parseDescriptor(r)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// encode encodes v canonically; it only fails on programming errors.
func encode(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic("softkey: encoding response: " + err.Error())
	}
	return b
}
