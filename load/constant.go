package load

import (
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/scenarios"
)

// constantPacer paces a constant profile with Vegeta's ConstantPacer: the
// n-th hit at n × Per/Freq, exact.
func constantPacer(c scenarios.ConstantProfile) vegeta.Pacer {
	return vegeta.Rate{Freq: c.Rate.Freq, Per: c.Rate.Per}
}
