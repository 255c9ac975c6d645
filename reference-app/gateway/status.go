package gateway

// GET /v1/status through the gateway: the api's user-facing status report,
// kept so that the page stays up when the backend does not.
//
//	fresh copy (younger than statusFresh)  → served as it is
//	else ask one routable api (statusTimeout) → cache and serve
//	no api answers → the last copy, "stale": true, or, with none, a report
//	                 of the api component alone
//
// Whatever the source, the gateway states the api component itself from
// its own view of the upstreams (all up: operational; some: degraded;
// none: outage), and the overall status is the worst component's.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

const (
	// statusFresh is how long a status copy is served without asking an
	// api again: a status page under load costs the backend one request
	// per second per gateway.
	statusFresh = time.Second
	// statusTimeout bounds the question to an api.
	statusTimeout = time.Second
	// statusMaxBytes bounds an api's status answer.
	statusMaxBytes = 64 << 10
)

// statusReport is the status document (the api's StatusReport, with
// Stale added by the gateway).
type statusReport struct {
	Status     string            `json:"status"`
	Message    string            `json:"message"`
	UpdatedAt  time.Time         `json:"updatedAt"`
	Components []statusComponent `json:"components"`
	// Stale is true when no api answered: the components other than api
	// are as of UpdatedAt.
	Stale bool `json:"stale,omitempty"`
}

type statusComponent struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Message string `json:"message"`
}

// States of a component, from best to worst.
var stateRank = map[string]int{"operational": 0, "degraded": 1, "outage": 2}

// statusCache holds the last report an api answered. Its zero value is
// ready.
type statusCache struct {
	mu        sync.Mutex // guards last and fetchedAt
	last      *statusReport
	fetchedAt time.Time
}

// serveStatus answers GET /v1/status; it is always 200.
func (g *Gateway) serveStatus(w http.ResponseWriter, r *http.Request) {
	rep := g.statusReport(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(rep)
}

// statusReport returns the report to serve now.
func (g *Gateway) statusReport(ctx context.Context) statusReport {
	now := g.opts.now()
	c := &g.status
	c.mu.Lock()
	last, fetchedAt := c.last, c.fetchedAt
	c.mu.Unlock()
	var rep statusReport
	switch {
	case last != nil && now.Sub(fetchedAt) < statusFresh:
		rep = *last
	default:
		fresh, err := g.fetchStatus(ctx, now)
		switch {
		case err == nil:
			c.mu.Lock()
			c.last, c.fetchedAt = &fresh, now
			c.mu.Unlock()
			rep = fresh
		case last != nil:
			g.opts.log.Debug("status: serving the last copy", "err", err)
			rep = *last
			rep.Stale = true
		default:
			g.opts.log.Debug("status: no copy", "err", err)
			rep = statusReport{UpdatedAt: now.UTC(), Stale: true}
		}
	}
	rep.Components = append([]statusComponent(nil), rep.Components...)
	g.apiComponent(&rep, now)
	rep.Status = "operational"
	for _, comp := range rep.Components {
		if stateRank[comp.State] > stateRank[rep.Status] {
			rep.Status = comp.State
		}
	}
	rep.Message = map[string]string{
		"operational": "All systems operational.",
		"degraded":    "Some features are slower or delayed; the service works.",
		"outage":      "Some features are unavailable; see the components.",
	}[rep.Status]
	if rep.Stale {
		rep.Message += fmt.Sprintf(" The status of the components behind the api is as of %s.", rep.UpdatedAt.Format(time.RFC3339))
	}
	return rep
}

// apiComponent sets the api component of rep from the gateway's view of
// its upstreams.
func (g *Gateway) apiComponent(rep *statusReport, now time.Time) {
	up := 0
	members := g.set.Load().members
	for _, u := range members {
		if u.routable(now) {
			up++
		}
	}
	comp := statusComponent{Name: "api", State: "operational", Message: "The service answers."}
	switch {
	case up == 0:
		comp.State, comp.Message = "outage", "The service cannot be reached now. Retry later."
	case up < len(members):
		comp.State, comp.Message = "degraded", "Some servers are down; the others serve every request."
	}
	for i := range rep.Components {
		if rep.Components[i].Name == "api" {
			rep.Components[i] = comp
			return
		}
	}
	rep.Components = append([]statusComponent{comp}, rep.Components...)
}

// fetchStatus asks one routable api for its status.
func (g *Gateway) fetchStatus(ctx context.Context, now time.Time) (statusReport, error) {
	u := g.pick(now, nil)
	if u == nil {
		return statusReport{}, fmt.Errorf("ask for the status: no upstream is up")
	}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.url.JoinPath("/v1/status").String(), nil)
	if err != nil {
		return statusReport{}, fmt.Errorf("ask %s for the status: %w", u.name, err)
	}
	resp, err := g.transport.RoundTrip(req)
	if err != nil {
		return statusReport{}, fmt.Errorf("ask %s for the status: %w", u.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return statusReport{}, fmt.Errorf("ask %s for the status: status %d", u.name, resp.StatusCode)
	}
	var rep statusReport
	if err := json.NewDecoder(io.LimitReader(resp.Body, statusMaxBytes)).Decode(&rep); err != nil {
		return statusReport{}, fmt.Errorf("ask %s for the status: %w", u.name, err)
	}
	for _, c := range rep.Components {
		if _, ok := stateRank[c.State]; !ok || c.Name == "" {
			return statusReport{}, fmt.Errorf("ask %s for the status: component %q in state %q", u.name, c.Name, c.State)
		}
	}
	return rep, nil
}
