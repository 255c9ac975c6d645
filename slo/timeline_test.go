package slo

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gameday/gameday/scenarios"
)

var t0 = time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)

// at returns t0 plus seconds.
func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func win(from, to float64) Window { return Window{Start: at(from), End: at(to)} }

func TestTimelineWindows(t *testing.T) {
	tests := []struct {
		name  string
		tl    Timeline
		phase scenarios.Phase
		want  []Window
	}{
		// Without faults the whole load is warmup, and there is no fault or recovery.
		{"no faults warmup", Timeline{Start: at(0), End: at(40)}, scenarios.PhaseWarmup, []Window{win(0, 40)}},
		{"no faults fault", Timeline{Start: at(0), End: at(40)}, scenarios.PhaseFault, nil},
		{"no faults recovery", Timeline{Start: at(0), End: at(40)}, scenarios.PhaseRecovery, nil},
		{"all", Timeline{Start: at(0), End: at(40)}, scenarios.PhaseAll, []Window{win(0, 40)}},
		{"no faults between", Timeline{Start: at(0), End: at(40)}, scenarios.PhaseBetween, nil},
		// Two disjoint faults: two fault windows; the gap is between, neither warmup nor recovery.
		{"two faults", twoFaults(), scenarios.PhaseFault, []Window{win(10, 18), win(24, 26)}},
		{"two faults between", twoFaults(), scenarios.PhaseBetween, []Window{win(18, 24)}},
		{"two faults warmup", twoFaults(), scenarios.PhaseWarmup, []Window{win(0, 10)}},
		{"two faults recovery", twoFaults(), scenarios.PhaseRecovery, []Window{win(26, 40)}},
		// Overlapping faults merge.
		{"overlap", Timeline{Start: at(0), End: at(40), Faults: []Span{
			{Fault: "a", Start: at(5), End: at(15)}, {Fault: "b", Start: at(12), End: at(20)}}},
			scenarios.PhaseFault, []Window{win(5, 20)}},
		// A fault never recovered lasts to the end of the load: no recovery.
		{"unrecovered", Timeline{Start: at(0), End: at(40), Faults: []Span{{Fault: "a", Start: at(5)}}},
			scenarios.PhaseFault, []Window{win(5, 40)}},
		{"unrecovered recovery", Timeline{Start: at(0), End: at(40), Faults: []Span{{Fault: "a", Start: at(5)}}},
			scenarios.PhaseRecovery, nil},
		// Adjacent faults merge: no between of no length.
		{"adjacent", Timeline{Start: at(0), End: at(40), Faults: []Span{
			{Fault: "a", Start: at(5), End: at(10)}, {Fault: "b", Start: at(10), End: at(20)}}},
			scenarios.PhaseBetween, nil},
		// An instant fault at 15 has no fault window but splits between: [10, 15) and [15, 20).
		{"instant fault", Timeline{Start: at(0), End: at(40), Faults: []Span{
			{Fault: "a", Start: at(5), End: at(10)}, {Fault: "kill", Start: at(15), End: at(15)}, {Fault: "b", Start: at(20), End: at(25)}}},
			scenarios.PhaseBetween, []Window{win(10, 15), win(15, 20)}},
		{"instant fault only", Timeline{Start: at(0), End: at(40), Faults: []Span{{Fault: "kill", Start: at(15), End: at(15)}}},
			scenarios.PhaseFault, nil},
		{"instant fault only warmup", Timeline{Start: at(0), End: at(40), Faults: []Span{{Fault: "kill", Start: at(15), End: at(15)}}},
			scenarios.PhaseWarmup, []Window{win(0, 15)}},
		{"instant fault only recovery", Timeline{Start: at(0), End: at(40), Faults: []Span{{Fault: "kill", Start: at(15), End: at(15)}}},
			scenarios.PhaseRecovery, []Window{win(15, 40)}},
		// A fault injected before the load started: no warmup.
		{"early", Timeline{Start: at(0), End: at(40), Faults: []Span{{Fault: "a", Start: at(-5), End: at(5)}}},
			scenarios.PhaseWarmup, nil},
		{"early fault", Timeline{Start: at(0), End: at(40), Faults: []Span{{Fault: "a", Start: at(-5), End: at(5)}}},
			scenarios.PhaseFault, []Window{win(0, 5)}},
		// A fault wholly outside the load is no fault.
		{"outside", Timeline{Start: at(0), End: at(40), Faults: []Span{{Fault: "a", Start: at(-9), End: at(-5)}, {Fault: "b", Start: at(45), End: at(50)}}},
			scenarios.PhaseWarmup, []Window{win(0, 40)}},
		// A load of no length has no phase at all.
		{"empty load", Timeline{Start: at(10), End: at(10)}, scenarios.PhaseAll, nil},
		// A fault recovered after the load ended is clipped to it.
		{"clipped", Timeline{Start: at(0), End: at(40), Faults: []Span{{Fault: "a", Start: at(35), End: at(45)}}},
			scenarios.PhaseFault, []Window{win(35, 40)}},
	}
	for _, tt := range tests {
		got := tt.tl.Windows(tt.phase)
		if !equalWindows(got, tt.want) {
			t.Errorf("%s: Windows(%s) = %v; want %v", tt.name, tt.phase, got, tt.want)
		}
	}
}

func twoFaults() Timeline {
	return Timeline{Start: at(0), End: at(40), Faults: []Span{
		{Fault: "kill", Start: at(24), End: at(26)},
		{Fault: "slow", Start: at(10), End: at(18)},
	}}
}

func TestPhaseWindowsMerges(t *testing.T) {
	got := twoFaults().PhaseWindows([]scenarios.Phase{scenarios.PhaseWarmup, scenarios.PhaseFault, scenarios.PhaseRecovery})
	want := []Window{win(0, 18), win(24, 40)}
	if !equalWindows(got, want) {
		t.Errorf("PhaseWindows(warmup, fault, recovery) = %v; want %v", got, want)
	}
}

func equalWindows(a, b []Window) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Start.Equal(b[i].Start) || !a[i].End.Equal(b[i].End) {
			return false
		}
	}
	return true
}

// phases are the phases that tile the load.
var phases = []scenarios.Phase{scenarios.PhaseWarmup, scenarios.PhaseFault, scenarios.PhaseBetween, scenarios.PhaseRecovery}

// checkTiles reports, through t, any hole or overlap in the windows of
// warmup, fault, between and recovery of tl, and any difference between their
// union and all.
func checkTiles(t *testing.T, name string, tl Timeline) {
	t.Helper()
	var ws []Window
	for _, p := range phases {
		for _, w := range tl.Windows(p) {
			if !w.End.After(w.Start) {
				t.Errorf("%s: Windows(%s) has %v, of no length", name, p, w)
			}
			ws = append(ws, w)
		}
	}
	slices.SortFunc(ws, func(a, b Window) int { return a.Start.Compare(b.Start) })
	next := tl.Start
	for _, w := range ws {
		if !w.Start.Equal(next) {
			t.Errorf("%s: the phases %v have a hole or an overlap at %s: %v", name, phases, next.Sub(t0), ws)
			return
		}
		next = w.End
	}
	if !next.Equal(tl.End) {
		t.Errorf("%s: the phases %v end at %s; want the end of the load %s: %v", name, phases, next.Sub(t0), tl.End.Sub(t0), ws)
	}
	if got, want := tl.PhaseWindows(phases), tl.Windows(scenarios.PhaseAll); !equalWindows(got, want) {
		t.Errorf("%s: PhaseWindows(%v) = %v; want all, %v", name, phases, got, want)
	}
}

func TestPhasesTileTheLoad(t *testing.T) {
	load := func(faults ...Span) Timeline { return Timeline{Start: at(0), End: at(40), Faults: faults} }
	span := func(from, to float64) Span { return Span{Fault: "f", Start: at(from), End: at(to)} }
	tests := []struct {
		name string
		tl   Timeline
	}{
		{"no faults", load()},
		{"two faults", twoFaults()},
		{"overlapping", load(span(5, 15), span(12, 20), span(30, 35))},
		{"nested", load(span(5, 30), span(10, 12))},
		{"adjacent", load(span(5, 10), span(10, 20))},
		{"instant", load(span(15, 15))},
		{"instant between two", load(span(5, 10), span(15, 15), span(20, 25))},
		{"instant at the start of the load", load(span(0, 0), span(20, 25))},
		{"instant at the end of the load", load(span(5, 10), span(40, 40))},
		{"never recovered", load(span(5, 10), Span{Fault: "f", Start: at(20)})},
		{"starts before the load", load(span(-5, 5), span(20, 25))},
		{"ends after the load", load(span(5, 10), span(35, 50))},
		{"covers the load", load(span(-5, 50))},
		{"wholly outside", load(span(-9, -5), span(45, 50))},
		{"ends at the start of the load", load(span(-9, 0))},
		{"starts at the end of the load", load(span(40, 50))},
		{"unordered", load(span(30, 35), span(5, 10), span(20, 25))},
	}
	for _, tt := range tests {
		checkTiles(t, tt.name, tt.tl)
	}
}

// TestPhasesTileRandomSpans checks the tiling on random spans: a fixed seed,
// so a failure is reproduced by running the test again.
func TestPhasesTileRandomSpans(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// point returns a time in [-10, 50] seconds on a coarse grid, so that
	// spans often touch, coincide and are instants.
	point := func() float64 { return float64(rng.IntN(31)*2 - 10) }
	for i := range 2000 {
		tl := Timeline{Start: at(0), End: at(40)}
		for range rng.IntN(6) {
			s := Span{Fault: "f", Start: at(point())}
			switch rng.IntN(5) {
			case 0: // never recovered
			case 1: // instant
				s.End = s.Start
			default:
				s.End = s.Start.Add(time.Duration(rng.IntN(20)) * time.Second)
			}
			tl.Faults = append(tl.Faults, s)
		}
		checkTiles(t, fmt.Sprintf("random timeline %d %v", i, spansOf(tl)), tl)
	}
}

// spansOf renders the fault spans of tl in seconds after t0.
func spansOf(tl Timeline) []string {
	var out []string
	for _, f := range tl.Faults {
		end := "∞"
		if !f.End.IsZero() {
			end = fmt.Sprint(f.End.Sub(t0).Seconds())
		}
		out = append(out, fmt.Sprintf("[%v, %s)", f.Start.Sub(t0).Seconds(), end))
	}
	return out
}
