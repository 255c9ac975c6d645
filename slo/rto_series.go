package slo

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/scenarios"
)

// SeriesCondition is what "recovered" means for a PromQL RTO: every sample of
// the series meets Objective, for StableFor.
type SeriesCondition struct {
	// Objective is met by a recovered sample: ">= 0.99" on a success ratio.
	Objective scenarios.Objective
	// Step is the step the series was queried at: each sample stands for
	// the Step that follows it.
	Step time.Duration
	// StableFor is how long the condition must hold, without a breach, to
	// count as recovered; positive.
	StableFor time.Duration
}

// Validate returns every problem of c, joined; nil when c is usable.
func (c SeriesCondition) Validate() error {
	var errs []error
	switch c.Objective.Op {
	case scenarios.OpLT, scenarios.OpLE, scenarios.OpGT, scenarios.OpGE:
	default:
		errs = append(errs, fmt.Errorf("objective %q: want an operator <, <=, > or >=", c.Objective))
	}
	if c.Step <= 0 {
		errs = append(errs, fmt.Errorf("step %s: want a positive duration", c.Step))
	}
	if c.StableFor <= 0 {
		errs = append(errs, fmt.Errorf("stableFor %s: want a positive duration", c.StableFor))
	}
	return errors.Join(errs...)
}

// SeriesRTO judges the recovery of fault (injected at fault.Start) on the
// points of one series, in increasing time order, up to end: the Prometheus
// view of the RTO, at the series' own resolution, reported beside
// [ClientRTO].
//
// A sample holds from its time for one Step, or until the next sample,
// whichever comes first; the sample in force at the injection is the last one
// before it, if its Step reaches it. The condition holds while the sample in
// force meets the objective. A NaN sample, and time without a sample (a gap,
// a series that starts late or disappears), are no data, and no data does not
// meet the condition. An expression over a range ([10s]) lags what it
// measures by up to its range: that lag is in the RTO this view reports.
//
// It fails only when c is not valid or the points are out of order.
func SeriesRTO(points []metrics.Point, fault Span, end time.Time, c SeriesCondition) (Recovery, error) {
	if err := c.Validate(); err != nil {
		return Recovery{}, fmt.Errorf("recovery condition of fault %q: %w", fault.Fault, err)
	}
	for i := 1; i < len(points); i++ {
		if !points[i].T.After(points[i-1].T) {
			return Recovery{}, fmt.Errorf("recovery of fault %q: the series' samples are not in increasing time order (%s after %s)",
				fault.Fault, points[i].T.UTC().Format(time.RFC3339Nano), points[i-1].T.UTC().Format(time.RFC3339Nano))
		}
	}
	t0 := fault.Start
	if end.Before(t0) {
		end = t0
	}
	r := Recovery{
		Fault:      fault.Fault,
		Injected:   t0,
		Reverted:   fault.End,
		End:        end,
		Resolution: c.Step,
		StableFor:  c.StableFor,
	}
	// Walk [t0, end) as intervals of one state each, merging the failing
	// ones into breaches.
	bad := func(from, to time.Time, noData bool) {
		if n := len(r.Breaches); n > 0 && r.Breaches[n-1].End.Equal(from) {
			r.Breaches[n-1].End = to
			r.Breaches[n-1].NoData = r.Breaches[n-1].NoData || noData
			return
		}
		r.Breaches = append(r.Breaches, Breach{Start: from, End: to, NoData: noData})
	}
	missing := func(from, to time.Time) {
		bad(from, to, true)
		r.NoData += int((to.Sub(from) + c.Step - 1) / c.Step)
	}
	cursor := t0
	for i, p := range points {
		from, to := p.T, p.T.Add(c.Step)
		if i+1 < len(points) && points[i+1].T.Before(to) {
			to = points[i+1].T
		}
		from, to = maxTime(from, t0), minTime(to, end)
		if !to.After(from) {
			continue
		}
		if from.After(cursor) {
			missing(cursor, from)
		}
		cursor = to
		switch {
		case math.IsNaN(p.V):
			bad(from, to, true)
			r.NoData++
		case !c.Objective.Met(p.V):
			r.Samples++
			bad(from, to, false)
		default:
			r.Samples++
		}
	}
	if end.After(cursor) {
		missing(cursor, end)
	}
	// A breach that reaches the end of the range has not ended.
	if n := len(r.Breaches); n > 0 && r.Breaches[n-1].End.Equal(end) {
		r.Breaches[n-1].End = time.Time{}
	}
	r.settle()
	return r, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
