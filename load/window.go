package load

import (
	"math"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// WindowResolution is the width of a Window's buckets: the trailing
// window a live check reads is exact to within it.
const WindowResolution = 100 * time.Millisecond

// Latency bins of a Window's buckets: bin i holds latencies in
// [latMin·latGrowth^(i-1), latMin·latGrowth^i), bin 0 everything below
// latMin and the last bin everything above; a quantile is read as its
// bin's upper bound, at most 5% above the true value.
const (
	latMin    = time.Microsecond
	latGrowth = 1.05
	latBins   = 380 // latMin·1.05^379 ≈ 107 s: above any request timeout
)

// Window is a Sink that keeps, for a live check, the results of one stream
// and route (or all) sent in the trailing span, in buckets of
// WindowResolution by the request's start (as the client SLIs count
// them):
//
//	ring of ⌈span/100ms⌉+1 buckets, reused as time goes on
//	┌─────┬─────┬─────┬─────┬─────┐
//	│ t-4 │ t-3 │ t-2 │ t-1 │  t  │  each: requests, successes, latency bins
//	└─────┴─────┴─────┴─────┴─────┘
//
// Its memory is bounded by the span, never by the rate. Canceled results
// (OutcomeCanceled) and records of dropped hits (OutcomeDropped) are not
// counted: they are gameday's, not the target's. Results that started before the ring's oldest bucket are
// dropped. Record and Stats are safe for concurrent use.
type Window struct {
	stream, route string // "": any

	mu      sync.Mutex // guards buckets
	buckets []windowBucket
}

// windowBucket counts the results started in one WindowResolution slot.
type windowBucket struct {
	slot      int64 // start / WindowResolution since the Unix epoch
	requests  uint64
	successes uint64
	lat       [latBins]uint32 // successes by latency
}

var _ Sink = (*Window)(nil)

// NewWindow returns a Window keeping span of the results of stream and
// route ("" for any).
func NewWindow(span time.Duration, stream, route string) *Window {
	n := int((span+WindowResolution-1)/WindowResolution) + 1
	return &Window{stream: stream, route: route, buckets: make([]windowBucket, max(n, 2))}
}

// Record counts r in the bucket of its start.
func (w *Window) Record(stream, route string, r *vegeta.Result) {
	if (w.stream != "" && stream != w.stream) || (w.route != "" && route != w.route) {
		return
	}
	o := Outcome(r)
	if o == OutcomeCanceled || o == OutcomeDropped {
		return
	}
	slot := r.Timestamp.UnixNano() / int64(WindowResolution)
	w.mu.Lock()
	defer w.mu.Unlock()
	b := &w.buckets[int(slot%int64(len(w.buckets)))]
	switch {
	case b.slot == slot:
	case b.slot < slot: // a newer slot reuses the bucket
		*b = windowBucket{slot: slot}
	default: // older than the ring
		return
	}
	b.requests++
	if o == OutcomeSuccess {
		b.successes++
		b.lat[latBin(r.Latency)]++
	}
}

// WindowStats are the results of a Window sent in a span.
type WindowStats struct {
	Requests, Successes uint64
	// Span is the length the stats cover, for throughput.
	Span time.Duration
	lat  [latBins]uint64
}

// Stats returns the results sent in [from, to), to within
// WindowResolution: the buckets whose slot starts in it.
func (w *Window) Stats(from, to time.Time) WindowStats {
	lo := ceilDiv(from.UnixNano(), int64(WindowResolution))
	hi := ceilDiv(to.UnixNano(), int64(WindowResolution))
	st := WindowStats{Span: time.Duration(hi-lo) * WindowResolution}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.buckets {
		b := &w.buckets[i]
		if b.slot < lo || b.slot >= hi || b.requests == 0 {
			continue
		}
		st.Requests += b.requests
		st.Successes += b.successes
		for j, c := range b.lat {
			st.lat[j] += uint64(c)
		}
	}
	return st
}

// SuccessRatio is successes / requests; NaN without requests.
func (s WindowStats) SuccessRatio() float64 {
	if s.Requests == 0 {
		return math.NaN()
	}
	return float64(s.Successes) / float64(s.Requests)
}

// Throughput is successes per second over the span; NaN for an empty span.
func (s WindowStats) Throughput() float64 {
	if s.Span <= 0 {
		return math.NaN()
	}
	return float64(s.Successes) / s.Span.Seconds()
}

// Latency is the q-quantile of the successes' latency by nearest rank, as
// the upper bound of its bin (at most 5% above the true value); false
// without successes.
func (s WindowStats) Latency(q float64) (time.Duration, bool) {
	if s.Successes == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(s.Successes)))
	rank = max(1, min(rank, s.Successes))
	var seen uint64
	for i, c := range s.lat {
		seen += c
		if seen >= rank {
			return latUpper(i), true
		}
	}
	return latUpper(latBins - 1), true
}

// latBin is the bin of latency d.
func latBin(d time.Duration) int {
	if d < latMin {
		return 0
	}
	i := int(math.Log(float64(d)/float64(latMin))/math.Log(latGrowth)) + 1
	return min(i, latBins-1)
}

// latUpper is the upper bound of bin i.
func latUpper(i int) time.Duration {
	return time.Duration(float64(latMin) * math.Pow(latGrowth, float64(i)))
}

// ceilDiv is ⌈a/b⌉ for b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) {
		q++
	}
	return q
}
