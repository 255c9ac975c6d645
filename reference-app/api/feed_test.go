package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// feed GETs the feed, failing unless the answer is 200.
func (f *fixture) feed(query string) (Feed, answer) {
	f.t.Helper()
	a := f.do("GET", "/v1/feed"+query, "", "")
	if a.status != http.StatusOK {
		f.t.Fatalf("GET /v1/feed%s = %d %s; want 200", query, a.status, a.body)
	}
	var feed Feed
	a.decode(f.t, &feed)
	return feed, a
}

func served(t *testing.T, f *fixture, source string) float64 {
	return metric(t, f.reg, "refapp_api_feed_served_total", map[string]string{"source": source})
}

func TestFeedNewestFirstAndLimits(t *testing.T) {
	f := newFixture(t, setup{})
	empty, _ := f.feed("")
	if empty.Items == nil || len(empty.Items) != 0 || empty.Instance != "api-test" {
		t.Errorf("feed of an empty store = %+v; want [] from api-test", empty)
	}
	_, token := f.user("alice")
	var ids []string
	for i := range MaxFeedLimit + 5 {
		ids = append(ids, f.post(token, fmt.Sprintf("post %d", i)).ID)
	}
	newest := ids[len(ids)-1]
	for _, tt := range []struct {
		query   string
		wantLen int
	}{
		{"", DefaultFeedLimit},
		{"?limit=1", 1},
		{"?limit=3", 3},
		{"?limit=500", MaxFeedLimit},
	} {
		feed, _ := f.feed(tt.query)
		if len(feed.Items) != tt.wantLen || feed.Items[0].ID != newest {
			t.Errorf("GET /v1/feed%s = %d items from %s; want %d from %s", tt.query, len(feed.Items), feed.Items[0].ID, tt.wantLen, newest)
			continue
		}
		for i := 1; i < len(feed.Items); i++ {
			if feed.Items[i].ID >= feed.Items[i-1].ID {
				t.Errorf("GET /v1/feed%s items[%d] %s after %s; want newest first", tt.query, i, feed.Items[i].ID, feed.Items[i-1].ID)
				break
			}
		}
	}
}

func TestFeedCacheAside(t *testing.T) {
	f := newFixture(t, setup{cache: true, opts: []Option{WithFeedFresh(time.Hour)}})
	_, token := f.user("alice")
	first := f.post(token, "first")

	feed, a := f.feed("")
	if a.header.Get(CacheHeader) != "miss" || len(feed.Items) != 1 || served(t, f, sourceStore) != 1 {
		t.Errorf("first feed: %s %q, %d items, served from store %v; want miss, 1 item, 1", CacheHeader, a.header.Get(CacheHeader), len(feed.Items), served(t, f, sourceStore))
	}
	raw, ttl, ok := f.cache.Entry(feedCacheKey)
	var cached feedCopy
	if !ok || json.Unmarshal(raw, &cached) != nil || len(cached.Items) != 1 || cached.BuiltAt.IsZero() {
		t.Fatalf("cached feed = %s (present %v); want the feed with its build time", raw, ok)
	}
	if d, err := time.ParseDuration(ttl); err != nil || d != DefaultFeedCacheTTL {
		t.Errorf("X-Cache-TTL of the feed = %q; want %v", ttl, DefaultFeedCacheTTL)
	}

	f.post(token, "second")
	feed, a = f.feed("")
	if a.header.Get(CacheHeader) != "hit" || len(feed.Items) != 1 || feed.Items[0].ID != first.ID || served(t, f, sourceCache) != 1 {
		t.Errorf("fresh cached feed: %s %q, %d items; want hit with the 1 cached item", CacheHeader, a.header.Get(CacheHeader), len(feed.Items))
	}
	if !feed.BuiltAt.Equal(cached.BuiltAt) {
		t.Errorf("feed builtAt %v; want the cached copy's %v", feed.BuiltAt, cached.BuiltAt)
	}
	if puts := f.cache.Puts(); puts != 1 {
		t.Errorf("cache PUTs after a hit = %d; want 1", puts)
	}
}

func TestFeedRebuiltWhenTheCachedCopyIsOld(t *testing.T) {
	f := newFixture(t, setup{cache: true, opts: []Option{WithFeedFresh(time.Hour)}})
	_, token := f.user("alice")
	f.post(token, "first")
	old := feedCopy{BuiltAt: time.Now().Add(-2 * time.Hour), Items: []Post{}}
	f.cache.Set(feedCacheKey, mustJSON(old))
	feed, a := f.feed("")
	if len(feed.Items) != 1 || a.header.Get(CacheHeader) != "miss" || a.header.Get(StaleHeader) != "" {
		t.Errorf("feed with a 2h-old cached copy (fresh 1h) = %d items, %s %q, stale %q; want 1 item from the store, not stale", len(feed.Items), CacheHeader, a.header.Get(CacheHeader), a.header.Get(StaleHeader))
	}
}

// TestStoreDown: with the store gone, the feed is the stale cached copy,
// marked; a post in it is found; writes fail at once with 503 and
// Retry-After, and after 3 failures the breaker answers without trying.
func TestStoreDown(t *testing.T) {
	f := newFixture(t, setup{cache: true, opts: []Option{WithFeedFresh(0)}})
	_, token := f.user("alice")
	p := f.post(token, "before the outage")
	f.feed("") // caches the feed
	f.store.Stop()

	feed, a := f.feed("")
	if len(feed.Items) != 1 || feed.Items[0].ID != p.ID {
		t.Errorf("feed with the store down = %+v; want the cached post", feed.Items)
	}
	if a.header.Get(StaleHeader) != "true" || a.header.Get("Warning") != `110 - "Response is Stale"` {
		t.Errorf("feed with the store down: %s %q, Warning %q; want true and 110", StaleHeader, a.header.Get(StaleHeader), a.header.Get("Warning"))
	}
	if served(t, f, sourceStale) != 1 {
		t.Errorf("refapp_api_feed_served_total{source=stale} = %v; want 1", served(t, f, sourceStale))
	}
	if a := f.do("GET", "/v1/posts/"+p.ID, "", ""); a.status != http.StatusOK || a.header.Get(StaleHeader) != "true" {
		t.Errorf("GET a cached post with the store down = %d, stale %q; want 200 marked stale", a.status, a.header.Get(StaleHeader))
	}
	if a := f.do("GET", "/v1/posts/unknown", "", ""); a.status != http.StatusServiceUnavailable {
		t.Errorf("GET an uncached post with the store down = %d; want 503", a.status)
	}

	for i := range 5 {
		a := f.do("POST", "/v1/posts", token, `{"text":"during the outage"}`)
		ra, err := strconv.Atoi(a.header.Get("Retry-After"))
		if a.status != http.StatusServiceUnavailable || err != nil || ra < 1 {
			t.Errorf("write %d with the store down = %d, Retry-After %q; want 503 with Retry-After", i, a.status, a.header.Get("Retry-After"))
		}
	}
	for _, w := range []struct{ method, path, body string }{
		{"PUT", "/v1/me", `{"displayName":"x","bio":""}`},
		{"POST", "/v1/devices", `{"deviceId":"d","platform":"ios","pushToken":"t"}`},
		{"POST", "/v1/sync", `{"deviceId":"d","items":[{"clientId":"c","text":"t"}]}`},
		{"GET", "/v1/me", ""},
	} {
		if a := f.do(w.method, w.path, token, w.body); a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
			t.Errorf("%s %s with the store down = %d, Retry-After %q; want 503 with Retry-After", w.method, w.path, a.status, a.header.Get("Retry-After"))
		}
	}
	if a := f.do("POST", "/v1/auth/signup", "", `{"username":"bob","password":"correct horse"}`); a.status != http.StatusServiceUnavailable {
		t.Errorf("signup with the store down = %d; want 503", a.status)
	}
	if got := metric(t, f.reg, "refapp_api_breaker_state", map[string]string{"dependency": "store"}); got != 2 {
		t.Errorf("refapp_api_breaker_state{dependency=store} = %v; want 2 (open)", got)
	}
	if got := metric(t, f.reg, "refapp_api_dependency_requests_total", map[string]string{"dependency": "store", "result": "rejected"}); got < 1 {
		t.Errorf("store calls rejected by the open breaker = %v; want some", got)
	}
	if got := metric(t, f.reg, "refapp_api_breaker_state", map[string]string{"dependency": "cache"}); got != 0 {
		t.Errorf("refapp_api_breaker_state{dependency=cache} = %v; want 0 (closed)", got)
	}
}

// TestStoreAndCacheDown: after one good read, the process's own copy
// answers when both the store and the cache are gone.
func TestStoreAndCacheDown(t *testing.T) {
	f := newFixture(t, setup{cache: true})
	_, token := f.user("alice")
	p := f.post(token, "remember me")
	f.feed("")
	f.store.Stop()
	f.cache.Stop()
	feed, a := f.feed("")
	if len(feed.Items) != 1 || feed.Items[0].ID != p.ID || a.header.Get(StaleHeader) != "true" || a.header.Get(CacheHeader) != "bypass" {
		t.Errorf("feed with store and cache down = %+v, stale %q, cache %q; want the remembered post, stale, bypass", feed.Items, a.header.Get(StaleHeader), a.header.Get(CacheHeader))
	}
}

func TestStoreDownWithoutAnyCopy(t *testing.T) {
	f := newFixture(t, setup{cache: true})
	f.store.Stop()
	a := f.do("GET", "/v1/feed", "", "")
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
		t.Errorf("feed with the store down and no copy anywhere = %d, Retry-After %q; want 503 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
}

// TestCacheDown: the feed comes from the store, marked bypass; never a 5xx,
// also once the cache's breaker is open.
func TestCacheDown(t *testing.T) {
	f := newFixture(t, setup{cache: true, opts: []Option{WithFeedFresh(time.Hour)}})
	_, token := f.user("alice")
	f.post(token, "hello")
	f.cache.Stop()
	for i := range 6 {
		feed, a := f.feed("")
		if len(feed.Items) != 1 || a.header.Get(CacheHeader) != "bypass" || a.header.Get(StaleHeader) != "" {
			t.Errorf("feed %d with the cache down = %d items, %s %q, stale %q; want 1 from the store, bypass, not stale", i, len(feed.Items), CacheHeader, a.header.Get(CacheHeader), a.header.Get(StaleHeader))
		}
	}
	if got := metric(t, f.reg, "refapp_api_breaker_state", map[string]string{"dependency": "cache"}); got != 2 {
		t.Errorf("refapp_api_breaker_state{dependency=cache} = %v; want 2 (open)", got)
	}
	if got := served(t, f, sourceStore); got != 6 {
		t.Errorf("refapp_api_feed_served_total{source=store} = %v; want 6", got)
	}
	if p := f.post(token, "writes still work"); p.ID == "" {
		t.Errorf("POST with the cache down gave no id")
	}
}

// TestStoreRecovers: an open breaker lets a probe through after its open
// time and closes when the store answers again.
func TestStoreRecovers(t *testing.T) {
	f := newFixture(t, setup{opts: []Option{WithBreaker(1, 50*time.Millisecond)}})
	_, token := f.user("alice")
	f.store.Stop()
	if a := f.do("POST", "/v1/posts", token, `{"text":"x"}`); a.status != http.StatusServiceUnavailable {
		t.Fatalf("write with the store down = %d; want 503", a.status)
	}
	f.store.Start()
	waitFor(t, "a write to succeed once the store is back", func() bool {
		return f.do("POST", "/v1/posts", token, `{"text":"x"}`).status == http.StatusCreated
	})
	if got := metric(t, f.reg, "refapp_api_breaker_state", map[string]string{"dependency": "store"}); got != 0 {
		t.Errorf("refapp_api_breaker_state{dependency=store} after recovery = %v; want 0", got)
	}
}
