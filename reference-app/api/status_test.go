package api

import (
	"context"
	"testing"
	"time"
)

// statusOf returns the state of each component of a GET /v1/status.
func (f *fixture) statusOf() (StatusReport, map[string]State) {
	var r StatusReport
	f.do("GET", "/v1/status", "", "").decode(f.t, &r)
	states := map[string]State{}
	for _, c := range r.Components {
		states[c.Name] = c.State
		if c.Message == "" {
			f.t.Errorf("component %s has no message", c.Name)
		}
	}
	return r, states
}

// TestStatusFollowsHealthAndBreakers: a cache cut off while nobody reads
// is seen by the probes (degraded, not outage: the feed works around it);
// a store down is an outage; both come back.
func TestStatusFollowsHealthAndBreakers(t *testing.T) {
	f := newFixture(t, setup{cache: true, opts: []Option{WithHealthInterval(10 * time.Millisecond)}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.api.RunHealth(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	want := func(what string, overall State, states map[string]State) {
		t.Helper()
		waitFor(t, what, func() bool {
			r, got := f.statusOf()
			if r.Status != overall || len(got) != len(states) {
				return false
			}
			for k, v := range states {
				if got[k] != v {
					return false
				}
			}
			return true
		})
	}
	want("all operational", Operational, map[string]State{"api": Operational, "store": Operational, "cache": Operational})
	f.cache.Stop()
	want("cache degraded, the rest operational", Degraded, map[string]State{"api": Operational, "store": Operational, "cache": Degraded})
	f.store.Stop()
	want("store outage", Outage, map[string]State{"api": Operational, "store": Outage, "cache": Degraded})
	f.cache.Start()
	f.store.Start()
	want("all operational again", Operational, map[string]State{"api": Operational, "store": Operational, "cache": Operational})
}

// TestStatusFromOpenBreaker: an open breaker alone (no probe) says the
// dependency is down.
func TestStatusFromOpenBreaker(t *testing.T) {
	f := newFixture(t, setup{cache: true})
	f.store.Stop()
	for range 3 { // the fixture's breakers open after 3 failures
		f.do("GET", "/v1/posts/x", "", "")
	}
	if r, got := f.statusOf(); got["store"] != Outage || r.Status != Outage {
		t.Errorf("status with the store's breaker open = %+v; want store outage", r)
	}
}
