package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// upstreamSet is the gateway's upstreams at one moment: the members new
// requests may go to, and the removed ones that still have requests in
// flight. A set is never changed once stored; SetUpstreams stores a new one.
type upstreamSet struct {
	members  []*upstream
	draining []*upstream
}

// SetUpstreams replaces the set of upstreams new requests may go to, for
// replicas that come and go (an autoscaler's; see WatchUpstreamsFile).
//
//   - An upstream of the same name and URL as a current one stays as it is:
//     health, ejection and requests in flight carry over.
//   - A new one starts down; Run checks it at once and routes to it once a
//     check passes.
//   - A removed one gets no new request from now on. It drains: requests in
//     flight to it finish, and it leaves Status (Draining until then) once
//     none is left, so whoever stops the replica can wait for that first and
//     fail no request.
//
// ups must be valid as for New (see ParseUpstreams); an empty list is
// refused, so that a bad discovery file cannot leave the gateway with
// nowhere to send.
func (g *Gateway) SetUpstreams(ups []Upstream) error {
	if len(ups) == 0 {
		return errors.New("set upstreams: none given")
	}
	seen := map[string]bool{}
	for _, u := range ups {
		if u.Name == "" || seen[u.Name] || u.URL == nil {
			return fmt.Errorf("set upstreams: upstream %q is unnamed, repeated or has no URL", u.Name)
		}
		seen[u.Name] = true
	}
	g.setMu.Lock()
	defer g.setMu.Unlock()
	old := g.set.Load()
	byName := map[string]*upstream{}
	for _, u := range old.draining {
		byName[u.name] = u
	}
	for _, u := range old.members {
		byName[u.name] = u // a member wins over a draining namesake
	}
	next := &upstreamSet{}
	kept := map[*upstream]bool{}
	for _, want := range ups {
		if u, ok := byName[want.Name]; ok && u.url.String() == want.URL.String() {
			next.members = append(next.members, u)
			kept[u] = true
			continue
		}
		next.members = append(next.members, newUpstream(want))
	}
	for _, u := range append(append([]*upstream(nil), old.members...), old.draining...) {
		if !kept[u] {
			next.draining = append(next.draining, u)
		}
	}
	g.set.Store(next)
	for _, u := range next.members {
		if !containsUpstream(old.members, u) {
			g.opts.log.Info("upstream added", "upstream", u.name, "url", u.url.String())
		}
	}
	for _, u := range old.members {
		if !kept[u] {
			g.opts.log.Info("upstream removed: draining", "upstream", u.name, "outstanding", u.outstanding.Load())
		}
	}
	select {
	case g.changed <- struct{}{}:
	default: // Run has a wake-up pending already
	}
	return nil
}

func containsUpstream(list []*upstream, u *upstream) bool {
	for _, o := range list {
		if o == u {
			return true
		}
	}
	return false
}

// sweep lets go of the draining upstreams that have no request in flight.
func (g *Gateway) sweep() {
	g.setMu.Lock()
	defer g.setMu.Unlock()
	old := g.set.Load()
	var draining []*upstream
	for _, u := range old.draining {
		if u.outstanding.Load() > 0 {
			draining = append(draining, u)
			continue
		}
		g.opts.log.Info("upstream drained", "upstream", u.name)
	}
	if len(draining) != len(old.draining) {
		g.set.Store(&upstreamSet{members: old.members, draining: draining})
	}
}

// UpstreamsFile is the JSON document WatchUpstreamsFile reads: the whole
// set of upstreams, e.g.
//
//	{"upstreams": [{"name": "api-1", "url": "http://127.0.0.1:8081"}]}
type UpstreamsFile struct {
	Upstreams []UpstreamEntry `json:"upstreams"`
}

// UpstreamEntry is one upstream of an UpstreamsFile.
type UpstreamEntry struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// ParseUpstreamsFile decodes an UpstreamsFile strictly (unknown fields
// refused) and checks its upstreams as ParseUpstreams does.
func ParseUpstreamsFile(data []byte) ([]Upstream, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f UpstreamsFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse upstreams file: %w", err)
	}
	urls, names := make([]string, len(f.Upstreams)), make([]string, len(f.Upstreams))
	for i, e := range f.Upstreams {
		urls[i], names[i] = e.URL, e.Name
	}
	ups, err := ParseUpstreams(urls, names)
	if err != nil {
		return nil, fmt.Errorf("parse upstreams file: %w", err)
	}
	return ups, nil
}

// DefaultUpstreamsFileInterval is how often WatchUpstreamsFile reads its
// file.
const DefaultUpstreamsFileInterval = 250 * time.Millisecond

// WatchUpstreamsFile returns a background loop that reads path every
// interval and, when its content changed and parses (ParseUpstreamsFile),
// makes it the gateway's set (SetUpstreams): file-based discovery, as
// Prometheus's file_sd and Envoy's path-based configuration do it. While
// the file does not exist the set stays as it is; a file that does not
// parse is logged and the last good set kept. Whoever writes it should
// write a temporary file and rename it over path, so that a read never
// sees half a file.
func (g *Gateway) WatchUpstreamsFile(path string, interval time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		var last []byte
		for {
			data, err := os.ReadFile(path)
			switch {
			case errors.Is(err, os.ErrNotExist):
			case err != nil:
				g.opts.log.Warn("read the upstreams file", "path", path, "err", err)
			case !bytes.Equal(data, last):
				last = data
				ups, err := ParseUpstreamsFile(data)
				if err == nil {
					err = g.SetUpstreams(ups)
				}
				if err != nil {
					g.opts.log.Warn("upstreams file refused: keeping the current set", "path", path, "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	}
}
