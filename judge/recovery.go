package judge

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/slo"
)

// rtoJudge is the RTO check of one injection of a fault, fed the run's
// results one at a time.
type rtoJudge struct {
	spec      scenarios.RTO
	injection int // 1-based, among the injections of spec.Fault
	span      slo.Span
	end       time.Time
	buckets   *slo.RecoveryBuckets // nil for a PromQL condition
	err       error
}

// newRTOJudges returns a judge per injection of each RTO check's fault.
// The judged range of an injection ends at the next injection of the same
// fault, or at the end of the load: a repeated fault is judged once per
// injection, each on its own range.
func newRTOJudges(specs []scenarios.RTO, tl slo.Timeline) []*rtoJudge {
	var out []*rtoJudge
	for _, spec := range specs {
		var spans []slo.Span
		for _, sp := range tl.Faults {
			if sp.Fault == spec.Fault {
				spans = append(spans, sp)
			}
		}
		for i, sp := range spans {
			end := tl.End
			if i+1 < len(spans) && spans[i+1].Start.Before(end) {
				end = spans[i+1].Start
			}
			j := &rtoJudge{spec: spec, injection: i + 1, span: sp, end: end}
			if spec.Recovery.PromQL == "" {
				c := recoveryCondition(spec)
				c.Resolution = resolution(c.Window, spec.StableFor, end.Sub(sp.Start))
				j.buckets, j.err = slo.NewRecoveryBuckets(c, sp, end)
			}
			out = append(out, j)
		}
	}
	return out
}

// FineResolution is the grid of a client RTO whose window and stableFor
// are multiples of it and whose judged range fits slo.MaxRecoveryBuckets
// at it: the RTO is then placed to 10 ms (plus the gap between two
// requests), ten times finer than slo.DefaultResolution, which is the
// fallback.
const FineResolution = 10 * time.Millisecond

// resolution picks the grid of a client RTO: FineResolution when it fits,
// else slo.DefaultResolution when it does, else the greatest common divisor
// of window and stableFor (whole milliseconds, as validation demands).
func resolution(window, stableFor, span time.Duration) time.Duration {
	fits := func(res time.Duration) bool {
		return window%res == 0 && stableFor%res == 0 && int64((span+window)/res) < slo.MaxRecoveryBuckets
	}
	for _, res := range []time.Duration{FineResolution, slo.DefaultResolution} {
		if fits(res) {
			return res
		}
	}
	a, b := window, stableFor
	for b != 0 {
		a, b = b, a%b
	}
	return min(a, slo.DefaultResolution)
}

// recoveryCondition is the client-side condition of spec.
func recoveryCondition(spec scenarios.RTO) slo.RecoveryCondition {
	r := spec.Recovery
	c := slo.RecoveryCondition{Window: r.Window, StableFor: spec.StableFor, Stream: r.Stream, Route: r.Route}
	if r.SuccessRatio != nil {
		c.SuccessRatio = r.SuccessRatio.Value
	}
	if r.Latency != nil {
		c.MaxLatency = time.Duration(r.Latency.Value * float64(time.Second))
		c.Quantile = r.Quantile
	}
	return c
}

// add counts one request of the run.
func (j *rtoJudge) add(r slo.Request) {
	if j.buckets != nil && !r.Dropped { // never sent: not the target's
		j.buckets.Add(r)
	}
}

// conditionText says what "recovered" meant, for the reports.
func conditionText(spec scenarios.RTO) string {
	r := spec.Recovery
	var parts []string
	if r.PromQL != "" {
		parts = append(parts, fmt.Sprintf("%s %s every %s", r.PromQL, r.Objective, r.Step))
	} else {
		if r.SuccessRatio != nil {
			parts = append(parts, "success ratio "+r.SuccessRatio.String())
		}
		if r.Latency != nil {
			parts = append(parts, "latency p"+strconv.FormatFloat(r.Quantile*100, 'f', -1, 64)+" "+r.Latency.String())
		}
		sel := ""
		if r.Stream != "" {
			sel += " stream=" + r.Stream
		}
		if r.Route != "" {
			sel += " route=" + r.Route
		}
		parts = []string{strings.Join(parts, " and ") + " over " + r.Window.String() + sel}
	}
	return parts[0] + ", stable for " + spec.StableFor.String()
}

// verdict judges the check once every request was added.
func (j *rtoJudge) verdict(ctx context.Context, query slo.QueryRangeFunc, scrape time.Duration) reports.RecoveryCheck {
	c := reports.RecoveryCheck{
		Name: j.spec.Name, Fault: j.spec.Fault, Injection: j.injection,
		Condition: conditionText(j.spec), Objective: j.spec.Objective.String(),
	}
	if j.err != nil {
		c.Detail = j.err.Error()
		return c
	}
	var main slo.Recovery
	if j.buckets != nil {
		main = j.buckets.Recovery()
		c.Source = reports.RecoveryFromResults
		if query != nil {
			if expr, ok := clientRecoveryPromQL(j.spec, scrape); ok {
				view, err := seriesRecovery(ctx, query, expr, scenarios.Objective{Op: scenarios.OpGE, Value: j.spec.Recovery.SuccessRatio.Value}, scrape, j.spec.StableFor, j.span, j.end)
				if err == nil {
					view.Fault = j.span.Fault
					c.Prometheus = &view
					c.PrometheusQuery = expr
				} else {
					c.PrometheusQuery = expr + " (" + err.Error() + ")"
				}
			}
		}
	} else {
		if query == nil {
			c.Detail = "no Prometheus data in this run: the PromQL recovery condition cannot be judged"
			return c
		}
		var err error
		main, err = seriesRecovery(ctx, query, j.spec.Recovery.PromQL, *j.spec.Recovery.Objective, j.spec.Recovery.Step, j.spec.StableFor, j.span, j.end)
		if err != nil {
			c.Detail = err.Error()
			return c
		}
		c.Source = reports.RecoveryFromPromQL
	}
	main.Reverted = j.span.End
	c.Recovery = &main
	c.Passed = main.Meets(j.spec.Objective)
	switch {
	case !main.Recovered:
		c.Measured = "unbounded"
		c.Detail = main.Detail
	default:
		c.Measured = main.RTO.String()
		if !c.Passed {
			c.Detail = fmt.Sprintf("recovered %s after the injection; the objective is %s", main.RTO, j.spec.Objective)
		}
	}
	return c
}

// seriesRecovery queries expr over the judged range of span, from one step
// before the injection, and judges its recovery.
func seriesRecovery(ctx context.Context, query slo.QueryRangeFunc, expr string, o scenarios.Objective, step, stableFor time.Duration, span slo.Span, end time.Time) (slo.Recovery, error) {
	if step <= 0 {
		step = time.Second
	}
	series, err := query(ctx, expr, span.Start.Add(-step), end, step)
	if err != nil {
		return slo.Recovery{}, fmt.Errorf("query %s: %w", expr, err)
	}
	if len(series) > 1 {
		return slo.Recovery{}, fmt.Errorf("the expression yields %d series; a recovery condition needs one (aggregate it, e.g. with sum)", len(series))
	}
	var points []metrics.Point
	if len(series) == 1 {
		points = series[0].Points
	}
	return slo.SeriesRTO(points, span, end, slo.SeriesCondition{Objective: o, Step: step, StableFor: stableFor})
}

// clientRecoveryPromQL is the Prometheus view of a client-side success
// ratio condition: the same ratio computed from gameday's own client
// metrics, at scrape resolution. Canceled requests are not counted, as in
// the view from the results. Conditions on latency alone have none.
func clientRecoveryPromQL(spec scenarios.RTO, scrape time.Duration) (string, bool) {
	r := spec.Recovery
	if r.SuccessRatio == nil || scrape <= 0 {
		return "", false
	}
	var sel string
	if r.Stream != "" {
		sel += `,stream=` + strconv.Quote(r.Stream)
	}
	if r.Route != "" {
		sel += `,route=` + strconv.Quote(r.Route)
	}
	// increase needs two samples in its range.
	rng := "[" + promDuration(max(r.Window, 3*scrape)) + "]"
	return fmt.Sprintf(`sum(increase(gameday_requests_total{outcome="success"%s}%s)) / sum(increase(gameday_requests_total{outcome!="canceled"%s}%s))`,
		sel, rng, sel, rng), true
}

// promDuration writes d in PromQL's duration syntax, in whole milliseconds.
func promDuration(d time.Duration) string {
	return strconv.FormatInt(int64(math.Max(1, float64(d.Milliseconds()))), 10) + "ms"
}
