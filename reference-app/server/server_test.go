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
