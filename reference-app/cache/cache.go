// Package cache is refapp's cache service: byte values under string keys,
// each with a time to live, in a fixed number of entries where the least
// recently used entry makes room for a new one. It serves the wire contract
// of reference-app/ARCHITECTURE.md ("cache") and has a Client for it.
//
//	PUT    /v1/cache/{key}   body = value, X-Cache-TTL: 30s (optional)  → 204
//	GET    /v1/cache/{key}   → 200 value, X-Cache-Age: 12 (whole seconds) | 404
//	DELETE /v1/cache/{key}   → 204
//
// Entries live in hashicorp/golang-lru's expirable LRU. That LRU has one
// TTL for all entries and reads the wall clock, so the Cache gives it the
// longest TTL a value may have (its background cleanup then bounds how long
// any entry stays in memory) and checks each entry's own expiry itself,
// against a clock that tests can replace.
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of New's options.
const (
	// DefaultCapacity is the number of entries the cache holds.
	DefaultCapacity = 10000
	// DefaultTTL is the time to live of a value stored without a TTL.
	DefaultTTL = 60 * time.Second
	// DefaultMaxTTL is the longest TTL a client may ask for.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultMaxValueBytes is the largest value accepted (413 beyond).
	DefaultMaxValueBytes = 1 << 20
	// DefaultSweepInterval is how often Run removes expired entries.
	DefaultSweepInterval = time.Second
)

type options struct {
	capacity      int
	ttl           time.Duration
	maxTTL        time.Duration
	maxValueBytes int64
	sweepInterval time.Duration
	now           func() time.Time
	reg           prometheus.Registerer
	log           *slog.Logger
}

// Option configures a Cache.
type Option func(*options)

// WithCapacity sets how many entries the cache holds (default
// DefaultCapacity); storing one more evicts the least recently used.
func WithCapacity(n int) Option { return func(o *options) { o.capacity = n } }

// WithDefaultTTL sets the time to live of a value stored without one
// (default DefaultTTL).
func WithDefaultTTL(d time.Duration) Option { return func(o *options) { o.ttl = d } }

// WithMaxTTL sets the longest TTL a value may have (default DefaultMaxTTL);
// a longer X-Cache-TTL is refused with 400.
func WithMaxTTL(d time.Duration) Option { return func(o *options) { o.maxTTL = d } }

// WithMaxValueBytes sets the largest value accepted (default
// DefaultMaxValueBytes); a larger PUT is refused with 413.
func WithMaxValueBytes(n int64) Option { return func(o *options) { o.maxValueBytes = n } }

// WithSweepInterval sets how often Run removes expired entries (default
// DefaultSweepInterval).
func WithSweepInterval(d time.Duration) Option { return func(o *options) { o.sweepInterval = d } }

// WithClock sets the clock that ages and expires entries (default
// time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRegisterer sets where the cache registers its metrics (default: a
// private registry nobody scrapes).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithLogger sets the logger for request errors (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Cache is a TTL + LRU cache of byte values, safe for concurrent use. Its
// HTTP API is added to a mux by Register; Run sweeps expired entries.
// Each Cache also holds the library's clean-up goroutine, which lives as
// long as the process (golang-lru v2 offers no way to stop it).
type Cache struct {
	opts    options
	metrics *metrics

	// mu serialises every operation on lru, so that removing an expired
	// entry (in Get or a sweep) can never remove a newer value stored
	// between the check and the removal.
	mu  sync.Mutex
	lru *expirable.LRU[string, *entry]
}

// entry is one stored value; it is never modified once stored.
type entry struct {
	value   []byte
	stored  time.Time
	expires time.Time
}

// New returns an empty cache.
func New(opts ...Option) (*Cache, error) {
	o := options{
		capacity:      DefaultCapacity,
		ttl:           DefaultTTL,
		maxTTL:        DefaultMaxTTL,
		maxValueBytes: DefaultMaxValueBytes,
		sweepInterval: DefaultSweepInterval,
		now:           time.Now,
		log:           slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("new cache: %w", err)
	}
	c := &Cache{opts: o}
	// The library's TTL is only the upper bound of every entry's life: it
	// never expires an entry before the entry's own TTL does.
	c.lru = expirable.NewLRU[string, *entry](o.capacity, nil, o.maxTTL)
	m, err := newMetrics(o.reg, c.Len)
	if err != nil {
		return nil, fmt.Errorf("new cache: %w", err)
	}
	c.metrics = m
	return c, nil
}

func (o options) validate() error {
	var errs []error
	if o.capacity < 1 {
		errs = append(errs, fmt.Errorf("capacity %d: want >= 1", o.capacity))
	}
	if o.ttl <= 0 {
		errs = append(errs, fmt.Errorf("default TTL %v: want > 0", o.ttl))
	}
	if o.maxTTL < o.ttl {
		errs = append(errs, fmt.Errorf("max TTL %v: want >= the default TTL %v", o.maxTTL, o.ttl))
	}
	if o.maxValueBytes < 0 {
		errs = append(errs, fmt.Errorf("max value bytes %d: want >= 0", o.maxValueBytes))
	}
	if o.sweepInterval <= 0 {
		errs = append(errs, fmt.Errorf("sweep interval %v: want > 0", o.sweepInterval))
	}
	return errors.Join(errs...)
}

// Get returns the value stored under key and its age, or ok false when the
// key is absent or its value has expired. The value must not be modified.
// A hit makes the key the most recently used.
func (c *Cache) Get(key string) (value []byte, age time.Duration, ok bool) {
	now := c.opts.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	if !ok {
		return nil, 0, false
	}
	if !now.Before(e.expires) {
		c.lru.Remove(key)
		return nil, 0, false
	}
	return e.value, now.Sub(e.stored), true
}

// Set stores value under key for ttl (the default TTL when ttl is 0),
// replacing any value there, and reports whether a live entry was evicted
// to make room. ttl must be in (0, max TTL] or 0; the caller keeps value
// unmodified from then on.
func (c *Cache) Set(key string, value []byte, ttl time.Duration) (evicted bool, err error) {
	if ttl == 0 {
		ttl = c.opts.ttl
	}
	if ttl < 0 || ttl > c.opts.maxTTL {
		return false, fmt.Errorf("set %q: TTL %v: want in (0, %v]", key, ttl, c.opts.maxTTL)
	}
	if int64(len(value)) > c.opts.maxValueBytes {
		return false, fmt.Errorf("set %q: %d bytes: %w", key, len(value), ErrTooLarge)
	}
	now := c.opts.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	// An expired entry about to fall out is dropped first: it makes room
	// without counting as an eviction.
	if !c.lru.Contains(key) && c.lru.Len() >= c.opts.capacity {
		if k, e, ok := c.lru.GetOldest(); ok && !now.Before(e.expires) {
			c.lru.Remove(k)
		}
	}
	evicted = c.lru.Add(key, &entry{value: value, stored: now, expires: now.Add(ttl)})
	if evicted {
		c.metrics.evictions.Inc()
	}
	return evicted, nil
}

// Delete removes key and reports whether it held a live value.
func (c *Cache) Delete(key string) (present bool) {
	now := c.opts.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Peek(key)
	c.lru.Remove(key)
	return ok && now.Before(e.expires)
}

// Len returns the number of live (unexpired) entries.
func (c *Cache) Len() int {
	now := c.opts.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	// Values leaves nil at the end of its slice for the entries the
	// library itself found expired.
	for _, e := range c.lru.Values() {
		if e != nil && now.Before(e.expires) {
			n++
		}
	}
	return n
}

// Run removes expired entries every sweep interval until ctx is done, then
// returns ctx's error. Without it, expired entries still read as misses;
// they only hold memory until the LRU drops them.
func (c *Cache) Run(ctx context.Context) error {
	tick := time.NewTicker(c.opts.sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			c.sweep()
		}
	}
}

// sweep removes every expired entry and returns how many it removed.
func (c *Cache) sweep() int {
	now := c.opts.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.lru.Keys() {
		if e, ok := c.lru.Peek(k); ok && !now.Before(e.expires) {
			c.lru.Remove(k)
			n++
		}
	}
	return n
}
