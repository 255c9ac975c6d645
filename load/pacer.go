package load

import (
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// stoppingPacer wraps a Pacer so that an attack ends on time and on demand.
// Vegeta sleeps the wait a Pacer returns without watching Stop, and sends one
// more hit after it: at a low rate that is a long, deaf sleep. This pacer
// does the waiting itself, watching done, and returns a zero wait when the
// hit is due:
//
//	inner wants the next hit in w ─┬─ elapsed+w > du ──────────▶ stop now (no hit after Duration)
//	                               ├─ done closes while waiting ▶ stop
//	                               └─ w passes ────────────────▶ hit now
//
// Pace is called by one goroutine only (the attack's loop), as Vegeta does.
type stoppingPacer struct {
	inner vegeta.Pacer
	du    time.Duration   // 0: no end
	done  <-chan struct{} // closed to stop
	timer *time.Timer
}

var _ vegeta.Pacer = (*stoppingPacer)(nil)

func newStoppingPacer(inner vegeta.Pacer, du time.Duration, done <-chan struct{}) *stoppingPacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &stoppingPacer{inner: inner, du: du, done: done, timer: t}
}

// Pace waits until the next hit is due and returns a zero wait, or stops.
func (p *stoppingPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	wait, stop := p.inner.Pace(elapsed, hits)
	if stop || (p.du > 0 && elapsed+wait > p.du) {
		return 0, true
	}
	if wait <= 0 {
		select {
		case <-p.done:
			return 0, true
		default:
			return 0, false
		}
	}
	p.timer.Reset(wait)
	select {
	case <-p.done:
		p.timer.Stop()
		return 0, true
	case <-p.timer.C:
		return 0, false
	}
}

// Rate is the inner Pacer's rate.
func (p *stoppingPacer) Rate(elapsed time.Duration) float64 { return p.inner.Rate(elapsed) }
