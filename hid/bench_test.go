//go:build cgo

package hid_test

import (
	"context"
	"testing"

	"github.com/keyprep/keyprep/hid"
	"github.com/keyprep/keyprep/internal/softkey"
)

// reportMetric adds reports/op (HID reports both ways through the I/O hooks)
// and µs/op.
func reportMetric(b *testing.B, d *hid.Device, out0, in0 uint64) {
	out, in := d.ReportStats()
	b.ReportMetric(float64((out-out0)+(in-in0))/float64(b.N), "reports/op")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
}

func BenchmarkGetInfo(b *testing.B) {
	_, d := openSoftKey(b, softkey.Config{}, nil)
	ctx := context.Background()
	out0, in0 := d.ReportStats()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.Info(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportMetric(b, d, out0, in0)
}

func BenchmarkOpenClose(b *testing.B) {
	_, path := newSoftKey(b, softkey.Config{})
	ctx := context.Background()
	var reports uint64
	for b.Loop() {
		d, err := hid.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		out, in := d.ReportStats()
		reports += out + in
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(reports)/float64(b.N), "reports/op")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
}

func BenchmarkMakeCredential(b *testing.B) {
	_, d := openSoftKey(b, softkey.Config{}, nil)
	ctx := context.Background()
	req := mcReq("bench.example", 1, false)
	out0, in0 := d.ReportStats()
	for b.Loop() {
		if _, err := d.MakeCredential(ctx, req, nil); err != nil {
			b.Fatal(err)
		}
	}
	reportMetric(b, d, out0, in0)
}

func BenchmarkMakeCredentialWithPIN(b *testing.B) {
	_, d := openSoftKey(b, softkey.Config{}, testPIN)
	ctx := context.Background()
	req := mcReq("bench.example", 1, false)
	out0, in0 := d.ReportStats()
	for b.Loop() {
		if _, err := d.MakeCredential(ctx, req, testPIN); err != nil {
			b.Fatal(err)
		}
	}
	reportMetric(b, d, out0, in0)
}

func BenchmarkGetAssertion(b *testing.B) {
	_, d := openSoftKey(b, softkey.Config{}, nil)
	ctx := context.Background()
	c, err := d.MakeCredential(ctx, mcReq("bench.example", 1, false), nil)
	if err != nil {
		b.Fatal(err)
	}
	req := hid.AssertionRequest{RPID: "bench.example", ClientDataHash: cdh("bench"), AllowList: [][]byte{c.ID}, UP: true}
	out0, in0 := d.ReportStats()
	for b.Loop() {
		if _, err := d.GetAssertion(ctx, req, nil); err != nil {
			b.Fatal(err)
		}
	}
	reportMetric(b, d, out0, in0)
}

// BenchmarkGetInfoFakeKey measures the binding, libfido2 and the CTAPHID
// framing with a canned getInfo answer (no CTAP2 processing cost).
func BenchmarkGetInfoFakeKey(b *testing.B) {
	d := openT(b, plugIn(b, &fakeAuth{}))
	ctx := context.Background()
	out0, in0 := d.ReportStats()
	for b.Loop() {
		if _, err := d.Info(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportMetric(b, d, out0, in0)
}
