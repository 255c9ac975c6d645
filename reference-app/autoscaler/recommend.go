// Package autoscaler is the reference backend's horizontal autoscaler for
// the api replicas behind the gateway: it reads a load signal from the
// gateway's metrics, decides a replica count as Kubernetes' Horizontal Pod
// Autoscaler does, runs the extra replicas as child processes, and tells
// the gateway through its upstreams file (file-based discovery), draining
// a replica at the gateway before it stops it, so that scaling fails no
// request.
//
//	every interval:
//	  gateway /metrics ──▶ mean requests in flight over the interval
//	                       (rate of refapp_gateway_upstream_busy_seconds_total)
//	  Recommend: raw = ceil(in flight / target per replica), within min..max,
//	             held within a tolerance; stabilised: up to the lowest raw
//	             of the up window, down to the highest raw of the down window
//	  grow:   start replicas ─▶ each /readyz 200 ─▶ write the upstreams file
//	  shrink: write the file without the newest ─▶ gateway drained it
//	          (no longer in its metrics) ─▶ SIGTERM ─▶ the replica drains
package autoscaler

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// DefaultTolerance is the relative gap between the load per replica and
// the target within which the replica count is held (Kubernetes' 10 %).
const DefaultTolerance = 0.1

// Policy is how the autoscaler sizes the replica set.
type Policy struct {
	// Min and Max bound the number of replicas, 1 <= Min <= Max.
	Min, Max int
	// Target is the mean number of requests in flight per replica the
	// autoscaler aims at, > 0.
	Target float64
	// Tolerance: no change while the load per replica is within this
	// fraction of Target (default DefaultTolerance when 0; < 0 is refused).
	Tolerance float64
	// UpWindow and DownWindow are the stabilisation windows: the count
	// rises only to the lowest recommendation of the last UpWindow, and
	// falls only to the highest of the last DownWindow, so that a short
	// spike or lull does not scale (Kubernetes' behavior.scaleUp and
	// scaleDown stabilizationWindowSeconds). 0: the latest alone.
	UpWindow, DownWindow time.Duration
}

// Validate returns every problem of p.
func (p Policy) Validate() error {
	var errs []error
	if p.Min < 1 || p.Max < p.Min {
		errs = append(errs, fmt.Errorf("replicas %d to %d: want 1 <= min <= max", p.Min, p.Max))
	}
	if !(p.Target > 0) || math.IsInf(p.Target, 0) {
		errs = append(errs, fmt.Errorf("target %v requests in flight per replica: want > 0", p.Target))
	}
	if !(p.Tolerance >= 0) || p.Tolerance >= 1 {
		errs = append(errs, fmt.Errorf("tolerance %v: want a fraction from 0 to below 1", p.Tolerance))
	}
	if p.UpWindow < 0 || p.DownWindow < 0 {
		errs = append(errs, fmt.Errorf("stabilisation windows up %v, down %v: want >= 0", p.UpWindow, p.DownWindow))
	}
	return errors.Join(errs...)
}

// Recommender turns load samples into a replica count under a Policy. It
// keeps the recent raw recommendations; it is not safe for concurrent use.
type Recommender struct {
	policy  Policy
	history []recommendation // oldest first, within the longer window
}

type recommendation struct {
	at       time.Time
	replicas int
}

// NewRecommender returns a Recommender for p, which must be valid.
func NewRecommender(p Policy) (*Recommender, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("new recommender: %w", err)
	}
	if p.Tolerance == 0 {
		p.Tolerance = DefaultTolerance
	}
	return &Recommender{policy: p}, nil
}

// Raw returns the replica count that load (mean requests in flight over
// the whole set) calls for with current replicas, before stabilisation:
// ceil(load / Target) within Min..Max, or current (within Min..Max) when
// the load per replica is within the tolerance of the target.
func (r *Recommender) Raw(current int, load float64) int {
	p := r.policy
	want := int(math.Ceil(load / p.Target))
	if current > 0 && math.Abs(load/(float64(current)*p.Target)-1) <= p.Tolerance {
		want = current
	}
	return min(max(want, p.Min), p.Max)
}

// Recommend records the raw recommendation for load at now and returns the
// stabilised replica count: current (within Min..Max) unless every raw
// recommendation of the up window is above it (then the lowest of them)
// or every one of the down window is below it (then the highest).
func (r *Recommender) Recommend(now time.Time, current int, load float64) int {
	raw := r.Raw(current, load)
	r.history = append(r.history, recommendation{now, raw})
	keep := max(r.policy.UpWindow, r.policy.DownWindow)
	for len(r.history) > 1 && now.Sub(r.history[0].at) > keep {
		r.history = r.history[1:]
	}
	up, down := raw, raw
	for _, h := range r.history {
		age := now.Sub(h.at)
		if age <= r.policy.UpWindow {
			up = min(up, h.replicas)
		}
		if age <= r.policy.DownWindow {
			down = max(down, h.replicas)
		}
	}
	desired := min(max(current, r.policy.Min), r.policy.Max)
	switch {
	case desired < up:
		desired = up
	case desired > down:
		desired = down
	}
	return desired
}
