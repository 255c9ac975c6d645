package api

// User-facing status: GET /v1/status says, per component, whether users
// can count on it (operational), get less than usual (degraded) or lose
// what it serves (outage), with a message they can read. The verdict comes
// from each dependency's circuit breaker and from probes RunHealth sends
// every health interval, so that a dependency cut off while nobody uses it
// shows too; answering it costs no call to any dependency.

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// DefaultHealthInterval is the time between two probes of every
// dependency.
const DefaultHealthInterval = time.Second

// State is a component's user-facing state.
type State string

// States, from best to worst.
const (
	Operational State = "operational"
	Degraded    State = "degraded"
	Outage      State = "outage"
)

// worse returns the worse of two states.
func worse(a, b State) State {
	rank := map[State]int{Operational: 0, Degraded: 1, Outage: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// ComponentStatus is one component of a StatusReport.
type ComponentStatus struct {
	// Name is the component: api, store, cache or queue.
	Name  string `json:"name"`
	State State  `json:"state"`
	// Message says, for a user, what the state means for them.
	Message string `json:"message"`
}

// StatusReport is the answer to GET /v1/status.
type StatusReport struct {
	// Status is the worst state of the components.
	Status State `json:"status"`
	// Message sums the report up for a user.
	Message string `json:"message"`
	// UpdatedAt is when the report was made.
	UpdatedAt  time.Time         `json:"updatedAt"`
	Components []ComponentStatus `json:"components"`
}

// Pinger is a dependency client that can check, cheaply, that its
// dependency answers. StoreClient, CacheClient and NATSPublisher are.
type Pinger interface {
	Ping(ctx context.Context) error
}

// component is what the status knows of one dependency.
type component struct {
	name string
	// down is the state users get while the dependency is down: outage
	// for what the API cannot work without, degraded for what it works
	// around.
	down State
	// messages by state.
	messages map[State]string
	b        *breaker // nil: no breaker
	ping     Pinger   // nil: no probe

	mu    sync.Mutex // guards fails
	fails int        // probes failed in a row
}

// state derives the component's state: down when its breaker is open or
// its last two probes failed; degraded while the breaker probes
// (half-open) or after one failed probe; else operational.
func (c *component) state() State {
	c.mu.Lock()
	fails := c.fails
	c.mu.Unlock()
	var bs gobreaker.State
	if c.b != nil {
		bs = c.b.cb.State()
	}
	switch {
	case bs == gobreaker.StateOpen || fails >= 2:
		return c.down
	case bs == gobreaker.StateHalfOpen || fails == 1:
		return Degraded
	}
	return Operational
}

func (c *component) probe(ctx context.Context, timeout time.Duration) {
	if c.ping == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := c.ping.Ping(ctx)
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return // stopping: says nothing about the dependency
	}
	c.mu.Lock()
	if err != nil {
		c.fails++
	} else {
		c.fails = 0
	}
	c.mu.Unlock()
}

// statusComponents lists the API's dependencies for the status, in a
// fixed order: store, then cache and queue when configured.
func (a *API) statusComponents(d Deps, store, cache, queue *breaker) []*component {
	pinger := func(v any) Pinger {
		p, _ := v.(Pinger)
		return p
	}
	out := []*component{{
		name: "store", down: Outage, b: store, ping: pinger(d.Store),
		messages: map[State]string{
			Operational: "Posts, accounts and settings work normally.",
			Degraded:    "Saving may fail now and then; retry if it does.",
			Outage:      "Posting, sign-up and settings are unavailable; the feed shows the posts saved before. Retry later.",
		},
	}}
	if d.Cache != nil {
		out = append(out, &component{
			name: "cache", down: Degraded, b: cache, ping: pinger(d.Cache),
			messages: map[State]string{
				Operational: "The feed loads quickly.",
				Degraded:    "The feed may load more slowly; everything still works.",
			},
		})
	}
	if d.Queue != nil {
		out = append(out, &component{
			name: "queue", down: Degraded, b: queue, ping: pinger(d.Queue),
			messages: map[State]string{
				Operational: "Notifications are delivered promptly.",
				Degraded:    "Notifications are delayed; none is lost, they arrive once this is over.",
			},
		})
	}
	return out
}

// Status returns the current status report. The api itself is
// operational: it answers.
func (a *API) Status() StatusReport {
	r := StatusReport{
		Status:     Operational,
		UpdatedAt:  a.o.now().UTC(),
		Components: []ComponentStatus{{Name: "api", State: Operational, Message: "The service answers."}},
	}
	for _, c := range a.components {
		s := c.state()
		msg := c.messages[s]
		if msg == "" {
			msg = c.messages[Degraded]
		}
		r.Components = append(r.Components, ComponentStatus{Name: c.name, State: s, Message: msg})
		r.Status = worse(r.Status, s)
	}
	r.Message = map[State]string{
		Operational: "All systems operational.",
		Degraded:    "Some features are slower or delayed; the service works.",
		Outage:      "Some features are unavailable; see the components.",
	}[r.Status]
	return r
}

// status answers GET /v1/status.
func (a *API) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, a.Status())
}

// RunHealth probes every dependency now and then every health interval
// until ctx is done; it returns nil then.
func (a *API) RunHealth(ctx context.Context) error {
	tick := time.NewTicker(a.o.healthInterval)
	defer tick.Stop()
	for {
		var wg sync.WaitGroup
		for _, c := range a.components {
			wg.Go(func() { c.probe(ctx, a.o.healthInterval) })
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
