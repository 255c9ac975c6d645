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
// waits for a worker (a signal on freed) until the hit is late by late,
// then drops it, tells drop when it was due, and paces the next one from
// the schedule:
//
//	hit h due in w ─┬─ elapsed+w > du ───────────▶ stop now (no hit after Duration)
//	                ├─ done closes while waiting ─▶ stop
//	                └─ w passes ─┬─ a worker free ─────────────▶ hit now
//	                             └─ all busy ─┬─ one frees by due+late ▶ hit now (late)
//	                                          └─ none ──────────────── ▶ drop h, pace h+1
//
// So a hit is sent at most late after it was due, and a stall of the
// target costs at most late's worth of hits in a burst after it.
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
	// handing is told, when Pace lets a hit go, how many hits the attack
	// will then have handed to its workers; nil: nobody.
	handing func(handed uint64)
	// drop is told of every dropped hit, with when it was due; nil: nobody.
	drop func(due time.Time)
	// freed receives (or holds) a signal when a worker may have become
	// free; nil: a due hit is dropped at once when every worker is busy.
	freed <-chan struct{}
	// late is how long after its due time a hit may wait for a worker.
	late time.Duration

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
		if p.full == nil || !p.full(sent) || p.waitForWorker(sent, due) {
			if p.handing != nil {
				p.handing(sent + 1)
			}
			return 0, false
		}
		if p.isDone() {
			return 0, true
		}
		p.dropped++
		if p.drop != nil {
			p.drop(p.began.Add(due)) // before now when the hit was overdue
		}
	}
}

// waitForWorker waits until a worker is free, the hit due at due is late
// by p.late, or done closes; true when a worker is free.
func (p *stoppingPacer) waitForWorker(sent uint64, due time.Duration) bool {
	if p.freed == nil {
		return false
	}
	deadline := p.began.Add(due + p.late)
	for {
		d := time.Until(deadline)
		if d <= 0 {
			return !p.full(sent)
		}
		p.timer.Reset(d)
		select {
		case <-p.done:
			p.timer.Stop()
			return false
		case <-p.freed:
			p.timer.Stop()
		case <-p.timer.C:
		}
		if !p.full(sent) {
			return true
		}
	}
}

func (p *stoppingPacer) isDone() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// settle drops, once an attack that ran to its Duration has ended, the
// hits due by then that were neither sent nor dropped: a hit that waited
// for a worker past the end, or Vegeta ending its loop after a late hit
// without asking again. sent is how many hits the attack sent. Then sent +
// Dropped is every hit the schedule made due.
func (p *stoppingPacer) settle(sent uint64) {
	if p.du <= 0 || p.began.IsZero() {
		return
	}
	for range 1 << 20 { // a rate is finite: a bound, not a limit
		wait, stop := p.inner.Pace(p.du, sent+p.dropped)
		if stop || wait > 0 {
			return
		}
		p.dropped++
		if p.drop != nil {
			p.drop(p.began.Add(p.du + wait)) // overdue: a Pacer may not say by how much
		}
	}
}

// Dropped is how many hits Pace has dropped so far. Read it once the
// attack has ended.
func (p *stoppingPacer) Dropped() uint64 { return p.dropped }

// Rate is the inner Pacer's rate.
func (p *stoppingPacer) Rate(elapsed time.Duration) float64 { return p.inner.Rate(elapsed) }
