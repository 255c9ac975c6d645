package slo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/slo/latency"
)

// reference judges a client SLI as Evaluate did before the Judge, on every
// request held in a slice sorted by Start, with exact quantiles: the
// specification the Judge is checked against.
func reference(spec scenarios.SLO, tl Timeline, reqs []Request) (measured float64, samples int) {
	reqs = slices.Clone(reqs)
	slices.SortFunc(reqs, func(a, b Request) int { return a.Start.Compare(b.Start) })
	between := func(reqs []Request, from, to time.Time) []Request {
		lo := sort.Search(len(reqs), func(i int) bool { return !reqs[i].Start.Before(from) })
		hi := sort.Search(len(reqs), func(i int) bool { return !reqs[i].Start.Before(to) })
		return reqs[lo:max(lo, hi)]
	}
	value := func(c scenarios.ClientSLI, reqs []Request, d time.Duration) float64 {
		ok := 0
		var lat []time.Duration
		for _, r := range reqs {
			if r.OK {
				ok++
				lat = append(lat, r.Latency)
			}
		}
		switch c.SLI {
		case scenarios.SLISuccessRatio:
			if len(reqs) == 0 {
				return math.NaN()
			}
			return float64(ok) / float64(len(reqs))
		case scenarios.SLIThroughput:
			return float64(ok) / d.Seconds()
		case scenarios.SLILatency:
			if len(lat) == 0 {
				return math.NaN()
			}
			return Quantile(lat, c.Quantile).Seconds()
		}
		return math.NaN()
	}
	c := *spec.Client
	ws := tl.PhaseWindows(spec.During)
	var selected []Request
	var total time.Duration
	for _, w := range ws {
		total += w.Duration()
		for _, r := range between(reqs, w.Start, w.End) {
			if !r.Canceled && (c.Stream == "" || r.Stream == c.Stream) && (c.Route == "" || r.Route == c.Route) {
				selected = append(selected, r)
			}
		}
	}
	if spec.Mode != scenarios.ModeAlways {
		return value(c, selected, total), len(selected)
	}
	worst := math.NaN()
	for _, w := range ws {
		for from := w.Start; from.Before(w.End); from = from.Add(spec.Step) {
			to := from.Add(spec.Step)
			if to.After(w.End) {
				to = w.End
			}
			if x := value(c, between(selected, from, to), to.Sub(from)); !math.IsNaN(x) && (math.IsNaN(worst) || worse(spec.Objective, x, worst)) {
				worst = x
			}
		}
	}
	return worst, len(selected)
}

// randomRequests returns n requests of two streams sent in [0, 40) seconds,
// in random order, with latencies spread over 1µs … 10s.
func randomRequests(rng *rand.Rand, n int) []Request {
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = Request{
			Stream:   []string{"mobile", "web"}[rng.IntN(2)],
			Route:    "feed",
			Start:    at(rng.Float64() * 40),
			Latency:  time.Duration(math.Pow(10, 3+rng.Float64()*7)),
			OK:       rng.IntN(10) > 0,
			Canceled: rng.IntN(50) == 0,
		}
	}
	return reqs
}

// TestJudgeMatchesReference: on random requests fed in random order, the
// Judge measures what the exact reference does, latency quantiles to the
// precision of LatencyDigits.
func TestJudgeMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tl := twoFaults()
	ratio := scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}
	p99 := scenarios.ClientSLI{SLI: scenarios.SLILatency, Quantile: 0.99, Stream: "web"}
	p50 := scenarios.ClientSLI{SLI: scenarios.SLILatency, Quantile: 0.5}
	thr := scenarios.ClientSLI{SLI: scenarios.SLIThroughput, Route: "feed"}
	specs := []scenarios.SLO{
		slo(ratio, objective(scenarios.OpGE, 0.9), scenarios.ModeOverall, scenarios.PhaseAll),
		slo(ratio, objective(scenarios.OpGE, 0.9), scenarios.ModeAlways, scenarios.PhaseFault, scenarios.PhaseBetween),
		slo(p99, objective(scenarios.OpLE, 1), scenarios.ModeOverall, scenarios.PhaseWarmup),
		slo(p99, objective(scenarios.OpLE, 1), scenarios.ModeAlways, scenarios.PhaseAll),
		slo(p50, objective(scenarios.OpLE, 1), scenarios.ModeAlways, scenarios.PhaseRecovery),
		slo(thr, objective(scenarios.OpGE, 10), scenarios.ModeOverall, scenarios.PhaseFault),
		slo(thr, objective(scenarios.OpGE, 10), scenarios.ModeAlways, scenarios.PhaseAll),
	}
	for trial := range 20 {
		// Few requests leave steps empty; many fill every one.
		reqs := randomRequests(rng, []int{30, 300, 5000}[trial%3])
		for _, spec := range specs {
			spec.Step = []time.Duration{time.Second, 700 * time.Millisecond}[trial%2]
			want, samples := reference(spec, tl, reqs)
			j := NewJudge(spec, tl)
			for _, r := range reqs {
				j.Add(r)
			}
			v := j.Verdict(context.Background(), nil)
			ok := near(v.Measured, want)
			if spec.Client.SLI == scenarios.SLILatency {
				ok = nearQuantile(v.Measured, want)
			}
			if !ok || v.Samples != samples {
				t.Errorf("trial %d, %s %s during %v step %s: Verdict = measured %v samples %d; want %v and %d",
					trial, v.SLI, spec.Mode, spec.During, spec.Step, v.Measured, v.Samples, want, samples)
			}
		}
	}
}

// TestJudgeAnyOrder: the verdict does not depend on the order of the
// requests, quantiles included.
func TestJudgeAnyOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	reqs := randomRequests(rng, 3000)
	tl := twoFaults()
	for _, spec := range []scenarios.SLO{
		slo(scenarios.ClientSLI{SLI: scenarios.SLILatency, Quantile: 0.99}, objective(scenarios.OpLE, 1), scenarios.ModeAlways, scenarios.PhaseAll),
		slo(scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}, objective(scenarios.OpGE, 0.95), scenarios.ModeAlways, scenarios.PhaseAll),
	} {
		var first []byte
		for i := range 4 {
			rng.Shuffle(len(reqs), func(a, b int) { reqs[a], reqs[b] = reqs[b], reqs[a] })
			got, err := json.Marshal(Evaluate(context.Background(), spec, Input{Timeline: tl, Requests: reqs}))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = got
			} else if string(got) != string(first) {
				t.Errorf("Evaluate(%s, shuffled) = %s; want the verdict of another order, %s", spec.Client.SLI, got, first)
			}
		}
	}
}

// TestHistogramQuantile: a quantile read from the histogram is the exact
// nearest-rank one or above it by less than 1/1024 of it.
func TestHistogramQuantile(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 2, 7, 100, 1001, 20000} {
		ds := make([]time.Duration, n)
		h := latency.NewHistogram()
		for i := range ds {
			// 1ns … 100s, log-uniform: every bucket size of the histogram.
			ds[i] = time.Duration(math.Pow(10, rng.Float64()*11))
			if err := h.RecordValue(latency.Value(ds[i])); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range []float64{0.01, 0.5, 0.9, 0.91, 0.99, 0.999, 1} {
			exact := Quantile(ds, q)
			got := latency.Quantile(h, q)
			if got < exact || float64(got-exact) >= float64(exact)/1024 && got != exact {
				t.Errorf("latency.Quantile(%d values, %v) = %d; want %d to within 1/1024 above", n, q, got, exact)
			}
		}
	}
	// Beyond MaxTrackedLatency: counted as it.
	h := latency.NewHistogram()
	_ = h.RecordValue(latency.Value(3 * time.Hour))
	if got := latency.Quantile(h, 0.99); got < MaxTrackedLatency || got > MaxTrackedLatency+MaxTrackedLatency/1024 {
		t.Errorf("latency.Quantile(one of 3h, 0.99) = %s; want about %s", got, MaxTrackedLatency)
	}
}

func TestJudgeCanceled(t *testing.T) {
	tl := Timeline{Start: at(0), End: at(10)}
	// Every request in [2, 4) fails, and half of them were cut by gameday.
	reqs := requests(0, 10, func(s float64) bool { return s >= 2 && s < 4 }, constLat(20*time.Millisecond))
	for i := range reqs {
		if !reqs[i].OK && i%2 == 0 {
			reqs[i].Canceled = true
		}
	}
	// Canceled requests of another route, or outside the load, are not the SLO's.
	other := Request{Stream: "mobile", Route: "post", Start: at(5), Canceled: true}
	late := Request{Stream: "mobile", Route: "feed", Start: at(11), Canceled: true}
	reqs = append(reqs, other, late)
	ratio := scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio, Route: "feed"}
	tests := []struct {
		name     string
		spec     scenarios.SLO
		passed   bool
		measured float64
		samples  int
		canceled int
		detail   string
	}{
		// 1000 requests, 100 canceled, 100 failed: 800/900.
		{"ratio", slo(ratio, objective(scenarios.OpGE, 0.8), scenarios.ModeOverall, scenarios.PhaseAll),
			true, 800.0 / 900, 900, 100, "100 requests canceled by gameday, not judged"},
		// The worst step, [2, 3), has 50 failures and no success.
		{"ratio always", slo(ratio, objective(scenarios.OpGE, 0.5), scenarios.ModeAlways, scenarios.PhaseAll),
			false, 0, 900, 100, "worst 1s step starts at 2026-11-23T07:00:02Z: 0.0000; 100 requests canceled by gameday, not judged"},
		// Throughput counts successes only: 800 over 10s.
		{"throughput", slo(scenarios.ClientSLI{SLI: scenarios.SLIThroughput}, objective(scenarios.OpGE, 80), scenarios.ModeOverall, scenarios.PhaseAll),
			true, 80, 900, 101, "101 requests canceled"},
	}
	for _, tt := range tests {
		v := Evaluate(context.Background(), tt.spec, Input{Timeline: tl, Requests: reqs})
		if v.Passed != tt.passed || !near(v.Measured, tt.measured) || v.Samples != tt.samples || v.Canceled != tt.canceled || !strings.Contains(v.Detail, tt.detail) {
			t.Errorf("%s: Evaluate = passed %v measured %v samples %d canceled %d detail %q; want %v %v %d %d %q",
				tt.name, v.Passed, v.Measured, v.Samples, v.Canceled, v.Detail, tt.passed, tt.measured, tt.samples, tt.canceled, tt.detail)
		}
	}
	// Nothing canceled: no word of it, and no field in JSON.
	v := Evaluate(context.Background(), tests[0].spec, Input{Timeline: tl, Requests: requests(0, 10, never, constLat(time.Millisecond))})
	out, err := json.Marshal(v)
	if err != nil || v.Canceled != 0 || strings.Contains(v.Detail, "canceled") || strings.Contains(string(out), "canceled") {
		t.Errorf("Evaluate(nothing canceled) = canceled %d detail %q json %s, %v; want no canceled", v.Canceled, v.Detail, out, err)
	}
}

func TestJudgeBadStep(t *testing.T) {
	tl := Timeline{Start: at(0), End: at(10)}
	reqs := requests(0, 10, never, constLat(time.Millisecond))
	spec := slo(scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}, objective(scenarios.OpGE, 0.5), scenarios.ModeAlways, scenarios.PhaseAll)
	for _, tt := range []struct {
		step time.Duration
		want string
	}{
		{0, "step 0s: mode always needs a positive step"},
		{time.Nanosecond, fmt.Sprintf("the windows need more than %d steps", MaxJudgeSteps)},
	} {
		spec.Step = tt.step
		v := Evaluate(context.Background(), spec, Input{Timeline: tl, Requests: reqs})
		if v.Passed || !strings.Contains(v.Detail, tt.want) {
			t.Errorf("Evaluate(always, step %s) = passed %v detail %q; want a failure saying %q", tt.step, v.Passed, v.Detail, tt.want)
		}
	}
}
