package gateway

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestRetryBudget(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0)
	type step struct {
		at       time.Duration // since t0
		requests int           // first attempts recorded before the retries
		retries  int           // retries asked for
		want     int           // retries allowed
	}
	tests := []struct {
		name         string
		ratio        float64
		minPerSecond int
		steps        []step
	}{
		{"minimum per second only", 0, 3, []step{
			{0, 100, 5, 3},
			{500 * time.Millisecond, 0, 2, 0}, // same second: spent
			{time.Second, 0, 5, 3},            // the next second has its own
		}},
		{"fraction of the window", 0.5, 0, []step{
			{0, 10, 6, 5},
			{9 * time.Second, 0, 1, 0},  // still the same window: spent
			{10 * time.Second, 0, 1, 0}, // the requests left the window
			{10 * time.Second, 4, 3, 2},
		}},
		{"fraction and minimum add up", 0.2, 2, []step{
			{0, 10, 10, 4},                    // 0.2 × 10, plus 2
			{500 * time.Millisecond, 0, 1, 0}, // both spent
			{time.Second, 0, 3, 2},            // a new second: the minimum again, not the fraction
			{10 * time.Second, 20, 10, 4 + 2}, // a new window: 0.2 × 20, plus 2
		}},
		{"disabled", 0, 0, []step{{0, 1000, 3, 0}}},
		{"retries of an old window do not count", 0.1, 0, []step{
			{0, 10, 1, 1},
			{30 * time.Second, 10, 1, 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRetryBudget(tt.ratio, tt.minPerSecond)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				for range s.requests {
					b.request(now)
				}
				got := 0
				for range s.retries {
					if b.allowRetry(now) {
						got++
					}
				}
				if got != s.want {
					t.Errorf("step %d at +%v: %d requests, then %d retries asked: %d allowed; want %d", i, s.at, s.requests, s.retries, got, s.want)
				}
			}
		})
	}
}

// TestRetryBudgetExhaustedUnderBurst sends a burst of concurrent GETs to two
// upstreams that both fail: only the budget's minimum per second is retried,
// the rest is counted as budget_exhausted and answered with the upstream's
// own 503.
func TestRetryBudgetExhaustedUnderBurst(t *testing.T) {
	const burst, minPerSecond = 40, 5
	h := newHarness(t, []*httptest.Server{
		newSwitchServer(t, "broken", http.StatusServiceUnavailable).Server,
		newSwitchServer(t, "broken", http.StatusServiceUnavailable).Server,
	}, WithHealthInterval(forever), WithClock(newFakeClock().Now), // one clock second
		WithEjection(1_000, time.Second, time.Minute), // no ejection: every request fails first
		WithRetryBudget(0, minPerSecond))
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			a, err := h.do("GET", "/v1/feed", "", nil)
			if err != nil || a.status != http.StatusServiceUnavailable || a.instance != "broken" {
				t.Errorf("GET #%d with both upstreams failing = %+v, %v; want their 503", i, a, err)
			}
		})
	}
	wg.Wait()
	if got := h.retriesBy(RetryRetried); got != minPerSecond {
		t.Errorf("refapp_gateway_retries_total{result=retried} = %v; want %d", got, minPerSecond)
	}
	if got := h.retriesBy(RetryBudgetExhausted); got != burst-minPerSecond {
		t.Errorf("refapp_gateway_retries_total{result=budget_exhausted} = %v; want %d", got, burst-minPerSecond)
	}
	if got := h.attempts("api-0", "503") + h.attempts("api-1", "503"); got != burst+minPerSecond {
		t.Errorf("attempts on the upstreams = %v; want %d (each request once, plus the retries)", got, burst+minPerSecond)
	}
}
