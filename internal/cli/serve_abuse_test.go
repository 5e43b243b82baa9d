//go:build cgo

package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The daemon under abuse, as a process (`keyprep --sim serve` on loopback):
// connections held open without the token (idle, or sending a request a
// byte at a time, or declaring a body they never send), event-stream
// clients beyond the cap, a 20,000-user queue and oversized garbage
// uploads, all at once. Throughout, an operator's authenticated call on a
// new connection must be answered and the daemon's resident memory must
// stay under abuseMaxRSS; afterwards the queue must be whole.
const (
	abuseIdleConns   = 250 // connect and send nothing
	abuseSlowConns   = 250 // a request line, then a header byte every abuseSlowEvery
	abuseStreams     = 100 // authenticated event-stream clients
	abuseUploaders   = 4   // goroutines uploading garbage: over the limit and just under it
	abuseQueue       = 20000
	abuseDuration    = 10 * time.Second
	abuseSlowEvery   = 500 * time.Millisecond
	abuseMaxRSS      = 256 << 20
	abuseProbeEvery  = 200 * time.Millisecond
	abuseProbeGuard  = 15 * time.Second // a hang guard, not the latency bound (make bench reports that)
	abuseMaxRedials  = 20000            // bounds the connections the abusers open in all
	abuseUploadBytes = 20 << 20
)

// abuseResult is what one abuse run measured.
type abuseResult struct {
	probes          int
	maxLatency      time.Duration
	medianLatency   time.Duration
	peakRSS         int64
	evictedRedials  int64
	streamsServed   int64
	streamsRefused  int64
	uploadsRefused  int64
	uploadsAnswered int64
}

// TestServeAbuse runs the abuse once and checks what must hold; make
// bench reports the figures (BenchmarkServeAbuse).
func TestServeAbuse(t *testing.T) {
	if testing.Short() {
		t.Skip("a process test of about 30 s")
	}
	r := serveAbuse(t)
	t.Logf("abuse: %d operator calls, slowest %v (median %v), peak RSS %.0f MiB; %d streams served, %d refused; %d uploads refused, %d answered; %d abuser reconnects",
		r.probes, r.maxLatency, r.medianLatency, float64(r.peakRSS)/(1<<20), r.streamsServed, r.streamsRefused, r.uploadsRefused, r.uploadsAnswered, r.evictedRedials)
}

// BenchmarkServeAbuse: the latency of the operator's authenticated call
// and the daemon's peak resident memory under the abuse of TestServeAbuse.
func BenchmarkServeAbuse(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r := serveAbuse(b)
		b.ReportMetric(float64(r.maxLatency.Microseconds())/1000, "max-call-ms")
		b.ReportMetric(float64(r.medianLatency.Microseconds())/1000, "median-call-ms")
		b.ReportMetric(float64(r.peakRSS)/(1<<20), "peak-rss-MiB")
	}
}

func serveAbuse(tb testing.TB) abuseResult {
	tb.Helper()
	state := tb.TempDir()
	cmd := exec.Command(os.Args[0], "--state-dir", state, "--sim", "serve", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "KEYPREP_CLI_MAIN=1", "NO_COLOR=1", "KEYPREP_TEST_CRASH=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("keyprep serve ended with %v after SIGINT", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			tb.Errorf("keyprep serve did not stop on SIGINT")
		}
		if tb.Failed() {
			tb.Logf("serve stderr (tail):\n%s", tail(errb.String(), 4000))
		}
	}
	tb.Cleanup(stop)

	var base string
	for deadline := time.Now().Add(60 * time.Second); ; {
		b, err := os.ReadFile(filepath.Join(state, URLFile))
		if base = strings.TrimSuffix(strings.TrimSpace(string(b)), "/"); err == nil && base != "" {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("keyprep serve did not start:\n%s", tail(errb.String(), 2000))
		}
		time.Sleep(20 * time.Millisecond) // polling for the daemon's start, not synchronisation between our goroutines
	}
	tok, err := os.ReadFile(filepath.Join(state, TokenFile))
	if err != nil {
		tb.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	host := strings.TrimPrefix(base, "http://")

	// The operator: a new connection for every call.
	operator := &http.Client{Timeout: abuseProbeGuard, Transport: &http.Transport{DisableKeepAlives: true}}
	callWith := func(ctx context.Context, c *http.Client, method, path, ct string, body io.Reader) (*http.Response, error) {
		r, err := http.NewRequestWithContext(ctx, method, base+path, body)
		if err != nil {
			return nil, err
		}
		r.Header.Set("Authorization", "Bearer "+token)
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		return c.Do(r)
	}
	call := func(ctx context.Context, method, path, ct string, body io.Reader) (*http.Response, error) {
		return callWith(ctx, operator, method, path, ct, body)
	}
	type page struct {
		Counts struct{ Total, Pending, Failed int } `json:"counts"`
		Items  []struct{ UPN string }               `json:"items"`
	}
	jobs := func(ctx context.Context) (page, error) {
		var p page
		resp, err := call(ctx, "GET", "/api/v1/jobs?limit=10", "", nil)
		if err != nil {
			return p, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return p, fmt.Errorf("jobs: HTTP %d", resp.StatusCode)
		}
		return p, json.NewDecoder(resp.Body).Decode(&p)
	}

	// The queue: 20,000 users the tenant does not know (they fail).
	var list strings.Builder
	list.WriteString("upn,displayName\n")
	for i := range abuseQueue {
		fmt.Fprintf(&list, "abuse.user%05d@contoso.test,Abuse User %d\n", i, i)
	}
	// Queueing them is set-up, not abuse: a hang guard of its own (the store
	// takes its time under the race detector).
	setup := &http.Client{Timeout: 5 * time.Minute}
	resp, err := callWith(context.Background(), setup, "POST", "/api/v1/jobs?name=abuse", "text/csv", strings.NewReader(list.String()))
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("queueing %d users: HTTP %d", abuseQueue, resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), abuseDuration)
	defer cancel()
	var (
		wg  sync.WaitGroup
		res abuseResult
	)
	redials := atomic.Int64{}
	dial := func() net.Conn {
		if redials.Add(1) > abuseMaxRedials {
			return nil
		}
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", host)
		if err != nil {
			return nil
		}
		return c
	}
	pace := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	// Idle connections: reconnect a second after the daemon closes one.
	for range abuseIdleConns {
		wg.Go(func() {
			for ctx.Err() == nil {
				c := dial()
				if c == nil {
					return
				}
				stopRead := context.AfterFunc(ctx, func() { c.Close() })
				_, _ = c.Read(make([]byte, 1)) // until the daemon closes it
				stopRead()
				c.Close()
				pace(time.Second)
			}
		})
	}
	// Slow requests without the token, half of them declaring a body.
	for i := range abuseSlowConns {
		wg.Go(func() {
			for ctx.Err() == nil {
				c := dial()
				if c == nil {
					return
				}
				head := "POST /api/v1/jobs HTTP/1.1\r\nHost: " + host + "\r\n"
				if i%2 == 0 {
					head += "Content-Type: text/csv\r\nContent-Length: 200000\r\n\r\n"
				}
				if _, err := io.WriteString(c, head); err == nil {
					tick := time.NewTicker(abuseSlowEvery)
					for ctx.Err() == nil {
						if _, err := c.Write([]byte("X")); err != nil {
							break
						}
						select {
						case <-ctx.Done():
						case <-tick.C:
						}
					}
					tick.Stop()
				}
				c.Close()
				pace(time.Second)
			}
		})
	}
	// Event-stream clients (with the token): read what comes; refused
	// ones try again every second.
	var served, refused atomic.Int64
	streamClient := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, DisableKeepAlives: true}}
	for range abuseStreams {
		wg.Go(func() {
			for ctx.Err() == nil {
				r, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				resp, err := streamClient.Do(r)
				if err == nil {
					if resp.StatusCode == 200 {
						served.Add(1)
					} else {
						refused.Add(1)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				pace(time.Second)
			}
		})
	}
	// Garbage uploads with the token: over the limit, and just under it.
	garbage := make([]byte, abuseUploadBytes)
	_, _ = rand.Read(garbage)
	var upRefused, upAnswered atomic.Int64
	for i := range abuseUploaders {
		wg.Go(func() {
			n := len(garbage)
			if i%2 == 1 {
				n = 15 << 20
			}
			for ctx.Err() == nil {
				resp, err := call(ctx, "POST", "/api/v1/jobs", "text/csv", bytes.NewReader(garbage[:n]))
				if err == nil {
					if resp.StatusCode == http.StatusRequestEntityTooLarge {
						upRefused.Add(1)
					} else {
						upAnswered.Add(1)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				pace(100 * time.Millisecond)
			}
		})
	}
	// The daemon's resident memory, sampled.
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss := procRSS(cmd.Process.Pid); rss > res.peakRSS {
				res.peakRSS = rss
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})

	// The operator's calls, each on a new connection, while it all runs.
	var lat []time.Duration
	var probeErr error
	pace(time.Second) // let the abuse build up before the first call
	for ctx.Err() == nil {
		start := time.Now()
		_, err := jobs(context.Background())
		el := time.Since(start)
		if err != nil {
			probeErr = fmt.Errorf("call %d after %v: %w", len(lat)+1, el.Round(time.Millisecond), err)
			break
		}
		lat = append(lat, el)
		pace(abuseProbeEvery)
	}
	cancel()
	wg.Wait()
	if probeErr != nil {
		tb.Fatalf("the operator's call under abuse: %v", probeErr)
	}
	if len(lat) == 0 {
		tb.Fatal("no operator call completed")
	}
	slices.Sort(lat)
	res.probes, res.maxLatency, res.medianLatency = len(lat), lat[len(lat)-1], lat[len(lat)/2]
	res.evictedRedials = redials.Load()
	res.streamsServed, res.streamsRefused = served.Load(), refused.Load()
	res.uploadsRefused, res.uploadsAnswered = upRefused.Load(), upAnswered.Load()

	// The race detector's shadow memory multiplies the daemon's: the bound
	// holds for the real build (make bench measures it there).
	if res.peakRSS >= abuseMaxRSS && !raceBuild {
		tb.Errorf("peak resident memory %.0f MiB, want under %d MiB", float64(res.peakRSS)/(1<<20), abuseMaxRSS>>20)
	}
	if res.streamsRefused == 0 || res.uploadsRefused == 0 {
		tb.Errorf("streams refused %d, uploads refused %d: the abuse did not reach the limits", res.streamsRefused, res.uploadsRefused)
	}
	// Afterwards: the queue is whole, and the daemon answers.
	p, err := jobs(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if p.Counts.Total != abuseQueue || len(p.Items) != 10 {
		tb.Errorf("after the abuse the queue has %d users (page of %d), want %d", p.Counts.Total, len(p.Items), abuseQueue)
	}
	stop()
	return res
}
