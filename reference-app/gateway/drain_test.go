package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameday/gameday/reference-app/server"
)

// TestDrainFinishesInFlightRequest serves the gateway as refapp does
// (server.Serve, /readyz behind a server.Drain) and stops it while a
// proxied request is held upstream: /readyz turns 503 at once, new
// connections are refused, and the held request still completes.
func TestDrainFinishesInFlightRequest(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	backend := holdServer(t, arrived, release)
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // before the backend closes, on any path
	ups, err := ParseUpstreams([]string{backend.URL}, []string{"api-0"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(ups, WithHealthInterval(forever), WithUpstreamTimeout(time.Minute), WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	bgCtx, stopBackground := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { g.Run(bgCtx); close(ran) }()
	t.Cleanup(func() { stopBackground(); <-ran; g.Close() })

	var drain server.Drain
	mux := http.NewServeMux()
	g.Register(mux)
	readyz := server.Readyz(drain.Ready(g.Ready))
	mux.Handle("GET /readyz", readyz)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, ln, mux, server.WithDrain(&drain), server.WithDrainTimeout(time.Minute))
	}()

	probe := func() (int, string) {
		rec := httptest.NewRecorder()
		readyz.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := probe(); code != http.StatusOK; code, _ = probe() {
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready 10s after start; status %+v", g.Status())
		}
		time.Sleep(2 * time.Millisecond) // poll interval
	}

	type result struct {
		status   int
		instance string
		err      error
	}
	inFlight := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/v1/feed")
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		resp.Body.Close()
		inFlight <- result{status: resp.StatusCode, instance: resp.Header.Get("X-Refapp-Instance")}
	}()
	<-arrived
	stop() // what SIGTERM does in refapp

	for code, body := probe(); code != http.StatusServiceUnavailable || body != "not ready: draining"; code, body = probe() {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz during the drain = %d %q; want 503 \"not ready: draining\"", code, body)
		}
		time.Sleep(2 * time.Millisecond) // poll interval
	}
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("dial still accepted during the drain; want refused")
		}
		time.Sleep(2 * time.Millisecond) // poll interval
	}
	select {
	case r := <-inFlight:
		t.Fatalf("in-flight request ended before its upstream answered: %+v", r)
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}

	releaseOnce.Do(func() { close(release) })
	if r := <-inFlight; r.err != nil || r.status != http.StatusOK || r.instance != "slow" {
		t.Errorf("in-flight GET across the drain = %+v; want 200 from slow", r)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after the drain = %v; want nil", err)
	}
}
