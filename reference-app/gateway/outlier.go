package gateway

import "time"

// Passive outlier ejection, from the outcome of every proxied attempt:
//
//	           connection error, or N-th 502/503/504 in a row
//	routable ─────────────────────────────────────────────────▶ ejected for
//	    ▲                                                      base × 2^k (≤ max)
//	    │ N successes in a row: k = 0                                │ time passes
//	    └──────────────────────── probation ◀───────────────────────┘
//	                                  │ one failure: ejected again, k+1
//	                                  └──────────────────────────────▶
//
// An ejection that would leave no routable upstream is not made (the
// panic threshold): the last one keeps taking traffic. Timeouts and
// cancelled requests are no verdict on the upstream; nor is an answer to a
// request sent before the ejection.

// Ejection reasons: the reason label of refapp_gateway_ejections_total.
const (
	// ReasonConnectionError: the upstream could not be reached, or closed
	// the connection without an answer. One is enough.
	ReasonConnectionError = "connection_error"
	// ReasonConsecutiveFailures: the ejection threshold of 502/503/504 in a
	// row.
	ReasonConsecutiveFailures = "consecutive_failures"
	// ReasonProbation: a 502/503/504 while on probation after an ejection.
	ReasonProbation = "probation"
)

// attemptSucceeded records that u answered, with a status other than
// 502/503/504, an attempt sent at or before now.
func (g *Gateway) attemptSucceeded(u *upstream, now time.Time) {
	if u.streak.Load() == 0 && !u.probation.Load() {
		return // nothing to reset: no lock on the common path
	}
	g.ejectMu.Lock()
	defer g.ejectMu.Unlock()
	if u.ejected(now) {
		return
	}
	u.streak.Store(0)
	u.spared = false
	if u.probation.Load() {
		u.probationOKs++
		if u.probationOKs >= g.opts.ejectAfter {
			u.probation.Store(false)
			u.ejections = 0
			g.opts.log.Info("upstream passed probation", "upstream", u.name)
		}
	}
}

// attemptFailed records that an attempt on u failed at now: with a
// connection error (connErr) or a 502/503/504. It ejects u when that is
// due and allowed.
func (g *Gateway) attemptFailed(u *upstream, now time.Time, connErr bool, cause string) {
	g.ejectMu.Lock()
	defer g.ejectMu.Unlock()
	if u.ejected(now) {
		return
	}
	n := u.streak.Add(1)
	var reason string
	switch {
	case connErr:
		reason = ReasonConnectionError
	case u.probation.Load():
		reason = ReasonProbation
	case n >= int64(g.opts.ejectAfter):
		reason = ReasonConsecutiveFailures
	default:
		return
	}
	if !g.othersRoutable(u, now) {
		if !u.spared {
			u.spared = true
			g.opts.log.Warn("upstream not ejected: it is the last routable one", "upstream", u.name, "reason", reason, "failures", n, "cause", cause)
		}
		return
	}
	d := g.ejectionTime(u.ejections)
	u.ejections++
	u.ejectedUntil.Store(now.Add(d).UnixNano())
	u.probation.Store(true)
	u.probationOKs = 0
	u.streak.Store(0)
	u.spared = false
	g.metrics.ejections.WithLabelValues(u.name, reason).Inc()
	g.opts.log.Warn("upstream ejected", "upstream", u.name, "reason", reason, "for", d.String(), "cause", cause)
}

// ejectionTime is the length of an ejection after k earlier ones in a row:
// base doubled k times, capped at the maximum.
func (g *Gateway) ejectionTime(k int) time.Duration {
	d := g.opts.ejectBase
	for i := 0; i < k && d < g.opts.ejectMax; i++ {
		d *= 2
	}
	return min(d, g.opts.ejectMax)
}

// othersRoutable reports whether an upstream other than u is routable at
// now; g.ejectMu must be held.
func (g *Gateway) othersRoutable(u *upstream, now time.Time) bool {
	for _, o := range g.set.Load().members {
		if o != u && o.routable(now) {
			return true
		}
	}
	return false
}
