package slo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/scenarios"
)

// QueryRangeFunc evaluates a PromQL expression at every step of [start, end].
// metrics.Querier.QueryRange is one.
type QueryRangeFunc func(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]metrics.Series, error)

// Request is one client request as the client-side SLIs see it.
type Request struct {
	Stream, Route string
	// Start is when the request was sent.
	Start   time.Time
	Latency time.Duration
	// OK is true for a success: a 2xx or 3xx response.
	OK bool
}

// Input is the data of a run that SLOs are judged on.
type Input struct {
	Timeline Timeline
	// Requests are every client request of the run, sorted by Start.
	Requests []Request
	// Query answers PromQL over the run's metrics; nil when there are none.
	Query QueryRangeFunc
}

// Verdict is the judgement of one SLO.
type Verdict struct {
	Name      string   `json:"name"`
	SLI       string   `json:"sli"`
	Objective string   `json:"objective"`
	During    []string `json:"during"`
	Mode      string   `json:"mode"`
	Windows   []Window `json:"windows"`
	// Measured is the SLI over the windows (mode overall) or its worst step
	// (mode always); NaN when there was no data.
	Measured float64 `json:"measured"`
	// MeasuredText is Measured in the SLI's unit: "0.9912", "312ms", "48.5/s".
	MeasuredText string `json:"measuredText"`
	// Samples is how many requests (client) or steps (PromQL) were judged.
	Samples int  `json:"samples"`
	Passed  bool `json:"passed"`
	// Detail explains a failure: the worst step, missing data, an error.
	Detail string `json:"detail,omitempty"`
}

// MarshalJSON keeps NaN out of JSON.
func (v Verdict) MarshalJSON() ([]byte, error) {
	type plain Verdict
	out := struct {
		plain
		Measured *float64 `json:"measured"`
	}{plain: plain(v)}
	if !math.IsNaN(v.Measured) && !math.IsInf(v.Measured, 0) {
		out.Measured = &v.Measured
	}
	return json.Marshal(out)
}

// Met reports whether v meets o. NaN meets nothing.
func Met(o scenarios.Objective, v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	switch o.Op {
	case scenarios.OpLT:
		return v < o.Value
	case scenarios.OpLE:
		return v <= o.Value
	case scenarios.OpGT:
		return v > o.Value
	case scenarios.OpGE:
		return v >= o.Value
	}
	return false
}

// worse reports whether a is further from meeting o than b.
func worse(o scenarios.Objective, a, b float64) bool {
	if math.IsNaN(b) {
		return false
	}
	if math.IsNaN(a) {
		return true
	}
	switch o.Op {
	case scenarios.OpLT, scenarios.OpLE:
		return a > b
	default:
		return a < b
	}
}

// Evaluate judges one SLO on the data of a run.
func Evaluate(ctx context.Context, spec scenarios.SLO, in Input) Verdict {
	v := Verdict{
		Name:      spec.Name,
		Objective: spec.Objective.Text,
		Mode:      string(spec.Mode),
		Windows:   in.Timeline.PhaseWindows(spec.During),
		Measured:  math.NaN(),
	}
	for _, p := range spec.During {
		v.During = append(v.During, string(p))
	}
	if v.Objective == "" {
		v.Objective = fmt.Sprintf("%s %g", spec.Objective.Op, spec.Objective.Value)
	}
	if len(v.Windows) == 0 {
		v.Detail = fmt.Sprintf("the run had no %v phase: nothing to judge", v.During)
		v.MeasuredText = "no data"
		if spec.Client != nil {
			v.SLI = clientSLIName(*spec.Client)
		} else {
			v.SLI = spec.PromQL
		}
		return v
	}
	if spec.Client != nil {
		evalClient(spec, in.Requests, &v)
	} else {
		evalPromQL(ctx, spec, in.Query, &v)
	}
	return v
}

func clientSLIName(c scenarios.ClientSLI) string {
	name := string(c.SLI)
	if c.SLI == scenarios.SLILatency {
		name = "latency p" + strconv.FormatFloat(c.Quantile*100, 'f', -1, 64)
	}
	if c.Stream != "" {
		name += " stream=" + c.Stream
	}
	if c.Route != "" {
		name += " route=" + c.Route
	}
	return name
}

// format renders a value of the SLI in its unit.
func format(kind scenarios.ClientSLIKind, x float64) string {
	if math.IsNaN(x) {
		return "no data"
	}
	switch kind {
	case scenarios.SLILatency:
		return time.Duration(x * float64(time.Second)).Round(10 * time.Microsecond).String()
	case scenarios.SLIThroughput:
		return strconv.FormatFloat(x, 'f', 1, 64) + "/s"
	}
	return strconv.FormatFloat(x, 'f', 4, 64)
}

// evalClient judges a client-side SLI on the raw requests.
func evalClient(spec scenarios.SLO, reqs []Request, v *Verdict) {
	c := *spec.Client
	v.SLI = clientSLIName(c)
	var selected []Request
	for _, w := range v.Windows {
		for _, r := range between(reqs, w.Start, w.End) {
			if (c.Stream == "" || r.Stream == c.Stream) && (c.Route == "" || r.Route == c.Route) {
				selected = append(selected, r)
			}
		}
	}
	var total time.Duration
	for _, w := range v.Windows {
		total += w.Duration()
	}
	v.Samples = len(selected)
	if spec.Mode == scenarios.ModeAlways {
		step := spec.Step
		worst, worstAt, n := math.NaN(), time.Time{}, 0
		for _, w := range v.Windows {
			for from := w.Start; from.Before(w.End); from = from.Add(step) {
				to := from.Add(step)
				if to.After(w.End) {
					to = w.End
				}
				x := clientValue(c, between(selected, from, to), to.Sub(from))
				if math.IsNaN(x) {
					continue
				}
				n++
				if math.IsNaN(worst) || worse(spec.Objective, x, worst) {
					worst, worstAt = x, from
				}
			}
		}
		v.Measured = worst
		v.MeasuredText = format(c.SLI, worst)
		v.Passed = n > 0 && Met(spec.Objective, worst)
		switch {
		case n == 0:
			v.Detail = "no requests in the window"
		case !v.Passed:
			v.Detail = fmt.Sprintf("worst %s step starts at %s: %s", step, worstAt.UTC().Format(time.RFC3339Nano), v.MeasuredText)
		}
		return
	}
	v.Measured = clientValue(c, selected, total)
	v.MeasuredText = format(c.SLI, v.Measured)
	v.Passed = Met(spec.Objective, v.Measured)
	if math.IsNaN(v.Measured) {
		v.Detail = "no requests in the window"
	}
}

// between returns the requests of reqs, sorted by Start, sent in [from, to).
func between(reqs []Request, from, to time.Time) []Request {
	lo := sort.Search(len(reqs), func(i int) bool { return !reqs[i].Start.Before(from) })
	hi := sort.Search(len(reqs), func(i int) bool { return !reqs[i].Start.Before(to) })
	return reqs[lo:max(lo, hi)]
}

// clientValue computes the SLI over reqs sent during a span of length d:
// NaN when there is nothing to compute it from.
func clientValue(c scenarios.ClientSLI, reqs []Request, d time.Duration) float64 {
	switch c.SLI {
	case scenarios.SLISuccessRatio:
		if len(reqs) == 0 {
			return math.NaN()
		}
		ok := 0
		for _, r := range reqs {
			if r.OK {
				ok++
			}
		}
		return float64(ok) / float64(len(reqs))
	case scenarios.SLIThroughput:
		if d <= 0 {
			return math.NaN()
		}
		ok := 0
		for _, r := range reqs {
			if r.OK {
				ok++
			}
		}
		return float64(ok) / d.Seconds()
	case scenarios.SLILatency:
		// Latency is judged on successful requests: a refused connection
		// answers fast and must not improve the latency SLI.
		var lat []time.Duration
		for _, r := range reqs {
			if r.OK {
				lat = append(lat, r.Latency)
			}
		}
		if len(lat) == 0 {
			return math.NaN()
		}
		return Quantile(lat, c.Quantile).Seconds()
	}
	return math.NaN()
}

// Quantile returns the q-quantile of ds by the nearest-rank method: the
// smallest value such that at least q of the values are at or below it. It
// sorts ds.
func Quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(q*float64(len(ds)))) - 1
	rank = max(0, min(rank, len(ds)-1))
	return ds[rank]
}

// evalPromQL judges a PromQL SLI: the expression must yield at most one
// series, evaluated at every step of each window.
func evalPromQL(ctx context.Context, spec scenarios.SLO, query QueryRangeFunc, v *Verdict) {
	v.SLI = spec.PromQL
	if query == nil {
		v.Detail = "no Prometheus data in this run"
		v.MeasuredText = "no data"
		return
	}
	type sample struct {
		t time.Time
		x float64
	}
	var samples []sample
	for _, w := range v.Windows {
		series, err := query(ctx, spec.PromQL, w.Start, w.End, spec.Step)
		if err != nil {
			v.Detail = err.Error()
			v.MeasuredText = "error"
			return
		}
		if len(series) > 1 {
			v.Detail = fmt.Sprintf("the expression yields %d series; an SLO needs one (aggregate it, e.g. with sum)", len(series))
			v.MeasuredText = "error"
			return
		}
		for _, s := range series {
			for _, p := range s.Points {
				if !math.IsNaN(p.V) {
					samples = append(samples, sample{p.T, p.V})
				}
			}
		}
	}
	v.Samples = len(samples)
	if len(samples) == 0 {
		v.Detail = "the expression yields no data in the window"
		v.MeasuredText = "no data"
		return
	}
	if spec.Mode == scenarios.ModeAlways {
		worst := samples[0]
		for _, s := range samples[1:] {
			if worse(spec.Objective, s.x, worst.x) {
				worst = s
			}
		}
		v.Measured = worst.x
		v.Passed = Met(spec.Objective, worst.x)
		if !v.Passed {
			v.Detail = fmt.Sprintf("worst step at %s", worst.t.UTC().Format(time.RFC3339Nano))
		}
	} else {
		sum := 0.0
		for _, s := range samples {
			sum += s.x
		}
		v.Measured = sum / float64(len(samples))
		v.Passed = Met(spec.Objective, v.Measured)
	}
	v.MeasuredText = strconv.FormatFloat(v.Measured, 'g', 6, 64)
}
