package slo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
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
	// Canceled is true for a request gameday itself cut short, as a stream
	// stopped or the run was interrupted: not a failure of the target. It
	// counts neither for nor against any SLI, and OK is not read.
	Canceled bool
	// Dropped is true for a hit due at Start that gameday dropped, every
	// worker of its stream being busy: never sent, so not a request of any
	// SLI but dropped_ratio, which counts it. Latency and OK are not read.
	Dropped bool
}

// Input is the data of a run that SLOs are judged on.
type Input struct {
	Timeline Timeline
	// Requests are every client request of the run, in any order. A caller
	// that streams the results feeds a [Judge] instead.
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
	Samples int `json:"samples"`
	// Canceled is how many requests the SLO selected that gameday itself
	// canceled: judged neither for nor against the target.
	Canceled int  `json:"canceled,omitempty"`
	Passed   bool `json:"passed"`
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

// Evaluate judges one SLO on the data of a run: a [Judge] fed every request
// of in.
func Evaluate(ctx context.Context, spec scenarios.SLO, in Input) Verdict {
	j := NewJudge(spec, in.Timeline)
	for i := range in.Requests {
		j.Add(in.Requests[i])
	}
	return j.Verdict(ctx, in.Query)
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
