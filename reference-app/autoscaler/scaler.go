package autoscaler

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameday/gameday/reference-app/gateway"
)

// Defaults of Config.
const (
	// DefaultInterval is the time between two decisions.
	DefaultInterval = time.Second
	// DefaultReadyTimeout bounds the wait for a new replica to be ready.
	DefaultReadyTimeout = 15 * time.Second
	// DefaultDrainTimeout bounds the wait for the gateway to drain a
	// removed replica, and then for the replica to exit after SIGTERM.
	DefaultDrainTimeout = 10 * time.Second
	// DefaultDownWindow is the stabilisation window of a scale-down
	// (Kubernetes' default is 300 s; a game day is shorter).
	DefaultDownWindow = 30 * time.Second
	// DefaultNamePrefix starts the names of the replicas the autoscaler
	// starts (then 1, 2, ...: the lowest free number).
	DefaultNamePrefix = "api-auto-"
)

// Config is what an Autoscaler runs.
type Config struct {
	Policy Policy
	// Interval is the time between two decisions (default DefaultInterval).
	Interval time.Duration
	// Gateway is the gateway's base URL for its /metrics (the plain port).
	Gateway string
	// UpstreamsFile is the gateway's --upstreams-file: the autoscaler owns
	// it and rewrites it whole on every change.
	UpstreamsFile string
	// Static are the replicas the autoscaler does not own: always listed,
	// counted in the replica set, never stopped. Policy.Min must be at
	// least their number.
	Static []gateway.UpstreamEntry
	// Command and Args start one replica; the autoscaler adds
	// --listen=127.0.0.1:0 and --instance=NAME.
	Command string
	Args    []string
	// NamePrefix starts the replicas' names (default DefaultNamePrefix).
	NamePrefix string
	// ReadyTimeout and DrainTimeout: see DefaultReadyTimeout,
	// DefaultDrainTimeout.
	ReadyTimeout, DrainTimeout time.Duration
	// Output receives the replicas' logs, line by line (default discard).
	Output io.Writer
	// Log receives the autoscaler's own (default discard).
	Log *slog.Logger
	// Registerer takes the autoscaler's metrics (default: a private
	// registry).
	Registerer prometheus.Registerer
}

// Autoscaler runs the control loop of Config. Create it with New, run it
// with Run.
type Autoscaler struct {
	cfg     Config
	rec     *Recommender
	client  *http.Client
	metrics *metrics
	outMu   sync.Mutex // serialises writes to cfg.Output

	mu       sync.Mutex // guards replicas
	replicas []*replica // the ones it started and listed, oldest first
}

// New validates cfg, fills its defaults and returns its Autoscaler.
func New(cfg Config) (*Autoscaler, error) {
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.ReadyTimeout = cmp.Or(cfg.ReadyTimeout, DefaultReadyTimeout)
	cfg.DrainTimeout = cmp.Or(cfg.DrainTimeout, DefaultDrainTimeout)
	cfg.NamePrefix = cmp.Or(cfg.NamePrefix, DefaultNamePrefix)
	if cfg.Output == nil {
		cfg.Output = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	var errs []error
	if err := cfg.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Policy.Min < len(cfg.Static) {
		errs = append(errs, fmt.Errorf("min replicas %d: want at least the %d static ones", cfg.Policy.Min, len(cfg.Static)))
	}
	if cfg.Interval < 0 || cfg.ReadyTimeout < 0 || cfg.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("interval %v, ready timeout %v, drain timeout %v: want > 0", cfg.Interval, cfg.ReadyTimeout, cfg.DrainTimeout))
	}
	if cfg.Gateway == "" || cfg.UpstreamsFile == "" || cfg.Command == "" {
		errs = append(errs, errors.New("want a gateway URL, an upstreams file and a replica command"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("new autoscaler: %w", err)
	}
	rec, err := NewRecommender(cfg.Policy)
	if err != nil {
		return nil, fmt.Errorf("new autoscaler: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("new autoscaler: %w", err)
	}
	return &Autoscaler{cfg: cfg, rec: rec, client: &http.Client{Timeout: 2 * time.Second}, metrics: m}, nil
}

// Replicas returns the number of replicas in the set: the static ones and
// the ones the autoscaler started and listed.
func (a *Autoscaler) Replicas() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.cfg.Static) + len(a.replicas)
}

// Run writes the upstreams file with the static replicas alone, then every
// Interval scrapes the gateway and scales, until ctx is done. It then takes
// its replicas out of the file, waits for the gateway to drain them, stops
// them and returns ctx's error. A scale-up starts replicas and lists them
// once they are ready; a scale-down unlists the newest replicas, waits for
// the gateway to let go of them, then stops them with SIGTERM.
func (a *Autoscaler) Run(ctx context.Context) error {
	if err := a.writeFile(); err != nil {
		return err
	}
	a.metrics.replicas.Set(float64(a.Replicas()))
	defer a.shutdown()
	tick := time.NewTicker(a.cfg.Interval)
	defer tick.Stop()
	var prev gatewayView
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		a.reap()
		cur, err := scrape(ctx, a.client, a.cfg.Gateway+"/metrics")
		if err != nil {
			a.cfg.Log.Warn("no load signal: holding", "err", err)
			continue
		}
		load, ok := inFlight(prev, cur)
		prev = cur
		if !ok {
			continue
		}
		current := a.Replicas()
		desired := a.rec.Recommend(cur.at, current, load)
		a.metrics.load.Set(load)
		a.metrics.desired.Set(float64(desired))
		switch {
		case desired > current:
			a.cfg.Log.Info("scale up", "from", current, "to", desired, "inFlight", load)
			a.grow(ctx, desired-current)
		case desired < current:
			a.cfg.Log.Info("scale down", "from", current, "to", desired, "inFlight", load)
			a.shrink(ctx, current-desired)
		}
		a.metrics.replicas.Set(float64(a.Replicas()))
	}
}

// grow starts n replicas at once and lists those that became ready.
func (a *Autoscaler) grow(ctx context.Context, n int) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ReadyTimeout)
	defer cancel()
	names := a.freeNames(n)
	started := make([]*replica, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			r, err := startReplica(ctx, a.cfg.Command, a.cfg.Args, name, a.cfg.Output, &a.outMu)
			if err == nil {
				err = r.awaitReady(ctx, a.client)
				if err != nil {
					_ = r.stop(a.cfg.DrainTimeout) // never listed: nothing to drain
				}
			}
			if err != nil {
				a.cfg.Log.Error("replica not started", "replica", name, "err", err)
				return
			}
			started[i] = r
		})
	}
	wg.Wait()
	n = 0
	a.mu.Lock()
	for _, r := range started {
		if r != nil {
			a.replicas = append(a.replicas, r)
			n++
		}
	}
	a.mu.Unlock()
	if n == 0 {
		return
	}
	if err := a.writeFile(); err != nil {
		a.cfg.Log.Error("write the upstreams file", "err", err)
		return
	}
	a.metrics.scaled.WithLabelValues("up").Inc()
}

// shrink unlists the n newest replicas (never a static one), waits for the
// gateway to let go of them, and stops them.
func (a *Autoscaler) shrink(ctx context.Context, n int) {
	a.mu.Lock()
	n = min(n, len(a.replicas))
	gone := slices.Clone(a.replicas[len(a.replicas)-n:])
	a.replicas = a.replicas[:len(a.replicas)-n]
	a.mu.Unlock()
	if n == 0 {
		return
	}
	if err := a.writeFile(); err != nil {
		a.cfg.Log.Error("write the upstreams file", "err", err)
	}
	a.retire(ctx, gone)
	a.metrics.scaled.WithLabelValues("down").Inc()
}

// retire waits, up to the drain timeout, until the gateway no longer lists
// any of gone (neither routed to nor draining), then stops them.
func (a *Autoscaler) retire(ctx context.Context, gone []*replica) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.DrainTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		v, err := scrape(ctx, a.client, a.cfg.Gateway+"/metrics")
		if err != nil && ctx.Err() == nil {
			break // no gateway: nothing routes to them
		}
		listed := false
		for _, r := range gone {
			listed = listed || v.set[r.name]
		}
		if !listed {
			break
		}
		select {
		case <-ctx.Done():
			a.cfg.Log.Warn("the gateway did not drain the removed replicas in time: stopping them anyway", "timeout", a.cfg.DrainTimeout)
			break wait
		case <-tick.C:
		}
	}
	var wg sync.WaitGroup
	for _, r := range gone {
		wg.Go(func() {
			if err := r.stop(a.cfg.DrainTimeout); err != nil {
				a.cfg.Log.Warn("stop replica", "replica", r.name, "err", err)
			}
		})
	}
	wg.Wait()
}

// reap unlists the replicas that exited unasked.
func (a *Autoscaler) reap() {
	a.mu.Lock()
	var dead []string
	a.replicas = slices.DeleteFunc(a.replicas, func(r *replica) bool {
		if !r.alive() {
			dead = append(dead, r.name)
			return true
		}
		return false
	})
	a.mu.Unlock()
	if len(dead) == 0 {
		return
	}
	a.cfg.Log.Warn("replicas exited unasked: unlisted", "replicas", dead)
	a.metrics.exits.Add(float64(len(dead)))
	if err := a.writeFile(); err != nil {
		a.cfg.Log.Error("write the upstreams file", "err", err)
	}
}

// shutdown retires every replica the autoscaler started.
func (a *Autoscaler) shutdown() {
	a.mu.Lock()
	gone := a.replicas
	a.replicas = nil
	a.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	if err := a.writeFile(); err != nil {
		a.cfg.Log.Error("write the upstreams file", "err", err)
	}
	a.retire(context.Background(), gone)
}

// freeNames returns n replica names not in use, the lowest numbers first,
// so that the names (and the gateway's label values) stay bounded.
func (a *Autoscaler) freeNames(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	used := map[string]bool{}
	for _, r := range a.replicas {
		used[r.name] = true
	}
	var out []string
	for i := 1; len(out) < n; i++ {
		if name := a.cfg.NamePrefix + strconv.Itoa(i); !used[name] {
			out = append(out, name)
		}
	}
	return out
}

// writeFile writes the upstreams file, the static replicas and then the
// listed ones, atomically (a temporary file renamed over it).
func (a *Autoscaler) writeFile() error {
	a.mu.Lock()
	f := gateway.UpstreamsFile{Upstreams: slices.Clone(a.cfg.Static)}
	for _, r := range a.replicas {
		f.Upstreams = append(f.Upstreams, gateway.UpstreamEntry{Name: r.name, URL: r.url})
	}
	a.mu.Unlock()
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("write the upstreams file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(a.cfg.UpstreamsFile), ".upstreams-*.json")
	if err != nil {
		return fmt.Errorf("write the upstreams file: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	if err := errors.Join(werr, tmp.Close()); err != nil {
		_ = os.Remove(tmp.Name()) // best effort: a stray temporary file
		return fmt.Errorf("write the upstreams file: %w", err)
	}
	if err := os.Rename(tmp.Name(), a.cfg.UpstreamsFile); err != nil {
		_ = os.Remove(tmp.Name()) // best effort: a stray temporary file
		return fmt.Errorf("write the upstreams file: %w", err)
	}
	return nil
}
