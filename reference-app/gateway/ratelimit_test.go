package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRateLimitIsolatesClients is the acceptance check "overload from one
// client: 429 with Retry-After, other clients unaffected". On a fake clock
// ticking 125 ms (one token at 8/s), a greedy client sends 4 concurrent
// requests per tick and a polite one sends 1.
func TestRateLimitIsolatesClients(t *testing.T) {
	const (
		perSecond = 8
		burst     = 8
		ticks     = 20
		greedyPer = 4
		tick      = time.Second / perSecond
	)
	clock := newFakeClock()
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0"), newAPI(t, "api-1")},
		WithHealthInterval(forever), WithClock(clock.Now), WithRateLimit(perSecond, burst))
	var (
		mu                   sync.Mutex // guards the counts
		greedyOK, greedy429  int
		politeOK, politeElse int
	)
	for i := range ticks {
		var wg sync.WaitGroup
		for range greedyPer {
			wg.Go(func() {
				a, err := h.do("GET", "/v1/feed", "", map[string]string{ClientIDHeader: "greedy"})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				switch a.status {
				case http.StatusOK:
					greedyOK++
				case http.StatusTooManyRequests:
					greedy429++
					var e struct{ Error string }
					if ra := a.header.Get("Retry-After"); ra != "1" {
						t.Errorf("429 Retry-After = %q; want 1 (a token comes within %v)", ra, tick)
					}
					if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error == "" || a.header.Get("Content-Type") != "application/json" {
						t.Errorf("429 body = %q (%s); want a JSON error", a.body, a.header.Get("Content-Type"))
					}
				default:
					t.Errorf("greedy GET = %d %s; want 200 or 429, never anything else", a.status, a.body)
				}
			})
		}
		a := h.send(t, "GET", "/v1/feed", "", map[string]string{ClientIDHeader: "polite"})
		wg.Wait()
		if a.status == http.StatusOK {
			politeOK++
		} else {
			politeElse++
			t.Errorf("polite GET at tick %d = %d %s; want 200", i, a.status, a.body)
		}
		clock.Advance(tick)
	}
	// The greedy client gets its burst, then one token per tick: 4 + 4 + 2
	// in the first three ticks, 1 in each of the 17 others.
	if want := burst + ticks - 1; greedyOK != want || greedy429 != ticks*greedyPer-want {
		t.Errorf("greedy client: %d OK, %d 429; want %d OK, %d 429", greedyOK, greedy429, want, ticks*greedyPer-want)
	}
	if politeOK != ticks {
		t.Errorf("polite client: %d OK of %d; want all", politeOK, ticks)
	}
	if got := testutil.ToFloat64(h.g.metrics.rateLimited); got != float64(greedy429) {
		t.Errorf("refapp_gateway_rate_limited_total = %v; want %d (the 429s)", got, greedy429)
	}
	if got := testutil.CollectAndCount(h.g.metrics.requests); got == 0 {
		t.Errorf("no upstream attempts recorded; want the admitted requests proxied")
	}
}

// TestRetryAfterFromReservationDelay: Retry-After is the wait for the next
// token, rounded up to whole seconds.
func TestRetryAfterFromReservationDelay(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0")},
		WithHealthInterval(forever), WithClock(clock.Now), WithRateLimit(0.25, 1)) // a token every 4 s
	steps := []struct {
		advance time.Duration
		status  int
		retry   string
	}{
		{0, http.StatusOK, ""},
		{0, http.StatusTooManyRequests, "4"},
		{1500 * time.Millisecond, http.StatusTooManyRequests, "3"}, // 2.5 s left
		{2 * time.Second, http.StatusTooManyRequests, "1"},         // 0.5 s left
		{500 * time.Millisecond, http.StatusOK, ""},
		{0, http.StatusTooManyRequests, "4"}, // refused requests took no token
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		a := h.send(t, "GET", "/v1/feed", "", nil)
		if a.status != s.status || a.header.Get("Retry-After") != s.retry {
			t.Errorf("step %d (+%v): GET = %d, Retry-After %q; want %d, %q", i, s.advance, a.status, a.header.Get("Retry-After"), s.status, s.retry)
		}
	}
}

// TestRateLimitKeys: each identity has its own bucket (burst 1, frozen
// clock: a second request of the same client is refused).
func TestRateLimitKeys(t *testing.T) {
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0")},
		WithHealthInterval(forever), WithClock(newFakeClock().Now), WithRateLimit(1, 1))
	steps := []struct {
		what   string
		header map[string]string
		want   int
	}{
		{"client a", map[string]string{ClientIDHeader: "a"}, http.StatusOK},
		{"client b", map[string]string{ClientIDHeader: "b"}, http.StatusOK},
		{"client a again", map[string]string{ClientIDHeader: "a"}, http.StatusTooManyRequests},
		{"alice's JWT", map[string]string{"Authorization": "Bearer " + jwt(`{"sub":"alice"}`)}, http.StatusOK},
		{"another JWT of alice", map[string]string{"Authorization": "Bearer " + jwt(`{"sub":"alice","iat":2}`)}, http.StatusTooManyRequests},
		{"bob's JWT", map[string]string{"Authorization": "Bearer " + jwt(`{"sub":"bob"}`)}, http.StatusOK},
		{"no identity: the IP", map[string]string{"Authorization": ""}, http.StatusOK}, // no default token
		{"an opaque token: the IP again", map[string]string{"Authorization": "Bearer opaque"}, http.StatusTooManyRequests},
	}
	for _, s := range steps {
		if a := h.send(t, "GET", "/v1/feed", "", s.header); a.status != s.want {
			t.Errorf("%s: GET = %d; want %d", s.what, a.status, s.want)
		}
	}
}

// TestRateLimitTracksBoundedClients: beyond the bound the least recently
// seen client is forgotten, and starts again with a full bucket.
func TestRateLimitTracksBoundedClients(t *testing.T) {
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0")},
		WithHealthInterval(forever), WithClock(newFakeClock().Now), WithRateLimit(1, 1), WithRateLimitClients(3))
	get := func(client string) int {
		return h.send(t, "GET", "/v1/feed", "", map[string]string{ClientIDHeader: client}).status
	}
	if s1, s2 := get("c0"), get("c0"); s1 != http.StatusOK || s2 != http.StatusTooManyRequests {
		t.Fatalf("c0 twice = %d, %d; want 200, 429", s1, s2)
	}
	for i := 1; i <= 10; i++ {
		if s := get(fmt.Sprintf("c%d", i)); s != http.StatusOK {
			t.Errorf("new client c%d = %d; want 200", i, s)
		}
	}
	if got := h.g.limiter.tracked(); got != 3 {
		t.Errorf("clients tracked after 11 = %d; want 3", got)
	}
	if s := get("c0"); s != http.StatusOK {
		t.Errorf("c0 after being forgotten = %d; want 200 (a fresh bucket)", s)
	}
	if s := get("c10"); s != http.StatusTooManyRequests {
		t.Errorf("c10, recently seen, again = %d; want 429 (still tracked)", s)
	}
}

func TestRateLimitDisabled(t *testing.T) {
	h := newHarness(t, []*httptest.Server{newAPI(t, "api-0")},
		WithHealthInterval(forever), WithClock(newFakeClock().Now), WithRateLimit(0, 0))
	if h.g.limiter != nil {
		t.Fatalf("rate limit 0: a limiter was built; want none")
	}
	for i := range 50 {
		if a := h.send(t, "GET", "/v1/feed", "", map[string]string{ClientIDHeader: "one"}); a.status != http.StatusOK {
			t.Fatalf("GET #%d with rate limiting off = %d; want 200", i, a.status)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want int64
	}{
		{time.Nanosecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{2500 * time.Millisecond, 3},
		{0, 1},
	}
	for _, tt := range tests {
		if got := retryAfterSeconds(tt.wait); got != tt.want {
			t.Errorf("retryAfterSeconds(%v) = %d; want %d", tt.wait, got, tt.want)
		}
	}
}
