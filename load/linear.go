package load

import (
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/scenarios"
)

// linearPacer paces a linear profile: the rate goes from From at 0 to To at
// du, in a straight line, then stays at To.
//
// Vegeta's LinearPacer has the same shape but is not used: its Pace sends a
// hit at 0 and then waits (hits+1 − H(t)) intervals at the current rate, a
// first-order step that a steep ramp from a low rate overshoots by far (from
// 1/s to 1000/s in 10s it waits 2s for its second hit, where 0.19s is due,
// then sends the backlog at once), and a From of 0 means an unbounded rate
// to it. A ramps solves for each hit exactly.
func linearPacer(l scenarios.LinearProfile, du time.Duration) vegeta.Pacer {
	return newRamps(piece{du, l.From.PerSecond(), l.To.PerSecond()})
}
