package slo

import (
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
		// Two disjoint faults: two fault windows; the gap is neither warmup nor recovery.
		{"two faults", twoFaults(), scenarios.PhaseFault, []Window{win(10, 18), win(24, 26)}},
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
