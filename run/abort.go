package run

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/slo"
)

// abortEvery is how often the abort conditions are evaluated.
const abortEvery = time.Second

// abortCondition is one of the scenario's abort conditions in a run; a
// client condition has its Window of results.
type abortCondition struct {
	spec   scenarios.Abort
	window *load.Window // nil for a PromQL condition
}

// buildAborts makes the scenario's abort conditions; a client one keeps
// its trailing Window of results.
func (r *runner) buildAborts() []*abortCondition {
	out := make([]*abortCondition, len(r.s.Checks.Abort))
	for i, a := range r.s.Checks.Abort {
		if a.Window <= 0 {
			a.Window = scenarios.DefaultAbortWindow
		}
		c := &abortCondition{spec: a}
		if a.Client != nil {
			c.window = load.NewWindow(a.Window, a.Client.Stream, a.Client.Route)
		}
		out[i] = c
	}
	return out
}

// measure is the condition's SLI at now: over [now-Window, now) for a
// client SLI, an instant query at now for PromQL. ok is false when there
// is no data to judge (no request in the window, no series, a query that
// failed): that is not a trip.
func (c *abortCondition) measure(ctx context.Context, q metrics.Querier, now time.Time) (v float64, text string, ok bool, err error) {
	if c.window != nil {
		st := c.window.Stats(now.Add(-c.spec.Window), now)
		if st.Requests+st.Dropped == 0 {
			return 0, "", false, nil
		}
		if c.spec.Client.SLI == scenarios.SLIDroppedRatio {
			v = st.DroppedRatio()
			return v, strconv.FormatFloat(v, 'f', 4, 64), true, nil
		}
		if st.Requests == 0 {
			return 0, "", false, nil
		}
		switch c.spec.Client.SLI {
		case scenarios.SLISuccessRatio:
			v = st.SuccessRatio()
			return v, strconv.FormatFloat(v, 'f', 4, 64), true, nil
		case scenarios.SLIThroughput:
			v = st.Throughput()
			return v, strconv.FormatFloat(v, 'f', 1, 64) + "/s", true, nil
		case scenarios.SLILatency:
			q := c.spec.Client.Quantile
			if q <= 0 {
				q = 0.99
			}
			d, ok := st.Latency(q)
			if !ok {
				return 0, "", false, nil
			}
			return d.Seconds(), d.Round(10 * time.Microsecond).String(), true, nil
		}
		return 0, "", false, fmt.Errorf("unknown client SLI %q", c.spec.Client.SLI)
	}
	if q == nil {
		return 0, "", false, fmt.Errorf("no Prometheus to query")
	}
	series, err := q.Query(ctx, c.spec.PromQL, now)
	if err != nil {
		return 0, "", false, err
	}
	if len(series) > 1 {
		return 0, "", false, fmt.Errorf("the expression yields %d series; an abort condition needs one", len(series))
	}
	if len(series) == 0 || len(series[0].Points) == 0 {
		return 0, "", false, nil
	}
	v = series[0].Points[len(series[0].Points)-1].V
	if math.IsNaN(v) {
		return 0, "", false, nil
	}
	return v, strconv.FormatFloat(v, 'g', 6, 64), true, nil
}

// sli names the condition's SLI for messages.
func (c *abortCondition) sli() string {
	if c.spec.Client == nil {
		return c.spec.PromQL
	}
	s := string(c.spec.Client.SLI)
	if c.spec.Client.SLI == scenarios.SLILatency {
		q := c.spec.Client.Quantile
		if q <= 0 {
			q = 0.99
		}
		s = "latency p" + strconv.FormatFloat(q*100, 'g', -1, 64)
	}
	if c.spec.Client.Stream != "" {
		s += " of stream " + c.spec.Client.Stream
	}
	if c.spec.Client.Route != "" {
		s += " route " + c.spec.Client.Route
	}
	return s
}

// guardAborts evaluates every abort condition every abortEvery from t0
// until ctx ends. The first that does not meet its objective is emitted as
// EventAborted and returned as an AbortedError; nil when ctx ended first.
// A condition without data is skipped; a query error is logged and
// skipped, never a trip.
func (r *runner) guardAborts(ctx context.Context, t0 time.Time, conds []*abortCondition) error {
	q := r.querier()
	tick := time.NewTicker(abortEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-tick.C:
			for _, c := range conds {
				v, text, ok, err := c.measure(ctx, q, now)
				if err != nil {
					if ctx.Err() == nil {
						r.opts.logger.Warn("abort condition not evaluated", "abort", c.spec.Name, "err", err)
					}
					continue
				}
				if !ok || slo.Met(c.spec.Objective, v) {
					continue
				}
				obj := c.spec.Objective.Text
				if obj == "" {
					obj = fmt.Sprintf("%s %g", c.spec.Objective.Op, c.spec.Objective.Value)
				}
				msg := fmt.Sprintf("abort %q: %s = %s over the %s before %s into the load; objective %s",
					c.spec.Name, c.sli(), text, c.spec.Window, now.Sub(t0).Round(time.Millisecond), obj)
				if c.spec.Client == nil {
					msg = fmt.Sprintf("abort %q: %s = %s at %s into the load; objective %s",
						c.spec.Name, c.sli(), text, now.Sub(t0).Round(time.Millisecond), obj)
				}
				r.events.Emit(rundir.Event{Type: rundir.EventAborted, Message: msg,
					Attrs: map[string]string{"abort": c.spec.Name, "measured": text, "objective": obj}})
				return &AbortedError{Reason: "abort condition", Err: fmt.Errorf("%s", msg)}
			}
		}
	}
}
