// Package sentinel watches refapp's store nodes, promotes a replica when
// the primary fails, and tells the api where the primary is.
//
//	every check interval: GET /v1/status of every store, in parallel
//	  adopt the highest epoch any store reports
//	  primary failed --failures checks in a row (or none known for as many rounds)
//	    → promote the reachable replica with the highest appliedSeq at epoch+1
//	      (none reachable: do nothing, say so: log + refapp_sentinel_failover_blocked)
//	  primary healthy
//	    → every other reachable store that is not its replica at the epoch
//	      (a stale primary come back, a replica of the old one) is told to follow it
//
// GET /v1/primary answers the primary's client URL and epoch; the api sends
// that epoch with its writes (X-Fencing-Epoch), which fences a stale primary.
package sentinel

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gameday/gameday/reference-app/kvstore"
)

// Defaults of New's options.
const (
	// DefaultCheckInterval is the time between two rounds of checks.
	DefaultCheckInterval = 250 * time.Millisecond
	// DefaultFailures is the failed checks of the primary in a row that
	// start a failover.
	DefaultFailures = 3
	// DefaultCheckTimeout bounds one status check.
	DefaultCheckTimeout = time.Second
	// DefaultAdminTimeout bounds one promote or follow request.
	DefaultAdminTimeout = 2 * time.Second
)

// Store is one store node as the sentinel sees it.
type Store struct {
	// Name identifies the node in logs, metrics and /v1/primary.
	Name string
	// URL is where the sentinel checks its status and sends admin requests.
	URL string
	// ClientURL is where the api reaches it (default URL).
	ClientURL string
	// ReplURL is where its replicas pull its log from (default URL).
	ReplURL string
}

// ParseStores builds the stores from the flags' lists, each "name=URL"
// comma-separated: stores is required, clientURLs and replURLs may name a
// subset of its nodes (the others default to their store URL).
func ParseStores(stores, clientURLs, replURLs string) ([]Store, error) {
	base, err := parsePairs("stores", stores)
	if err != nil {
		return nil, err
	}
	if len(base) == 0 {
		return nil, errors.New("stores: none given")
	}
	clients, err := parsePairs("client-urls", clientURLs)
	if err != nil {
		return nil, err
	}
	repls, err := parsePairs("repl-urls", replURLs)
	if err != nil {
		return nil, err
	}
	var out []Store
	byName := map[string]bool{}
	for _, p := range base {
		byName[p.name] = true
		s := Store{Name: p.name, URL: p.url, ClientURL: p.url, ReplURL: p.url}
		for _, c := range clients {
			if c.name == p.name {
				s.ClientURL = c.url
			}
		}
		for _, r := range repls {
			if r.name == p.name {
				s.ReplURL = r.url
			}
		}
		out = append(out, s)
	}
	for list, pairs := range map[string][]pair{"client-urls": clients, "repl-urls": repls} {
		for _, p := range pairs {
			if !byName[p.name] {
				return nil, fmt.Errorf("%s: node %q is not in stores", list, p.name)
			}
		}
	}
	return out, nil
}

type pair struct{ name, url string }

func parsePairs(list, s string) ([]pair, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []pair
	seen := map[string]bool{}
	for item := range strings.SplitSeq(s, ",") {
		name, u, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%s: %q: want name=URL", list, item)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s: node %q given twice", list, name)
		}
		if err := kvstore.CheckBaseURL(u); err != nil {
			return nil, fmt.Errorf("%s: node %s: %w", list, name, err)
		}
		seen[name] = true
		out = append(out, pair{name, strings.TrimSuffix(u, "/")})
	}
	return out, nil
}

type options struct {
	interval     time.Duration
	failures     int
	checkTimeout time.Duration
	adminTimeout time.Duration
	client       *http.Client
	reg          prometheus.Registerer
	log          *slog.Logger
}

// Option configures a Sentinel.
type Option func(*options)

// WithCheckInterval sets the time between two rounds of checks (default
// DefaultCheckInterval).
func WithCheckInterval(d time.Duration) Option { return func(o *options) { o.interval = d } }

// WithFailures sets how many failed checks of the primary in a row start a
// failover (default DefaultFailures).
func WithFailures(n int) Option { return func(o *options) { o.failures = n } }

// WithCheckTimeout bounds one status check (default DefaultCheckTimeout).
func WithCheckTimeout(d time.Duration) Option { return func(o *options) { o.checkTimeout = d } }

// WithAdminTimeout bounds one promote or follow (default
// DefaultAdminTimeout).
func WithAdminTimeout(d time.Duration) Option { return func(o *options) { o.adminTimeout = d } }

// WithHTTPClient sets the client of checks and admin requests (default: a
// dedicated transport; every request carries its own timeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithRegisterer sets where the sentinel registers its metrics (default: a
// private registry nobody scrapes).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithLogger sets the logger of failovers and follows (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Primary is the answer of GET /v1/primary.
type Primary struct {
	// Name is the primary's node name.
	Name string `json:"name"`
	// URL is its client URL.
	URL string `json:"url"`
	// Epoch is the fencing epoch to send with writes.
	Epoch uint64 `json:"epoch"`
}

// Replica is a store replica that follows the primary at the current
// epoch, as of the sentinel's last round, and answered its check.
type Replica struct {
	// Name identifies the node.
	Name string `json:"name"`
	// URL is its client URL.
	URL string `json:"url"`
}

// Replicas are the answer to GET /v1/replicas.
type Replicas struct {
	// Epoch is the sentinel's epoch.
	Epoch uint64 `json:"epoch"`
	// Replicas are the replicas following the primary; never null.
	Replicas []Replica `json:"replicas"`
}

// Replicas returns the replicas that follow the primary at the current
// epoch, as of the last round (none while no primary is known).
func (s *Sentinel) Replicas() Replicas {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Replicas{Epoch: s.epochSeen, Replicas: append([]Replica{}, s.replicas...)}
}

// Sentinel checks the stores and fails over; see the package doc. Run
// drives it; its other methods are safe for concurrent use.
type Sentinel struct {
	opts    options
	stores  []Store
	metrics *metrics

	// Owned by Run's goroutine.
	epoch      uint64         // highest epoch seen or given
	primary    string         // the primary's name; "" when unknown
	fails      map[string]int // failed checks in a row, by node
	noPrimary  int            // rounds in a row with no primary known
	blocked    bool           // a failover is due but no replica is reachable
	standingBy bool           // a store follows a primary outside the set (see standby)

	mu        sync.Mutex // guards published, epochSeen, replicas
	published *Primary   // what /v1/primary answers; nil when unknown
	epochSeen uint64     // the epoch as of the last round
	replicas  []Replica  // what /v1/replicas answers
}

// Epoch returns the highest epoch the sentinel has seen or given, as of
// its last round (a restore must go above it).
func (s *Sentinel) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epochSeen
}

// New returns a sentinel over stores that knows no primary yet.
func New(stores []Store, opts ...Option) (*Sentinel, error) {
	o := options{
		interval:     DefaultCheckInterval,
		failures:     DefaultFailures,
		checkTimeout: DefaultCheckTimeout,
		adminTimeout: DefaultAdminTimeout,
		log:          slog.New(slog.DiscardHandler),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	if o.client == nil {
		o.client = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}}
	}
	if err := o.validate(stores); err != nil {
		return nil, fmt.Errorf("new sentinel: %w", err)
	}
	names := make([]string, len(stores))
	for i, s := range stores {
		names[i] = s.Name
	}
	m, err := newMetrics(o.reg, names)
	if err != nil {
		return nil, fmt.Errorf("new sentinel: %w", err)
	}
	return &Sentinel{opts: o, stores: slices.Clone(stores), metrics: m, fails: map[string]int{}}, nil
}

func (o options) validate(stores []Store) error {
	var errs []error
	if len(stores) == 0 {
		errs = append(errs, errors.New("no stores"))
	}
	seen := map[string]bool{}
	for _, s := range stores {
		if s.Name == "" || seen[s.Name] {
			errs = append(errs, fmt.Errorf("store name %q is empty or repeated", s.Name))
		}
		seen[s.Name] = true
		for _, u := range []string{s.URL, s.ClientURL, s.ReplURL} {
			if err := kvstore.CheckBaseURL(u); err != nil {
				errs = append(errs, fmt.Errorf("store %s: %w", s.Name, err))
			}
		}
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"check interval", o.interval}, {"check timeout", o.checkTimeout}, {"admin timeout", o.adminTimeout}} {
		if d.d <= 0 {
			errs = append(errs, fmt.Errorf("%s %v: want > 0", d.name, d.d))
		}
	}
	if o.failures < 1 {
		errs = append(errs, fmt.Errorf("failures %d: want >= 1", o.failures))
	}
	return errors.Join(errs...)
}

// Primary returns the primary the sentinel knows, or ok false.
func (s *Sentinel) Primary() (p Primary, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.published == nil {
		return Primary{}, false
	}
	return *s.published, true
}

// Ready returns nil once the sentinel knows the primary.
func (s *Sentinel) Ready(context.Context) error {
	if _, ok := s.Primary(); !ok {
		return errors.New("no primary known")
	}
	return nil
}

// Run checks the stores every check interval, first at once, and acts on
// what it finds, until ctx is done; it then returns ctx's error.
func (s *Sentinel) Run(ctx context.Context) error {
	tick := time.NewTicker(s.opts.interval)
	defer tick.Stop()
	for {
		s.round(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// report is one store's status check.
type report struct {
	st  kvstore.Status
	err error
}

// round runs one round of checks and acts on it.
func (s *Sentinel) round(ctx context.Context) {
	reports := s.checkAll(ctx)
	if ctx.Err() != nil {
		return // stopping: no verdict
	}
	for _, st := range s.stores {
		r := reports[st.Name]
		if r.err != nil {
			s.fails[st.Name]++
		} else {
			s.fails[st.Name] = 0
			if r.st.Epoch > s.epoch {
				s.opts.log.Info("adopted epoch", "epoch", r.st.Epoch, "from", st.Name, "was", s.epoch)
				s.epoch = r.st.Epoch
			}
		}
		s.metrics.up.WithLabelValues(st.Name).Set(boolFloat(r.err == nil))
	}

	if node, outside, ok := s.standby(reports); ok {
		// Another region's primary leads now: this set is a standby, and
		// promoting one of its stores would make a second primary.
		if s.primary != "" || !s.standingBy {
			s.opts.log.Warn("standing by: a store follows a primary outside this set at the current epoch; no failover",
				"node", node, "primary", outside, "epoch", s.epoch)
		}
		s.primary, s.noPrimary, s.blocked, s.standingBy = "", 0, false, true
		s.publish(reports)
		return
	}
	s.standingBy = false
	failedOver := false
	if s.primary != "" {
		r := reports[s.primary]
		switch {
		case r.err != nil && s.fails[s.primary] >= s.opts.failures:
			s.opts.log.Warn("primary down", "primary", s.primary, "failedChecks", s.fails[s.primary], "err", r.err)
			s.failover(ctx, reports)
			failedOver = true
		case r.err == nil && (r.st.Role != kvstore.RolePrimary || r.st.Epoch < s.epoch):
			s.opts.log.Warn("primary no longer primary at the current epoch", "node", s.primary,
				"role", r.st.Role, "epoch", r.st.Epoch, "sentinelEpoch", s.epoch)
			s.primary = ""
		}
	}
	if s.primary == "" && !failedOver {
		if name := s.claimant(reports); name != "" {
			s.opts.log.Info("primary found", "primary", name, "epoch", s.epoch)
			s.primary, s.blocked = name, false
		} else if s.noPrimary++; s.noPrimary >= s.opts.failures {
			s.failover(ctx, reports)
		}
	}
	if s.primary != "" {
		s.noPrimary = 0
	}
	if s.primary != "" && reports[s.primary].err == nil {
		s.reconcile(ctx, reports)
	}
	s.publish(reports)
}

// standby reports a reachable store that is a replica, at the sentinel's
// epoch (the highest seen), of a primary none of the sentinel's stores is
// (its primary URL is no --repl-urls entry) while no store of the set
// claims primary at that epoch: another region's primary, promoted over
// this set and fencing it (reference-app/global). The sentinel then
// neither promotes nor names a primary, so that the set stays fenced until
// it is told otherwise.
func (s *Sentinel) standby(reports map[string]report) (node, primary string, ok bool) {
	for _, st := range s.stores {
		r := reports[st.Name]
		if r.err != nil || r.st.Role != kvstore.RoleReplica || r.st.Epoch < s.epoch || r.st.Primary == "" ||
			slices.ContainsFunc(s.stores, func(o Store) bool { return o.ReplURL == r.st.Primary }) {
			continue
		}
		claimed := slices.ContainsFunc(s.stores, func(o Store) bool {
			or := reports[o.Name]
			return or.err == nil && or.st.Role == kvstore.RolePrimary && or.st.Epoch >= r.st.Epoch
		})
		if !claimed {
			return st.Name, r.st.Primary, true
		}
	}
	return "", "", false
}

// checkAll gets every store's status in parallel.
func (s *Sentinel) checkAll(ctx context.Context) map[string]report {
	out := make(map[string]report, len(s.stores))
	var mu sync.Mutex // guards out
	var wg sync.WaitGroup
	for _, st := range s.stores {
		wg.Go(func() {
			var r report
			r.err = s.call(ctx, s.opts.checkTimeout, http.MethodGet, st.URL+"/v1/status", nil, &r.st)
			mu.Lock()
			out[st.Name] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// claimant returns the reachable store that claims to be primary at the
// sentinel's epoch, or "" when none does. Should two claim it, the one with
// the longer log wins (and the other will be told to follow).
func (s *Sentinel) claimant(reports map[string]report) string {
	best := ""
	for _, st := range s.stores {
		r := reports[st.Name]
		if r.err != nil || r.st.Role != kvstore.RolePrimary || r.st.Epoch != s.epoch {
			continue
		}
		if best != "" {
			s.opts.log.Error("two stores claim primary at one epoch", "epoch", s.epoch, "a", best, "b", st.Name)
			if r.st.LastSeq <= reports[best].st.LastSeq {
				continue
			}
		}
		best = st.Name
	}
	return best
}

// failover promotes the best reachable replica at the next epoch. With
// none, it leaves the primary unknown and reports the block.
func (s *Sentinel) failover(ctx context.Context, reports map[string]report) {
	old := s.primary
	s.primary = ""
	type cand struct {
		name string
		st   kvstore.Status
	}
	var cands []cand
	for _, st := range s.stores {
		if r := reports[st.Name]; r.err == nil && st.Name != old && r.st.Role == kvstore.RoleReplica {
			cands = append(cands, cand{st.Name, r.st})
		}
	}
	if len(cands) == 0 {
		if !s.blocked {
			s.opts.log.Error("failover needed but no replica is reachable; doing nothing", "oldPrimary", old, "epoch", s.epoch)
		}
		s.blocked = true
		s.noPrimary = s.opts.failures // try again next round
		return
	}
	// The most applied entries first, then the highest epoch, then by name.
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(b.st.AppliedSeq, a.st.AppliedSeq), cmp.Compare(b.st.Epoch, a.st.Epoch), cmp.Compare(a.name, b.name))
	})
	name := cands[0].name
	epoch := s.epoch + 1
	var st kvstore.Status
	err := s.call(ctx, s.opts.adminTimeout, http.MethodPost, s.store(name).URL+"/v1/admin/promote", kvstore.PromoteRequest{Epoch: epoch}, &st)
	if err != nil {
		s.opts.log.Error("promote failed; retrying next round", "node", name, "epoch", epoch, "err", err)
		s.noPrimary = s.opts.failures // retry at once
		return
	}
	s.opts.log.Warn("failover: promoted", "primary", name, "epoch", epoch, "appliedSeq", st.AppliedSeq, "oldPrimary", old)
	s.epoch, s.primary, s.noPrimary, s.blocked = epoch, name, 0, false
	s.metrics.failovers.Inc()
	reports[name] = report{st: st}
}

func (s *Sentinel) store(name string) Store {
	for _, st := range s.stores {
		if st.Name == name {
			return st
		}
	}
	return Store{}
}

// reconcile tells every reachable store other than the primary that is not
// its replica at the current epoch to follow it.
func (s *Sentinel) reconcile(ctx context.Context, reports map[string]report) {
	p := s.store(s.primary)
	for _, st := range s.stores {
		r := reports[st.Name]
		if st.Name == s.primary || r.err != nil {
			continue
		}
		if r.st.Role == kvstore.RoleReplica && r.st.Epoch == s.epoch && r.st.Primary == p.ReplURL {
			continue
		}
		err := s.call(ctx, s.opts.adminTimeout, http.MethodPost, st.URL+"/v1/admin/follow",
			kvstore.FollowRequest{Primary: p.ReplURL, Epoch: s.epoch}, nil)
		if err != nil {
			s.opts.log.Error("follow failed; retrying next round", "node", st.Name, "primary", s.primary, "err", err)
			continue
		}
		s.opts.log.Info("told to follow", "node", st.Name, "primary", s.primary, "epoch", s.epoch,
			"was", r.st.Role, "wasEpoch", r.st.Epoch)
	}
}

// publish updates what /v1/primary, /v1/replicas and the metrics say.
func (s *Sentinel) publish(reports map[string]report) {
	var p *Primary
	replicas := []Replica{}
	if s.primary != "" {
		st := s.store(s.primary)
		p = &Primary{Name: st.Name, URL: st.ClientURL, Epoch: s.epoch}
		for _, r := range s.stores {
			rep := reports[r.Name]
			if r.Name != s.primary && rep.err == nil && rep.st.Role == kvstore.RoleReplica &&
				rep.st.Epoch == s.epoch && rep.st.Primary == st.ReplURL {
				replicas = append(replicas, Replica{Name: r.Name, URL: r.ClientURL})
			}
		}
	}
	s.mu.Lock()
	s.published, s.epochSeen, s.replicas = p, s.epoch, replicas
	s.mu.Unlock()
	s.metrics.epoch.Set(float64(s.epoch))
	s.metrics.blocked.Set(boolFloat(s.blocked))
	for _, st := range s.stores {
		s.metrics.primary.WithLabelValues(st.Name).Set(boolFloat(st.Name == s.primary))
	}
}

// call sends one JSON request with timeout and decodes a 200 answer into
// out (when not nil); see kvstore.CallJSON.
func (s *Sentinel) call(ctx context.Context, timeout time.Duration, method, url string, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return kvstore.CallJSON(ctx, s.opts.client, method, url, in, out)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
