package scenarios

import (
	"fmt"
	"math"
	"time"
)

// Bounds of a time scale (see WithTimeScale).
const (
	MinTimeScale float64 = 0.01
	MaxTimeScale float64 = 100
)

// WithTimeScale plays the scenario's timeline f times as long: f = 0.25
// runs a 40 s game day in 10 s, for a quick check in CI. It scales, after
// the defaults are filled in and before validation, the instants and
// spans of the timeline: each stream's start and duration and the
// durations of its profile (steps, spike, sine), each fault's at, for and
// repeat interval. What the system is asked to do is not scaled: rates,
// latencies of toxics, timeouts, restart delays, scrape intervals, SLO
// steps and windows, RTO and RPO objectives and their windows, probe
// intervals. A scaled timeline is rounded to the millisecond. f must be in
// [MinTimeScale, MaxTimeScale]; 1 changes nothing. A run records its
// scale in its run directory, so that it is judged again as it was
// played.
func WithTimeScale(f float64) LoadOption {
	return func(o *loadOptions) { o.timeScale = f }
}

// CheckTimeScale reports whether f is a time scale WithTimeScale takes.
func CheckTimeScale(f float64) error {
	if !(f >= MinTimeScale && f <= MaxTimeScale) {
		return fmt.Errorf("time scale %g: want a factor in [%g, %g] (0.25 plays the timeline four times faster)", f, MinTimeScale, MaxTimeScale)
	}
	return nil
}

// scaleTimeline multiplies the timeline of s by f (see WithTimeScale).
func (s *Scenario) scaleTimeline(f float64) {
	if f == 1 || f <= 0 {
		return
	}
	sc := func(d *time.Duration) {
		if *d > 0 {
			*d = time.Duration(math.Round(float64(*d)*f/float64(time.Millisecond))) * time.Millisecond
			*d = max(*d, time.Millisecond)
		}
	}
	for i := range s.Load {
		l := &s.Load[i]
		sc(&l.Start)
		sc(&l.Duration)
		p := &l.Profile
		for j := range p.Steps {
			sc(&p.Steps[j].Duration)
		}
		if p.Spike != nil {
			sc(&p.Spike.At)
			sc(&p.Spike.For)
		}
		if p.Sine != nil {
			sc(&p.Sine.Period)
			sc(&p.Sine.Phase)
		}
	}
	for i := range s.Faults {
		f := &s.Faults[i]
		sc(&f.At)
		sc(&f.For)
		if f.Repeat != nil {
			sc(&f.Repeat.Every)
		}
	}
}
