package load

import (
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/scenarios"
)

// stepsPacer paces a steps profile: one piece per stage, flat at the
// stage's rate, or with Ramp going from the previous stage's rate (0 before
// the first) to the stage's. After the last stage its rate holds; the
// stages last the stream's duration, so nothing is sent then.
func stepsPacer(stages []scenarios.Stage) vegeta.Pacer {
	pieces := make([]piece, len(stages))
	var prev float64
	for i, st := range stages {
		r := st.Rate.PerSecond()
		from := r
		if st.Ramp {
			from = prev
		}
		pieces[i] = piece{st.Duration, from, r}
		prev = r
	}
	return newRamps(pieces...)
}
