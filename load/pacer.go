package load

import (
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// stoppingPacer wraps a Pacer so that an attack ends on time and on demand,
// and so that the attack stays an open model when its workers are all busy.
//
// Vegeta sleeps the wait a Pacer returns without watching Stop, and sends one
// more hit after it: at a low rate that is a long, deaf sleep. This pacer
// does the waiting itself, watching done, and returns a zero wait when the
// hit is due.
//
// When a hit is due and full says every worker is busy, Vegeta (v12.12.0)
// would block its send until a worker frees, then send the hits it owes as
// fast as workers free: a burst the schedule never asked for, and at the
// end of Duration the hits still owed are silently never sent. This pacer
// drops such a hit instead, tells drop when it was due, and paces the next
// one from the schedule:
//
//	hit h due in w ─┬─ elapsed+w > du ───────────▶ stop now (no hit after Duration)
//	                ├─ done closes while waiting ─▶ stop
//	                └─ w passes ─┬─ a worker free ▶ hit now
//	                             └─ all busy ─────▶ drop h, pace h+1
//
// Vegeta counts the hits it sent; the inner Pacer sees sent + dropped, so
// the schedule is the inner Pacer's whatever the target does. Pace is called
// by one goroutine only (the attack's loop), as Vegeta does, each time after
// the previous hit was handed to a worker.
type stoppingPacer struct {
	inner vegeta.Pacer
	du    time.Duration   // 0: no end
	done  <-chan struct{} // closed to stop
	timer *time.Timer

	// full reports whether every worker is busy, given the hits sent so
	// far; nil: never.
	full func(sent uint64) bool
	// drop is told of every dropped hit, with when it was due; nil: nobody.
	drop func(due time.Time)

	began   time.Time // the attack's start, learned at the first Pace
	dropped uint64    // hits dropped so far
}

var _ vegeta.Pacer = (*stoppingPacer)(nil)

func newStoppingPacer(inner vegeta.Pacer, du time.Duration, done <-chan struct{}) *stoppingPacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &stoppingPacer{inner: inner, du: du, done: done, timer: t}
}

// Pace waits until the next hit is due and a worker can take it, and
// returns a zero wait, or stops.
func (p *stoppingPacer) Pace(elapsed time.Duration, sent uint64) (time.Duration, bool) {
	entered := time.Now()
	if p.began.IsZero() {
		p.began = entered.Add(-elapsed)
	}
	for {
		now := elapsed + time.Since(entered)
		wait, stop := p.inner.Pace(now, sent+p.dropped)
		if stop || (p.du > 0 && now+wait > p.du) {
			return 0, true
		}
		// Asked again once the wait has passed, a Pacer may say the hit
		// is overdue and due now, after Duration: it is due at now+wait.
		due := now + wait
		if wait > 0 {
			p.timer.Reset(wait)
			select {
			case <-p.done:
				p.timer.Stop()
				return 0, true
			case <-p.timer.C:
			}
		} else {
			select {
			case <-p.done:
				return 0, true
			default:
			}
		}
		if p.full == nil || !p.full(sent) {
			return 0, false
		}
		p.dropped++
		if p.drop != nil {
			p.drop(p.began.Add(due)) // before now when the hit was overdue
		}
	}
}

// Dropped is how many hits Pace has dropped so far. Read it once the
// attack has ended.
func (p *stoppingPacer) Dropped() uint64 { return p.dropped }

// Rate is the inner Pacer's rate.
func (p *stoppingPacer) Rate(elapsed time.Duration) float64 { return p.inner.Rate(elapsed) }
