// Package metrics holds gameday's Prometheus data: an embedded Prometheus
// (scrape manager, TSDB in the run directory, PromQL engine) used during a
// run, the same TSDB re-opened after the run for `gameday report`, and a
// remote Prometheus reached through its HTTP API. All three answer PromQL
// through the [Querier] interface, so a check judges a live run, a stored run
// and a remote server with the same code.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Point is one sample.
type Point struct {
	T time.Time // sample time, millisecond precision, in UTC
	V float64
}

// Series is one labelled series of a query result.
type Series struct {
	Labels map[string]string // never nil; empty for a scalar result
	Points []Point           // in time order
}

// Querier answers PromQL. Implementations: *Embedded, *Stored and *Remote.
//
// Errors name the expression: they read `query "EXPR": ...`.
type Querier interface {
	// QueryRange evaluates expr at every step in [start, end].
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error)
	// Query evaluates expr at t (each Series has one Point).
	Query(ctx context.Context, expr string, t time.Time) ([]Series, error)
}

// Compile-time checks that every implementation satisfies Querier.
var (
	_ Querier = (*Embedded)(nil)
	_ Querier = (*Stored)(nil)
	_ Querier = (*Remote)(nil)
)

// Engine limits shared by the embedded and the stored engine. They are the
// same for both so that `gameday report` answers exactly what the live run
// answered.
const (
	// DefaultQueryTimeout bounds one query's evaluation.
	DefaultQueryTimeout = 30 * time.Second
	// DefaultMaxSamples bounds the samples one query may hold in memory
	// (Prometheus's own default for --query.max-samples).
	DefaultMaxSamples = 50_000_000
	// DefaultLookbackDelta is how far back an instant selector looks for a
	// sample. It is Prometheus's default, 5m, on purpose, although runs are
	// short and scraped every second: every way a gameday series ends writes
	// a staleness marker (a failed scrape marks the target's series stale and
	// sets up=0; Embedded.Stop marks every live series stale), so the
	// lookback only matters across gaps with no marker at all, i.e. after
	// gameday itself was SIGKILLed, and `gameday report` judges such a run
	// only up to its last recorded event. A shorter lookback (a few scrape
	// intervals) would buy nothing there and would make the embedded engine
	// disagree with a remote Prometheus running with its defaults, which
	// answers the same checks through Remote.
	DefaultLookbackDelta = 5 * time.Minute
	// DefaultSubqueryStep is the step of a subquery written without one
	// (`max_over_time(rate(x[10s])[1m:])`). Prometheus uses its rule
	// evaluation interval (1m by default), far too coarse for a run; 1s
	// equals DefaultScrapeInterval. It is a constant rather than the run's
	// scrape interval so that a stored run, which does not know the
	// interval, evaluates exactly as the live run did.
	DefaultSubqueryStep = time.Second
)

// newEngine returns the PromQL engine used by Embedded and Stored.
func newEngine(logger *slog.Logger) *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{
		Logger:        logger,
		MaxSamples:    DefaultMaxSamples,
		Timeout:       DefaultQueryTimeout,
		LookbackDelta: DefaultLookbackDelta,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return DefaultSubqueryStep.Milliseconds()
		},
		// Both are always on in Prometheus 3; keep parity with a remote server.
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
	})
}

// engineQuerier evaluates PromQL with a promql.Engine over a storage.Queryable.
// It is the query half shared by Embedded and Stored.
type engineQuerier struct {
	engine *promql.Engine
	store  storage.Queryable
}

func (q engineQuerier) queryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	if step <= 0 {
		return nil, fmt.Errorf("query %q: step %v: must be positive", expr, step)
	}
	if end.Before(start) {
		return nil, fmt.Errorf("query %q: end %v before start %v", expr, end, start)
	}
	qry, err := q.engine.NewRangeQuery(ctx, q.store, nil, expr, start, end, step)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	defer qry.Close()
	return resultSeries(expr, qry.Exec(ctx), false)
}

func (q engineQuerier) query(ctx context.Context, expr string, t time.Time) ([]Series, error) {
	qry, err := q.engine.NewInstantQuery(ctx, q.store, nil, expr, t)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	defer qry.Close()
	return resultSeries(expr, qry.Exec(ctx), true)
}

// errHistogram is returned for a result that holds native histogram samples,
// which Point cannot represent.
var errHistogram = errors.New("result holds native histogram samples; select a float series (e.g. histogram_quantile, histogram_count)")

// errRangeVector is returned by Query for an expression such as `x[1m]`.
var errRangeVector = errors.New("result is a range vector; Query needs an instant vector or a scalar")

// resultSeries converts an engine result. It must be called before the query
// is closed: the result's memory belongs to the query. An instant query
// (Query) must yield one point per series, so a range vector is refused.
func resultSeries(expr string, res *promql.Result, instant bool) ([]Series, error) {
	if res.Err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, res.Err)
	}
	switch v := res.Value.(type) {
	case promql.Matrix:
		if instant {
			return nil, fmt.Errorf("query %q: %w", expr, errRangeVector)
		}
		out := make([]Series, 0, len(v))
		for _, s := range v {
			if len(s.Histograms) > 0 {
				return nil, fmt.Errorf("query %q: series %s: %w", expr, s.Metric, errHistogram)
			}
			pts := make([]Point, len(s.Floats))
			for i, p := range s.Floats {
				pts[i] = Point{T: msTime(p.T), V: p.F}
			}
			out = append(out, Series{Labels: s.Metric.Map(), Points: pts})
		}
		return out, nil
	case promql.Vector:
		out := make([]Series, 0, len(v))
		for _, s := range v {
			if s.H != nil {
				return nil, fmt.Errorf("query %q: series %s: %w", expr, s.Metric, errHistogram)
			}
			out = append(out, Series{Labels: s.Metric.Map(), Points: []Point{{T: msTime(s.T), V: s.F}}})
		}
		return out, nil
	case promql.Scalar:
		return []Series{{Labels: map[string]string{}, Points: []Point{{T: msTime(v.T), V: v.V}}}}, nil
	default:
		return nil, fmt.Errorf("query %q: result type %s: want a vector, a matrix or a scalar", expr, typeName(res.Value))
	}
}

func typeName(v parser.Value) string {
	if v == nil {
		return "none"
	}
	return string(v.Type())
}

// msTime converts a Prometheus millisecond timestamp.
func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
