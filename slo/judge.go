package slo

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/slo/latency"
)

// LatencyDigits is the precision of the latency quantiles of client SLIs, in
// significant decimal digits: a quantile is the upper end of the histogram
// bucket that holds the nearest-rank quantile, so it is at least the exact
// value and above it by less than 1/1024 of it (0.1%). A latency of 312.4ms
// may read 312.7ms, and an objective "<= 300ms" may fail on an exact 299.8ms.
const LatencyDigits = latency.Digits

// MaxTrackedLatency is the longest latency a client SLI tells apart: longer
// ones count as MaxTrackedLatency (and shorter than zero as zero).
const MaxTrackedLatency = latency.MaxTracked

// MaxJudgeSteps bounds the steps of a client SLI in mode always, for the
// counters of each step are kept until the end: 4 194 304 steps of 1s are 48
// days.
const MaxJudgeSteps = 1 << 22

// Judge judges one SLO on the requests of a run fed to it one at a time, in
// any order, so that a caller can stream the results of a run and never hold
// them all. Its memory grows with the windows and steps of the SLO, never
// with the number of requests:
//
//   - success ratio and throughput keep two counters for the whole window
//     and, in mode always, two for each step;
//   - latency keeps an HDR histogram of the successful requests' latencies
//     (about 270 KiB, whatever their number), and, in mode always, a sparse
//     one for each step that grows with the distinct latencies of that step,
//     at most one entry per 1/1024 of a doubling.
//
// Its Verdict is that of [Evaluate] on the same requests, latency quantiles
// within the error that [LatencyDigits] gives. A PromQL SLO ignores the
// requests. A Judge is not safe for concurrent use.
type Judge struct {
	spec    scenarios.SLO
	windows []Window
	latency bool // a latency SLI: record the latencies of successes

	all     counts
	allLat  *hdrhistogram.Histogram // nil until a success is recorded
	firsts  []int                   // mode always: the index of each window's first step
	steps   []counts                // mode always: the counts of each step, in time order
	stepLat []*hdrhistogram.PackedHistogram
	// canceled counts the requests selected but canceled by gameday.
	canceled int
	// problem makes the SLO unjudgeable (a step of no length, too many
	// steps); empty when it can be judged.
	problem string
}

// counts are the requests counted in a window or a step.
type counts struct {
	total   int64 // judged requests: succeeded or failed, not canceled
	ok      int64 // succeeded
	dropped int64 // hits due that gameday dropped: not requests
}

// NewJudge returns a Judge of spec over the phases of tl that spec names.
func NewJudge(spec scenarios.SLO, tl Timeline) *Judge {
	j := &Judge{spec: spec, windows: tl.PhaseWindows(spec.During)}
	if spec.Client == nil {
		return j
	}
	j.latency = spec.Client.SLI == scenarios.SLILatency
	if spec.Mode != scenarios.ModeAlways {
		return j
	}
	if spec.Step <= 0 {
		j.problem = fmt.Sprintf("step %s: mode always needs a positive step", spec.Step)
		return j
	}
	n := 0
	for _, w := range j.windows {
		j.firsts = append(j.firsts, n)
		n += int((w.Duration() + spec.Step - 1) / spec.Step)
		if n > MaxJudgeSteps {
			j.problem = fmt.Sprintf("step %s: the windows need more than %d steps; take a longer step", spec.Step, MaxJudgeSteps)
			return j
		}
	}
	j.steps = make([]counts, n)
	if j.latency {
		j.stepLat = make([]*hdrhistogram.PackedHistogram, n)
	}
	return j
}

// Add counts r when the SLO selects it: a client SLI, r of its stream and
// route, sent in one of its windows. A canceled request is counted apart and
// judged neither for nor against the target.
func (j *Judge) Add(r Request) {
	c := j.spec.Client
	if c == nil || j.problem != "" || (c.Stream != "" && r.Stream != c.Stream) || (c.Route != "" && r.Route != c.Route) {
		return
	}
	i := sort.Search(len(j.windows), func(i int) bool { return j.windows[i].End.After(r.Start) })
	if i == len(j.windows) || !j.windows[i].Contains(r.Start) {
		return
	}
	if r.Canceled {
		j.canceled++
		return
	}
	if r.Dropped {
		j.all.dropped++
		if j.steps != nil {
			j.steps[j.firsts[i]+int(r.Start.Sub(j.windows[i].Start)/j.spec.Step)].dropped++
		}
		return
	}
	j.all.add(r.OK)
	if j.latency && r.OK {
		if j.allLat == nil {
			j.allLat = latency.NewHistogram()
		}
		// The value is in range: RecordValue cannot fail.
		_ = j.allLat.RecordValue(latency.Value(r.Latency))
	}
	if j.steps == nil {
		return
	}
	k := j.firsts[i] + int(r.Start.Sub(j.windows[i].Start)/j.spec.Step)
	j.steps[k].add(r.OK)
	if j.latency && r.OK {
		if j.stepLat[k] == nil {
			j.stepLat[k] = latency.NewPacked()
		}
		_ = j.stepLat[k].RecordValue(latency.Value(r.Latency))
	}
}

func (c *counts) add(ok bool) {
	c.total++
	if ok {
		c.ok++
	}
}

// Verdict judges the SLO on the requests added so far; query answers PromQL
// SLIs (nil when the run has no metrics).
func (j *Judge) Verdict(ctx context.Context, query QueryRangeFunc) Verdict {
	spec := j.spec
	v := Verdict{
		Name:      spec.Name,
		Objective: spec.Objective.Text,
		Mode:      string(spec.Mode),
		Windows:   j.windows,
		Measured:  math.NaN(),
	}
	for _, p := range spec.During {
		v.During = append(v.During, string(p))
	}
	if v.Objective == "" {
		v.Objective = fmt.Sprintf("%s %g", spec.Objective.Op, spec.Objective.Value)
	}
	if spec.Client != nil {
		v.SLI = clientSLIName(*spec.Client)
	} else {
		v.SLI = spec.PromQL
	}
	switch {
	case len(v.Windows) == 0:
		v.Detail = fmt.Sprintf("the run had no %v phase: nothing to judge", v.During)
		v.MeasuredText = "no data"
	case j.problem != "":
		v.Detail = j.problem
		v.MeasuredText = "error"
	case spec.Client != nil:
		j.judgeClient(&v)
	default:
		evalPromQL(ctx, spec, query, &v)
	}
	if j.canceled > 0 {
		v.Canceled = j.canceled
		note := fmt.Sprintf("%d requests canceled by gameday, not judged", j.canceled)
		if v.Detail == "" {
			v.Detail = note
		} else {
			v.Detail += "; " + note
		}
	}
	return v
}

// judgeClient judges a client-side SLI on the counts.
func (j *Judge) judgeClient(v *Verdict) {
	spec, c := j.spec, *j.spec.Client
	v.Samples = int(j.all.total)
	if spec.Mode == scenarios.ModeAlways {
		step := spec.Step
		worst, worstAt, n := math.NaN(), time.Time{}, 0
		for i, w := range j.windows {
			k := j.firsts[i]
			for from := w.Start; from.Before(w.End); from, k = from.Add(step), k+1 {
				to := from.Add(step)
				if to.After(w.End) {
					to = w.End
				}
				var h latency.Histogram
				if j.stepLat != nil && j.stepLat[k] != nil {
					h = j.stepLat[k]
				}
				x := clientValue(c, j.steps[k], h, to.Sub(from))
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
	var total time.Duration
	for _, w := range j.windows {
		total += w.Duration()
	}
	var h latency.Histogram
	if j.allLat != nil {
		h = j.allLat
	}
	v.Measured = clientValue(c, j.all, h, total)
	v.MeasuredText = format(c.SLI, v.Measured)
	v.Passed = Met(spec.Objective, v.Measured)
	if math.IsNaN(v.Measured) {
		v.Detail = "no requests in the window"
	}
}

// clientValue computes the SLI from the counts n and the latencies lat (nil
// when no request succeeded) of the requests sent during a span of length d:
// NaN when there is nothing to compute it from.
func clientValue(c scenarios.ClientSLI, n counts, lat latency.Histogram, d time.Duration) float64 {
	switch c.SLI {
	case scenarios.SLISuccessRatio:
		if n.total == 0 {
			return math.NaN()
		}
		return float64(n.ok) / float64(n.total)
	case scenarios.SLIThroughput:
		if d <= 0 {
			return math.NaN()
		}
		return float64(n.ok) / d.Seconds()
	case scenarios.SLILatency:
		// Latency is judged on successful requests: a refused connection
		// answers fast and must not improve the latency SLI.
		if lat == nil || lat.TotalCount() == 0 {
			return math.NaN()
		}
		return latency.Quantile(lat, c.Quantile).Seconds()
	case scenarios.SLIDroppedRatio:
		if n.total+n.dropped == 0 {
			return math.NaN()
		}
		return float64(n.dropped) / float64(n.total+n.dropped)
	}
	return math.NaN()
}

// Latencies collects latencies for quantiles, in memory that does not grow
// with their number (see package latency). The zero value is not usable:
// use NewLatencies.
type Latencies = latency.Set

// NewLatencies returns an empty Latencies.
func NewLatencies() *Latencies { return latency.New() }
