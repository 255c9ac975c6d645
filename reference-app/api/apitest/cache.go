package apitest

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Cache is a fake cache service: GET, PUT and DELETE /v1/cache/{key} over
// a map, with X-Cache-Age on hits. It records the X-Cache-TTL of puts but
// expires nothing.
type Cache struct {
	*server

	mu      sync.Mutex // guards entries and puts
	entries map[string]cacheEntry
	puts    int
}

type cacheEntry struct {
	value    []byte
	storedAt time.Time
	ttl      string
}

// NewCache starts a fake cache on 127.0.0.1:0; the test's cleanup stops it.
func NewCache(t testing.TB) *Cache {
	c := &Cache{entries: map[string]cacheEntry{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cache/{key}", c.get)
	mux.HandleFunc("PUT /v1/cache/{key}", c.put)
	mux.HandleFunc("DELETE /v1/cache/{key}", c.delete)
	c.server = newServer(t, mux)
	return c
}

// Entry returns the bytes stored under key and the X-Cache-TTL they came
// with.
func (c *Cache) Entry(key string) (value []byte, ttl string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e.value, e.ttl, ok
}

// Set stores value under key, as a PUT would.
func (c *Cache) Set(key string, value []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = cacheEntry{value: value, storedAt: time.Now()}
}

// Puts returns the number of PUTs received.
func (c *Cache) Puts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts
}

func (c *Cache) get(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	e, ok := c.entries[r.PathValue("key")]
	c.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "miss")
		return
	}
	w.Header().Set("X-Cache-Age", strconv.Itoa(int(time.Since(e.storedAt).Seconds())))
	_, _ = w.Write(e.value)
}

func (c *Cache) put(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if ttl := r.Header.Get("X-Cache-TTL"); ttl != "" {
		if _, err := time.ParseDuration(ttl); err != nil {
			writeError(w, http.StatusBadRequest, "bad X-Cache-TTL")
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[r.PathValue("key")] = cacheEntry{value: b, storedAt: time.Now(), ttl: r.Header.Get("X-Cache-TTL")}
	c.puts++
	w.WriteHeader(http.StatusNoContent)
}

func (c *Cache) delete(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, r.PathValue("key"))
	w.WriteHeader(http.StatusNoContent)
}
