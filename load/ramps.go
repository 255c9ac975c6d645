package load

import (
	"math"
	"sort"
	"time"
)

// ramps is a Pacer whose rate is piecewise linear in time: a list of
// pieces, each lasting its duration and going linearly from one rate to
// another (equal for a flat piece), and after the last piece the last rate
// for ever. The linear, steps and spike profiles are ramps.
//
// Pace is exact: the n-th hit (from 1) is due at the instant t where the
// expected hits H(t), the integral of the rate from 0 to t, reach n, as
// with Vegeta's ConstantPacer. Within a piece starting at s with rate r0
// and slope k, H(s+x) = H(s) + r0·x + k·x²/2, so t solves a quadratic:
//
//	rate
//	 r1 ┤        ╱──────┐
//	    │       ╱       │          hit n is due when the area under
//	 r0 ┤──────╱        └────      the rate since 0 reaches n
//	    └─────────────────────▶ t
//	      piece  piece  piece  tail
//
// A ramps is immutable, so it may be shared.
type ramps struct {
	segs []segment // in time order; the last one is the open tail
}

// piece is one piece of a ramps: d long, from rate from to rate to, in
// hits per second.
type piece struct {
	d        time.Duration
	from, to float64
}

// segment is a piece placed on the timeline, in seconds and hits.
type segment struct {
	start, end  float64 // seconds from the start; end is +Inf for the tail
	rate, slope float64 // hits per second at start; change per second
	hits0, hits float64 // hits due by start and by end
}

// newRamps lays out pieces one after the other from 0, with the rate of
// the last one held after it. Rates must be >= 0 and finite; pieces of no
// duration are dropped.
func newRamps(pieces ...piece) *ramps {
	p := &ramps{}
	var t, h, last float64
	var at time.Duration
	for _, pc := range pieces {
		if pc.d <= 0 {
			continue
		}
		end := at + pc.d
		d := end.Seconds() - at.Seconds()
		s := segment{start: at.Seconds(), end: end.Seconds(), rate: pc.from, slope: (pc.to - pc.from) / d, hits0: h}
		s.hits = h + (pc.from+pc.to)/2*d
		p.segs = append(p.segs, s)
		at, t, h, last = end, end.Seconds(), s.hits, pc.to
	}
	tail := segment{start: t, end: math.Inf(1), rate: last, hits0: h, hits: h}
	if last > 0 {
		tail.hits = math.Inf(1)
	}
	p.segs = append(p.segs, tail)
	return p
}

// maxWait bounds a wait so that elapsed + wait cannot overflow.
const maxWait = time.Duration(1 << 62)

// Pace returns the wait until hit hits+1 is due, 0 when it is overdue, and
// stops when it will never be due (the rate fell to 0 for good).
func (p *ramps) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	n := float64(hits) + 1
	now := elapsed.Seconds()
	if p.hits(now) >= n {
		return 0, false
	}
	i := sort.Search(len(p.segs), func(i int) bool { return p.segs[i].hits >= n })
	if i == len(p.segs) {
		return 0, true
	}
	s := p.segs[i]
	at := s.start + solve(s.rate, s.slope, n-s.hits0)
	at = min(max(at, s.start), s.end)
	wait := math.Round((at - now) * 1e9)
	if wait >= float64(maxWait) {
		return maxWait, false
	}
	return time.Duration(max(wait, 0)), false
}

// solve returns the x >= 0 at which r·x + k·x²/2 reaches c > 0, for rates
// that stay >= 0 up to it.
func solve(r, k, c float64) float64 {
	if k == 0 {
		return c / r
	}
	// x = (-r + √(r² + 2kc)) / k, written so as not to cancel when k is small.
	disc := max(r*r+2*k*c, 0)
	return 2 * c / (r + math.Sqrt(disc))
}

// hits is H(t): the hits due by t seconds, the integral of the rate.
func (p *ramps) hits(t float64) float64 {
	if t <= 0 {
		return 0
	}
	s := p.segs[p.segAt(t)]
	x := t - s.start
	return s.hits0 + s.rate*x + s.slope*x*x/2
}

// segAt is the index of the segment that holds t seconds.
func (p *ramps) segAt(t float64) int {
	return max(0, sort.Search(len(p.segs), func(i int) bool { return p.segs[i].start > t })-1)
}

// Rate returns the rate at elapsed, in hits per second.
func (p *ramps) Rate(elapsed time.Duration) float64 {
	t := elapsed.Seconds()
	s := p.segs[p.segAt(t)]
	return s.rate + s.slope*max(t-s.start, 0)
}

// peak is the highest rate of p, in hits per second.
func (p *ramps) peak() float64 {
	var m float64
	for _, s := range p.segs {
		m = max(m, s.rate)
		if s.slope != 0 { // the tail is flat (and endless)
			m = max(m, s.rate+s.slope*(s.end-s.start))
		}
	}
	return m
}

// scaled is p with every rate multiplied by f > 0.
func (p *ramps) scaled(f float64) *ramps {
	q := &ramps{segs: make([]segment, len(p.segs))}
	for i, s := range p.segs {
		s.rate, s.slope, s.hits0, s.hits = s.rate*f, s.slope*f, s.hits0*f, s.hits*f
		q.segs[i] = s
	}
	return q
}
