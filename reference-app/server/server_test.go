package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// startServe runs Serve on a loopback listener and returns its base URL,
// the function that asks it to stop, and the channel of its result.
func startServe(t *testing.T, h http.Handler, opts ...Option) (string, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, opts...) }()
	return "http://" + ln.Addr().String(), cancel, done
}

type result struct {
	status int
	body   string
	err    error
}

func get(url string) result {
	resp, err := http.Get(url)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(b), err: err}
}

func TestServeDrainsInFlightRequests(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	base, stop, done := startServe(t, h, WithDrainTimeout(time.Minute))

	inFlight := make(chan result, 1)
	go func() { inFlight <- get(base + "/slow") }()
	<-started
	stop()

	// The listener closes at once: wait, with a deadline, until a new
	// connection is refused while the first request is still held.
	addr := base[len("http://"):]
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("dial %s still accepted 5s after shutdown began", addr)
		}
		time.Sleep(5 * time.Millisecond) // poll interval, not a wait for an event
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v before the in-flight request finished", err)
	default:
	}
	close(release)
	if r := <-inFlight; r.err != nil || r.status != http.StatusOK || r.body != "done" {
		t.Errorf("in-flight GET during drain = %d %q %v; want 200 done", r.status, r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after a clean drain = %v; want nil", err)
	}
}

func TestServeDrainTimeout(t *testing.T) {
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // never finishes on its own
	})
	base, stop, done := startServe(t, h, WithDrainTimeout(50*time.Millisecond))
	inFlight := make(chan result, 1)
	go func() { inFlight <- get(base + "/stuck") }()
	<-started
	stop()
	if err := <-done; !errors.Is(err, ErrDrainTimeout) {
		t.Errorf("Serve with a stuck request = %v; want ErrDrainTimeout", err)
	}
	if r := <-inFlight; r.err == nil {
		t.Errorf("stuck GET after the drain timeout = %d %q; want a connection error", r.status, r.body)
	}
}

func TestServeListenerError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := Serve(context.Background(), ln, http.NotFoundHandler()); err == nil {
		t.Errorf("Serve on a closed listener = nil; want an error")
	}
}

func TestProbes(t *testing.T) {
	notReady := errors.New("no upstream")
	tests := []struct {
		name       string
		h          http.Handler
		wantStatus int
		wantBody   string
	}{
		{"healthz", http.HandlerFunc(Healthz), 200, "ok"},
		{"readyz ready", Readyz(func(context.Context) error { return nil }), 200, "ready"},
		{"readyz not ready", Readyz(func(context.Context) error { return notReady }), 503, "not ready: no upstream"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		tt.h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
			t.Errorf("%s = %d %q; want %d %q", tt.name, rec.Code, rec.Body.String(), tt.wantStatus, tt.wantBody)
		}
	}
}

func TestDrainReady(t *testing.T) {
	notReady := errors.New("no upstream")
	tests := []struct {
		name    string
		ready   ReadyFunc
		started bool
		want    error
	}{
		{"nil ready, not draining", nil, false, nil},
		{"ready, not draining", func(context.Context) error { return nil }, false, nil},
		{"not ready, not draining", func(context.Context) error { return notReady }, false, notReady},
		{"ready, draining", func(context.Context) error { return nil }, true, ErrDraining},
		{"not ready, draining", func(context.Context) error { return notReady }, true, ErrDraining},
	}
	for _, tt := range tests {
		var d Drain
		if tt.started {
			d.Start()
		}
		if got := d.Ready(tt.ready)(context.Background()); !errors.Is(got, tt.want) || (tt.want == nil && got != nil) {
			t.Errorf("Drain(started %v).Ready(%s) = %v; want %v", tt.started, tt.name, got, tt.want)
		}
	}
}

func TestServeStartsDrain(t *testing.T) {
	var d Drain
	_, stop, done := startServe(t, http.NotFoundHandler(), WithDrain(&d))
	if d.Started() {
		t.Fatalf("Drain started before Serve's context was done")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v; want nil", err)
	}
	if !d.Started() {
		t.Errorf("Drain after Serve stopped: not started; want started")
	}
}

// TestServeDrainDelay checks that during the drain delay the listener still
// accepts, /readyz answers 503 over the network and in-flight requests are
// held; and that once the delay ends new connections are refused while the
// in-flight request still completes.
func TestServeDrainDelay(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var d Drain
	mux := http.NewServeMux()
	mux.Handle("GET /readyz", Readyz(d.Ready(nil)))
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "done")
	})
	delayEnds := make(chan time.Time)
	var delays []time.Duration // written by Serve's goroutine before it reads delayEnds
	after := func(o *options) {
		o.after = func(d time.Duration) <-chan time.Time { delays = append(delays, d); return delayEnds }
	}
	base, stop, done := startServe(t, mux, WithDrain(&d), WithDrainDelay(time.Hour), after, WithDrainTimeout(time.Minute))
	if r := get(base + "/readyz"); r.status != http.StatusOK {
		t.Fatalf("GET /readyz before the drain = %d %q %v; want 200", r.status, r.body, r.err)
	}
	inFlight := make(chan result, 1)
	go func() { inFlight <- get(base + "/slow") }()
	<-started
	stop()

	// Wait (with a deadline) until /readyz says draining; the listener stays
	// open for the whole (fake, endless) delay.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := get(base + "/readyz")
		if r.err != nil {
			t.Fatalf("GET /readyz during the drain delay: %v; want an answer", r.err)
		}
		if r.status == http.StatusServiceUnavailable {
			if r.body != "not ready: draining" {
				t.Errorf("GET /readyz during the drain delay = 503 %q; want \"not ready: draining\"", r.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz still %d 5s after the drain began; want 503", r.status)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	select {
	case r := <-inFlight:
		t.Fatalf("in-flight GET finished during the delay (%d %v); want it held", r.status, r.err)
	case err := <-done:
		t.Fatalf("Serve returned %v during the drain delay", err)
	default:
	}

	delayEnds <- time.Now()
	if len(delays) != 1 || delays[0] != time.Hour {
		t.Errorf("drain delay timers = %v; want one of 1h", delays)
	}
	addr := base[len("http://"):]
	deadline = time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("dial %s still accepted 5s after the drain delay ended", addr)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	close(release)
	if r := <-inFlight; r.err != nil || r.status != http.StatusOK || r.body != "done" {
		t.Errorf("in-flight GET across the drain = %d %q %v; want 200 done", r.status, r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after a clean drain = %v; want nil", err)
	}
}
