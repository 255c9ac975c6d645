// Package global is the reference backend's global entry point for two
// regions run active-passive: a reverse proxy (the gateway package's) over
// the active region's gateway, which health checks both regions, fails
// over to the passive one when the active one's checks fail, and fences
// the old region when it can be reached again.
//
//	client ──▶ global ──▶ region a's gateway (active)        region b's gateway (passive)
//	                      store-1 (primary) ──WAN, async──▶ store-b (replica)
//
//	every interval: GET <gateway>/readyz of each region
//	active region failed --failures checks in a row, passive one up:
//	  1. promote the passive store at (its epoch + epoch margin)
//	  2. route every new request to the passive region's gateway
//	     (requests in flight to the old one finish or fail there)
//	then, every interval, each store of the old region that answers and is
//	not a replica of the new primary at the new epoch is told to follow it:
//	it discards the writes that never crossed the WAN (the store counts them
//	in refapp_store_discarded_writes_total), and its sentinel stands by.
//
// There is no automatic failback: a region that failed once may fail again,
// and moving back is a planned operation.
package global

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameday/gameday/reference-app/gateway"
	"github.com/gameday/gameday/reference-app/kvstore"
)

// Defaults of Config.
const (
	DefaultInterval     = 250 * time.Millisecond
	DefaultCheckTimeout = 300 * time.Millisecond
	DefaultFailures     = 3
	// DefaultEpochMargin is added to the passive store's epoch when it is
	// promoted: failovers inside the cut-off region, which the passive
	// side cannot see, stay below it, so the new epoch fences them all.
	DefaultEpochMargin = 1000
)

// Region is one region behind the global entry point.
type Region struct {
	// Name labels the region in metrics and logs ("a", "b").
	Name string
	// Gateway is the base URL of the region's gateway, which the global
	// entry point proxies to and checks (GET /readyz).
	Gateway gateway.Upstream
}

// Config is a two-region, active-passive setup.
type Config struct {
	// Primary is the region active at start; Passive takes over.
	Primary, Passive Region
	// PassiveStore is the admin base URL of the passive region's store,
	// promoted on failover.
	PassiveStore string
	// FollowURL is the passive store's URL as the old region's stores
	// reach it (to pull its log from) once it is the primary.
	FollowURL string
	// Fence are the admin base URLs of the old region's stores, told to
	// follow the new primary when they answer again.
	Fence []string
	// Sentinel is the primary region's sentinel (GET /v1/primary), and
	// ReplURLs the URL the passive store pulls from for each of that
	// region's stores, by name: while the primary region is active, the
	// passive store is kept following its current primary, through an
	// in-region failover too. Empty: the passive store is left as started.
	Sentinel string
	ReplURLs map[string]string
	// Interval, CheckTimeout, Failures, EpochMargin: see the defaults.
	Interval, CheckTimeout time.Duration
	Failures               int
	EpochMargin            uint64
	// Gateway are options of the proxy (its metrics go to Registerer).
	Gateway []gateway.Option
	// Registerer takes the global entry point's metrics.
	Registerer prometheus.Registerer
	Log        *slog.Logger
}

// Global is the global entry point. Serve it with ServeHTTP, drive it with
// Run.
type Global struct {
	cfg     Config
	proxy   *gateway.Gateway
	client  *http.Client
	metrics *metrics

	mu         sync.Mutex // guards the fields below
	active     Region
	failedOver bool
	// seenUp is set once the active region passed a check: a region never
	// seen healthy is starting, not failing, and is never failed over
	// from (a slow start of region a made the entry point promote region
	// b before anything had happened).
	seenUp    bool
	epoch     uint64    // the epoch the passive store was promoted at
	failingAt time.Time // first failed check of the active region's current streak
	fails     int       // failed checks of the active region in a row
	fenced    map[string]bool
}

// New validates cfg and returns the entry point, routing to cfg.Primary.
func New(cfg Config) (*Global, error) {
	cfg.Interval = cmp.Or(cfg.Interval, DefaultInterval)
	cfg.CheckTimeout = cmp.Or(cfg.CheckTimeout, DefaultCheckTimeout)
	cfg.Failures = cmp.Or(cfg.Failures, DefaultFailures)
	cfg.EpochMargin = cmp.Or(cfg.EpochMargin, DefaultEpochMargin)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	var errs []error
	if cfg.Primary.Name == "" || cfg.Passive.Name == "" || cfg.Primary.Name == cfg.Passive.Name {
		errs = append(errs, fmt.Errorf("regions %q and %q: want two distinct names", cfg.Primary.Name, cfg.Passive.Name))
	}
	if cfg.Primary.Gateway.URL == nil || cfg.Passive.Gateway.URL == nil {
		errs = append(errs, errors.New("want a gateway URL for each region"))
	}
	if cfg.PassiveStore == "" || cfg.FollowURL == "" {
		errs = append(errs, errors.New("want the passive store's admin URL and the URL the old region follows it at"))
	}
	if cfg.Interval < 0 || cfg.CheckTimeout < 0 || cfg.Failures < 1 {
		errs = append(errs, fmt.Errorf("interval %v, check timeout %v, failures %d: want positive", cfg.Interval, cfg.CheckTimeout, cfg.Failures))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("new global entry point: %w", err)
	}
	m, err := newMetrics(cfg.Registerer, cfg.Primary.Name, cfg.Passive.Name)
	if err != nil {
		return nil, fmt.Errorf("new global entry point: %w", err)
	}
	proxy, err := gateway.New([]gateway.Upstream{cfg.Primary.Gateway}, append(cfg.Gateway, gateway.WithRegisterer(cfg.Registerer), gateway.WithLogger(cfg.Log))...)
	if err != nil {
		return nil, fmt.Errorf("new global entry point: %w", err)
	}
	g := &Global{cfg: cfg, proxy: proxy, client: &http.Client{}, metrics: m, active: cfg.Primary, fenced: map[string]bool{}}
	m.active.WithLabelValues(cfg.Primary.Name).Set(1)
	return g, nil
}

// ServeHTTP proxies r to the active region's gateway.
func (g *Global) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.proxy.ServeHTTP(w, r) }

// Register adds the proxied routes to mux (see gateway.Gateway.Register).
func (g *Global) Register(mux *http.ServeMux) { g.proxy.Register(mux) }

// Ready returns nil while the active region's gateway is up.
func (g *Global) Ready(ctx context.Context) error { return g.proxy.Ready(ctx) }

// Active returns the region the entry point routes to, and whether it has
// failed over.
func (g *Global) Active() (Region, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.active, g.failedOver
}

// Close releases the proxy's idle connections.
func (g *Global) Close() { g.proxy.Close() }

// Run checks the regions every interval, fails over and fences (see the
// package doc) until ctx is done, and returns ctx's error.
func (g *Global) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { _ = g.proxy.Run(ctx) }) // ends with ctx
	defer wg.Wait()
	tick := time.NewTicker(g.cfg.Interval)
	defer tick.Stop()
	for {
		g.round(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// round checks both regions and acts.
func (g *Global) round(ctx context.Context) {
	now := time.Now()
	var primaryOK, passiveOK bool
	var wg sync.WaitGroup
	wg.Go(func() { primaryOK = g.check(ctx, g.cfg.Primary) == nil })
	wg.Go(func() { passiveOK = g.check(ctx, g.cfg.Passive) == nil })
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	g.metrics.up.WithLabelValues(g.cfg.Primary.Name).Set(boolFloat(primaryOK))
	g.metrics.up.WithLabelValues(g.cfg.Passive.Name).Set(boolFloat(passiveOK))

	g.mu.Lock()
	failedOver := g.failedOver
	if !failedOver {
		switch {
		case primaryOK:
			g.fails, g.seenUp = 0, true
		case !g.seenUp: // still starting
		default:
			if g.fails == 0 {
				g.failingAt = now
			}
			g.fails++
		}
	}
	due := !failedOver && g.fails >= g.cfg.Failures
	failingAt := g.failingAt
	g.mu.Unlock()

	if !failedOver && !due && g.cfg.Sentinel != "" {
		g.track(ctx)
	}
	switch {
	case due && !passiveOK:
		g.cfg.Log.Error("active region down and the passive one too: staying", "active", g.cfg.Primary.Name, "passive", g.cfg.Passive.Name)
	case due:
		g.failover(ctx, failingAt)
	case failedOver:
		g.fence(ctx)
	}
}

// track keeps the passive store a replica of the primary region's current
// primary: after an in-region failover it is told to follow the new one,
// through that store's URL in ReplURLs, at the sentinel's epoch.
func (g *Global) track(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*g.cfg.CheckTimeout)
	defer cancel()
	var p struct {
		Name  string `json:"name"`
		Epoch uint64 `json:"epoch"`
	}
	if err := g.call(ctx, http.MethodGet, g.cfg.Sentinel+"/v1/primary", nil, &p); err != nil {
		return // no primary known, or the region is cut off: nothing to follow
	}
	want, ok := g.cfg.ReplURLs[p.Name]
	if !ok {
		g.cfg.Log.Warn("track: the primary region's primary has no replication URL", "primary", p.Name)
		return
	}
	var st kvstore.Status
	if err := g.call(ctx, http.MethodGet, g.cfg.PassiveStore+"/v1/status", nil, &st); err != nil {
		return
	}
	if st.Role != kvstore.RoleReplica || (st.Primary == want && st.Epoch >= p.Epoch) {
		return
	}
	if err := g.call(ctx, http.MethodPost, g.cfg.PassiveStore+"/v1/admin/follow", kvstore.FollowRequest{Primary: want, Epoch: p.Epoch}, nil); err != nil {
		g.cfg.Log.Error("track: re-point the passive store failed; retrying next round", "primary", p.Name, "err", err)
		return
	}
	g.cfg.Log.Info("track: the passive store follows the primary region's new primary", "primary", p.Name, "epoch", p.Epoch, "was", st.Primary)
}

// check GETs the region's gateway /readyz.
func (g *Global) check(ctx context.Context, r Region) error {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.CheckTimeout)
	defer cancel()
	return g.call(ctx, http.MethodGet, r.Gateway.URL.JoinPath("/readyz").String(), nil, nil)
}

// failover promotes the passive store and routes to the passive region.
func (g *Global) failover(ctx context.Context, failingAt time.Time) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var st kvstore.Status
	if err := g.call(ctx, http.MethodGet, g.cfg.PassiveStore+"/v1/status", nil, &st); err != nil {
		g.cfg.Log.Error("failover: the passive store does not answer; retrying next round", "err", err)
		return
	}
	epoch := st.Epoch + g.cfg.EpochMargin
	if err := g.call(ctx, http.MethodPost, g.cfg.PassiveStore+"/v1/admin/promote", kvstore.PromoteRequest{Epoch: epoch}, &st); err != nil {
		g.cfg.Log.Error("failover: promote the passive store failed; retrying next round", "epoch", epoch, "err", err)
		return
	}
	if err := g.proxy.SetUpstreams([]gateway.Upstream{g.cfg.Passive.Gateway}); err != nil {
		g.cfg.Log.Error("failover: route to the passive region", "err", err) // cannot happen: one valid upstream
		return
	}
	took := time.Since(failingAt)
	g.mu.Lock()
	g.active, g.failedOver, g.epoch = g.cfg.Passive, true, epoch
	g.mu.Unlock()
	g.metrics.failovers.Inc()
	g.metrics.failoverSeconds.Set(took.Seconds())
	g.metrics.epoch.Set(float64(epoch))
	g.metrics.active.WithLabelValues(g.cfg.Primary.Name).Set(0)
	g.metrics.active.WithLabelValues(g.cfg.Passive.Name).Set(1)
	g.cfg.Log.Warn("failover: the passive region is active", "region", g.cfg.Passive.Name, "old", g.cfg.Primary.Name,
		"epoch", epoch, "storeLastSeq", st.LastSeq, "sinceFirstFailedCheck", took.String())
}

// fence tells every reachable store of the old region that does not follow
// the new primary at the new epoch to do so.
func (g *Global) fence(ctx context.Context) {
	g.mu.Lock()
	epoch := g.epoch
	g.mu.Unlock()
	for _, store := range g.cfg.Fence {
		cctx, cancel := context.WithTimeout(ctx, g.cfg.CheckTimeout)
		var st kvstore.Status
		err := g.call(cctx, http.MethodGet, store+"/v1/status", nil, &st)
		cancel()
		if err != nil {
			continue // still cut off
		}
		if st.Role == kvstore.RoleReplica && st.Epoch >= epoch && st.Primary == g.cfg.FollowURL {
			g.markFenced(store, st)
			continue
		}
		cctx, cancel = context.WithTimeout(ctx, 2*time.Second)
		err = g.call(cctx, http.MethodPost, store+"/v1/admin/follow", kvstore.FollowRequest{Primary: g.cfg.FollowURL, Epoch: epoch}, nil)
		cancel()
		if err != nil {
			g.cfg.Log.Error("fence: follow failed; retrying next round", "store", st.Node, "err", err)
			continue
		}
		g.metrics.fenceActions.Inc()
		g.cfg.Log.Warn("fence: told to follow the new primary", "store", st.Node, "was", st.Role, "wasEpoch", st.Epoch, "lastSeq", st.LastSeq, "epoch", epoch)
	}
}

func (g *Global) markFenced(store string, st kvstore.Status) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.fenced[store] {
		g.fenced[store] = true
		g.metrics.fenced.Inc()
		g.cfg.Log.Info("fence: the old region's store follows the new primary", "store", st.Node, "epoch", st.Epoch)
	}
}

// call sends one JSON request to a store or the sentinel (see
// kvstore.CallJSON).
func (g *Global) call(ctx context.Context, method, url string, in, out any) error {
	return kvstore.CallJSON(ctx, g.client, method, url, in, out)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
