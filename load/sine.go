package load

import (
	"math"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/scenarios"
)

// sinePacer paces a sine profile with Vegeta's SinePacer, whose shape it is
// exactly: rate Mean + Amp·sin(StartAt + 2πt/Period), the n-th hit when its
// integral reaches n (solved numerically to 1e-3 hits). The profile's Phase
// is a time shift: StartAt = 2π·Phase/Period. SinePacer stops at once
// unless Amp < Mean, which validation requires.
func sinePacer(s scenarios.SineProfile) vegeta.Pacer {
	return vegeta.SinePacer{
		Period:  s.Period,
		Mean:    vegeta.Rate{Freq: s.Mean.Freq, Per: s.Mean.Per},
		Amp:     vegeta.Rate{Freq: s.Amplitude.Freq, Per: s.Amplitude.Per},
		StartAt: 2 * math.Pi * float64(s.Phase) / float64(s.Period),
	}
}
