package slo

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/metrics"
	"github.com/gameday/gameday/scenarios"
)

// ratioSeries returns one point a second at the whole seconds [from, to]
// after rtoT0, with value fn(second); a second whose value is absent has no
// point.
func ratioSeries(from, to int, fn func(sec int) float64) []metrics.Point {
	var out []metrics.Point
	for s := from; s <= to; s++ {
		if v := fn(s); !math.IsInf(v, -1) {
			out = append(out, metrics.Point{T: ms(s * 1000), V: v})
		}
	}
	return out
}

// absent marks a second without a point in ratioSeries.
var absent = math.Inf(-1)

// dips returns 1 except at the listed seconds, where it returns their value.
func dips(at map[int]float64) func(int) float64 {
	return func(s int) float64 {
		if v, ok := at[s]; ok {
			return v
		}
		return 1
	}
}

func TestSeriesRTO(t *testing.T) {
	ge99, err := scenarios.ParseObjective(">= 0.99")
	if err != nil {
		t.Fatal(err)
	}
	cond := SeriesCondition{Objective: ge99, Step: time.Second, StableFor: 3 * time.Second}
	kill := Span{Fault: "kill", Start: ms(0)}
	nan := math.NaN()
	tests := []struct {
		name   string
		points []metrics.Point
		fault  Span
		end    int
		want   outcome
	}{
		{"no impact", ratioSeries(-5, 20, dips(nil)), kill, 20000,
			outcome{detected: -1, recovered: 0}},
		// Samples at 2, 3, 4 below the objective: each holds for its step.
		{"dip", ratioSeries(-5, 20, dips(map[int]float64{2: 0.5, 3: 0.5, 4: 0.98})), kill, 20000,
			outcome{detected: 2000, recovered: 5000, impact: 3000, breaches: [][2]int{{2000, 5000}}}},
		// Injected between two samples: the sample at 0 is in force from 500.
		{"injected between samples", ratioSeries(-5, 20, dips(map[int]float64{2: 0.5, 3: 0.5, 4: 0.5})), Span{Fault: "kill", Start: ms(500)}, 20000,
			outcome{detected: 2000, recovered: 5000, impact: 3000, breaches: [][2]int{{2000, 5000}}}},
		// A NaN sample is no data, and no data is not a recovery.
		{"NaN", ratioSeries(-5, 20, dips(map[int]float64{1: nan})), kill, 20000,
			outcome{detected: 1000, recovered: 2000, impact: 1000, breaches: [][2]int{{1000, 2000}}, noData: 1}},
		// Bad at 2 … 4, then no point after 4: the series disappears and the
		// fault never recovers.
		{"series disappears", ratioSeries(-5, 4, dips(map[int]float64{2: 0.5, 3: 0.5, 4: 0.5})), kill, 20000,
			outcome{detected: 2000, recovered: -1, impact: 18000, breaches: [][2]int{{2000, -1}}, noData: 15}},
		// No point at 2, 3, 4: a gap is no data.
		{"gap", ratioSeries(-5, 20, dips(map[int]float64{2: absent, 3: absent, 4: absent})), kill, 20000,
			outcome{detected: 2000, recovered: 5000, impact: 3000, breaches: [][2]int{{2000, 5000}}, noData: 3}},
		// A bad value then a gap then NaN: one breach.
		{"bad, gap, NaN", ratioSeries(-5, 20, dips(map[int]float64{2: 0.5, 3: absent, 4: nan})), kill, 20000,
			outcome{detected: 2000, recovered: 5000, impact: 3000, breaches: [][2]int{{2000, 5000}}, noData: 2}},
		// The series starts at 3: no data from the injection on.
		{"starts late", ratioSeries(3, 20, dips(nil)), kill, 20000,
			outcome{detected: 0, recovered: 3000, impact: 3000, breaches: [][2]int{{0, 3000}}, noData: 3}},
		// A range of no length, or one that ended before the injection:
		// nothing to judge, and no recovery shown.
		{"empty range", ratioSeries(-5, 20, dips(nil)), kill, 0,
			outcome{detected: -1, recovered: -1}},
		{"range ends before the injection", ratioSeries(-5, 20, dips(nil)), kill, -1000,
			outcome{detected: -1, recovered: -1}},
		// No series at all.
		{"no series", nil, kill, 20000,
			outcome{detected: 0, recovered: -1, impact: 20000, breaches: [][2]int{{0, -1}}, noData: 20}},
		// Good for 2s between two breaches, less than stableFor (3s).
		{"flap shorter than stableFor", ratioSeries(-5, 20, dips(map[int]float64{2: 0.5, 3: 0.5, 4: 0.5, 7: 0.5})), kill, 20000,
			outcome{detected: 2000, recovered: 8000, impact: 4000, breaches: [][2]int{{2000, 5000}, {7000, 8000}}}},
		// Good for exactly stableFor, [5, 8), before the next breach.
		{"stable exactly stableFor", ratioSeries(-5, 20, dips(map[int]float64{2: 0.5, 3: 0.5, 4: 0.5, 8: 0.5})), kill, 20000,
			outcome{detected: 2000, recovered: 5000, impact: 3000, breaches: [][2]int{{2000, 5000}, {8000, 9000}}}},
		// Recovered at 5, stable to the end of the range, 8, exactly.
		{"stable to the end", ratioSeries(-5, 20, dips(map[int]float64{2: 0.5, 3: 0.5, 4: 0.5})), kill, 8000,
			outcome{detected: 2000, recovered: 5000, impact: 3000, breaches: [][2]int{{2000, 5000}}}},
		{"range ends before stableFor", ratioSeries(-5, 20, dips(map[int]float64{2: 0.5, 3: 0.5, 4: 0.5})), kill, 7500,
			outcome{detected: 2000, recovered: -1, impact: 3000, breaches: [][2]int{{2000, 5000}}}},
		// Bad to the end: the breach has not ended.
		{"never recovered", ratioSeries(-5, 20, func(s int) float64 {
			if s >= 2 {
				return 0.5
			}
			return 1
		}), kill, 20000,
			outcome{detected: 2000, recovered: -1, impact: 18000, breaches: [][2]int{{2000, -1}}}},
	}
	for _, tt := range tests {
		got, err := SeriesRTO(tt.points, tt.fault, ms(tt.end), cond)
		if err != nil {
			t.Errorf("%s: SeriesRTO: %v", tt.name, err)
			continue
		}
		check(t, tt.name+": SeriesRTO", got, tt.want)
		if got.Resolution != time.Second || got.Canceled != 0 {
			t.Errorf("%s: SeriesRTO = resolution %s canceled %d; want 1s and 0", tt.name, got.Resolution, got.Canceled)
		}
	}
}

func TestSeriesRTOErrors(t *testing.T) {
	ge99 := scenarios.Objective{Op: scenarios.OpGE, Value: 0.99}
	kill := Span{Fault: "kill", Start: ms(0)}
	pts := ratioSeries(0, 5, dips(nil))
	tests := []struct {
		name   string
		points []metrics.Point
		cond   SeriesCondition
		want   string
	}{
		{"out of order", []metrics.Point{pts[1], pts[0]}, SeriesCondition{Objective: ge99, Step: time.Second, StableFor: time.Second}, "not in increasing time order"},
		{"repeated time", []metrics.Point{pts[0], pts[0]}, SeriesCondition{Objective: ge99, Step: time.Second, StableFor: time.Second}, "not in increasing time order"},
		{"no operator", pts, SeriesCondition{Step: time.Second, StableFor: time.Second}, "want an operator"},
		{"no step", pts, SeriesCondition{Objective: ge99, StableFor: time.Second}, "step 0s"},
		{"no stableFor", pts, SeriesCondition{Objective: ge99, Step: time.Second}, "stableFor 0s"},
	}
	for _, tt := range tests {
		if _, err := SeriesRTO(tt.points, kill, ms(5000), tt.cond); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: SeriesRTO = %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestRecoveryMeets(t *testing.T) {
	obj := func(s string) scenarios.Objective {
		o, err := scenarios.ParseObjective(s)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	tests := []struct {
		r    Recovery
		o    string
		want bool
	}{
		{Recovery{Recovered: true, RTO: 3500 * time.Millisecond}, "<= 15s", true},
		{Recovery{Recovered: true, RTO: 3500 * time.Millisecond}, "<= 3s", false},
		{Recovery{Recovered: true, RTO: 15 * time.Second}, "<= 15s", true},
		{Recovery{Recovered: true, RTO: 15 * time.Second}, "< 15s", false},
		{Recovery{Recovered: true}, "<= 0s", true}, // no impact
		// Unbounded: whatever the objective.
		{Recovery{Recovered: false}, "<= 1h", false},
		{Recovery{Recovered: false}, ">= 0s", false},
	}
	for _, tt := range tests {
		if got := tt.r.Meets(obj(tt.o)); got != tt.want {
			t.Errorf("Recovery{Recovered: %v, RTO: %s}.Meets(%q) = %v; want %v", tt.r.Recovered, tt.r.RTO, tt.o, got, tt.want)
		}
	}
}

func ratio99Objective() scenarios.Objective {
	return scenarios.Objective{Op: scenarios.OpGE, Value: 0.99, Text: ">= 0.99"}
}
