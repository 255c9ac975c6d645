package slo

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/scenarios"
)

func objective(op scenarios.Op, v float64) scenarios.Objective {
	return scenarios.Objective{Op: op, Value: v, Text: string(op) + " x"}
}

// requests makes one request every 10ms over [from, to) seconds; fail says
// which fail and lat gives each one's latency.
func requests(from, to float64, fail func(sec float64) bool, lat func(sec float64) time.Duration) []Request {
	var out []Request
	for ms := int(from * 1000); ms < int(to*1000); ms += 10 {
		sec := float64(ms) / 1000
		out = append(out, Request{Stream: "mobile", Route: "feed", Start: at(sec), Latency: lat(sec), OK: !fail(sec)})
	}
	return out
}

func never(float64) bool { return false }
func constLat(d time.Duration) func(float64) time.Duration {
	return func(float64) time.Duration { return d }
}

func TestClientSLIs(t *testing.T) {
	tl := twoFaults() // warmup [0,10) fault [10,18) [24,26) recovery [26,40)
	// Requests fail during [12, 14): 200 of the 4000; slow (400ms) during the fault phase.
	reqs := requests(0, 40, func(s float64) bool { return s >= 12 && s < 14 },
		func(s float64) time.Duration {
			if (s >= 10 && s < 18) || (s >= 24 && s < 26) {
				return 400 * time.Millisecond
			}
			return 20 * time.Millisecond
		})
	in := Input{Timeline: tl, Requests: reqs}
	tests := []struct {
		name     string
		spec     scenarios.SLO
		passed   bool
		measured float64
	}{
		// 200 failures of 4000 requests: 0.95 overall.
		{"ratio overall fails", slo(scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}, objective(scenarios.OpGE, 0.99), scenarios.ModeOverall, scenarios.PhaseAll), false, 0.95},
		{"ratio overall passes", slo(scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}, objective(scenarios.OpGE, 0.95), scenarios.ModeOverall, scenarios.PhaseAll), true, 0.95},
		// Warmup and recovery have no failures.
		{"ratio outside the fault", slo(scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}, objective(scenarios.OpGE, 1), scenarios.ModeOverall, scenarios.PhaseWarmup, scenarios.PhaseRecovery), true, 1},
		// In mode always the worst 1s bucket, [12,13), has no success at all.
		{"ratio always", slo(scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}, objective(scenarios.OpGE, 0.5), scenarios.ModeAlways, scenarios.PhaseAll), false, 0},
		// Latency of successful requests only: the failed ones are in the fault phase.
		{"p99 warmup", slo(scenarios.ClientSLI{SLI: scenarios.SLILatency, Quantile: 0.99}, objective(scenarios.OpLE, 0.1), scenarios.ModeOverall, scenarios.PhaseWarmup), true, 0.02},
		{"p99 fault", slo(scenarios.ClientSLI{SLI: scenarios.SLILatency, Quantile: 0.99}, objective(scenarios.OpLE, 0.1), scenarios.ModeOverall, scenarios.PhaseFault), false, 0.4},
		// 100 requests a second, all successful in the recovery.
		{"throughput", slo(scenarios.ClientSLI{SLI: scenarios.SLIThroughput}, objective(scenarios.OpGE, 99), scenarios.ModeOverall, scenarios.PhaseRecovery), true, 100},
		// A route filter that matches nothing: no data fails.
		{"no data", slo(scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio, Route: "post"}, objective(scenarios.OpGE, 0.5), scenarios.ModeOverall, scenarios.PhaseAll), false, math.NaN()},
	}
	for _, tt := range tests {
		v := Evaluate(context.Background(), tt.spec, in)
		ok := near(v.Measured, tt.measured)
		if tt.spec.Client.SLI == scenarios.SLILatency {
			ok = nearQuantile(v.Measured, tt.measured)
		}
		if v.Passed != tt.passed || !ok {
			t.Errorf("%s: Evaluate = passed %v measured %v (%s); want passed %v measured %v", tt.name, v.Passed, v.Measured, v.Detail, tt.passed, tt.measured)
		}
	}
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) < 1e-9
}

// nearQuantile reports whether a latency quantile read from a histogram is
// the exact one to the precision LatencyDigits promises: at least it, and
// above by less than 1/1024 of it.
func nearQuantile(got, exact float64) bool {
	if math.IsNaN(got) || math.IsNaN(exact) {
		return math.IsNaN(got) && math.IsNaN(exact)
	}
	return got >= exact && got < exact*(1+1.0/1024)
}

func slo(c scenarios.ClientSLI, o scenarios.Objective, mode scenarios.Mode, during ...scenarios.Phase) scenarios.SLO {
	return scenarios.SLO{Name: "x", Client: &c, Objective: o, Mode: mode, During: during, Step: time.Second}
}

func TestNoPhaseNoVerdict(t *testing.T) {
	in := Input{Timeline: Timeline{Start: at(0), End: at(10)}, Requests: requests(0, 10, never, constLat(time.Millisecond))}
	v := Evaluate(context.Background(), slo(scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}, objective(scenarios.OpGE, 0), scenarios.ModeOverall, scenarios.PhaseFault), in)
	if v.Passed || !strings.Contains(v.Detail, "no [fault] phase") {
		t.Errorf("Evaluate(during fault, no faults) = passed %v detail %q; want a failure naming the missing phase", v.Passed, v.Detail)
	}
}

// series is a PromQL answer: one point a second with value fn(second).
func series(from, to float64, fn func(sec float64) float64) []metrics.Series {
	s := metrics.Series{Labels: map[string]string{}}
	for sec := from; sec <= to; sec++ {
		s.Points = append(s.Points, metrics.Point{T: at(sec), V: fn(sec)})
	}
	return []metrics.Series{s}
}

func TestPromQLSLI(t *testing.T) {
	tl := twoFaults()
	// 5xx rate: 0 except 3/s during [12, 14].
	query := func(_ context.Context, expr string, start, end time.Time, step time.Duration) ([]metrics.Series, error) {
		switch expr {
		case "errors":
			all := series(0, 40, func(s float64) float64 {
				if s >= 12 && s <= 14 {
					return 3
				}
				return 0
			})
			// Keep the points in [start, end], as Prometheus would.
			var pts []metrics.Point
			for _, p := range all[0].Points {
				if !p.T.Before(start) && !p.T.After(end) {
					pts = append(pts, p)
				}
			}
			return []metrics.Series{{Points: pts}}, nil
		case "two":
			return append(series(0, 1, func(float64) float64 { return 1 }), series(0, 1, func(float64) float64 { return 2 })...), nil
		case "none":
			return nil, nil
		}
		return nil, errors.New(`query "bad": parse error`)
	}
	in := Input{Timeline: tl, Query: query}
	promSLO := func(expr string, o scenarios.Objective, mode scenarios.Mode, during ...scenarios.Phase) scenarios.SLO {
		return scenarios.SLO{Name: "p", PromQL: expr, Objective: o, Mode: mode, During: during, Step: time.Second}
	}
	tests := []struct {
		name     string
		spec     scenarios.SLO
		passed   bool
		measured float64
		detail   string
	}{
		{"always fails at the worst step", promSLO("errors", objective(scenarios.OpLE, 1), scenarios.ModeAlways, scenarios.PhaseAll), false, 3, "worst step at 2026-11-23T07:00:12Z"},
		{"always holds outside", promSLO("errors", objective(scenarios.OpLE, 0), scenarios.ModeAlways, scenarios.PhaseWarmup, scenarios.PhaseRecovery), true, 0, ""},
		// Mean over the 41 steps: 9/41.
		{"overall is the mean", promSLO("errors", objective(scenarios.OpLE, 0.25), scenarios.ModeOverall, scenarios.PhaseAll), true, 9.0 / 41, ""},
		{"two series", promSLO("two", objective(scenarios.OpLE, 1), scenarios.ModeAlways, scenarios.PhaseAll), false, math.NaN(), "yields 2 series"},
		{"no data", promSLO("none", objective(scenarios.OpLE, 1), scenarios.ModeAlways, scenarios.PhaseAll), false, math.NaN(), "no data"},
		{"query error", promSLO("bad", objective(scenarios.OpLE, 1), scenarios.ModeAlways, scenarios.PhaseAll), false, math.NaN(), "parse error"},
	}
	for _, tt := range tests {
		v := Evaluate(context.Background(), tt.spec, in)
		if v.Passed != tt.passed || !near(v.Measured, tt.measured) || !strings.Contains(v.Detail, tt.detail) {
			t.Errorf("%s: Evaluate = passed %v measured %v detail %q; want passed %v measured %v detail containing %q",
				tt.name, v.Passed, v.Measured, v.Detail, tt.passed, tt.measured, tt.detail)
		}
	}
}

func TestQuantile(t *testing.T) {
	ds := func(ms ...int) []time.Duration {
		out := make([]time.Duration, len(ms))
		for i, m := range ms {
			out[i] = time.Duration(m) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		in   []time.Duration
		q    float64
		want time.Duration
	}{
		{ds(5, 1, 4, 2, 3), 0.5, 3 * time.Millisecond},
		{ds(5, 1, 4, 2, 3), 1, 5 * time.Millisecond},
		{ds(5, 1, 4, 2, 3), 0.01, 1 * time.Millisecond},
		// Nearest rank: 99th of 100 values is the 99th smallest.
		{ds(append(make([]int, 98), 7, 9)...), 0.99, 7 * time.Millisecond},
		{nil, 0.99, 0},
	}
	for _, tt := range tests {
		if got := Quantile(tt.in, tt.q); got != tt.want {
			t.Errorf("Quantile(%v, %v) = %v; want %v", tt.in, tt.q, got, tt.want)
		}
	}
}

func TestMet(t *testing.T) {
	tests := []struct {
		op   scenarios.Op
		b, v float64
		want bool
	}{
		{scenarios.OpGE, 0.99, 0.99, true},
		{scenarios.OpGT, 0.99, 0.99, false},
		{scenarios.OpLE, 0.3, 0.3, true},
		{scenarios.OpLT, 0.3, 0.3, false},
		{scenarios.OpGE, 0, math.NaN(), false},
	}
	for _, tt := range tests {
		if got := Met(objective(tt.op, tt.b), tt.v); got != tt.want {
			t.Errorf("Met(%s %v, %v) = %v; want %v", tt.op, tt.b, tt.v, got, tt.want)
		}
	}
}

// TestSLOsAtVirtualTimes judges SLOs on synthetic data at virtual times with
// known answers, as promtool tests rules. The timeline is twoFaults: warmup
// [0, 10), fault [10, 18) and [24, 26), between [18, 24), recovery [26, 40).
func TestSLOsAtVirtualTimes(t *testing.T) {
	nan := math.NaN()
	// exprs are PromQL answers: one point a second in [0, 40], or none
	// where the value is absent.
	exprs := map[string]func(sec float64) float64{
		// NaN during [12, 14], as a ratio of two zero rates is: no data, not a value.
		"ratio_nan": func(s float64) float64 {
			if s >= 12 && s <= 14 {
				return nan
			}
			return 1
		},
		// The series disappears at 20 (a target gone): the steps after it are not judged.
		"disappears": func(s float64) float64 {
			if s >= 20 {
				return absent
			}
			return 0.5
		},
		// No point in [20, 24]: a gap.
		"gap": func(s float64) float64 {
			if s >= 20 && s <= 24 {
				return absent
			}
			return 1
		},
		"all_nan": func(float64) float64 { return nan },
	}
	query := func(_ context.Context, expr string, start, end time.Time, _ time.Duration) ([]metrics.Series, error) {
		fn, ok := exprs[expr]
		if !ok {
			return nil, errors.New("unknown expression " + expr)
		}
		s := metrics.Series{Labels: map[string]string{}}
		for sec := 0.0; sec <= 40; sec++ {
			if p := at(sec); !p.Before(start) && !p.After(end) && !math.IsInf(fn(sec), -1) {
				s.Points = append(s.Points, metrics.Point{T: p, V: fn(sec)})
			}
		}
		if len(s.Points) == 0 {
			return nil, nil
		}
		return []metrics.Series{s}, nil
	}
	promSLO := func(expr string, o scenarios.Objective, mode scenarios.Mode, during ...scenarios.Phase) scenarios.SLO {
		return scenarios.SLO{Name: "p", PromQL: expr, Objective: o, Mode: mode, During: during, Step: time.Second}
	}
	// Client requests every 10ms in [0, 20) and [25, 40): none in [20, 25),
	// which holds the end of between and the second fault's first second.
	reqs := append(requests(0, 20, never, constLat(20*time.Millisecond)), requests(25, 40, never, constLat(20*time.Millisecond))...)
	ratio := scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio}
	tests := []struct {
		name     string
		spec     scenarios.SLO
		passed   bool
		measured float64
		samples  int
		detail   string
	}{
		// PromQL. NaN steps are skipped: 41 points less 3.
		{"NaN always", promSLO("ratio_nan", objective(scenarios.OpGE, 0.99), scenarios.ModeAlways, scenarios.PhaseAll), true, 1, 38, ""},
		{"NaN overall", promSLO("ratio_nan", objective(scenarios.OpGE, 0.99), scenarios.ModeOverall, scenarios.PhaseAll), true, 1, 38, ""},
		// Only NaN in the fault windows [10, 18] and [24, 26]: no data fails.
		{"all NaN", promSLO("all_nan", objective(scenarios.OpGE, 0.99), scenarios.ModeAlways, scenarios.PhaseFault), false, nan, 0, "no data in the window"},
		// Points 0 … 19 of the 41: judged on those.
		{"disappears", promSLO("disappears", objective(scenarios.OpLE, 0.5), scenarios.ModeAlways, scenarios.PhaseAll), true, 0.5, 20, ""},
		// In the recovery [26, 40] it is gone: no data.
		{"disappeared", promSLO("disappears", objective(scenarios.OpLE, 0.5), scenarios.ModeOverall, scenarios.PhaseRecovery), false, nan, 0, "no data in the window"},
		// Between [18, 24] has points at 18 and 19 only.
		{"gap always", promSLO("gap", objective(scenarios.OpGE, 1), scenarios.ModeAlways, scenarios.PhaseBetween), true, 1, 2, ""},

		// Client. The phase exists, but no request was sent in it: no data fails.
		{"empty window", slo(scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio, Stream: "web"}, objective(scenarios.OpGE, 0.5), scenarios.ModeAlways, scenarios.PhaseFault),
			false, nan, 0, "no requests in the window"},
		// Steps without requests have no ratio: the gap is not judged; 3500 requests.
		{"gap ratio always", slo(ratio, objective(scenarios.OpGE, 1), scenarios.ModeAlways, scenarios.PhaseAll), true, 1, 3500, ""},
		// But throughput of a step without requests is 0/s: the gap's first step fails.
		{"gap throughput always", slo(scenarios.ClientSLI{SLI: scenarios.SLIThroughput}, objective(scenarios.OpGE, 50), scenarios.ModeAlways, scenarios.PhaseAll),
			false, 0, 3500, "worst 1s step starts at 2026-11-23T07:00:20Z: 0.0/s"},
		// Between [18, 24) has requests in [18, 20) only: 200 in 6s.
		{"gap throughput overall", slo(scenarios.ClientSLI{SLI: scenarios.SLIThroughput}, objective(scenarios.OpGE, 50), scenarios.ModeOverall, scenarios.PhaseBetween),
			false, 200.0 / 6, 200, ""},
		// Latency steps without a success are not judged.
		{"gap latency always", slo(scenarios.ClientSLI{SLI: scenarios.SLILatency, Quantile: 0.99}, objective(scenarios.OpLE, 0.1), scenarios.ModeAlways, scenarios.PhaseBetween),
			true, 0.02, 200, ""},
	}
	in := Input{Timeline: twoFaults(), Requests: reqs, Query: query}
	for _, tt := range tests {
		v := Evaluate(context.Background(), tt.spec, in)
		ok := near(v.Measured, tt.measured)
		if tt.spec.Client != nil && tt.spec.Client.SLI == scenarios.SLILatency {
			ok = nearQuantile(v.Measured, tt.measured)
		}
		if v.Passed != tt.passed || !ok || v.Samples != tt.samples || !strings.Contains(v.Detail, tt.detail) || (tt.detail == "" && v.Detail != "") {
			t.Errorf("%s: Evaluate = passed %v measured %v samples %d detail %q; want passed %v measured %v samples %d detail %q",
				tt.name, v.Passed, v.Measured, v.Samples, v.Detail, tt.passed, tt.measured, tt.samples, tt.detail)
		}
	}
}
