package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

const (
	// DefaultScrapeInterval is how often every target is scraped.
	DefaultScrapeInterval = time.Second
	// MaxScrapeTimeout caps the scrape timeout, which is otherwise the scrape
	// interval: a scrape may take up to one interval (scrapes of one target
	// never overlap), and at most 10s, Prometheus's default.
	MaxScrapeTimeout = 10 * time.Second
	// DefaultJob is the job label of a target that does not set one.
	DefaultJob = "gameday"
	// discoveryReloadInterval is how often the scrape manager applies target
	// updates. Prometheus waits 5s; the targets are handed over once, at
	// Start, and scraping must begin at once.
	discoveryReloadInterval = 100 * time.Millisecond
)

// Target is one scrape target.
type Target struct {
	URL    string            // full scrape URL, e.g. http://127.0.0.1:4312/metrics
	Labels map[string]string // extra target labels, e.g. {"role":"api","instance":"api-1"}
}

// Option configures OpenEmbedded.
type Option func(*options)

type options struct {
	scrapeInterval time.Duration
	logger         *slog.Logger
}

// WithScrapeInterval sets how often every target is scraped (default
// DefaultScrapeInterval). The scrape timeout is min(d, MaxScrapeTimeout).
// A non-positive d is refused by OpenEmbedded.
func WithScrapeInterval(d time.Duration) Option {
	return func(o *options) { o.scrapeInterval = d }
}

// WithLogger sets the logger of the TSDB, the scrape manager and the engine
// (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// Embedded is an in-process Prometheus: a TSDB in a directory, a scrape
// manager that writes into it, and a PromQL engine that reads it.
//
// Lifecycle: OpenEmbedded → Start → (queries) → Stop → (queries) → Close.
// Queries are answered from OpenEmbedded until Close; all methods are safe
// for concurrent use.
type Embedded struct {
	dir  string
	opts options
	db   *tsdb.DB
	q    engineQuerier

	mu        sync.Mutex // guards started, stopped, startTime, stopTime, stopErr, mgr, done
	started   bool
	stopped   bool
	startTime time.Time
	stopTime  time.Time
	stopErr   error
	mgr       *scrape.Manager
	done      chan struct{} // closed by Stop; ends the goroutine watching Start's context

	qmu    sync.RWMutex // guards closed; held shared by every query so Close waits for them
	closed bool
}

// OpenEmbedded opens (creating it if needed) the TSDB in dir. Nothing is
// scraped until Start.
func OpenEmbedded(dir string, opts ...Option) (*Embedded, error) {
	o := options{scrapeInterval: DefaultScrapeInterval}
	for _, opt := range opts {
		opt(&o)
	}
	if o.scrapeInterval <= 0 {
		return nil, fmt.Errorf("open embedded prometheus %s: scrape interval %v: must be positive", dir, o.scrapeInterval)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	topts := tsdb.DefaultOptions()
	// The run directory is the record of the run: never delete data by age.
	topts.RetentionDuration = 0
	db, err := tsdb.Open(dir, o.logger.With("component", "tsdb"), nil, topts, nil)
	if err != nil {
		return nil, fmt.Errorf("open embedded prometheus %s: %w", dir, err)
	}
	return &Embedded{
		dir:  dir,
		opts: o,
		db:   db,
		q:    engineQuerier{engine: newEngine(o.logger.With("component", "promql")), store: db},
	}, nil
}

// Start begins scraping targets now; the first scrape of each target comes
// within one scrape interval. Scraping goes on until Stop, Close, or until ctx
// is done, whichever comes first (ctx ending acts as Stop). Start may be
// called once; targets are validated before anything starts.
//
// Every target's series carry its Labels; a Target's `instance` and `job`
// labels win over the defaults (host:port and DefaultJob). honor_labels is
// false: a scraped series' own label that clashes with a target label is
// kept as `exported_<name>`.
func (e *Embedded) Start(ctx context.Context, targets []Target) error {
	groups, err := targetGroups(targets)
	if err != nil {
		return fmt.Errorf("start scraping: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.stopped:
		return errors.New("start scraping: already stopped")
	case e.started:
		return errors.New("start scraping: already started")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start scraping: %w", err)
	}
	timeout := min(e.opts.scrapeInterval, MaxScrapeTimeout)
	cfg, err := config.Load(scrapeConfigYAML(e.opts.scrapeInterval, timeout), e.opts.logger)
	if err != nil {
		return fmt.Errorf("start scraping: load scrape config: %w", err)
	}
	mgr, err := scrape.NewManager(&scrape.Options{
		DiscoveryReloadInterval:  model.Duration(discoveryReloadInterval),
		DiscoveryReloadOnStartup: true,
	}, e.opts.logger.With("component", "scrape"), nil, nil, e.db, prometheus.NewRegistry())
	if err != nil {
		return fmt.Errorf("start scraping: %w", err)
	}
	if err := mgr.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("start scraping: apply scrape config: %w", err)
	}
	tsets := make(chan map[string][]*targetgroup.Group, 1)
	tsets <- map[string][]*targetgroup.Group{DefaultJob: groups}
	// Run returns once mgr.Stop has run; tsets is never closed, so Run never
	// sees a second update.
	go func() { _ = mgr.Run(tsets) }()

	e.started = true
	e.startTime = time.Now()
	e.mgr = mgr
	e.done = make(chan struct{})
	go func(done <-chan struct{}) {
		select {
		case <-ctx.Done():
			e.Stop()
		case <-done:
		}
	}(e.done)
	return nil
}

// Stop stops scraping and marks every series that was still live as stale
// at the returned stop time, as Prometheus does when a target goes away, so
// an instant selector evaluated after the stop time finds nothing. It is
// idempotent: later calls return the first stop time. Stopping an Embedded
// that never started returns the time of the first call.
func (e *Embedded) Stop() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return e.stopTime
	}
	e.stopped = true
	if e.mgr == nil {
		e.stopTime = time.Now()
		return e.stopTime
	}
	close(e.done)
	// mgr.Stop waits for in-flight scrapes and their commits; it cancels the
	// loops' context, so the scrape loops write no end-of-run staleness
	// markers themselves: markStale writes them.
	e.mgr.Stop()
	e.stopTime = time.Now()
	if err := markStale(e.db, e.startTime, e.stopTime); err != nil {
		e.stopErr = fmt.Errorf("stop scraping: %w", err)
		e.opts.logger.Error("write staleness markers", "err", err)
	}
	return e.stopTime
}

// Close stops scraping (as Stop) and closes the TSDB so that the directory
// can be re-opened with OpenStored. It is idempotent; queries after Close
// fail. It reports an error of Stop's staleness markers, if any.
func (e *Embedded) Close() error {
	e.Stop()
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	err := e.db.Close()
	e.mu.Lock()
	stopErr := e.stopErr
	e.mu.Unlock()
	if err = errors.Join(stopErr, err); err != nil {
		return fmt.Errorf("close embedded prometheus %s: %w", e.dir, err)
	}
	return nil
}

// errClosed is returned by a query after Close.
var errClosed = errors.New("closed")

// QueryRange evaluates expr at every step in [start, end]. It answers while
// scraping and after Stop, until Close.
func (e *Embedded) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	e.qmu.RLock()
	defer e.qmu.RUnlock()
	if e.closed {
		return nil, fmt.Errorf("query %q: %w", expr, errClosed)
	}
	return e.q.queryRange(ctx, expr, start, end, step)
}

// Query evaluates expr at t. It answers while scraping and after Stop, until
// Close.
func (e *Embedded) Query(ctx context.Context, expr string, t time.Time) ([]Series, error) {
	e.qmu.RLock()
	defer e.qmu.RUnlock()
	if e.closed {
		return nil, fmt.Errorf("query %q: %w", expr, errClosed)
	}
	return e.q.query(ctx, expr, t)
}

// scrapeConfigYAML is the one scrape job. The scrape manager accepts only a
// config that went through config.Load (which fills defaults and validates).
func scrapeConfigYAML(interval, timeout time.Duration) string {
	i, t := model.Duration(interval).String(), model.Duration(timeout).String()
	return fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[2]s
scrape_configs:
  - job_name: %[3]s
    honor_labels: false
    honor_timestamps: true
    scrape_interval: %[1]s
    scrape_timeout: %[2]s
`, i, t, DefaultJob)
}

// targetGroups turns targets into one target group each: the URL becomes
// the __scheme__, __address__, __metrics_path__ and __param_* labels, and
// Labels become the group's labels.
func targetGroups(targets []Target) ([]*targetgroup.Group, error) {
	groups := make([]*targetgroup.Group, 0, len(targets))
	for i, t := range targets {
		u, err := url.Parse(t.URL)
		if err != nil {
			return nil, fmt.Errorf("target %d: %w", i, err)
		}
		switch {
		case u.Scheme != "http" && u.Scheme != "https":
			return nil, fmt.Errorf("target %d: url %q: scheme %q: want http or https", i, t.URL, u.Scheme)
		case u.Host == "":
			return nil, fmt.Errorf("target %d: url %q: no host", i, t.URL)
		case u.User != nil:
			return nil, fmt.Errorf("target %d: url %q: credentials in the URL are not supported", i, u.Redacted())
		case u.Fragment != "":
			return nil, fmt.Errorf("target %d: url %q: fragment not allowed", i, t.URL)
		}
		path := u.Path
		if path == "" {
			path = "/"
		}
		addr := model.LabelSet{
			model.AddressLabel:     model.LabelValue(u.Host),
			model.SchemeLabel:      model.LabelValue(u.Scheme),
			model.MetricsPathLabel: model.LabelValue(path),
		}
		for k, vs := range u.Query() {
			if len(vs) != 1 {
				return nil, fmt.Errorf("target %d: url %q: query parameter %q: want one value, got %d", i, t.URL, k, len(vs))
			}
			addr[model.LabelName(model.ParamLabelPrefix+k)] = model.LabelValue(vs[0])
		}
		tl := make(model.LabelSet, len(t.Labels))
		for k, v := range t.Labels {
			name := model.LabelName(k)
			switch {
			case strings.HasPrefix(k, model.ReservedLabelPrefix):
				return nil, fmt.Errorf("target %d: label %q: names starting with %q are reserved", i, k, model.ReservedLabelPrefix)
			case !model.UTF8Validation.IsValidLabelName(k):
				return nil, fmt.Errorf("target %d: label %q: invalid name", i, k)
			}
			tl[name] = model.LabelValue(v)
		}
		groups = append(groups, &targetgroup.Group{
			Targets: []model.LabelSet{addr},
			Labels:  tl,
			Source:  fmt.Sprintf("gameday/%d", i),
		})
	}
	return groups, nil
}

// markStale appends a staleness marker at stop to every series whose last
// sample in (start - lookback, stop] is not one already. It does what the
// scrape loops' end-of-run staleness does, but at once and at a known time.
// Only series with a sample within one lookback of stop can still be seen by
// an instant selector, so only they are read.
func markStale(db *tsdb.DB, start, stop time.Time) error {
	stopMs := stop.UnixMilli()
	mint := max(start.UnixMilli(), stopMs-DefaultLookbackDelta.Milliseconds())
	q, err := db.Querier(mint, stopMs)
	if err != nil {
		return fmt.Errorf("write staleness markers: %w", err)
	}
	defer func() { _ = q.Close() }() // a read: the appends below report what matters
	ctx := context.Background()
	ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, ".+"))
	app := db.AppenderV2(ctx)
	staleNaN := math.Float64frombits(value.StaleNaN)
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		var (
			lastT   int64
			lastTyp chunkenc.ValueType
			stale   bool
		)
		for typ := it.Next(); typ != chunkenc.ValNone; typ = it.Next() {
			lastTyp, lastT = typ, it.AtT()
			switch typ {
			case chunkenc.ValFloat:
				_, v := it.At()
				stale = value.IsStaleNaN(v)
			case chunkenc.ValHistogram:
				_, h := it.AtHistogram(nil)
				stale = value.IsStaleNaN(h.Sum)
			case chunkenc.ValFloatHistogram:
				_, fh := it.AtFloatHistogram(nil)
				stale = value.IsStaleNaN(fh.Sum)
			}
		}
		if err := it.Err(); err != nil {
			_ = app.Rollback()
			return fmt.Errorf("write staleness markers: read %s: %w", s.Labels(), err)
		}
		if lastTyp == chunkenc.ValNone || stale {
			continue
		}
		t := max(stopMs, lastT+1)
		var h *histogram.Histogram
		var fh *histogram.FloatHistogram
		switch lastTyp {
		case chunkenc.ValHistogram:
			h = &histogram.Histogram{Sum: staleNaN}
		case chunkenc.ValFloatHistogram:
			fh = &histogram.FloatHistogram{Sum: staleNaN}
		}
		if _, err := app.Append(0, s.Labels(), 0, t, staleNaN, h, fh, storage.AOptions{}); err != nil {
			_ = app.Rollback()
			return fmt.Errorf("write staleness markers: append %s: %w", s.Labels(), err)
		}
	}
	if err := ss.Err(); err != nil {
		_ = app.Rollback()
		return fmt.Errorf("write staleness markers: select: %w", err)
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("write staleness markers: commit: %w", err)
	}
	return nil
}
