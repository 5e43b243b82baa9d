package ctaphid

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// FuzzReports feeds arbitrary sequences of 64-byte output reports (the input
// is cut into 64-byte chunks, the last one zero padded). The first byte of
// each chunk steers its CID towards the interesting channels: broadcast, 0,
// a channel opened beforehand, or the raw bytes. Afterwards the device must
// still answer a fresh INIT on the broadcast channel.
func FuzzReports(f *testing.F) {
	seed := func(reps ...[]byte) []byte {
		var b []byte
		for _, r := range reps {
			b = append(b, r...)
		}
		return b
	}
	const mine = 2 // selector for the opened channel
	f.Add(seed(report(0, CmdInit, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8)))
	f.Add(seed(report(mine, CmdPing, 0x1D, 0xBA)))
	f.Add(seed(report(mine, CmdPing, 0x04, 0x90), report(mine, 0), report(mine, 1), report(mine, 3)))
	f.Add(seed(report(mine, CmdPing, 0x00, 0x63), report(3, CmdPing, 0, 0x63), report(mine, 0)))
	f.Add(seed(report(mine, CmdCBOR, 0, 1, fakeSlow), report(mine, CmdCancel, 0, 0)))
	f.Add(seed(report(mine, CmdCBOR, 0, 1, fakeSlow), report(mine, CmdInit, 0, 8)))
	f.Add(seed(report(mine, CmdCBOR, 0, 1, fakeGetInfo), report(mine, CmdWink, 0, 0), report(1, CmdPing, 0, 1)))
	f.Add(seed(report(mine, CmdCBOR, 0, 70, fakeEcho), report(mine, 0), report(mine, CmdCBOR, 0, 0)))
	f.Add([]byte{0xFF})

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 300*64 {
			return
		}
		a := newFakeAuth()
		d := NewDevice(a, Config{TransactionTimeout: 5 * time.Millisecond, KeepaliveInterval: time.Millisecond, QueueSize: 64})
		defer d.Close()
		h := &host{t: t, c: d.Connect()}
		cid := h.open()
		for len(data) > 0 {
			r := make([]byte, 64)
			n := copy(r, data)
			data = data[n:]
			switch r[0] % 4 {
			case 0:
				binary.BigEndian.PutUint32(r, BroadcastCID)
			case 1:
				binary.BigEndian.PutUint32(r, 0)
			case 2:
				binary.BigEndian.PutUint32(r, cid)
			}
			if err := d.HandleOutputReport(r); err != nil {
				t.Fatal(err)
			}
		}
		for {
			if _, err := h.c.Read(0); err != nil {
				break
			}
		}
		nonce := []byte("fuzznonc")
		h.send(BroadcastCID, CmdInit, nonce)
		deadline := time.Now().Add(2 * time.Second)
		for {
			r, err := h.c.Read(time.Until(deadline))
			if err != nil {
				t.Fatalf("no INIT answer: %v", err)
			}
			if binary.BigEndian.Uint32(r) == BroadcastCID && r[4] == CmdInit && r[6] == 17 && bytes.Equal(r[7:15], nonce) {
				break
			}
		}
	})
}

// BenchmarkGetInfoRoundTrip measures one getInfo-sized CBOR round trip: a
// 1-packet request and a 60-byte answer (init + continuation packet).
func BenchmarkGetInfoRoundTrip(b *testing.B) {
	d := NewDevice(newFakeAuth(), Config{})
	defer d.Close()
	h := &host{t: b, c: d.Connect()}
	cid := h.open()
	req := report(cid, CmdCBOR, 0, 1, fakeGetInfo)
	before := d.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := h.c.Write(req); err != nil {
			b.Fatal(err)
		}
		for range 2 {
			if _, err := h.c.Read(time.Second); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	s := d.Stats()
	b.ReportMetric(float64(s.ReportsIn+s.ReportsOut-before.ReportsIn-before.ReportsOut)/float64(b.N), "reports/op")
}
