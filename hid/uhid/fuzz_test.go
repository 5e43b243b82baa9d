package uhid

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/keyprep/keyprep/hid/ctaphid"
)

// FuzzEvents feeds arbitrary events to the decoders and to the event
// handler: nothing panics, and whatever decodes re-encodes to the same
// event.
func FuzzEvents(f *testing.F) {
	// Seeds: real events, as (type, the start of the union, pad to a full
	// event?) so that the fuzzer works on short inputs.
	out, _ := MarshalOutput(append([]byte{0}, bytes.Repeat([]byte{0xA5}, 64)...), OutputReport)
	in, _ := MarshalInput2(bytes.Repeat([]byte{1}, 64))
	get, _ := MarshalReportRequest(ReportRequest{Type: EventGetReport, ID: 1})
	set, _ := MarshalReportRequest(ReportRequest{Type: EventSetReport, ID: 2, Data: []byte{1, 2}})
	cr, _ := Options{}.create().Marshal()
	for _, seed := range [][]byte{out, in, get, set, cr, MarshalSimple(EventStart)} {
		typ, _ := Type(seed)
		f.Add(uint32(typ), bytes.TrimRight(seed[4:], "\x00"), true)
	}
	// OUTPUT's size and rtype sit behind the 4096-byte data field.
	f.Add(uint32(EventOutput), []byte{}, false)
	key := ctaphid.NewDevice(nil, ctaphid.Config{})
	defer key.Close()
	d := New(nil, key.Connect(), Options{})
	f.Fuzz(func(t *testing.T, typ uint32, union []byte, full bool) {
		if len(union) > EventSize-4 {
			union = union[:EventSize-4]
		}
		n := 4 + len(union)
		if full {
			n = EventSize
		}
		b := make([]byte, n)
		binary.LittleEndian.PutUint32(b, typ)
		copy(b[4:], union)
		if o, err := ParseOutput(b); err == nil {
			again, err := MarshalOutput(o.Data, o.RType)
			if err != nil {
				t.Fatal(err)
			}
			if o2, err := ParseOutput(again); err != nil || !bytes.Equal(o2.Data, o.Data) || o2.RType != o.RType {
				t.Fatalf("OUTPUT round trip: %+v, %v", o2, err)
			}
		}
		if r, err := ParseInput2(b); err == nil {
			again, _ := MarshalInput2(r)
			if r2, err := ParseInput2(again); err != nil || !bytes.Equal(r, r2) {
				t.Fatalf("INPUT2 round trip: %v", err)
			}
		}
		if req, err := ParseReportRequest(b); err == nil {
			again, err := MarshalReportRequest(req)
			if err != nil {
				t.Fatal(err)
			}
			if r2, err := ParseReportRequest(again); err != nil || r2.ID != req.ID || !bytes.Equal(r2.Data, req.Data) {
				t.Fatalf("report request round trip: %+v, %v", r2, err)
			}
		}
		if c, err := ParseCreate2(b); err == nil {
			if again, err := c.Marshal(); err == nil {
				c2, err := ParseCreate2(again)
				if err != nil || c2.Name != c.Name || c2.Uniq != c.Uniq || c2.Vendor != c.Vendor || !bytes.Equal(c2.Descriptor, c.Descriptor) {
					t.Fatalf("CREATE2 round trip: %+v, %v", c2, err)
				}
			}
		}
		_, _, _, _ = ParseReportReply(b)
		// The handler never panics; it may only fail on a write (nil
		// file here: report requests are skipped).
		if t := EventType(typ); t != EventGetReport && t != EventSetReport {
			_ = d.handle(b)
		}
	})
}
