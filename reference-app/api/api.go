// Package api is refapp's stateless mobile API (ARCHITECTURE.md, "api"):
// accounts with JWT, profiles, a cache-aside feed, posts with a
// transactional outbox of notification events, offline sync, device
// registration and a per-user key-value store.
//
// The API keeps no state of its own that matters: everything durable is in
// the store, reached through the Store interface; the feed is cached through
// Cache; events leave through Publisher. The package also holds HTTP and
// NATS clients for those interfaces (StoreClient, Sentinel, CacheClient,
// NATSPublisher) that speak the wire contracts of ARCHITECTURE.md. Each
// dependency sits behind a circuit breaker, so that a dependency that is down
// costs a request nothing but a quick 503 (writes) or a stale copy (reads).
package api

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"
)

// Defaults of New's options.
const (
	// DefaultIssuer is the JWT "iss" the API signs and requires.
	DefaultIssuer = "refapp"
	// DefaultTokenTTL is how long a token from /v1/auth/login is valid.
	DefaultTokenTTL = 15 * time.Minute
	// DefaultMaxBodyBytes is the largest request body accepted (413 beyond).
	DefaultMaxBodyBytes = 64 << 10
	// DefaultFeedFresh is the age under which a cached feed is served
	// without asking the store.
	DefaultFeedFresh = 2 * time.Second
	// DefaultFeedCacheTTL is how long the cache keeps a feed: long past
	// DefaultFeedFresh, so that a stale copy outlives a store outage.
	DefaultFeedCacheTTL = 10 * time.Minute
	// DefaultBreakerFailures is the number of dependency failures in a row
	// that open its circuit breaker.
	DefaultBreakerFailures = 5
	// DefaultBreakerOpen is how long an open breaker refuses calls before
	// it lets one through to probe the dependency.
	DefaultBreakerOpen = 2 * time.Second
	// DefaultRelayInterval is the time between two passes of the outbox
	// relay.
	DefaultRelayInterval = time.Second
	// DefaultRelayAge is the age an outbox record must reach before the
	// relay republishes it (younger ones are the request's own to publish).
	DefaultRelayAge = 3 * time.Second
	// DefaultPublishTimeout bounds the publication of one event.
	DefaultPublishTimeout = time.Second
	// DefaultBcryptCost is the bcrypt cost of password hashes.
	DefaultBcryptCost = 10
)

// Errors of the dependencies. Clients of Store, Cache and Publisher wrap
// them, so that the API can tell a missing item from a dependency it cannot
// use now.
var (
	// ErrNotFound: the store or the cache has no such item (a cache miss).
	ErrNotFound = errors.New("not found")
	// ErrUnavailable: the dependency cannot answer now (down, timed out,
	// failing over, or its breaker is open); retrying later may work.
	ErrUnavailable = errors.New("dependency unavailable")
	// ErrCircuitOpen: the dependency's breaker refused the call without
	// trying it. It comes wrapped together with ErrUnavailable.
	ErrCircuitOpen = errors.New("circuit breaker open")
)

// Deps are the API's dependencies. Store is required; without Cache every
// feed read goes to the store; without Queue no notification event is
// recorded or published.
type Deps struct {
	Store Store
	Cache Cache
	Queue Publisher
	// Replicas, when set, answers feed reads from store replicas within
	// its staleness bound; the feed falls back to Store.
	Replicas ReplicaReader
}

// API serves the routes of Register. Its only state is the in-process
// last-good feed and the metrics: any number of API processes may share
// the same dependencies.
type API struct {
	store    Store         // breaker-guarded
	cache    Cache         // breaker-guarded; nil without a cache
	queue    Publisher     // breaker-guarded; nil without a queue
	replicas ReplicaReader // nil without read replicas
	// components are the dependencies GET /v1/status reports on.
	components []*component
	instance   string
	secret     []byte
	o          options
	m          *metrics
	lastGood   lastGood
	// dummyHash is compared against when a login names no user, so that
	// an unknown username costs as much time as a wrong password. It is
	// made on first use: a cost-10 hash is not free at every start.
	dummyHash func() []byte
}

type options struct {
	log             *slog.Logger
	now             func() time.Time
	reg             prometheus.Registerer
	issuer          string
	tokenTTL        time.Duration
	maxBody         int64
	feedFresh       time.Duration
	feedCacheTTL    time.Duration
	breakerFailures uint32
	breakerOpen     time.Duration
	relayInterval   time.Duration
	relayAge        time.Duration
	publishTimeout  time.Duration
	bcryptCost      int
	healthInterval  time.Duration
}

// Option configures New.
type Option func(*options)

// WithLogger sets the logger (default: discard). The API never logs a
// password, token, secret or Authorization header.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the clock of timestamps, token expiry and feed freshness
// (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRegisterer sets where the API registers its metrics (default: a
// private registry nobody reads).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithIssuer sets the JWT issuer (default DefaultIssuer).
func WithIssuer(iss string) Option { return func(o *options) { o.issuer = iss } }

// WithTokenTTL sets the lifetime of issued tokens (default DefaultTokenTTL).
func WithTokenTTL(d time.Duration) Option { return func(o *options) { o.tokenTTL = d } }

// WithMaxBodyBytes sets the largest request body (default
// DefaultMaxBodyBytes).
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.maxBody = n } }

// WithFeedFresh sets the age under which a cached feed is served without
// the store (default DefaultFeedFresh; 0 always asks the store first).
func WithFeedFresh(d time.Duration) Option { return func(o *options) { o.feedFresh = d } }

// WithFeedCacheTTL sets how long the cache keeps a feed (default
// DefaultFeedCacheTTL).
func WithFeedCacheTTL(d time.Duration) Option { return func(o *options) { o.feedCacheTTL = d } }

// WithBreaker sets the failures in a row that open a dependency's breaker
// and how long it stays open (defaults DefaultBreakerFailures,
// DefaultBreakerOpen).
func WithBreaker(failures int, open time.Duration) Option {
	return func(o *options) {
		o.breakerFailures, o.breakerOpen = uint32(min(max(failures, 0), math.MaxUint32)), open //nolint:gosec // G115: clamped to uint32
	}
}

// WithRelay sets the outbox relay's interval and the age from which it
// republishes a record (defaults DefaultRelayInterval, DefaultRelayAge).
func WithRelay(interval, age time.Duration) Option {
	return func(o *options) { o.relayInterval, o.relayAge = interval, age }
}

// WithPublishTimeout bounds the publication of one event (default
// DefaultPublishTimeout).
func WithPublishTimeout(d time.Duration) Option { return func(o *options) { o.publishTimeout = d } }

// WithBcryptCost sets the bcrypt cost of new password hashes (default
// DefaultBcryptCost; tests use bcrypt.MinCost).
func WithBcryptCost(c int) Option { return func(o *options) { o.bcryptCost = c } }

// WithHealthInterval sets the time between two probes of the dependencies
// for GET /v1/status (default DefaultHealthInterval).
func WithHealthInterval(d time.Duration) Option { return func(o *options) { o.healthInterval = d } }

// MinSecretBytes is the shortest HMAC key New accepts.
const MinSecretBytes = 32

// New returns the API over d, signing tokens with secret (HS256), naming
// itself instance in feeds. It fails on a missing store, a short secret or
// a bad option value.
func New(d Deps, secret []byte, instance string, opts ...Option) (*API, error) {
	o := options{
		log:             slog.New(slog.DiscardHandler),
		now:             time.Now,
		reg:             prometheus.NewRegistry(),
		issuer:          DefaultIssuer,
		tokenTTL:        DefaultTokenTTL,
		maxBody:         DefaultMaxBodyBytes,
		feedFresh:       DefaultFeedFresh,
		feedCacheTTL:    DefaultFeedCacheTTL,
		breakerFailures: DefaultBreakerFailures,
		breakerOpen:     DefaultBreakerOpen,
		relayInterval:   DefaultRelayInterval,
		relayAge:        DefaultRelayAge,
		publishTimeout:  DefaultPublishTimeout,
		bcryptCost:      DefaultBcryptCost,
		healthInterval:  DefaultHealthInterval,
	}
	for _, opt := range opts {
		opt(&o)
	}
	var errs []error
	if d.Store == nil {
		errs = append(errs, errors.New("no store"))
	}
	if len(secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("JWT secret is %d bytes; want at least %d", len(secret), MinSecretBytes))
	}
	if o.issuer == "" {
		errs = append(errs, errors.New("empty JWT issuer"))
	}
	for _, c := range []struct {
		name string
		d    time.Duration
	}{{"token TTL", o.tokenTTL}, {"breaker open time", o.breakerOpen}, {"relay interval", o.relayInterval}, {"publish timeout", o.publishTimeout}, {"feed cache TTL", o.feedCacheTTL}, {"health interval", o.healthInterval}} {
		if c.d <= 0 {
			errs = append(errs, fmt.Errorf("%s %v: want > 0", c.name, c.d))
		}
	}
	if o.feedFresh < 0 || o.relayAge < 0 {
		errs = append(errs, fmt.Errorf("feed fresh %v, relay age %v: want >= 0", o.feedFresh, o.relayAge))
	}
	if o.maxBody < 1 {
		errs = append(errs, fmt.Errorf("max body bytes %d: want > 0", o.maxBody))
	}
	if o.bcryptCost < bcrypt.MinCost || o.bcryptCost > bcrypt.MaxCost {
		errs = append(errs, fmt.Errorf("bcrypt cost %d: want %d to %d", o.bcryptCost, bcrypt.MinCost, bcrypt.MaxCost))
	}
	if o.breakerFailures < 1 {
		errs = append(errs, fmt.Errorf("breaker failures %d: want > 0", o.breakerFailures))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("new api: %w", err)
	}

	a := &API{instance: instance, secret: secret, o: o}
	a.dummyHash = sync.OnceValue(func() []byte {
		h, _ := bcrypt.GenerateFromPassword([]byte("refapp-no-such-user"), o.bcryptCost) // the cost is checked
		return h
	})
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	a.m = m
	sb, err := a.newBreaker("store")
	if err != nil {
		return nil, err
	}
	a.store = guardedStore{s: d.Store, b: sb}
	a.replicas = d.Replicas
	var cb, qb *breaker
	if d.Cache != nil {
		if cb, err = a.newBreaker("cache"); err != nil {
			return nil, err
		}
		a.cache = guardedCache{c: d.Cache, b: cb}
	}
	if d.Queue != nil {
		if qb, err = a.newBreaker("queue"); err != nil {
			return nil, err
		}
		a.queue = guardedPublisher{p: d.Queue, b: qb}
	}
	a.components = a.statusComponents(d, sb, cb, qb)
	return a, nil
}

// Register adds the API's routes to mux (see ARCHITECTURE.md for bodies):
//
//	POST /v1/auth/signup  201 {"userId"}, 409 username taken
//	POST /v1/auth/login   200 {"token","expiresAt"}, 401
//	GET  /v1/me           JWT; 200 Profile
//	PUT  /v1/me           JWT; 200 Profile
//	GET  /v1/feed         200 Feed (cache-aside; stale copies when the store is down)
//	POST /v1/posts        JWT; 201 Post (Idempotency-Key replays the same post)
//	GET  /v1/posts/{id}   200 Post, 404
//	POST /v1/sync         JWT; 200 SyncResponse (idempotent per clientId)
//	GET  /v1/sync/{clientId}  JWT; 200 Post the primary holds under that id
//	                      (sync clientId or Idempotency-Key), 404, 503
//	POST /v1/devices      JWT; 201 Device
//	PUT  /v1/kv/{key}     JWT; {"value":V} → 204 once the store acknowledged
//	                      its one write (one op: put userkv userId/key), 503
//	GET  /v1/kv/{key}     JWT; 200 {"key","value"} the primary holds, 404, 503
//	GET  /v1/status       200 StatusReport: per component operational, degraded or outage
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/auth/signup", a.signup)
	mux.HandleFunc("POST /v1/auth/login", a.login)
	mux.Handle("GET /v1/me", a.authed(a.getMe))
	mux.Handle("PUT /v1/me", a.authed(a.putMe))
	mux.HandleFunc("GET /v1/feed", a.feed)
	mux.Handle("POST /v1/posts", a.authed(a.createPost))
	mux.HandleFunc("GET /v1/posts/{id}", a.getPost)
	mux.Handle("POST /v1/sync", a.authed(a.sync))
	mux.Handle("GET /v1/sync/{clientId}", a.authed(a.getSync))
	mux.Handle("POST /v1/devices", a.authed(a.registerDevice))
	mux.Handle("PUT /v1/kv/{key}", a.authed(a.putKV))
	mux.Handle("GET /v1/kv/{key}", a.authed(a.getKV))
	mux.HandleFunc("GET /v1/status", a.status)
}

// dependencyError answers a failed dependency call: 503 with Retry-After
// when it is unavailable (the breaker's open time when the breaker refused
// it), 500 otherwise (a request the dependency refused: a bug here).
func (a *API) dependencyError(w http.ResponseWriter, r *http.Request, op string, err error) {
	if errors.Is(err, ErrUnavailable) {
		retry := time.Second
		if errors.Is(err, ErrCircuitOpen) {
			retry = a.o.breakerOpen
		}
		a.o.log.Debug("dependency unavailable", "op", op, "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(retry, time.Second).Seconds()))))
		writeError(w, http.StatusServiceUnavailable, op+": temporarily unavailable, retry later")
		return
	}
	if r.Context().Err() != nil {
		writeError(w, http.StatusServiceUnavailable, op+": request cancelled")
		return
	}
	a.o.log.Error("dependency failed", "op", op, "err", err)
	writeError(w, http.StatusInternalServerError, op+": internal error")
}
