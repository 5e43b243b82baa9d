package uhid

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// EventType is the u32 that starts every uhid event (enum uhid_event_type in
// include/uapi/linux/uhid.h).
type EventType uint32

// The event types keyprep uses. Values 0, 7 and 8 are the obsolete
// UHID_CREATE, UHID_OUTPUT_EV and UHID_INPUT, which this package never sends.
const (
	EventDestroy        EventType = 1  // UHID_DESTROY (user space → kernel)
	EventStart          EventType = 2  // UHID_START: a HID driver bound the device
	EventStop           EventType = 3  // UHID_STOP
	EventOpen           EventType = 4  // UHID_OPEN: the first reader opened the device
	EventClose          EventType = 5  // UHID_CLOSE: the last reader closed it
	EventOutput         EventType = 6  // UHID_OUTPUT: an output report (host → device)
	EventGetReport      EventType = 9  // UHID_GET_REPORT
	EventGetReportReply EventType = 10 // UHID_GET_REPORT_REPLY (user space → kernel)
	EventCreate2        EventType = 11 // UHID_CREATE2 (user space → kernel)
	EventInput2         EventType = 12 // UHID_INPUT2: an input report (device → host)
	EventSetReport      EventType = 13 // UHID_SET_REPORT
	EventSetReportReply EventType = 14 // UHID_SET_REPORT_REPLY (user space → kernel)
)

func (t EventType) String() string {
	switch t {
	case EventDestroy:
		return "DESTROY"
	case EventStart:
		return "START"
	case EventStop:
		return "STOP"
	case EventOpen:
		return "OPEN"
	case EventClose:
		return "CLOSE"
	case EventOutput:
		return "OUTPUT"
	case EventGetReport:
		return "GET_REPORT"
	case EventGetReportReply:
		return "GET_REPORT_REPLY"
	case EventCreate2:
		return "CREATE2"
	case EventInput2:
		return "INPUT2"
	case EventSetReport:
		return "SET_REPORT"
	case EventSetReportReply:
		return "SET_REPORT_REPLY"
	}
	return fmt.Sprintf("uhid event %d", uint32(t))
}

// Report types in UHID_OUTPUT, GET_REPORT and SET_REPORT (enum uhid_report_type).
const (
	FeatureReport uint8 = 0
	OutputReport  uint8 = 1
	InputReport   uint8 = 2
)

// Bus types (include/uapi/linux/input.h).
const BusUSB uint16 = 0x03

// Sizes of the kernel ABI. struct uhid_event is packed: a u32 type and a
// union whose largest member is struct uhid_create2_req (4372 bytes). The
// kernel returns exactly EventSize bytes per read.
const (
	DataMax   = 4096 // UHID_DATA_MAX: the largest report or descriptor
	EventSize = 4 + createReqSize

	nameSize      = 128
	physSize      = 64
	uniqSize      = 64
	createReqSize = nameSize + physSize + uniqSize + 2 + 2 + 4*4 + DataMax // 4372
)

// Offsets inside an event (type at 0, union at 4).
const (
	offCreateName    = 4
	offCreatePhys    = offCreateName + nameSize
	offCreateUniq    = offCreatePhys + physSize
	offCreateRDSize  = offCreateUniq + uniqSize // u16
	offCreateBus     = offCreateRDSize + 2      // u16
	offCreateVendor  = offCreateBus + 2         // u32
	offCreateProduct = offCreateVendor + 4      // u32
	offCreateVersion = offCreateProduct + 4     // u32
	offCreateCountry = offCreateVersion + 4     // u32
	offCreateRDData  = offCreateCountry + 4     // [4096]u8

	offOutputData  = 4                       // [4096]u8
	offOutputSize  = offOutputData + DataMax // u16
	offOutputRType = offOutputSize + 2       // u8

	offInput2Size = 4                 // u16
	offInput2Data = offInput2Size + 2 // [4096]u8

	offReqID    = 4 // u32, GET_REPORT / SET_REPORT and their replies
	offReqRNum  = 8 // u8
	offReqRType = 9 // u8

	offGetReplyErr  = 8  // u16
	offGetReplySize = 10 // u16
	offGetReplyData = 12 // [4096]u8

	offSetReqSize = 10 // u16
	offSetReqData = 12 // [4096]u8

	offSetReplyErr = 8 // u16
)

// Create2 is struct uhid_create2_req: the device to create.
type Create2 struct {
	Name, Phys, Uniq string // NUL-padded; at most 127, 63, 63 bytes
	Bus              uint16
	Vendor, Product  uint32
	Version, Country uint32
	Descriptor       []byte // the HID report descriptor, at most DataMax bytes
}

// ErrEvent is wrapped by every decoding and encoding failure.
var ErrEvent = errors.New("uhid: malformed event")

// Marshal encodes a UHID_CREATE2 event (EventSize bytes).
func (c Create2) Marshal() ([]byte, error) {
	if len(c.Descriptor) == 0 || len(c.Descriptor) > DataMax {
		return nil, fmt.Errorf("%w: report descriptor of %d bytes (want 1 to %d)", ErrEvent, len(c.Descriptor), DataMax)
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"name", c.Name, nameSize}, {"phys", c.Phys, physSize}, {"uniq", c.Uniq, uniqSize}} {
		if len(f.v) >= f.max {
			return nil, fmt.Errorf("%w: %s is %d bytes (at most %d)", ErrEvent, f.name, len(f.v), f.max-1)
		}
		for i := 0; i < len(f.v); i++ {
			if f.v[i] == 0 {
				return nil, fmt.Errorf("%w: %s holds a NUL byte", ErrEvent, f.name)
			}
		}
	}
	b := make([]byte, EventSize)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(EventCreate2))
	copy(b[offCreateName:offCreatePhys], c.Name)
	copy(b[offCreatePhys:offCreateUniq], c.Phys)
	copy(b[offCreateUniq:offCreateRDSize], c.Uniq)
	le.PutUint16(b[offCreateRDSize:], uint16(len(c.Descriptor)))
	le.PutUint16(b[offCreateBus:], c.Bus)
	le.PutUint32(b[offCreateVendor:], c.Vendor)
	le.PutUint32(b[offCreateProduct:], c.Product)
	le.PutUint32(b[offCreateVersion:], c.Version)
	le.PutUint32(b[offCreateCountry:], c.Country)
	copy(b[offCreateRDData:], c.Descriptor)
	return b, nil
}

// ParseCreate2 decodes a UHID_CREATE2 event (the inverse of Marshal; the
// kernel never sends one, tests and fakes do).
func ParseCreate2(b []byte) (Create2, error) {
	t, err := Type(b)
	if err != nil {
		return Create2{}, err
	}
	if t != EventCreate2 || len(b) < EventSize {
		return Create2{}, fmt.Errorf("%w: %v of %d bytes is not a CREATE2 event", ErrEvent, t, len(b))
	}
	le := binary.LittleEndian
	n := int(le.Uint16(b[offCreateRDSize:]))
	if n == 0 || n > DataMax {
		return Create2{}, fmt.Errorf("%w: CREATE2 rd_size %d", ErrEvent, n)
	}
	return Create2{
		Name:       cstring(b[offCreateName:offCreatePhys]),
		Phys:       cstring(b[offCreatePhys:offCreateUniq]),
		Uniq:       cstring(b[offCreateUniq:offCreateRDSize]),
		Bus:        le.Uint16(b[offCreateBus:]),
		Vendor:     le.Uint32(b[offCreateVendor:]),
		Product:    le.Uint32(b[offCreateProduct:]),
		Version:    le.Uint32(b[offCreateVersion:]),
		Country:    le.Uint32(b[offCreateCountry:]),
		Descriptor: append([]byte(nil), b[offCreateRDData:offCreateRDData+n]...),
	}, nil
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// Type returns the type of an event.
func Type(b []byte) (EventType, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("%w: %d bytes, shorter than the event type", ErrEvent, len(b))
	}
	return EventType(binary.LittleEndian.Uint32(b)), nil
}

// Output is a decoded UHID_OUTPUT event.
type Output struct {
	Data  []byte // as the kernel gave it: with the report-ID byte when the client wrote one
	RType uint8  // OutputReport, or FeatureReport for a feature report sent with SET_REPORT semantics
}

// ParseOutput decodes a UHID_OUTPUT event.
func ParseOutput(b []byte) (Output, error) {
	t, err := Type(b)
	if err != nil {
		return Output{}, err
	}
	if t != EventOutput || len(b) < offOutputRType+1 {
		return Output{}, fmt.Errorf("%w: %v of %d bytes is not an OUTPUT event", ErrEvent, t, len(b))
	}
	n := int(binary.LittleEndian.Uint16(b[offOutputSize:]))
	if n > DataMax {
		return Output{}, fmt.Errorf("%w: OUTPUT size %d", ErrEvent, n)
	}
	return Output{Data: append([]byte(nil), b[offOutputData:offOutputData+n]...), RType: b[offOutputRType]}, nil
}

// MarshalOutput encodes a UHID_OUTPUT event as the kernel would send it (for
// tests and fakes).
func MarshalOutput(data []byte, rtype uint8) ([]byte, error) {
	if len(data) > DataMax {
		return nil, fmt.Errorf("%w: output report of %d bytes", ErrEvent, len(data))
	}
	b := make([]byte, EventSize)
	binary.LittleEndian.PutUint32(b, uint32(EventOutput))
	copy(b[offOutputData:], data)
	binary.LittleEndian.PutUint16(b[offOutputSize:], uint16(len(data)))
	b[offOutputRType] = rtype
	return b, nil
}

// MarshalInput2 encodes a UHID_INPUT2 event carrying one input report.
func MarshalInput2(report []byte) ([]byte, error) {
	if len(report) > DataMax {
		return nil, fmt.Errorf("%w: input report of %d bytes", ErrEvent, len(report))
	}
	b := make([]byte, EventSize)
	binary.LittleEndian.PutUint32(b, uint32(EventInput2))
	binary.LittleEndian.PutUint16(b[offInput2Size:], uint16(len(report)))
	copy(b[offInput2Data:], report)
	return b, nil
}

// ParseInput2 decodes a UHID_INPUT2 event and returns its report.
func ParseInput2(b []byte) ([]byte, error) {
	t, err := Type(b)
	if err != nil {
		return nil, err
	}
	if t != EventInput2 || len(b) < offInput2Data {
		return nil, fmt.Errorf("%w: %v of %d bytes is not an INPUT2 event", ErrEvent, t, len(b))
	}
	n := int(binary.LittleEndian.Uint16(b[offInput2Size:]))
	if n > DataMax || offInput2Data+n > len(b) {
		return nil, fmt.Errorf("%w: INPUT2 size %d in %d bytes", ErrEvent, n, len(b))
	}
	return append([]byte(nil), b[offInput2Data:offInput2Data+n]...), nil
}

// ReportRequest is a decoded UHID_GET_REPORT or UHID_SET_REPORT: the kernel
// waits for the reply with the same ID.
type ReportRequest struct {
	Type  EventType // EventGetReport or EventSetReport
	ID    uint32
	RNum  uint8
	RType uint8
	Data  []byte // SET_REPORT only
}

// ParseReportRequest decodes a UHID_GET_REPORT or UHID_SET_REPORT event.
func ParseReportRequest(b []byte) (ReportRequest, error) {
	t, err := Type(b)
	if err != nil {
		return ReportRequest{}, err
	}
	le := binary.LittleEndian
	switch {
	case t == EventGetReport && len(b) >= offReqRType+1:
		return ReportRequest{Type: t, ID: le.Uint32(b[offReqID:]), RNum: b[offReqRNum], RType: b[offReqRType]}, nil
	case t == EventSetReport && len(b) >= offSetReqData:
		n := int(le.Uint16(b[offSetReqSize:]))
		if n > DataMax || offSetReqData+n > len(b) {
			return ReportRequest{}, fmt.Errorf("%w: SET_REPORT size %d in %d bytes", ErrEvent, n, len(b))
		}
		return ReportRequest{Type: t, ID: le.Uint32(b[offReqID:]), RNum: b[offReqRNum], RType: b[offReqRType],
			Data: append([]byte(nil), b[offSetReqData:offSetReqData+n]...)}, nil
	}
	return ReportRequest{}, fmt.Errorf("%w: %v of %d bytes is not a GET_REPORT or SET_REPORT event", ErrEvent, t, len(b))
}

// MarshalReportRequest encodes a GET_REPORT or SET_REPORT event as the kernel
// would send it (for tests and fakes).
func MarshalReportRequest(r ReportRequest) ([]byte, error) {
	if r.Type != EventGetReport && r.Type != EventSetReport {
		return nil, fmt.Errorf("%w: %v is not a report request", ErrEvent, r.Type)
	}
	if len(r.Data) > DataMax {
		return nil, fmt.Errorf("%w: SET_REPORT of %d bytes", ErrEvent, len(r.Data))
	}
	b := make([]byte, EventSize)
	le := binary.LittleEndian
	le.PutUint32(b, uint32(r.Type))
	le.PutUint32(b[offReqID:], r.ID)
	b[offReqRNum] = r.RNum
	b[offReqRType] = r.RType
	if r.Type == EventSetReport {
		le.PutUint16(b[offSetReqSize:], uint16(len(r.Data)))
		copy(b[offSetReqData:], r.Data)
	}
	return b, nil
}

// MarshalReportReply encodes the reply to a report request: for GET_REPORT a
// UHID_GET_REPORT_REPLY (err, no data), for SET_REPORT a
// UHID_SET_REPORT_REPLY. errno 0 means success.
func MarshalReportReply(req ReportRequest, errno uint16) ([]byte, error) {
	b := make([]byte, EventSize)
	le := binary.LittleEndian
	le.PutUint32(b[offReqID:], req.ID)
	switch req.Type {
	case EventGetReport:
		le.PutUint32(b, uint32(EventGetReportReply))
		le.PutUint16(b[offGetReplyErr:], errno)
		le.PutUint16(b[offGetReplySize:], 0)
	case EventSetReport:
		le.PutUint32(b, uint32(EventSetReportReply))
		le.PutUint16(b[offSetReplyErr:], errno)
	default:
		return nil, fmt.Errorf("%w: %v is not a report request", ErrEvent, req.Type)
	}
	return b, nil
}

// ParseReportReply decodes a GET_REPORT_REPLY or SET_REPORT_REPLY (for tests
// and fakes): the request ID and the errno.
func ParseReportReply(b []byte) (EventType, uint32, uint16, error) {
	t, err := Type(b)
	if err != nil {
		return 0, 0, 0, err
	}
	le := binary.LittleEndian
	switch {
	case t == EventGetReportReply && len(b) >= offGetReplyData:
		return t, le.Uint32(b[offReqID:]), le.Uint16(b[offGetReplyErr:]), nil
	case t == EventSetReportReply && len(b) >= offSetReplyErr+2:
		return t, le.Uint32(b[offReqID:]), le.Uint16(b[offSetReplyErr:]), nil
	}
	return 0, 0, 0, fmt.Errorf("%w: %v of %d bytes is not a report reply", ErrEvent, t, len(b))
}

// MarshalDestroy encodes UHID_DESTROY: the device goes away.
func MarshalDestroy() []byte {
	b := make([]byte, EventSize)
	binary.LittleEndian.PutUint32(b, uint32(EventDestroy))
	return b
}

// MarshalSimple encodes an event without payload as the kernel sends it
// (START, STOP, OPEN, CLOSE; for tests and fakes).
func MarshalSimple(t EventType) []byte {
	b := make([]byte, EventSize)
	binary.LittleEndian.PutUint32(b, uint32(t))
	return b
}
