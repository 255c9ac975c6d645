package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gameday/gameday/reference-app/server"
	"github.com/gameday/gameday/reference-app/telemetry"
)

// switchServer is a replica that passes health checks while healthz is 200
// and answers every other request with status, both switchable.
type switchServer struct {
	*httptest.Server
	status  atomic.Int64
	healthz atomic.Int64
}

func newSwitchServer(t *testing.T, name string, status int) *switchServer {
	t.Helper()
	s := &switchServer{}
	s.status.Store(int64(status))
	s.healthz.Store(http.StatusOK)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(s.healthz.Load()))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(telemetry.InstanceHeader, name)
		w.WriteHeader(int(s.status.Load()))
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (h *harness) attempts(upstream, code string) float64 {
	return testutil.ToFloat64(h.g.metrics.requests.WithLabelValues(upstream, code))
}

func (h *harness) ejections(upstream, reason string) float64 {
	return testutil.ToFloat64(h.g.metrics.ejections.WithLabelValues(upstream, reason))
}

// sendUntil sends GETs until cond holds, at most 50, each answered 200 (a
// failing attempt is retried on the other upstream).
func (h *harness) sendUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i == 50 {
			t.Fatalf("50 GETs and still not %s; status %+v", what, h.g.Status())
		}
		if a := h.send(t, "GET", "/v1/feed", "", nil); a.status != http.StatusOK {
			t.Fatalf("GET = %d from %q %s; want 200 (retried on the good upstream)", a.status, a.instance, a.body)
		}
	}
}

// TestOutlierEjectionAndReturn walks an upstream answering 503 through
// ejection, return on probation, a doubled ejection, recovery and a fresh
// ejection at the base time, on a fake clock.
func TestOutlierEjectionAndReturn(t *testing.T) {
	const base = 2 * time.Second
	clock := newFakeClock()
	bad := newSwitchServer(t, "bad", http.StatusServiceUnavailable)
	h := newHarness(t, []*httptest.Server{bad.Server, newAPI(t, "good")},
		WithHealthInterval(forever), WithClock(clock.Now), WithEjection(3, base, 30*time.Second))

	// Three 503s in a row from api-0 eject it (each GET is retried on api-1).
	h.sendUntil(t, "api-0 ejected", func() bool { return h.ejections("api-0", ReasonConsecutiveFailures) == 1 })
	if got := h.attempts("api-0", "503"); got != 3 {
		t.Errorf("503 answers from api-0 before its ejection = %v; want 3", got)
	}
	st := h.g.Status()[0]
	if want := clock.Now().Add(base); st.Up || !st.Healthy || !st.EjectedUntil.Equal(want) {
		t.Errorf("api-0 after 3 failures = %+v; want ejected until %v, healthy, not up", st, want)
	}
	if got := h.gauge(t, "refapp_gateway_upstream_up", "api-0"); got != 0 {
		t.Errorf("refapp_gateway_upstream_up{upstream=api-0} while ejected = %v; want 0", got)
	}
	for i := range 10 {
		if a := h.send(t, "GET", "/v1/feed", "", nil); a.instance != "good" {
			t.Fatalf("GET #%d while api-0 is ejected answered by %q; want good", i, a.instance)
		}
	}
	if got := h.attempts("api-0", "503"); got != 3 {
		t.Errorf("attempts on api-0 while ejected = %v; want none beyond the 3", got-3)
	}

	// The ejection time passes: api-0 is back, on probation. One more 503
	// ejects it again, for twice as long.
	clock.Advance(base - time.Nanosecond)
	if h.g.Status()[0].Up {
		t.Fatalf("api-0 1ns before its ejection ends: up; want ejected")
	}
	clock.Advance(time.Nanosecond)
	if st := h.g.Status()[0]; !st.Up || !st.Probation {
		t.Fatalf("api-0 when its ejection ends = %+v; want up, on probation", st)
	}
	h.sendUntil(t, "api-0 ejected on probation", func() bool { return h.ejections("api-0", ReasonProbation) == 1 })
	if got := h.attempts("api-0", "503"); got != 4 {
		t.Errorf("503 answers from api-0 = %v; want 4 (one failure on probation is enough)", got)
	}
	if want := clock.Now().Add(2 * base); !h.g.Status()[0].EjectedUntil.Equal(want) {
		t.Errorf("second ejection until %v; want %v (doubled)", h.g.Status()[0].EjectedUntil, want)
	}
	clock.Advance(base)
	if h.g.Status()[0].Up {
		t.Errorf("api-0 one base time into a doubled ejection: up; want still ejected")
	}
	clock.Advance(base)

	// Healthy again: three successes in a row end probation, and the next
	// ejection is back at the base time.
	bad.status.Store(http.StatusOK)
	h.sendUntil(t, "api-0 through probation", func() bool { return !h.g.Status()[0].Probation })
	if got := h.attempts("api-0", "200"); got != 3 {
		t.Errorf("successes of api-0 to pass probation = %v; want 3", got)
	}
	bad.status.Store(http.StatusBadGateway)
	h.sendUntil(t, "api-0 ejected a third time", func() bool { return h.ejections("api-0", ReasonConsecutiveFailures) == 2 })
	if got := h.attempts("api-0", "502"); got != 3 {
		t.Errorf("502 answers before the third ejection = %v; want 3 (probation passed: a full streak again)", got)
	}
	if want := clock.Now().Add(base); !h.g.Status()[0].EjectedUntil.Equal(want) {
		t.Errorf("ejection after passing probation until %v; want %v (back to the base time)", h.g.Status()[0].EjectedUntil, want)
	}
}

// TestSuccessResetsFailureStreak: failures that are not consecutive never
// eject.
func TestSuccessResetsFailureStreak(t *testing.T) {
	flaky := newSwitchServer(t, "flaky", http.StatusServiceUnavailable)
	h := newHarness(t, []*httptest.Server{flaky.Server, newAPI(t, "good")},
		WithHealthInterval(forever), WithClock(newFakeClock().Now), WithEjection(3, time.Second, time.Minute))
	for range 5 {
		// Two 503s from api-0 (every other GET reaches it), then a success.
		flaky.status.Store(http.StatusServiceUnavailable)
		before := h.attempts("api-0", "503")
		h.sendUntil(t, "two 503s", func() bool { return h.attempts("api-0", "503") == before+2 })
		flaky.status.Store(http.StatusOK)
		before = h.attempts("api-0", "200")
		h.sendUntil(t, "one success", func() bool { return h.attempts("api-0", "200") == before+1 })
	}
	if got := testutil.CollectAndCount(h.g.metrics.ejections); got != 0 {
		t.Errorf("ejections after 5 rounds of 2 failures and a success = %d series; want none", got)
	}
}

func TestEjectionTimeDoublesUpToMax(t *testing.T) {
	g, err := New([]Upstream{{Name: "a", URL: mustURL(t, "http://127.0.0.1:1")}}, WithEjection(3, 2*time.Second, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		k    int
		want time.Duration
	}{
		{0, 2 * time.Second},
		{1, 4 * time.Second},
		{2, 8 * time.Second},
		{3, 16 * time.Second},
		{4, 30 * time.Second},  // 32s capped
		{70, 30 * time.Second}, // no overflow
	}
	for _, tt := range tests {
		if got := g.ejectionTime(tt.k); got != tt.want {
			t.Errorf("ejectionTime(%d) = %v; want %v", tt.k, got, tt.want)
		}
	}
}

// TestPanicThreshold: when every upstream fails, ejection stops short of
// the last routable one, which keeps answering (its own 503, never the
// gateway's "no healthy upstream").
func TestPanicThreshold(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d upstreams", n), func(t *testing.T) {
			var backends []*httptest.Server
			for range n {
				backends = append(backends, newSwitchServer(t, "broken", http.StatusServiceUnavailable).Server)
			}
			h := newHarness(t, backends, WithHealthInterval(forever), WithClock(newFakeClock().Now), WithEjection(2, time.Second, time.Minute))
			for i := range 30 {
				a := h.send(t, "GET", "/v1/feed", "", nil)
				if a.status != http.StatusServiceUnavailable || a.instance != "broken" {
					t.Fatalf("GET #%d with every upstream failing = %d from %q %s; want the upstream's 503", i, a.status, a.instance, a.body)
				}
			}
			ejected, up := 0, 0
			for _, s := range h.g.Status() {
				if !s.EjectedUntil.IsZero() {
					ejected++
				}
				if s.Up {
					up++
				}
			}
			if ejected != n-1 || up != 1 {
				t.Errorf("%d failing upstreams: %d ejected, %d up; want %d ejected and 1 up (status %+v)", n, ejected, up, n-1, h.g.Status())
			}
		})
	}
}

// TestPanicRoutingToEjected: when the only upstream not ejected fails its
// health checks, the gateway routes to the ejected but healthy one rather
// than answer 503 itself.
func TestPanicRoutingToEjected(t *testing.T) {
	clock := newFakeClock()
	a := newSwitchServer(t, "a", http.StatusServiceUnavailable)
	b := newSwitchServer(t, "b", http.StatusOK)
	h := newHarness(t, []*httptest.Server{a.Server, b.Server},
		WithHealthInterval(5*time.Millisecond), WithClock(clock.Now), WithEjection(1, time.Minute, time.Hour))
	h.sendUntil(t, "a ejected", func() bool { return h.ejections("api-0", ReasonConsecutiveFailures) == 1 })
	a.status.Store(http.StatusOK)
	b.healthz.Store(http.StatusInternalServerError)
	h.waitFor(t, "b down by health checks", func() bool { return !h.g.Status()[1].Healthy })
	if err := h.g.Ready(t.Context()); err != nil {
		t.Errorf("Ready with one healthy but ejected upstream = %v; want nil", err)
	}
	for i := range 5 {
		if got := h.send(t, "GET", "/v1/feed", "", nil); got.status != http.StatusOK || got.instance != "a" {
			t.Errorf("GET #%d with a ejected and b down = %d from %q %s; want 200 from a", i, got.status, got.instance, got.body)
		}
	}
}

// TestConnectionErrorOnLastUpstream: a connection error on the only
// upstream does not eject it; health checks decide.
func TestConnectionErrorOnLastUpstream(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", server.Healthz)
	only := httptest.NewServer(mux)
	t.Cleanup(only.Close)
	h := newHarness(t, []*httptest.Server{only}, WithHealthInterval(forever))
	only.Close()
	if a := h.send(t, "GET", "/v1/feed", "", nil); a.status != http.StatusBadGateway {
		t.Errorf("GET with the only upstream refusing = %d %s; want 502", a.status, a.body)
	}
	if st := h.g.Status()[0]; !st.Up || !st.EjectedUntil.IsZero() {
		t.Errorf("only upstream after a connection error = %+v; want still up (never eject the last)", st)
	}
}
