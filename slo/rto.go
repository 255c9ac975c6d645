package slo

import (
	"fmt"
	"time"

	"github.com/gameday/gameday/scenarios"
)

// Recovery is the RTO of one fault: how long after its injection the
// recovery condition held again, for good. [ClientRTO] computes it from the
// raw client results, [SeriesRTO] from a PromQL series; both judge the same
// way once they know when the condition did not hold (the breaches):
//
//	      t0    Detected                  t1                 t1 + StableFor
//	      │     │                         │                  │
//	ok ok ok ok ▓▓▓▓▓▓▓▓▓▓▓▓ ok ok ▓▓▓▓▓▓▓ ok ok ok ok ok ok ok ok ok ▓▓ ok
//	            ├─ breach ──┤      ├──────┤                           └ later: listed,
//	                         └ a flap, shorter than StableFor           not the fault's
//
//	TimeToDetect = Detected − t0    RTO = t1 − t0    Impact = the breaches' time in [t0, t1)
//
// t1 is the first instant at or after the injection from which the condition
// holds continuously, with no breach, for StableFor, and that stretch must end
// within the judged range. When the condition held for StableFor from the
// injection on, the fault had no impact: RTO is 0, and breaches that came
// later are listed but not attributed to it. When no such t1 exists the fault
// never recovered: Recovered is false, RTO is unbounded (the field is 0) and
// no objective is met.
//
// Every field is a finite value: no NaN, no infinity.
type Recovery struct {
	// Fault is the fault's name, as the Span named it.
	Fault string `json:"fault"`
	// Injected is the fault's injection time, t0.
	Injected time.Time `json:"injected"`
	// Reverted is when the fault was reverted; zero when it never was or is
	// not known. It is shown on the timeline; it does not enter the RTO (a
	// system may recover before its fault is reverted, as in a failover).
	Reverted time.Time `json:"reverted,omitzero"`
	// End is the end of the judged range: the end of the load, for a client
	// RTO rounded down to the resolution grid.
	End time.Time `json:"end"`
	// Resolution is the grid the instants below lie on: the bucket width of
	// a client RTO, the query step of a series RTO.
	Resolution time.Duration `json:"resolution"`
	// StableFor is how long the condition had to hold to count as recovered.
	StableFor time.Duration `json:"stableFor"`

	// Impacted is true when the condition broke after the injection and
	// before it recovered (or, never recovered, at all).
	Impacted bool `json:"impacted"`
	// Detected is the first instant at which the condition did not hold;
	// zero when not Impacted.
	Detected time.Time `json:"detected,omitzero"`
	// TimeToDetect is Detected − Injected; 0 when not Impacted.
	TimeToDetect time.Duration `json:"timeToDetect"`

	// Recovered is false when the condition never held for StableFor before
	// End: the RTO is unbounded and the check fails.
	Recovered bool `json:"recovered"`
	// RecoveredAt is t1; zero when not Recovered.
	RecoveredAt time.Time `json:"recoveredAt,omitzero"`
	// RTO is t1 − t0: 0 when the fault had no impact, and also 0 (read
	// Recovered!) when it is unbounded.
	RTO time.Duration `json:"rto"`
	// Impact is the total time in [t0, t1) during which the condition did
	// not hold; up to End when not Recovered.
	Impact time.Duration `json:"impact"`

	// Breaches are every interval of the judged range in which the
	// condition did not hold, in time order, including those after t1.
	Breaches []Breach `json:"breaches,omitempty"`

	// Samples is how many values the condition was judged on: the requests
	// counted in the judged range and the window before it (client), the
	// samples with a value in force in the judged range (series).
	Samples int `json:"samples"`
	// Canceled is how many requests in that range gameday itself cut short
	// (a stream stopping, an interrupt): they are not counted for or
	// against the target. Always 0 for a series.
	Canceled int `json:"canceled"`
	// NoData is how many resolution steps after t0 had no data: buckets
	// without a counted request (client), steps without a value (series).
	// A window without data does not meet the condition.
	NoData int `json:"noData"`
	// Detail says why the fault did not recover; empty when it did.
	Detail string `json:"detail,omitempty"`
}

// Breach is an interval [Start, End) in which the recovery condition did not
// hold. Start == End is a breach shorter than the resolution can place: it
// counts (the condition broke) but adds nothing to the impact.
type Breach struct {
	Start time.Time `json:"start"`
	// End is zero when the breach lasted to the end of the judged range.
	End time.Time `json:"end,omitzero"`
	// NoData is true when the condition failed, at least in part, for want
	// of data: a window without requests, a step without a value.
	NoData bool `json:"noData,omitempty"`
}

// Stable is when the stretch that proved the recovery ended, t1 +
// StableFor; zero when not Recovered.
func (r Recovery) Stable() time.Time {
	if !r.Recovered {
		return time.Time{}
	}
	return r.RecoveredAt.Add(r.StableFor)
}

// Meets reports whether the RTO meets o, an objective on a duration as
// scenarios.ParseObjective reads one (in seconds: "<= 15s" is 15). A fault
// that never recovered meets no objective.
func (r Recovery) Meets(o scenarios.Objective) bool {
	return r.Recovered && o.Met(r.RTO.Seconds())
}

// settle fills the verdict fields of r from r.Injected, r.End, r.StableFor
// and r.Breaches, which are in time order, disjoint, and start at or after
// r.Injected and at or before r.End.
func (r *Recovery) settle() {
	t0, end, stable := r.Injected, r.End, r.StableFor
	bs := r.Breaches
	// The candidates for t1 are t0 and the end of each breach; the first
	// one followed by StableFor without a breach, within the range, wins.
	candidate, k, found := t0, 0, false
	for {
		room := !candidate.Add(stable).After(end)
		if room && (k == len(bs) || !bs[k].Start.Before(candidate.Add(stable))) {
			found = true
			break
		}
		if k == len(bs) || bs[k].End.IsZero() {
			break
		}
		candidate = bs[k].End
		k++
	}
	// Breaches before t1 are the fault's impact; without a t1, all are.
	before := bs
	if found {
		before = bs[:k]
		r.Recovered = true
		r.RecoveredAt = candidate
		r.RTO = candidate.Sub(t0)
	}
	if len(before) > 0 {
		r.Impacted = true
		r.Detected = before[0].Start
		r.TimeToDetect = r.Detected.Sub(t0)
	}
	for _, b := range before {
		e := b.End
		if e.IsZero() {
			e = end
		}
		r.Impact += e.Sub(b.Start)
	}
	if found {
		return
	}
	switch {
	case !end.After(t0):
		r.Detail = "the judged range ends at the injection: recovery cannot be shown"
	case end.Sub(t0) < stable:
		r.Detail = fmt.Sprintf("the judged range ends %s after the injection, less than stableFor %s: recovery cannot be shown", end.Sub(t0), stable)
	case len(bs) > 0 && bs[len(bs)-1].End.IsZero():
		r.Detail = fmt.Sprintf("not recovered: the condition still did not hold at the end of the range, %s after the injection", end.Sub(t0))
	default:
		r.Detail = fmt.Sprintf("not recovered: the condition never held for %s in a row before the end of the range, %s after the injection", stable, end.Sub(t0))
	}
}
