package network

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// The measured effects of acceptance 2 of the faults issue: what a client
// sees through a real proxy, against the spec's own bounds. The figures are
// printed with -v.

// median returns the median of ds (the mean of the two middle values for an
// even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// A 200ms latency toxic adds 200ms ± 10ms at the client: the median of 20
// requests on fresh connections with the toxic, minus the median of the same
// requests without it.
func TestEffectLatencyAdds200ms(t *testing.T) {
	const (
		latency   = 200 * time.Millisecond
		tolerance = 10 * time.Millisecond
		requests  = 20
	)
	l := newLab(t)
	p := l.newProxy(t)
	measure := func(label string) []time.Duration {
		t.Helper()
		ds := make([]time.Duration, requests)
		for i := range ds {
			d, err := get(p, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: GET through %s = %v; want 200 \"ok\"", label, p.Name, err)
			}
			ds[i] = d
		}
		return ds
	}
	// Warm up what a first connection pays once (the proxy's first accept,
	// the client's first dial), so the baseline is the steady one.
	measure("warm-up")
	without := measure("without the toxic")

	f := New("slow", l.client, latencySpec(p.Name, latency))
	if _, err := f.Inject(t.Context()); err != nil {
		t.Fatalf("Inject() = _, %v; want no error", err)
	}
	with := measure("with the toxic")
	if _, err := f.Recover(t.Context()); err != nil {
		t.Fatalf("Recover() = _, %v; want no error", err)
	}

	added := median(with) - median(without)
	t.Logf("latency %v downstream: median of %d requests %v without, %v with: added %v (want %v ± %v); with: min %v max %v",
		latency, requests, median(without), median(with), added, latency, tolerance, slices.Min(with), slices.Max(with))
	if added < latency-tolerance || added > latency+tolerance {
		t.Errorf("latency toxic %v: median added latency = %v; want %v ± %v", latency, added, latency, tolerance)
	}
}

// Bandwidth 100 KB/s moves 1 MB in 10s ± 10%. Toxiproxy's KB is 1000 bytes:
// its bandwidth toxic (toxics/bandwidth.go, v2.12.0) holds each chunk for
// len(data) × 1ms / rate, so rate is bytes per millisecond. The download is
// 1,000,000 bytes of body; the response's headers add about a hundred bytes
// (10ms), counted in the expectation.
func TestEffectBandwidth100KBps(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 MB at 100 KB/s: about 10s")
	}
	const (
		rateKBps = 100
		size     = 1_000_000 // bytes: 1 MB as Toxiproxy's KB counts it
	)
	body := make([]byte, size)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	}))
	t.Cleanup(upstream.Close)
	l := newLab(t)
	p, err := l.client.CreateProxy("bulk", "127.0.0.1:0", upstream.Listener.Addr().String())
	if err != nil {
		t.Fatalf("CreateProxy: %v", err)
	}

	f := New("narrow", l.client, toxic(p.Name, "bandwidth", Downstream, map[string]int64{"rate": rateKBps}))
	if _, err := f.Inject(t.Context()); err != nil {
		t.Fatalf("Inject() = _, %v; want no error", err)
	}

	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := c.Get("http://" + p.Listen + "/")
	if err != nil {
		t.Fatalf("GET through %s = %v; want the body", p.Name, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	elapsed := time.Since(start)
	if err != nil || n != size {
		t.Fatalf("read through %s: %d bytes, %v; want %d bytes", p.Name, n, err, size)
	}

	// The bytes on the wire: the body and the response's header.
	var head int
	for k, vs := range resp.Header {
		for _, v := range vs {
			head += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	head += len("HTTP/1.1 200 OK\r\n") + len("\r\n")
	wire := size + head
	expected := time.Duration(wire) * time.Millisecond / rateKBps
	lo, hi := expected-expected/10, expected+expected/10
	t.Logf("bandwidth %d KB/s (1 KB = 1000 bytes): %d bytes (%d of body, %d of header) in %v; expected %v, within ±10%% [%v, %v]; %.1f KB/s measured",
		rateKBps, wire, size, head, elapsed.Round(time.Millisecond), expected, lo, hi, float64(wire)/1000/elapsed.Seconds())
	if elapsed < lo || elapsed > hi {
		t.Errorf("bandwidth %d KB/s: %d bytes took %v; want %v ± 10%%", rateKBps, wire, elapsed, expected)
	}
}
