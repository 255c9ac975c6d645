// Package slo judges a run: SLO verdicts (and later RTO and RPO) from the
// run's data. Everything here is a pure function of its arguments: no I/O,
// no wall clock, so the same code judges a live run and a stored one.
package slo

import (
	"slices"
	"time"

	"github.com/gameday/gameday/scenarios"
)

// Window is a half-open interval of time [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Duration is the window's length.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// Contains reports whether t is in [Start, End).
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

// Span is the time one fault was active.
type Span struct {
	Fault string
	Start time.Time
	// End is when the fault was recovered; zero when it never was.
	End time.Time
}

// Timeline is what happened in a run, as far as phases are concerned.
type Timeline struct {
	// Start and End bound the load.
	Start, End time.Time
	Faults     []Span
}

// faultWindows returns the union of the fault spans, clipped to the load,
// in time order. A fault never recovered lasts until the end of the load. An
// instant fault is a window of no length; one wholly outside the load is
// none.
func (tl Timeline) faultWindows() []Window {
	var ws []Window
	for _, f := range tl.Faults {
		w := Window{Start: f.Start, End: f.End}
		if w.End.IsZero() || w.End.After(tl.End) {
			w.End = tl.End
		}
		if w.Start.Before(tl.Start) {
			w.Start = tl.Start
		}
		// An instant fault (a kill recovered at once) still marks a phase boundary.
		if w.End.Before(w.Start) {
			continue
		}
		ws = append(ws, w)
	}
	return merge(ws)
}

// merge returns the union of ws as disjoint windows in time order.
func merge(ws []Window) []Window {
	ws = slices.Clone(ws)
	slices.SortFunc(ws, func(a, b Window) int { return a.Start.Compare(b.Start) })
	var out []Window
	for _, w := range ws {
		if n := len(out); n > 0 && !w.Start.After(out[n-1].End) {
			if w.End.After(out[n-1].End) {
				out[n-1].End = w.End
			}
			continue
		}
		out = append(out, w)
	}
	return out
}

// Windows returns the windows of phase p, in time order; none when the phase
// did not occur (a fault phase in a run without faults, say).
//
// Warmup, fault, between and recovery cover the load [Start, End) without
// holes or overlaps; all is the whole load:
//
//	load      ├──────────────────────────────────────────────┤
//	faults             ├────┤  ├──┤       ·          ├────────── (never recovered)
//	warmup    ├────────┤
//	fault              ├────┤  ├──┤                  ├──────────┤
//	between                 ├──┤  ├───────·──────────┤
//	recovery  (none: the last fault never ended)
//
// Fault is the union of the fault spans, clipped to the load, a fault never
// recovered lasting to the end of the load; overlapping and adjacent spans
// merge. Warmup runs from the start of the load to the first injection,
// between from the end of one fault window to the start of the next, and
// recovery from the end of the last fault window to the end of the load.
// An instant fault (a kill recovered at once, the · above) has no fault
// window but still ends the warmup and splits between. Without faults,
// warmup is the whole load. A phase of no length has no window.
func (tl Timeline) Windows(p scenarios.Phase) []Window {
	all := Window{Start: tl.Start, End: tl.End}
	faults := tl.faultWindows()
	switch p {
	case scenarios.PhaseAll:
		return nonEmpty([]Window{all})
	case scenarios.PhaseFault:
		return nonEmpty(faults)
	case scenarios.PhaseWarmup:
		if len(faults) == 0 {
			return nonEmpty([]Window{all})
		}
		return nonEmpty([]Window{{Start: tl.Start, End: faults[0].Start}})
	case scenarios.PhaseBetween:
		var ws []Window
		for i := 1; i < len(faults); i++ {
			ws = append(ws, Window{Start: faults[i-1].End, End: faults[i].Start})
		}
		return nonEmpty(ws)
	case scenarios.PhaseRecovery:
		if len(faults) == 0 {
			return nil
		}
		return nonEmpty([]Window{{Start: faults[len(faults)-1].End, End: tl.End}})
	}
	return nil
}

func nonEmpty(ws []Window) []Window {
	out := ws[:0:0]
	for _, w := range ws {
		if w.End.After(w.Start) {
			out = append(out, w)
		}
	}
	return out
}

// PhaseWindows returns the windows of every phase in ps, merged and in time
// order.
func (tl Timeline) PhaseWindows(ps []scenarios.Phase) []Window {
	var ws []Window
	for _, p := range ps {
		ws = append(ws, tl.Windows(p)...)
	}
	return merge(ws)
}
