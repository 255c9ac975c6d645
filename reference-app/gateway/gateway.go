// Package gateway is the reference backend's edge: a reverse proxy in
// front of the api replicas that balances requests over the ones it may
// route to, checks them actively and passively, retries idempotent requests
// once on another replica within a retry budget, and rate-limits each
// client.
//
//	client ──▶ Gateway.ServeHTTP
//	             │ client over its token bucket ─────────────▶ 429 + Retry-After
//	             │ pick: least outstanding (ties in turn) or round robin,
//	             │       among healthy, not ejected upstreams ──▶ upstream A
//	             │ connection error / 502 / 503 / 504, request idempotent,
//	             │ nothing sent to the client yet, budget left
//	             └──────────── retry once ────────────────────▶ upstream B ≠ A
//
//	Run: every health interval, GET <upstream>/healthz on each upstream;
//	     unhealthy-threshold failures in a row → down, healthy-threshold
//	     successes in a row → up.
//	Passive: every attempt's outcome feeds outlier ejection (see outlier.go):
//	     a connection error, or N 502/503/504 in a row, ejects the upstream
//	     for a time that doubles on repeat; never the last routable one.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of New's options.
const (
	// DefaultHealthInterval is the time between checks of an upstream.
	DefaultHealthInterval = 500 * time.Millisecond
	// DefaultHealthTimeout bounds one health check.
	DefaultHealthTimeout = 300 * time.Millisecond
	// DefaultUnhealthyThreshold is the failed checks in a row that mark an
	// upstream down.
	DefaultUnhealthyThreshold = 2
	// DefaultHealthyThreshold is the successful checks in a row that mark an
	// upstream up.
	DefaultHealthyThreshold = 1
	// DefaultUpstreamTimeout bounds a proxied request, retry included.
	DefaultUpstreamTimeout = 2 * time.Second
	// DefaultBalance is how a new request's upstream is chosen.
	DefaultBalance = LeastOutstanding
	// DefaultEjectConsecutiveFailures is the 502/503/504 answers in a row
	// that eject an upstream.
	DefaultEjectConsecutiveFailures = 3
	// DefaultEjectBase is the length of a first ejection; each repeat
	// doubles it.
	DefaultEjectBase = 2 * time.Second
	// DefaultEjectMax caps the length of an ejection.
	DefaultEjectMax = 30 * time.Second
	// DefaultRetryBudget is the fraction of recent requests that may be
	// retried.
	DefaultRetryBudget = 0.2
	// DefaultRetryMinPerSecond is the retries allowed in every second
	// whatever the fraction says, so that a quiet gateway can still retry.
	DefaultRetryMinPerSecond = 10
	// DefaultRateLimit is the requests per second allowed to each client.
	DefaultRateLimit = 100.0
	// DefaultRateBurst is the requests a client may send at once.
	DefaultRateBurst = 200
	// DefaultRateLimitClients is the number of clients whose buckets are
	// kept; the least recently seen beyond it are forgotten.
	DefaultRateLimitClients = 10_000
	// MaxBodyBytes is the largest request body the gateway buffers (for
	// retries) and forwards; larger bodies are refused with 413.
	MaxBodyBytes = 64 << 10
	// HealthPath is the liveness endpoint polled on every upstream.
	HealthPath = "/healthz"
)

// DefaultRoutes are the API's route patterns. The gateway proxies them under
// these patterns, so its request metrics carry the same bounded route
// labels as the api's; every other path is proxied under "/". The write
// probe's pairs have theirs: GET /v1/sync/{clientId}, and PUT and GET
// /v1/kv/{key} (both labelled /v1/kv/{key}).
var DefaultRoutes = []string{
	"GET /v1/feed", "POST /v1/posts", "GET /v1/posts/{id}", "GET /v1/sync/{clientId}",
	"PUT /v1/kv/{key}", "GET /v1/kv/{key}",
}

// Upstream is one api replica the gateway proxies to.
type Upstream struct {
	// Name labels the upstream in metrics and logs; keep the set bounded.
	Name string
	// URL is the replica's base URL: scheme and host, no path.
	URL *url.URL
}

// ParseUpstreams builds upstreams from base URLs and optional names. With no
// names, upstream i is named by its index ("0", "1", ...); otherwise there
// must be one distinct, non-empty name per URL.
func ParseUpstreams(urls, names []string) ([]Upstream, error) {
	if len(urls) == 0 {
		return nil, errors.New("parse upstreams: none given")
	}
	if len(names) > 0 && len(names) != len(urls) {
		return nil, fmt.Errorf("parse upstreams: %d names for %d upstreams", len(names), len(urls))
	}
	seen := map[string]bool{}
	ups := make([]Upstream, 0, len(urls))
	for i, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("parse upstream %d: %w", i, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("parse upstream %d: %q: want http(s)://host:port with no path, query or user", i, raw)
		}
		u.Path = ""
		name := strconv.Itoa(i)
		if len(names) > 0 {
			name = names[i]
		}
		if name == "" || seen[name] {
			return nil, fmt.Errorf("parse upstream %d: name %q is empty or repeated", i, name)
		}
		seen[name] = true
		ups = append(ups, Upstream{Name: name, URL: u})
	}
	return ups, nil
}

type options struct {
	healthInterval     time.Duration
	healthTimeout      time.Duration
	unhealthyThreshold int
	healthyThreshold   int
	upstreamTimeout    time.Duration
	balance            Balance
	ejectAfter         int
	ejectBase          time.Duration
	ejectMax           time.Duration
	retryRatio         float64
	retryMinPerSecond  int
	rateLimit          float64
	rateBurst          int
	rateClients        int
	now                func() time.Time
	routes             []string
	reg                prometheus.Registerer
	log                *slog.Logger
}

// Option configures a Gateway.
type Option func(*options)

// WithHealthInterval sets how often every upstream is health checked.
func WithHealthInterval(d time.Duration) Option { return func(o *options) { o.healthInterval = d } }

// WithHealthTimeout bounds one health check.
func WithHealthTimeout(d time.Duration) Option { return func(o *options) { o.healthTimeout = d } }

// WithUnhealthyThreshold sets how many failed checks in a row mark an
// upstream down.
func WithUnhealthyThreshold(n int) Option { return func(o *options) { o.unhealthyThreshold = n } }

// WithHealthyThreshold sets how many successful checks in a row mark an
// upstream up.
func WithHealthyThreshold(n int) Option { return func(o *options) { o.healthyThreshold = n } }

// WithUpstreamTimeout bounds a proxied request, retry included; on expiry
// the client gets 504.
func WithUpstreamTimeout(d time.Duration) Option { return func(o *options) { o.upstreamTimeout = d } }

// WithBalance sets how a new request's upstream is chosen (default
// DefaultBalance).
func WithBalance(b Balance) Option { return func(o *options) { o.balance = b } }

// WithEjection configures passive outlier ejection: after consecutive
// 502/503/504 answers in a row (or one connection error) an upstream is
// ejected for base, doubled for each repeat while on probation, at most
// maxTime (defaults DefaultEjectConsecutiveFailures, DefaultEjectBase,
// DefaultEjectMax). Back from an ejection, it is on probation until it has
// answered consecutive attempts in a row.
func WithEjection(consecutive int, base, maxTime time.Duration) Option {
	return func(o *options) { o.ejectAfter, o.ejectBase, o.ejectMax = consecutive, base, maxTime }
}

// WithRetryBudget sets the retry budget: retries may be up to ratio (0 to
// 1) of the requests of the last RetryBudgetWindow, plus minPerSecond in
// every clock second (defaults DefaultRetryBudget,
// DefaultRetryMinPerSecond). Both zero disables retries.
func WithRetryBudget(ratio float64, minPerSecond int) Option {
	return func(o *options) { o.retryRatio, o.retryMinPerSecond = ratio, minPerSecond }
}

// WithRateLimit limits each client (see ClientKey) to perSecond requests a
// second with bursts of burst (defaults DefaultRateLimit,
// DefaultRateBurst); perSecond 0 disables rate limiting.
func WithRateLimit(perSecond float64, burst int) Option {
	return func(o *options) { o.rateLimit, o.rateBurst = perSecond, burst }
}

// WithRateLimitClients bounds how many clients' buckets are kept (default
// DefaultRateLimitClients); the least recently seen are forgotten first.
func WithRateLimitClients(n int) Option { return func(o *options) { o.rateClients = n } }

// WithClock sets the clock of outlier ejection, the retry budget and rate
// limiting (default time.Now). Health check intervals and request timeouts
// use real time.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRoutes sets the route patterns Register proxies under (default
// DefaultRoutes); they only shape metric labels.
func WithRoutes(patterns ...string) Option { return func(o *options) { o.routes = patterns } }

// WithRegisterer sets where the gateway registers its metrics (default: a
// private registry nobody scrapes).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithLogger sets the logger for upstream state changes and proxy errors
// (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Gateway is a load-balancing reverse proxy over a set of upstreams that
// SetUpstreams may change at any time (see discovery.go). Call Run to keep
// the upstreams' health current: until a first check succeeds, an
// upstream is down.
type Gateway struct {
	opts      options
	set       atomic.Pointer[upstreamSet] // replaced whole under setMu; read on every request
	setMu     sync.Mutex                  // serialises changes of set
	changed   chan struct{}               // a buffered wake-up for Run: set changed
	next      atomic.Uint64               // the turn, for round robin and for ties
	ejectMu   sync.Mutex                  // serialises ejection decisions, so that two cannot eject the last two upstreams
	budget    *retryBudget
	limiter   *rateLimiter // nil: no rate limit
	transport *http.Transport
	health    *http.Client
	metrics   *metrics
	status    statusCache // GET /v1/status: the last report (status.go)
}

// New returns a gateway over ups with every upstream down.
func New(ups []Upstream, opts ...Option) (*Gateway, error) {
	o := options{
		healthInterval:     DefaultHealthInterval,
		healthTimeout:      DefaultHealthTimeout,
		unhealthyThreshold: DefaultUnhealthyThreshold,
		healthyThreshold:   DefaultHealthyThreshold,
		upstreamTimeout:    DefaultUpstreamTimeout,
		balance:            DefaultBalance,
		ejectAfter:         DefaultEjectConsecutiveFailures,
		ejectBase:          DefaultEjectBase,
		ejectMax:           DefaultEjectMax,
		retryRatio:         DefaultRetryBudget,
		retryMinPerSecond:  DefaultRetryMinPerSecond,
		rateLimit:          DefaultRateLimit,
		rateBurst:          DefaultRateBurst,
		rateClients:        DefaultRateLimitClients,
		now:                time.Now,
		routes:             DefaultRoutes,
		log:                slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	if err := o.validate(ups); err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	g := &Gateway{
		opts:      o,
		changed:   make(chan struct{}, 1),
		budget:    newRetryBudget(o.retryRatio, o.retryMinPerSecond),
		transport: newTransport(o.upstreamTimeout),
		health:    &http.Client{Transport: newTransport(o.healthTimeout)},
	}
	set := &upstreamSet{}
	for _, u := range ups {
		set.members = append(set.members, newUpstream(u))
	}
	g.set.Store(set)
	if o.rateLimit > 0 {
		l, err := newRateLimiter(o.rateLimit, o.rateBurst, o.rateClients)
		if err != nil {
			return nil, fmt.Errorf("new gateway: %w", err)
		}
		g.limiter = l
	}
	m, err := newMetrics(o.reg, g.Status)
	if err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	g.metrics = m
	return g, nil
}

// validate returns every problem of o and ups, joined.
func (o options) validate(ups []Upstream) error {
	var errs []error
	if len(ups) == 0 {
		errs = append(errs, errors.New("no upstreams"))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"health interval", o.healthInterval},
		{"health timeout", o.healthTimeout},
		{"upstream timeout", o.upstreamTimeout},
		{"ejection base time", o.ejectBase},
	} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s %v: want > 0", d.name, d.d))
		}
	}
	if o.unhealthyThreshold < 1 {
		errs = append(errs, fmt.Errorf("unhealthy threshold %d: want >= 1", o.unhealthyThreshold))
	}
	if o.healthyThreshold < 1 {
		errs = append(errs, fmt.Errorf("healthy threshold %d: want >= 1", o.healthyThreshold))
	}
	if _, ok := balanceNames[o.balance]; !ok {
		errs = append(errs, fmt.Errorf("balance %v: want least-outstanding or round-robin", o.balance))
	}
	if o.ejectAfter < 1 {
		errs = append(errs, fmt.Errorf("ejection consecutive failures %d: want >= 1", o.ejectAfter))
	}
	if o.ejectMax < o.ejectBase {
		errs = append(errs, fmt.Errorf("ejection maximum time %v: want >= the base time %v", o.ejectMax, o.ejectBase))
	}
	if !(o.retryRatio >= 0 && o.retryRatio <= 1) {
		errs = append(errs, fmt.Errorf("retry budget %v: want a fraction from 0 to 1", o.retryRatio))
	}
	if o.retryMinPerSecond < 0 {
		errs = append(errs, fmt.Errorf("retry minimum per second %d: want >= 0", o.retryMinPerSecond))
	}
	if !(o.rateLimit >= 0) || math.IsInf(o.rateLimit, 0) {
		errs = append(errs, fmt.Errorf("rate limit %v: want >= 0 requests per second (0 disables)", o.rateLimit))
	}
	if o.rateLimit > 0 && o.rateBurst < 1 {
		errs = append(errs, fmt.Errorf("rate burst %d: want >= 1", o.rateBurst))
	}
	if o.rateLimit > 0 && o.rateClients < 1 {
		errs = append(errs, fmt.Errorf("rate-limited clients %d: want >= 1", o.rateClients))
	}
	if o.now == nil {
		errs = append(errs, errors.New("clock: want a function, got nil"))
	}
	return errors.Join(errs...)
}

// newTransport returns the transport shared by all requests of one kind:
// keep-alive connections closed well before the api's idle timeout, no
// proxy from the environment, bodies passed through uncompressed.
func newTransport(dialTimeout time.Duration) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
}

// Register adds the gateway's proxied routes to mux: the configured route
// patterns and the catch-all "/"; and GET /v1/status, answered from the
// api's status and cached (status.go).
func (g *Gateway) Register(mux *http.ServeMux) {
	for _, p := range g.opts.routes {
		if p != "/" {
			mux.Handle(p, g)
		}
	}
	mux.Handle("/", g)
	mux.HandleFunc("GET /v1/status", g.serveStatus) // status.go
}

// Ready returns nil when at least one upstream passes its health checks
// (an ejected one counts: the gateway routes to it when nothing else is
// left).
func (g *Gateway) Ready(context.Context) error {
	for _, u := range g.set.Load().members {
		if u.healthy() {
			return nil
		}
	}
	return errors.New("no upstream is up")
}

// UpstreamStatus is the gateway's current view of one upstream.
type UpstreamStatus struct {
	Name string
	URL  string
	// Up: new requests may go to it: Healthy and not ejected.
	Up bool
	// Healthy: the active health checks' verdict.
	Healthy bool
	// EjectedUntil is when the current passive ejection ends; zero when
	// not ejected.
	EjectedUntil time.Time
	// Probation: back from an ejection and not yet through probation; one
	// more failure ejects it again, for twice as long.
	Probation bool
	// Outstanding is the number of requests in flight to it through the
	// gateway.
	Outstanding int64
	// Draining: removed from the set (SetUpstreams); no new request goes
	// to it, and it leaves the status once Outstanding is 0.
	Draining bool
}

// Status returns the current view of every upstream: the set's members in
// order, then the removed ones still draining.
func (g *Gateway) Status() []UpstreamStatus {
	now := g.opts.now()
	set := g.set.Load()
	out := make([]UpstreamStatus, 0, len(set.members)+len(set.draining))
	for _, u := range set.members {
		s := UpstreamStatus{
			Name:        u.name,
			URL:         u.url.String(),
			Up:          u.routable(now),
			Healthy:     u.healthy(),
			Probation:   u.probation.Load(),
			Outstanding: u.outstanding.Load(),
		}
		if u.ejected(now) {
			s.EjectedUntil = time.Unix(0, u.ejectedUntil.Load())
			s.Probation = false
		}
		out = append(out, s)
	}
	for _, u := range set.draining {
		out = append(out, UpstreamStatus{Name: u.name, URL: u.url.String(), Outstanding: u.outstanding.Load(), Draining: true})
	}
	return out
}

// Run health checks every member of the set, first at once and then every
// health interval, and lets go of drained upstreams, until ctx is done; it
// then returns ctx's error. A member added by SetUpstreams is checked at
// once; a removed one is no longer checked.
func (g *Gateway) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	checking := map[*upstream]context.CancelFunc{}
	defer func() {
		for _, cancel := range checking {
			cancel()
		}
	}()
	sweep := time.NewTicker(g.opts.healthInterval)
	defer sweep.Stop()
	for {
		set := g.set.Load()
		members := map[*upstream]bool{}
		for _, u := range set.members {
			members[u] = true
			if _, ok := checking[u]; ok {
				continue
			}
			uctx, cancel := context.WithCancel(ctx)
			checking[u] = cancel
			wg.Go(func() { g.checkEvery(uctx, u) })
		}
		for u, cancel := range checking {
			if !members[u] {
				cancel()
				delete(checking, u)
			}
		}
		g.sweep()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-g.changed:
		case <-sweep.C:
		}
	}
}

// checkEvery health checks u at once and then every health interval until
// ctx is done.
func (g *Gateway) checkEvery(ctx context.Context, u *upstream) {
	tick := time.NewTicker(g.opts.healthInterval)
	defer tick.Stop()
	for {
		g.check(ctx, u)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Close releases the gateway's idle upstream connections.
func (g *Gateway) Close() {
	g.transport.CloseIdleConnections()
	g.health.CloseIdleConnections()
}

// check runs one health check of u and applies its outcome.
func (g *Gateway) check(ctx context.Context, u *upstream) {
	ctx, cancel := context.WithTimeout(ctx, g.opts.healthTimeout)
	defer cancel()
	err := g.probe(ctx, u)
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return // the gateway is stopping: no verdict
	}
	g.metrics.checked(u.name, err == nil)
	if changed, up := u.observe(err == nil, g.opts.healthyThreshold, g.opts.unhealthyThreshold); changed {
		if up {
			g.opts.log.Info("upstream up", "upstream", u.name)
		} else {
			g.opts.log.Warn("upstream down", "upstream", u.name, "cause", "health check", "err", err)
		}
	}
}

func (g *Gateway) probe(ctx context.Context, u *upstream) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.healthURL, nil)
	if err != nil {
		return fmt.Errorf("health check %s: %w", u.name, err)
	}
	resp, err := g.health.Do(req)
	if err != nil {
		return fmt.Errorf("health check %s: %w", u.name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keep the connection reusable
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check %s: status %d", u.name, resp.StatusCode)
	}
	return nil
}

// Code labels of an upstream attempt that got no HTTP response.
const (
	codeError    = "error"
	codeTimeout  = "timeout"
	codeCanceled = "canceled"
)

// hopHeaders are the hop-by-hop headers a proxy must not forward (RFC 9110
// section 7.6.1), plus Expect: the gateway has read the body already.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect",
}

func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}
