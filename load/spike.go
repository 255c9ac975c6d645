package load

import (
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/scenarios"
)

// spikePacer paces a spike profile: Base until At, Peak for For, Base
// again to du. The rate jumps; the hits follow it exactly (see ramps).
//
//	Peak ┤        ┌─────┐
//	Base ┤────────┘     └──────
//	     0       At   At+For   du
func spikePacer(s scenarios.SpikeProfile, du time.Duration) vegeta.Pacer {
	base, peak := s.Base.PerSecond(), s.Peak.PerSecond()
	return newRamps(
		piece{s.At, base, base},
		piece{s.For, peak, peak},
		piece{du - s.At - s.For, base, base},
	)
}
