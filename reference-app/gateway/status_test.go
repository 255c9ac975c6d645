package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// statusAPI is a fake api replica: healthy, and answering GET /v1/status
// with a report whose cache is degraded while ok is true, 503 otherwise.
func statusAPI(t *testing.T, ok *atomic.Bool, asked *atomic.Int64) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		asked.Add(1)
		if !ok.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(statusReport{Status: "degraded", Message: "x", UpdatedAt: time.Unix(1e9, 0).UTC(), Components: []statusComponent{
			{Name: "api", State: "operational", Message: "The service answers."},
			{Name: "store", State: "operational", Message: "fine"},
			{Name: "cache", State: "degraded", Message: "slower"},
		}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestStatusIsCachedAndOutlivesTheBackend(t *testing.T) {
	var ok atomic.Bool
	var asked atomic.Int64
	ok.Store(true)
	clock := newFakeClock()
	backend := statusAPI(t, &ok, &asked)
	h := newHarness(t, []*httptest.Server{backend, newAPI(t, "other")}, WithClock(clock.Now), WithHealthInterval(5*time.Millisecond))
	get := func() statusReport {
		t.Helper()
		a := h.send(t, "GET", "/v1/status", "", nil)
		var rep statusReport
		if a.status != 200 || json.Unmarshal([]byte(a.body), &rep) != nil {
			t.Fatalf("GET /v1/status = %d %s; want 200 and a report", a.status, a.body)
		}
		return rep
	}
	states := func(rep statusReport) map[string]string {
		m := map[string]string{}
		for _, c := range rep.Components {
			m[c.Name] = c.State
		}
		return m
	}
	// The gateway balances: ask until the fake answered once.
	var rep statusReport
	h.waitFor(t, "a report from the fake api", func() bool {
		clock.Advance(statusFresh)
		rep = get()
		return states(rep)["cache"] == "degraded"
	})
	if s := states(rep); rep.Status != "degraded" || rep.Stale || s["api"] != "operational" || s["store"] != "operational" {
		t.Errorf("report = %+v; want degraded (the cache), api and store operational, not stale", rep)
	}
	// Within statusFresh, the copy is served without asking.
	n := asked.Load()
	for range 5 {
		get()
	}
	if asked.Load() != n {
		t.Errorf("the api was asked %d more times within %v; want 0", asked.Load()-n, statusFresh)
	}
	// The backend answers no status: the last copy, marked stale.
	ok.Store(false)
	h.backends[1].Close()
	h.waitFor(t, "the other api down", func() bool { return h.upCount() == 1 })
	clock.Advance(statusFresh)
	rep = get()
	if s := states(rep); !rep.Stale || s["cache"] != "degraded" || s["api"] != "degraded" || rep.Status != "degraded" {
		t.Errorf("report with no api answering and one of two up = %+v; want the stale copy, api degraded", rep)
	}
	// Every api down: still 200, api outage.
	backend.Close()
	h.waitFor(t, "every api down", func() bool { return h.upCount() == 0 })
	rep = get()
	if s := states(rep); !rep.Stale || s["api"] != "outage" || rep.Status != "outage" || s["store"] != "operational" {
		t.Errorf("report with every api down = %+v; want the stale copy with api outage", rep)
	}
}

func TestStatusWithNoCopyYet(t *testing.T) {
	var ok atomic.Bool
	var asked atomic.Int64
	h := newHarness(t, []*httptest.Server{statusAPI(t, &ok, &asked)}, WithHealthInterval(5*time.Millisecond))
	a := h.send(t, "GET", "/v1/status", "", nil)
	var rep statusReport
	if a.status != 200 || json.Unmarshal([]byte(a.body), &rep) != nil || !rep.Stale || len(rep.Components) != 1 || rep.Components[0].Name != "api" {
		t.Errorf("GET /v1/status with no report ever = %d %s; want 200, stale, the api component alone", a.status, a.body)
	}
}
