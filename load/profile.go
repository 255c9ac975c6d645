package load

import (
	"fmt"
	"math"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/scenarios"
)

// peaker is a Pacer that knows its highest rate.
type peaker interface {
	peak() float64 // hits per second
}

// peakSamples is how many instants peakRate samples the rate of a Pacer it
// knows nothing about.
const peakSamples = 1000

// peakRate is the highest rate, in hits per second, that p asks for within
// du (0: no end; a rate that grows without end has an infinite peak).
// Exact for Vegeta's pacers and this package's; any other Pacer is sampled
// at peakSamples instants over du (the first hour when du is 0), which
// can miss a narrow peak.
func peakRate(p vegeta.Pacer, du time.Duration) float64 {
	switch p := p.(type) {
	case vegeta.ConstantPacer:
		return p.Rate(0)
	case vegeta.SinePacer:
		return (p.Mean.Rate(0) + p.Amp.Rate(0))
	case vegeta.LinearPacer:
		if p.Slope > 0 && du == 0 {
			return math.Inf(1)
		}
		return max(p.Rate(0), p.Rate(du))
	case peaker:
		return p.peak()
	}
	span := du
	if span == 0 {
		span = time.Hour
	}
	var m float64
	for i := range peakSamples + 1 {
		m = max(m, p.Rate(span*time.Duration(i)/peakSamples))
	}
	return m
}

// shareOfPacer is p's share w/sum (0 < w <= sum): the pacer of a request
// that has weight w of a mix whose weights add up to sum. Exact for Vegeta's
// pacers and this package's (their rates are scaled); any other Pacer is
// wrapped in a sharedPacer.
func shareOfPacer(p vegeta.Pacer, w, sum int) vegeta.Pacer {
	if w == sum {
		return p
	}
	f := float64(w) / float64(sum)
	switch p := p.(type) {
	case vegeta.ConstantPacer:
		return shareOf(p, w, sum)
	case vegeta.SinePacer:
		p.Mean, p.Amp = shareOf(p.Mean, w, sum), shareOf(p.Amp, w, sum)
		return p
	case vegeta.LinearPacer:
		p.StartAt, p.Slope = shareOf(p.StartAt, w, sum), p.Slope*f
		return p
	case *ramps:
		return p.scaled(f)
	}
	return &sharedPacer{inner: p, w: uint64(w), sum: uint64(sum)} //nolint:gosec // G115: 0 < w <= sum
}

// sharedPacer is the share w/sum of a Pacer it knows nothing about: its
// k-th hit (from 1) is sent when the whole stream's ⌈k·sum/w⌉-th would be.
// Its count follows the share exactly; each hit is at most one of the
// stream's intervals late. The inner Pacer must answer for any count of
// hits, not only the next one due, as ConstantPacer and ramps do; Vegeta's
// SinePacer does not (its numerical solve, asked for a hit a few ahead,
// returns 0 for ever), which is why its shares scale Mean and Amp instead.
type sharedPacer struct {
	inner  vegeta.Pacer
	w, sum uint64
}

// Pace asks the inner Pacer for the stream's hit that this share's next
// hit falls on.
func (p *sharedPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	k := hits + 1
	if k > math.MaxUint64/p.sum {
		return 0, true
	}
	return p.inner.Pace(elapsed, (k*p.sum+p.w-1)/p.w-1)
}

// Rate is the share of the inner Pacer's rate.
func (p *sharedPacer) Rate(elapsed time.Duration) float64 {
	return p.inner.Rate(elapsed) * float64(p.w) / float64(p.sum)
}

// PacerOf returns the Pacer of a scenario stream's rate profile p, for a
// stream that lasts du: the one function that reads a profile's fields.
// p is expected valid (scenarios.Validate); the error says that it sets
// no kind, several, or one this build cannot pace.
func PacerOf(p scenarios.Profile, du time.Duration) (vegeta.Pacer, error) {
	kinds := p.Kinds()
	if len(kinds) != 1 {
		return nil, fmt.Errorf("rate profile: %d kinds set (%s), want exactly one", len(kinds), strings.Join(kinds, ", "))
	}
	build, ok := profilePacers()[kinds[0]]
	if !ok {
		return nil, fmt.Errorf("rate profile %q: no pacer for it", kinds[0])
	}
	return build(p, du), nil
}

// profilePacers maps each profile kind to the builder of its Pacer.
func profilePacers() map[string]func(p scenarios.Profile, du time.Duration) vegeta.Pacer {
	return map[string]func(scenarios.Profile, time.Duration) vegeta.Pacer{
		scenarios.ProfileConstant: func(p scenarios.Profile, _ time.Duration) vegeta.Pacer { return constantPacer(*p.Constant) },
		scenarios.ProfileLinear:   func(p scenarios.Profile, du time.Duration) vegeta.Pacer { return linearPacer(*p.Linear, du) },
		scenarios.ProfileSteps:    func(p scenarios.Profile, _ time.Duration) vegeta.Pacer { return stepsPacer(p.Steps) },
		scenarios.ProfileSpike:    func(p scenarios.Profile, du time.Duration) vegeta.Pacer { return spikePacer(*p.Spike, du) },
		scenarios.ProfileSine:     func(p scenarios.Profile, _ time.Duration) vegeta.Pacer { return sinePacer(*p.Sine) },
	}
}
