package uhid

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// The kernel ABI, worked out by hand from include/uapi/linux/uhid.h (packed
// structs): these are the numbers a C program gets from sizeof/offsetof.
func TestABILayout(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"sizeof(struct uhid_event)", EventSize, 4376},
		{"offsetof(u.create2.name)", offCreateName, 4},
		{"offsetof(u.create2.phys)", offCreatePhys, 132},
		{"offsetof(u.create2.uniq)", offCreateUniq, 196},
		{"offsetof(u.create2.rd_size)", offCreateRDSize, 260},
		{"offsetof(u.create2.bus)", offCreateBus, 262},
		{"offsetof(u.create2.vendor)", offCreateVendor, 264},
		{"offsetof(u.create2.product)", offCreateProduct, 268},
		{"offsetof(u.create2.version)", offCreateVersion, 272},
		{"offsetof(u.create2.country)", offCreateCountry, 276},
		{"offsetof(u.create2.rd_data)", offCreateRDData, 280},
		{"offsetof(u.output.size)", offOutputSize, 4100},
		{"offsetof(u.output.rtype)", offOutputRType, 4102},
		{"offsetof(u.input2.data)", offInput2Data, 6},
		{"offsetof(u.get_report_reply.data)", offGetReplyData, 12},
		{"offsetof(u.set_report.data)", offSetReqData, 12},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if EventCreate2 != 11 || EventInput2 != 12 || EventOutput != 6 || EventGetReport != 9 || EventSetReportReply != 14 {
		t.Error("event type numbers differ from enum uhid_event_type")
	}
}

func TestCreate2(t *testing.T) {
	c := Create2{Name: "keyprep test", Phys: "test/0", Uniq: "u-1", Bus: BusUSB, Vendor: 0x1209, Product: 0x0001,
		Version: 0x0100, Descriptor: FIDOReportDescriptor}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != EventSize {
		t.Fatalf("CREATE2 is %d bytes, want %d", len(b), EventSize)
	}
	le := binary.LittleEndian
	if got := le.Uint32(b); got != 11 {
		t.Errorf("type = %d, want 11", got)
	}
	if got := string(b[4:16]); got != "keyprep test" || b[16] != 0 {
		t.Errorf("name bytes = %q", b[4:17])
	}
	if got := string(b[132:138]); got != "test/0" {
		t.Errorf("phys bytes = %q", got)
	}
	if got := le.Uint16(b[260:]); got != uint16(len(FIDOReportDescriptor)) {
		t.Errorf("rd_size = %d", got)
	}
	if le.Uint16(b[262:]) != 3 || le.Uint32(b[264:]) != 0x1209 || le.Uint32(b[268:]) != 1 || le.Uint32(b[272:]) != 0x100 {
		t.Errorf("bus/vendor/product/version = % x", b[262:276])
	}
	if !bytes.Equal(b[280:280+len(FIDOReportDescriptor)], FIDOReportDescriptor) || b[280+len(FIDOReportDescriptor)] != 0 {
		t.Error("rd_data does not hold the descriptor")
	}
	back, err := ParseCreate2(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Name != c.Name || back.Phys != c.Phys || back.Uniq != c.Uniq || back.Bus != c.Bus || back.Vendor != c.Vendor ||
		back.Product != c.Product || back.Version != c.Version || !bytes.Equal(back.Descriptor, c.Descriptor) {
		t.Errorf("round trip: %+v, want %+v", back, c)
	}

	for name, bad := range map[string]Create2{
		"empty descriptor": {Name: "x"},
		"huge descriptor":  {Name: "x", Descriptor: make([]byte, DataMax+1)},
		"long name":        {Name: strings.Repeat("n", 128), Descriptor: FIDOReportDescriptor},
		"long uniq":        {Uniq: strings.Repeat("u", 64), Descriptor: FIDOReportDescriptor},
		"NUL in phys":      {Phys: "a\x00b", Descriptor: FIDOReportDescriptor},
	} {
		if _, err := bad.Marshal(); !errors.Is(err, ErrEvent) {
			t.Errorf("%s: err = %v, want ErrEvent", name, err)
		}
	}
	if _, err := ParseCreate2(MarshalDestroy()); !errors.Is(err, ErrEvent) {
		t.Errorf("ParseCreate2(DESTROY): err = %v", err)
	}
}

func TestOutputAndInput2(t *testing.T) {
	report := make([]byte, 65)
	for i := range report {
		report[i] = byte(i)
	}
	b, err := MarshalOutput(report, OutputReport)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(b) != 6 || binary.LittleEndian.Uint16(b[4100:]) != 65 || b[4102] != 1 || b[4] != 0 || b[68] != 64 {
		t.Errorf("OUTPUT layout wrong: type %d size %d rtype %d", binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint16(b[4100:]), b[4102])
	}
	o, err := ParseOutput(b)
	if err != nil || !bytes.Equal(o.Data, report) || o.RType != OutputReport {
		t.Errorf("ParseOutput = %+v, %v", o, err)
	}
	bad := append([]byte(nil), b...)
	binary.LittleEndian.PutUint16(bad[4100:], DataMax+1)
	if _, err := ParseOutput(bad); !errors.Is(err, ErrEvent) {
		t.Errorf("oversized OUTPUT: err = %v", err)
	}
	if _, err := ParseOutput(b[:100]); !errors.Is(err, ErrEvent) {
		t.Errorf("truncated OUTPUT: err = %v", err)
	}

	in, err := MarshalInput2(report[1:])
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(in) != 12 || binary.LittleEndian.Uint16(in[4:]) != 64 || in[6] != 1 || in[69] != 64 || in[70] != 0 {
		t.Errorf("INPUT2 layout wrong: % x", in[:72])
	}
	r, err := ParseInput2(in)
	if err != nil || !bytes.Equal(r, report[1:]) {
		t.Errorf("ParseInput2 = % x, %v", r, err)
	}
	if _, err := MarshalInput2(make([]byte, DataMax+1)); !errors.Is(err, ErrEvent) {
		t.Errorf("oversized INPUT2: err = %v", err)
	}
	if _, err := Type([]byte{1, 2}); !errors.Is(err, ErrEvent) {
		t.Errorf("Type of 2 bytes: err = %v", err)
	}
}

func TestReportRequests(t *testing.T) {
	get := ReportRequest{Type: EventGetReport, ID: 0xA1B2C3D4, RNum: 3, RType: FeatureReport}
	b, err := MarshalReportRequest(get)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(b[4:]) != 0xA1B2C3D4 || b[8] != 3 || b[9] != 0 {
		t.Errorf("GET_REPORT layout: % x", b[:12])
	}
	back, err := ParseReportRequest(b)
	if err != nil || back.ID != get.ID || back.RNum != 3 || back.Type != EventGetReport {
		t.Errorf("ParseReportRequest = %+v, %v", back, err)
	}
	reply, err := MarshalReportReply(back, errnoEIO)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint32(reply) != 10 || binary.LittleEndian.Uint32(reply[4:]) != get.ID || binary.LittleEndian.Uint16(reply[8:]) != 5 {
		t.Errorf("GET_REPORT_REPLY layout: % x", reply[:12])
	}

	set := ReportRequest{Type: EventSetReport, ID: 7, RNum: 0, RType: OutputReport, Data: []byte{9, 8, 7}}
	b, err = MarshalReportRequest(set)
	if err != nil {
		t.Fatal(err)
	}
	back, err = ParseReportRequest(b)
	if err != nil || back.ID != 7 || !bytes.Equal(back.Data, set.Data) || back.RType != OutputReport {
		t.Errorf("SET_REPORT round trip = %+v, %v", back, err)
	}
	reply, err = MarshalReportReply(back, 0)
	if err != nil {
		t.Fatal(err)
	}
	typ, id, errno, err := ParseReportReply(reply)
	if err != nil || typ != EventSetReportReply || id != 7 || errno != 0 {
		t.Errorf("SET_REPORT_REPLY = %v %d %d %v", typ, id, errno, err)
	}
	if _, err := MarshalReportReply(ReportRequest{Type: EventOutput}, 0); !errors.Is(err, ErrEvent) {
		t.Errorf("reply to OUTPUT: err = %v", err)
	}
	if _, err := ParseReportRequest(MarshalSimple(EventStart)); !errors.Is(err, ErrEvent) {
		t.Errorf("ParseReportRequest(START): err = %v", err)
	}
}

// hidItem is one short item of a HID report descriptor (HID 1.11 §6.2.2.2).
type hidItem struct {
	tag, typ byte
	data     uint32
}

func parseDescriptor(t *testing.T, d []byte) []hidItem {
	t.Helper()
	var items []hidItem
	for i := 0; i < len(d); {
		prefix := d[i]
		if prefix == 0xFE {
			t.Fatalf("long item at %d", i)
		}
		n := int(prefix & 0x03)
		if n == 3 {
			n = 4
		}
		if i+1+n > len(d) {
			t.Fatalf("item at %d runs past the end", i)
		}
		var v uint32
		for k := 0; k < n; k++ {
			v |= uint32(d[i+1+k]) << (8 * k)
		}
		items = append(items, hidItem{tag: prefix >> 4, typ: (prefix >> 2) & 0x03, data: v})
		i += 1 + n
	}
	return items
}

// The descriptor, read back with a HID item parser: what the kernel and
// libfido2 see (usage page 0xF1D0, 64-byte input and output reports of 8-bit
// fields, no report ID).
func TestFIDOReportDescriptor(t *testing.T) {
	const (
		main, global, local = 0, 1, 2
	)
	var usagePage, reportSize, reportCount uint32
	var inputBits, outputBits uint32
	collections := 0
	for _, it := range parseDescriptor(t, FIDOReportDescriptor) {
		switch {
		case it.typ == global && it.tag == 0x0: // Usage Page
			usagePage = it.data
		case it.typ == global && it.tag == 0x7: // Report Size
			reportSize = it.data
		case it.typ == global && it.tag == 0x9: // Report Count
			reportCount = it.data
		case it.typ == global && it.tag == 0x8: // Report ID
			t.Errorf("descriptor has a report ID item (%d): libfido2 expects none", it.data)
		case it.typ == main && it.tag == 0x8: // Input
			inputBits += reportSize * reportCount
		case it.typ == main && it.tag == 0x9: // Output
			outputBits += reportSize * reportCount
		case it.typ == main && it.tag == 0xA: // Collection
			collections++
			if usagePage != 0xF1D0 {
				t.Errorf("top-level collection on usage page %#x, want 0xF1D0", usagePage)
			}
		case it.typ == main && it.tag == 0xC: // End Collection
			collections--
		case it.typ == local:
		}
	}
	if inputBits != 8*ReportSize || outputBits != 8*ReportSize {
		t.Errorf("input %d bits, output %d bits; want %d each", inputBits, outputBits, 8*ReportSize)
	}
	if collections != 0 {
		t.Errorf("unbalanced collections: %d", collections)
	}
	if len(FIDOReportDescriptor) != 34 {
		t.Errorf("descriptor is %d bytes, want 34", len(FIDOReportDescriptor))
	}
}
