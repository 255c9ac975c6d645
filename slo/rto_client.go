package slo

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// DefaultResolution is the resolution of a client RTO when the condition
// names none, and the coarsest one allowed: DESIGN.md asks for 100 ms or
// finer.
const DefaultResolution = 100 * time.Millisecond

// MaxRecoveryBuckets bounds the buckets one client RTO may count in, 12 bytes
// each (48 MiB): 4.8 days after the fault at the default resolution, 70
// minutes at 1ms.
const MaxRecoveryBuckets = 1 << 22

// RecoveryCondition is what "recovered" means for a client RTO: over every
// sliding Window, the success ratio is at least SuccessRatio and the
// Quantile of the successful requests' latency is at most MaxLatency (either
// or both). It must hold for StableFor.
//
// A window without any counted request does not meet the condition: no data
// is not a recovery. A window with requests but no success does not meet a
// latency condition: a refused connection answers fast, and must not make
// latency look good.
type RecoveryCondition struct {
	// SuccessRatio is the least share of successful requests in a window,
	// in [0, 1]; 0: no ratio condition (every window with data meets it).
	SuccessRatio float64
	// MaxLatency bounds the Quantile of the successful requests' latency in
	// a window (nearest rank, as [Quantile] computes it); 0: no latency
	// condition.
	MaxLatency time.Duration
	// Quantile is in (0, 1]; set exactly when MaxLatency is.
	Quantile float64
	// Window is the length of the sliding window, a positive multiple of
	// Resolution (1s, say).
	Window time.Duration
	// StableFor is how long the condition must hold, without a breach, to
	// count as recovered: a positive multiple of Resolution.
	StableFor time.Duration
	// Resolution is the step of the evaluation grid and the width of the
	// counting buckets; 0 means DefaultResolution, and more than it is
	// refused.
	Resolution time.Duration
	// Stream and Route restrict the requests counted; empty: all.
	Stream, Route string
}

// resolution returns the resolution, the default filled in.
func (c RecoveryCondition) resolution() time.Duration {
	if c.Resolution == 0 {
		return DefaultResolution
	}
	return c.Resolution
}

// Validate returns every problem of c, joined, in field order; nil when c is
// usable. It does not change c.
func (c RecoveryCondition) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	res := c.resolution()
	if math.IsNaN(c.SuccessRatio) || c.SuccessRatio < 0 || c.SuccessRatio > 1 {
		bad("successRatio %v: want a ratio in [0, 1]", c.SuccessRatio)
	}
	if c.MaxLatency < 0 {
		bad("maxLatency %s: want a positive duration", c.MaxLatency)
	}
	switch {
	case c.MaxLatency > 0 && (math.IsNaN(c.Quantile) || c.Quantile <= 0 || c.Quantile > 1):
		bad("quantile %v: want a quantile in (0, 1] for maxLatency %s", c.Quantile, c.MaxLatency)
	case c.MaxLatency == 0 && c.Quantile != 0:
		bad("quantile %v without maxLatency: a latency condition needs both", c.Quantile)
	}
	if c.SuccessRatio == 0 && c.MaxLatency == 0 {
		bad("no condition: set successRatio, maxLatency, or both")
	}
	if res < 0 || res > DefaultResolution {
		bad("resolution %s: want a positive duration of at most %s", c.Resolution, DefaultResolution)
		res = 0 // the checks below need a usable one
	}
	if res > 0 && (c.Window <= 0 || c.Window%res != 0) {
		bad("window %s: want a positive multiple of the resolution %s", c.Window, res)
	}
	if res > 0 && (c.StableFor <= 0 || c.StableFor%res != 0) {
		bad("stableFor %s: want a positive multiple of the resolution %s", c.StableFor, res)
	}
	return errors.Join(errs...)
}

// RecoveryBuckets counts the requests of a run for one fault's client RTO,
// in buckets of the resolution: memory grows with the judged range, never
// with the number of requests, so a caller can stream the results through
// Add and never hold them all.
//
// The evaluation grid is x_k = t0 + k·Resolution. A request counts at its
// completion, Start + Latency, not at its start: completion is when the
// client learns the outcome, so the window ending at an instant holds exactly
// what could be known then, is final then, and a live run and a stored one
// are judged alike. Counted at their start, the requests of a window would
// be known only when the slowest of them ended (up to the client timeout
// later), and a request sent before the fault that fails during it would
// hide before the fault. The price: a request that hangs counts when it
// ends, so hung requests delay the recovery by up to the timeout, as they
// delay it for the user. Bucket k holds the requests completed in
// (x_{k-1}, x_k]; the window ending at x_j holds buckets j−n+1 … j, n =
// Window/Resolution: a request completed at t counts in every window ending
// in [t, t+Window).
//
//	completed     ·· ·· ·· ·· ✗✗ ✗✗ ✗✗ ✗· ·· ·· ·· ·· ··   (SuccessRatio 1, n = 3)
//	buckets      ┼──┼──┼──┼──┼──┼──┼──┼──┼──┼──┼──┼──┼──┼
//	             x0=t0       x4 x5       x8       x11
//	windows            ├────────┤ (x2, x5]: the first that fails
//	                                     ├────────┤ (x8, x11]: the first that holds again
//	breach                      ├────────┤ [x5, x8)
//
// A breach (a run of failing windows) starts at the end of its first window,
// the first instant the condition does not hold, and ends at the start of
// the first window that holds again: every request completed after that
// instant is in a window that holds. When that window begins with buckets
// the condition cannot judge (no request; no success, for a latency bound),
// the breach ends at its first bucket with data instead, for an empty bucket
// shows no recovery; and it never ends before it started. With SuccessRatio
// 1 the instants are those of the first and the last failure, rounded up to
// the grid. A looser condition detects later, by the share of a window that
// must fail, and recovers earlier, by at most the share it tolerates (1% of
// the window for 0.99).
type RecoveryBuckets struct {
	cond      RecoveryCondition
	fault     Span
	res       time.Duration
	n         int // buckets in a window
	lo        int // index of buckets[0]: 2 − n, the first bucket of window 1
	k         int // the last bucket and window index: x_k is the judged range's end
	buckets   []bucket
	samples   int
	canceled  int
	latencyOn bool
}

// bucket counts the requests completed in one resolution step.
type bucket struct {
	total int32 // counted requests: succeeded or failed, not canceled
	ok    int32 // succeeded
	fast  int32 // succeeded within MaxLatency
}

func (b *bucket) add(o bucket) {
	b.total += o.total
	b.ok += o.ok
	b.fast += o.fast
}

func (b *bucket) sub(o bucket) {
	b.total -= o.total
	b.ok -= o.ok
	b.fast -= o.fast
}

// NewRecoveryBuckets returns empty buckets for the RTO of fault (injected at
// fault.Start) judged up to end, the end of the load. It fails when c is not
// valid or the range needs more than MaxRecoveryBuckets.
func NewRecoveryBuckets(c RecoveryCondition, fault Span, end time.Time) (*RecoveryBuckets, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("recovery condition of fault %q: %w", fault.Fault, err)
	}
	res := c.resolution()
	n := int(c.Window / res)
	k := 0
	if end.After(fault.Start) {
		span := end.Sub(fault.Start) / res
		if int64(span)+int64(n) > MaxRecoveryBuckets {
			return nil, fmt.Errorf("recovery of fault %q: %s from the injection to the end at a resolution of %s needs more than %d buckets",
				fault.Fault, end.Sub(fault.Start), res, MaxRecoveryBuckets)
		}
		k = int(span)
	}
	lo := 2 - n
	return &RecoveryBuckets{
		cond:      c,
		fault:     fault,
		res:       res,
		n:         n,
		lo:        lo,
		k:         k,
		buckets:   make([]bucket, k-lo+1),
		latencyOn: c.MaxLatency > 0,
	}, nil
}

// Add counts r, a request of the target: a success when r.OK, else a
// failure; a canceled request goes to [RecoveryBuckets.AddCanceled], so a
// caller can feed every request through Add. Requests of another stream or
// route than the condition's, and requests completed outside the judged
// range and the window before it, are ignored. Requests may come in any
// order.
func (b *RecoveryBuckets) Add(r Request) {
	if r.Canceled {
		b.AddCanceled(r)
		return
	}
	if i, ok := b.index(r); ok {
		c := &b.buckets[i-b.lo]
		c.total++
		b.samples++
		if r.OK {
			c.ok++
			if b.latencyOn && r.Latency <= b.cond.MaxLatency {
				c.fast++
			}
		}
	}
}

// AddCanceled counts r apart, as a request gameday itself cut short (a
// stream stopping, an interrupt), whatever r.Canceled says: it is not the
// target's failure, and counts neither for nor against it. r.OK is not read.
func (b *RecoveryBuckets) AddCanceled(r Request) {
	if _, ok := b.index(r); ok {
		b.canceled++
	}
}

// index returns the bucket of r, false when r is not counted.
func (b *RecoveryBuckets) index(r Request) (int, bool) {
	if (b.cond.Stream != "" && r.Stream != b.cond.Stream) || (b.cond.Route != "" && r.Route != b.cond.Route) {
		return 0, false
	}
	d := r.Start.Add(r.Latency).Sub(b.fault.Start)
	// Bucket i holds (x_{i-1}, x_i]: i = ⌈d / res⌉. Division truncates
	// toward zero, which is already the ceiling for d ≤ 0.
	q := d / b.res
	if d%b.res > 0 {
		q++
	}
	if q < time.Duration(b.lo) || q > time.Duration(b.k) {
		return 0, false
	}
	return int(q), true
}

// at returns the grid instant x_i.
func (b *RecoveryBuckets) at(i int) time.Time {
	return b.fault.Start.Add(time.Duration(i) * b.res)
}

// holds judges the condition on the counts of one window; empty is true
// when the window has no counted request.
func (b *RecoveryBuckets) holds(w bucket) (ok, empty bool) {
	if w.total == 0 {
		return false, true
	}
	if b.cond.SuccessRatio > 0 && float64(w.ok)/float64(w.total) < b.cond.SuccessRatio {
		return false, false
	}
	if b.latencyOn {
		// The nearest-rank quantile is at most MaxLatency exactly when at
		// least rank of the successes are, the rank Quantile takes. It is
		// at least 1: a window without a success fails.
		rank := int32(math.Ceil(b.cond.Quantile * float64(w.ok)))
		rank = max(1, min(rank, w.ok))
		if w.fast < rank {
			return false, false
		}
	}
	return true, false
}

// judged reports whether a bucket has data the condition judges: a request,
// or a success when it bounds latency.
func (b *RecoveryBuckets) judged(c bucket) bool {
	if b.latencyOn {
		return c.ok > 0
	}
	return c.total > 0
}

// Recovery judges the fault's recovery on the requests counted so far.
func (b *RecoveryBuckets) Recovery() Recovery {
	r := Recovery{
		Fault:      b.fault.Fault,
		Injected:   b.fault.Start,
		Reverted:   b.fault.End,
		End:        b.at(b.k),
		Resolution: b.res,
		StableFor:  b.cond.StableFor,
		Samples:    b.samples,
		Canceled:   b.canceled,
	}
	for i := 1; i <= b.k; i++ {
		if b.buckets[i-b.lo].total == 0 {
			r.NoData++
		}
	}
	// Slide the window over j = 1 … k: w holds buckets j−n+1 … j.
	var w bucket
	for i := b.lo; i < 1; i++ {
		w.add(b.buckets[i-b.lo])
	}
	open := false // a run of failing windows is open
	var cur Breach
	start := 0 // the run's first window
	for j := 1; j <= b.k; j++ {
		w.add(b.buckets[j-b.lo])
		if j-b.n >= b.lo {
			w.sub(b.buckets[j-b.n-b.lo])
		}
		ok, empty := b.holds(w)
		switch {
		case !ok && !open:
			open, start = true, j
			cur = Breach{Start: b.at(j), NoData: empty}
		case !ok:
			cur.NoData = cur.NoData || empty
		case open:
			// Window j holds: the breach ends where its data begins.
			first := j - b.n + 1
			for !b.judged(b.buckets[first-b.lo]) {
				first++
			}
			cur.End = b.at(max(start, first-1))
			r.Breaches = append(r.Breaches, cur)
			open = false
		}
	}
	if open {
		r.Breaches = append(r.Breaches, cur) // End zero: to the end of the range
	}
	r.settle()
	return r
}

// ClientRTO judges the recovery of fault (injected at fault.Start, reverted
// at fault.End when known) on the requests of a run, in any order, up to end,
// the end of the load. It fails only when c is not valid or the range is too
// long for its resolution. Canceled requests count apart, as
// [RecoveryBuckets.Add] counts them.
func ClientRTO(reqs []Request, fault Span, end time.Time, c RecoveryCondition) (Recovery, error) {
	b, err := NewRecoveryBuckets(c, fault, end)
	if err != nil {
		return Recovery{}, err
	}
	for i := range reqs {
		b.Add(reqs[i])
	}
	return b.Recovery(), nil
}
