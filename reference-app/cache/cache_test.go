package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a cache served over HTTP on 127.0.0.1:0 with a fake clock.
type harness struct {
	cache  *Cache
	client *Client
	url    string
	reg    *prometheus.Registry
	clock  *fakeClock
}

func newHarness(t *testing.T, opts ...Option) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewRegistry(), clock: newFakeClock()}
	c, err := New(append([]Option{WithRegisterer(h.reg), WithClock(h.clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	h.cache, h.url = c, srv.URL
	if h.client, err = NewClient(srv.URL); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) requests(op, result string) float64 {
	return testutil.ToFloat64(h.cache.metrics.requests.WithLabelValues(op, result))
}

// wantHit fails unless key holds want with the given age.
func (h *harness) wantHit(t *testing.T, key, want string, wantAge time.Duration) {
	t.Helper()
	got, age, err := h.client.Get(context.Background(), key)
	if err != nil || string(got) != want || age != wantAge {
		t.Errorf("Get(%q) = %q, %v, %v; want %q, %v, nil", key, got, age, err, want, wantAge)
	}
}

// wantMiss fails unless key is a miss.
func (h *harness) wantMiss(t *testing.T, key string) {
	t.Helper()
	got, _, err := h.client.Get(context.Background(), key)
	if !errors.Is(err, ErrMiss) {
		t.Errorf("Get(%q) = %q, %v; want an error wrapping ErrMiss", key, got, err)
	}
}

func (h *harness) set(t *testing.T, key, value string, ttl time.Duration) {
	t.Helper()
	if err := h.client.Set(context.Background(), key, []byte(value), ttl); err != nil {
		t.Fatalf("Set(%q, %q, %v) = %v; want nil", key, value, ttl, err)
	}
}

func TestTTLExpiry(t *testing.T) {
	h := newHarness(t, WithDefaultTTL(10*time.Second))
	h.set(t, "short", "s", 30*time.Second)
	h.set(t, "default", "d", 0)

	h.clock.Advance(10*time.Second - time.Millisecond)
	h.wantHit(t, "default", "d", 9*time.Second) // age rounds down
	h.clock.Advance(time.Millisecond)
	h.wantMiss(t, "default") // default TTL: gone at exactly 10s

	h.clock.Advance(19 * time.Second)
	h.wantHit(t, "short", "s", 29*time.Second)
	h.set(t, "short", "s2", 30*time.Second) // a new value starts a new life
	h.clock.Advance(29 * time.Second)
	h.wantHit(t, "short", "s2", 29*time.Second)
	h.clock.Advance(time.Second)
	h.wantMiss(t, "short")

	if got := h.cache.Len(); got != 0 {
		t.Errorf("Len() = %d after every entry expired; want 0", got)
	}
}

func TestLRUEviction(t *testing.T) {
	h := newHarness(t, WithCapacity(3))
	for _, k := range []string{"a", "b", "c"} {
		h.set(t, k, k, 0)
	}
	h.wantHit(t, "a", "a", 0) // a is now the most recently used: b is the oldest
	h.set(t, "c", "c2", 0)    // replacing a key evicts nothing
	h.set(t, "d", "d", 0)
	h.wantMiss(t, "b")
	h.wantHit(t, "a", "a", 0)
	h.wantHit(t, "c", "c2", 0)
	h.wantHit(t, "d", "d", 0)
	if got := testutil.ToFloat64(h.cache.metrics.evictions); got != 1 {
		t.Errorf("refapp_cache_evictions_total = %v; want 1", got)
	}
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(`
# HELP refapp_cache_items Live (unexpired) entries in the cache.
# TYPE refapp_cache_items gauge
refapp_cache_items 3
`), "refapp_cache_items"); err != nil {
		t.Error(err)
	}
}

func TestExpiredOldestIsNoEviction(t *testing.T) {
	h := newHarness(t, WithCapacity(2))
	h.set(t, "old", "o", time.Second)
	h.set(t, "live", "l", time.Minute)
	h.clock.Advance(2 * time.Second)
	h.set(t, "new", "n", 0) // the expired "old" makes the room
	h.wantHit(t, "live", "l", 2*time.Second)
	h.wantHit(t, "new", "n", 0)
	if got := testutil.ToFloat64(h.cache.metrics.evictions); got != 0 {
		t.Errorf("refapp_cache_evictions_total = %v after dropping an expired entry; want 0", got)
	}
}

func TestValueSizeLimit(t *testing.T) {
	const limit = 16
	h := newHarness(t, WithMaxValueBytes(limit))
	fits := strings.Repeat("x", limit)
	h.set(t, "k", fits, 0)
	h.wantHit(t, "k", fits, 0)

	err := h.client.Set(context.Background(), "k", []byte(fits+"y"), 0)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Set of %d bytes = %v; want an error wrapping ErrTooLarge", limit+1, err)
	}
	// A body of unknown length (chunked) is cut at the limit too.
	req, _ := http.NewRequest(http.MethodPut, h.url+PathPrefix+"k", io.MultiReader(strings.NewReader(fits), strings.NewReader("y")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.ContentLength != 0 || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked PUT of %d bytes (ContentLength %d) = %d; want 413", limit+1, req.ContentLength, resp.StatusCode)
	}
	h.wantHit(t, "k", fits, 0) // a refused PUT leaves the old value
	if got := h.requests(opPut, resultRejected); got != 2 {
		t.Errorf("requests_total{op=put,result=rejected} = %v; want 2", got)
	}
}

func TestMissAndDelete(t *testing.T) {
	h := newHarness(t)
	resp, err := http.Get(h.url + PathPrefix + "nothing")
	if err != nil {
		t.Fatal(err)
	}
	var body errorBody
	decErr := json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || decErr != nil || body.Error == "" ||
		resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET of an absent key = %d %q %+v (%v); want 404 application/json {\"error\":...}",
			resp.StatusCode, resp.Header.Get("Content-Type"), body, decErr)
	}

	h.set(t, "k", "v", 0)
	for range 2 { // deleting an absent key is fine too
		if err := h.client.Delete(context.Background(), "k"); err != nil {
			t.Errorf("Delete(k) = %v; want nil", err)
		}
	}
	h.wantMiss(t, "k")
	for _, c := range []struct {
		op, result string
		want       float64
	}{
		{opGet, resultMiss, 2}, {opGet, resultHit, 0}, {opPut, resultStored, 1}, {opDelete, resultDeleted, 2},
	} {
		if got := h.requests(c.op, c.result); got != c.want {
			t.Errorf("requests_total{op=%s,result=%s} = %v; want %v", c.op, c.result, got, c.want)
		}
	}
}

func TestWireFormat(t *testing.T) {
	h := newHarness(t)
	value := []byte{0, 1, 2, 0xff, '\n'} // any bytes, as stored
	req, _ := http.NewRequest(http.MethodPut, h.url+PathPrefix+"bin", bytes.NewReader(value))
	req.Header.Set(TTLHeader, "30") // whole seconds work too
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT = %d; want 204", resp.StatusCode)
	}
	h.clock.Advance(2500 * time.Millisecond)
	resp, err = http.Get(h.url + PathPrefix + "bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, value) || resp.Header.Get(AgeHeader) != "2" {
		t.Errorf("GET = %d %q %s=%q; want 200 %q %s=\"2\"", resp.StatusCode, got, AgeHeader, resp.Header.Get(AgeHeader), value, AgeHeader)
	}
	h.clock.Advance(28 * time.Second)
	h.wantMiss(t, "bin") // "30" meant 30 s
}

func TestBadTTL(t *testing.T) {
	h := newHarness(t, WithMaxTTL(time.Hour))
	for _, ttl := range []string{
		"soon",                 // not a duration
		"-5s",                  // negative
		"0s",                   // zero
		"0",                    // zero seconds
		"61m",                  // over the max TTL
		"99999999999999999999", // overflows
		"9223372036854775807",  // seconds that overflow a Duration
	} {
		req, _ := http.NewRequest(http.MethodPut, h.url+PathPrefix+"k", strings.NewReader("v"))
		req.Header.Set(TTLHeader, ttl)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PUT with %s %q = %d; want 400", TTLHeader, ttl, resp.StatusCode)
		}
	}
	h.wantMiss(t, "k")
}

func TestKeys(t *testing.T) {
	h := newHarness(t)
	keys := []string{"feed:20", "a b", "ünï", "q?x=1#f", "%2F", "a%2Fb", "...", ".a", "\x00\n", strings.Repeat("k", MaxKeyBytes)}
	for _, k := range keys {
		h.set(t, k, "value of "+k, 0)
	}
	for _, k := range keys {
		h.wantHit(t, k, "value of "+k, 0)
	}
	if got := h.cache.Len(); got != len(keys) {
		t.Errorf("Len() = %d; want %d distinct keys", got, len(keys))
	}
	for _, k := range []string{"", ".", "..", "a/b", "/", strings.Repeat("k", MaxKeyBytes+1)} {
		if err := h.client.Set(context.Background(), k, []byte("v"), 0); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Set(%q) = %v; want an error wrapping ErrInvalidKey", k, err)
		}
	}
	// The server refuses them too, when they reach it.
	for _, path := range []string{"a%2Fb", "x%2F..%2Fy", strings.Repeat("k", MaxKeyBytes+1)} {
		req, _ := http.NewRequest(http.MethodPut, h.url+PathPrefix+path, strings.NewReader("v"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("PUT %s%s = %d; want 400", PathPrefix, path, resp.StatusCode)
		}
	}
}

func TestSweepRemovesExpired(t *testing.T) {
	clock := newFakeClock()
	c, err := New(WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	for k, ttl := range map[string]time.Duration{"1s": time.Second, "2s": 2 * time.Second, "1h": time.Hour} {
		if _, err := c.Set(k, []byte(k), ttl); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(1500 * time.Millisecond)
	if n := c.sweep(); n != 1 || c.lru.Len() != 2 {
		t.Errorf("sweep() at 1.5s = %d, leaving %d; want 1, leaving 2", n, c.lru.Len())
	}
	clock.Advance(time.Second)
	if n := c.sweep(); n != 1 || c.lru.Len() != 1 {
		t.Errorf("sweep() at 2.5s = %d, leaving %d; want 1, leaving 1", n, c.lru.Len())
	}
}

func TestRunStopsWithContext(t *testing.T) {
	c, err := New(WithSweepInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run after cancel = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still running 10s after its context was cancelled")
	}
}

func TestNewValidates(t *testing.T) {
	for _, tt := range []struct {
		opts []Option
		want string
	}{
		{[]Option{WithCapacity(0)}, "capacity 0"},
		{[]Option{WithDefaultTTL(0)}, "default TTL 0s"},
		{[]Option{WithDefaultTTL(time.Hour), WithMaxTTL(time.Minute)}, "max TTL 1m0s"},
		{[]Option{WithMaxValueBytes(-1)}, "max value bytes -1"},
		{[]Option{WithSweepInterval(0)}, "sweep interval 0s"},
	} {
		if _, err := New(tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(...) error = %v; want one mentioning %q", err, tt.want)
		}
	}
}

func TestClientStatusError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusServiceUnavailable, "overloaded")
	}))
	defer srv.Close()
	c, err := NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Get(context.Background(), "k")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || se.Message != "overloaded" || se.Op != "get" {
		t.Errorf("Get against a 503 = %v; want *StatusError{get 503 overloaded}", err)
	}
	if errors.Is(err, ErrMiss) {
		t.Errorf("Get against a 503 is a miss; want not")
	}
	for _, bad := range []string{"127.0.0.1:1", "ftp://h", "http://h/path", "http://"} {
		if _, err := NewClient(bad); err == nil {
			t.Errorf("NewClient(%q) = nil error; want one", bad)
		}
	}
}
