package gateway

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gameday/gameday/reference-app/server"
	"github.com/gameday/gameday/reference-app/telemetry"
)

func TestParseBalance(t *testing.T) {
	tests := []struct {
		in   string
		want Balance
		err  bool
	}{
		{"least-outstanding", LeastOutstanding, false},
		{"round-robin", RoundRobin, false},
		{"Round-Robin", 0, true}, // spelled exactly
		{"", 0, true},
		{"random", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseBalance(tt.in)
		if (err != nil) != tt.err || (err == nil && got != tt.want) {
			t.Errorf("ParseBalance(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("ParseBalance(%q).String() = %q; want it back", tt.in, got.String())
		}
	}
	var b Balance
	if err := b.UnmarshalText([]byte("round-robin")); err != nil || b != RoundRobin {
		t.Errorf("UnmarshalText(round-robin) = %v, %v; want RoundRobin", b, err)
	}
	if _, err := Balance(9).MarshalText(); err == nil {
		t.Errorf("Balance(9).MarshalText() = nil error; want an error")
	}
}

// holdServer is a replica that passes health checks and holds every other
// request until release is closed, after announcing it on arrived.
func holdServer(t *testing.T, arrived chan<- struct{}, release <-chan struct{}) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", server.Healthz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set(telemetry.InstanceHeader, "slow")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestLeastOutstandingAvoidsBusyUpstream parks one request on a slow
// upstream, then sends requests one at a time: least-outstanding sends
// every one of them to the idle upstream, while round robin (the control)
// sends every other one into the slow upstream.
func TestLeastOutstandingAvoidsBusyUpstream(t *testing.T) {
	tests := []struct {
		balance    Balance
		wantAtSlow int // of 20 requests sent while one is parked on slow
	}{
		{LeastOutstanding, 0},
		{RoundRobin, 10},
	}
	for _, tt := range tests {
		t.Run(tt.balance.String(), func(t *testing.T) {
			arrived, release := make(chan struct{}, 32), make(chan struct{})
			h := newHarness(t, []*httptest.Server{holdServer(t, arrived, release), newAPI(t, "fast")},
				WithHealthInterval(forever), WithBalance(tt.balance), WithUpstreamTimeout(time.Minute))
			var wg sync.WaitGroup
			defer wg.Wait()
			var releaseOnce sync.Once
			defer releaseOnce.Do(func() { close(release) })

			// The first request of a fresh rotation goes to api-0, the slow one.
			wg.Go(func() {
				if a, err := h.do("GET", "/v1/feed", "", nil); err != nil || a.instance != "slow" {
					t.Errorf("parked GET = %+v, %v; want an answer from slow once released", a, err)
				}
			})
			<-arrived
			if got := h.gauge(t, "refapp_gateway_upstream_outstanding", "api-0"); got != 1 {
				t.Errorf("refapp_gateway_upstream_outstanding{upstream=api-0} with one parked request = %v; want 1", got)
			}

			atSlow := 0
			for i := range 20 {
				done := make(chan answer, 1)
				wg.Go(func() {
					a, err := h.do("GET", "/v1/feed", "", nil)
					if err != nil {
						t.Errorf("GET #%d: %v", i, err)
					}
					done <- a
				})
				select {
				case a := <-done:
					if a.status != http.StatusOK || a.instance != "fast" {
						t.Errorf("GET #%d = %d from %q; want 200 from fast", i, a.status, a.instance)
					}
				case <-arrived:
					atSlow++ // held there until release
				}
			}
			if atSlow != tt.wantAtSlow {
				t.Errorf("%v: %d of 20 GETs went to the upstream holding a request; want %d", tt.balance, atSlow, tt.wantAtSlow)
			}
			if got := h.gauge(t, "refapp_gateway_upstream_outstanding", "api-0"); got != float64(1+atSlow) {
				t.Errorf("refapp_gateway_upstream_outstanding{upstream=api-0} = %v; want %d (the parked requests)", got, 1+atSlow)
			}
			if got := h.gauge(t, "refapp_gateway_upstream_outstanding", "api-1"); got != 0 {
				t.Errorf("refapp_gateway_upstream_outstanding{upstream=api-1} with no request in flight = %v; want 0", got)
			}

			releaseOnce.Do(func() { close(release) })
			wg.Wait()
			h.waitFor(t, "no request outstanding on api-0", func() bool {
				return h.gauge(t, "refapp_gateway_upstream_outstanding", "api-0") == 0
			})
		})
	}
}
