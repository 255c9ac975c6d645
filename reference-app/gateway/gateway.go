// Package gateway is the reference backend's edge: a reverse proxy that
// balances requests round-robin over the api replicas it finds healthy,
// checks them actively and passively, and retries idempotent requests once
// on another replica.
//
//	client ──▶ Gateway.ServeHTTP ──pick (round robin over up)──▶ upstream A
//	                 │  connection error / 502 / 503 / 504,
//	                 │  request idempotent, nothing sent to the client yet
//	                 └──────────── retry once ──────────────────▶ upstream B
//
//	Run: every health interval, GET <upstream>/healthz on each upstream;
//	     unhealthy-threshold failures in a row → down, healthy-threshold
//	     successes in a row → up. A connection error while proxying marks
//	     the upstream down at once.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	// MaxBodyBytes is the largest request body the gateway buffers (for
	// retries) and forwards; larger bodies are refused with 413.
	MaxBodyBytes = 64 << 10
	// HealthPath is the liveness endpoint polled on every upstream.
	HealthPath = "/healthz"
)

// DefaultRoutes are the API's route patterns. The gateway proxies them under
// these patterns, so its request metrics carry the same bounded route
// labels as the api's; every other path is proxied under "/".
var DefaultRoutes = []string{"GET /v1/feed", "POST /v1/posts", "GET /v1/posts/{id}"}

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

// WithRoutes sets the route patterns Register proxies under (default
// DefaultRoutes); they only shape metric labels.
func WithRoutes(patterns ...string) Option { return func(o *options) { o.routes = patterns } }

// WithRegisterer sets where the gateway registers its metrics (default: a
// private registry nobody scrapes).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithLogger sets the logger for upstream state changes and proxy errors
// (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Gateway is a load-balancing reverse proxy over a fixed set of upstreams.
// Call Run to keep the upstreams' health current: until a first check
// succeeds, an upstream is down.
type Gateway struct {
	opts      options
	upstreams []*upstream
	next      atomic.Uint64 // round-robin counter
	transport *http.Transport
	health    *http.Client
	metrics   *metrics
}

// New returns a gateway over ups with every upstream down.
func New(ups []Upstream, opts ...Option) (*Gateway, error) {
	o := options{
		healthInterval:     DefaultHealthInterval,
		healthTimeout:      DefaultHealthTimeout,
		unhealthyThreshold: DefaultUnhealthyThreshold,
		healthyThreshold:   DefaultHealthyThreshold,
		upstreamTimeout:    DefaultUpstreamTimeout,
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
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, fmt.Errorf("new gateway: %w", err)
	}
	g := &Gateway{
		opts:      o,
		transport: newTransport(o.upstreamTimeout),
		health:    &http.Client{Transport: newTransport(o.healthTimeout)},
		metrics:   m,
	}
	for _, u := range ups {
		g.upstreams = append(g.upstreams, newUpstream(u, m))
	}
	return g, nil
}

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
// patterns and the catch-all "/".
func (g *Gateway) Register(mux *http.ServeMux) {
	for _, p := range g.opts.routes {
		if p != "/" {
			mux.Handle(p, g)
		}
	}
	mux.Handle("/", g)
}

// Ready returns nil when at least one upstream is up.
func (g *Gateway) Ready(context.Context) error {
	for _, u := range g.upstreams {
		if u.isUp() {
			return nil
		}
	}
	return errors.New("no upstream is up")
}

// UpstreamStatus is the gateway's current view of one upstream.
type UpstreamStatus struct {
	Name string
	URL  string
	Up   bool
}

// Status returns the current view of every upstream, in configuration order.
func (g *Gateway) Status() []UpstreamStatus {
	out := make([]UpstreamStatus, len(g.upstreams))
	for i, u := range g.upstreams {
		out[i] = UpstreamStatus{Name: u.name, URL: u.url.String(), Up: u.isUp()}
	}
	return out
}

// Run health checks every upstream, first at once and then every health
// interval, until ctx is done; it then returns ctx's error.
func (g *Gateway) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, u := range g.upstreams {
		wg.Go(func() {
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
		})
	}
	wg.Wait()
	return ctx.Err()
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

// pick returns the next up upstream, round robin over the upstreams up
// right now, or nil when there is none.
func (g *Gateway) pick() *upstream {
	var buf [8]*upstream
	up := buf[:0]
	for _, u := range g.upstreams {
		if u.isUp() {
			up = append(up, u)
		}
	}
	if len(up) == 0 {
		return nil
	}
	return up[(g.next.Add(1)-1)%uint64(len(up))]
}

// pickAfter returns the first up upstream after failed in configuration
// order, or nil when failed is the only one. It leaves the round-robin
// counter alone, so that retries do not skew the rotation.
func (g *Gateway) pickAfter(failed *upstream) *upstream {
	at := 0
	for i, u := range g.upstreams {
		if u == failed {
			at = i
		}
	}
	for i := 1; i < len(g.upstreams); i++ {
		if u := g.upstreams[(at+i)%len(g.upstreams)]; u.isUp() {
			return u
		}
	}
	return nil
}

// markDown takes u out of rotation after a connection error while proxying.
func (g *Gateway) markDown(u *upstream, err error) {
	if u.markDown(g.opts.unhealthyThreshold) {
		g.opts.log.Warn("upstream down", "upstream", u.name, "cause", "proxy connection error", "err", err)
	}
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
