package load

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/slo/latency"
)

// WindowResolution is the width of a Window's buckets: the trailing
// window a live check reads is exact to within it.
const WindowResolution = 100 * time.Millisecond

// Window is a Sink that keeps, for a live check, the results of one stream
// and route (or all) sent in the trailing span, in buckets of
// WindowResolution by the request's start (as the client SLIs count
// them):
//
//	ring of ⌈span/100ms⌉+1 buckets, reused as time goes on
//	┌─────┬─────┬─────┬─────┬─────┐
//	│ t-4 │ t-3 │ t-2 │ t-1 │  t  │  each: requests, successes, dropped hits,
//	└─────┴─────┴─────┴─────┴─────┘  an HDR histogram of the successes' latencies
//
// The latencies are kept as the client SLIs judge them (package latency:
// HDR histograms at latency.Digits), each bucket's in a sparse
// hdrhistogram.PackedHistogram that grows with the distinct latencies of
// its 100 ms, at most one entry per 1/1024 of a doubling, and is reused
// when its bucket is; Stats merges the buckets of a span exactly, and
// WindowStats merge across windows (streams) exactly too. So the memory of
// a Window is bounded by its span, never by the rate.
//
// Canceled results (OutcomeCanceled) and records of dropped hits
// (OutcomeDropped) are not counted as requests: they are gameday's, not
// the target's; a Window is a DropSink and counts the hits Run dropped,
// by their due time. Results that started before the ring's oldest bucket
// are not counted. Record, Drop and Stats are safe for concurrent use.
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
	dropped   uint64
	lat       *hdrhistogram.PackedHistogram // successes' latencies; nil until the first
}

var _ DropSink = (*Window)(nil)

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
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.bucket(r.Timestamp)
	if b == nil {
		return
	}
	b.requests++
	if o == OutcomeSuccess {
		b.successes++
		if b.lat == nil {
			b.lat = latency.NewPacked()
		}
		// In range (clamped): RecordValue cannot fail.
		_ = b.lat.RecordValue(latency.Value(r.Latency))
	}
}

// Drop counts a hit Run dropped in the bucket of its due time.
func (w *Window) Drop(stream, route string, due time.Time) {
	if (w.stream != "" && stream != w.stream) || (w.route != "" && route != w.route) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.bucket(due); b != nil {
		b.dropped++
	}
}

// bucket returns the bucket of instant t, emptied when it held an older
// slot; nil when t is older than the ring. w.mu must be held.
func (w *Window) bucket(t time.Time) *windowBucket {
	slot := t.UnixNano() / int64(WindowResolution)
	b := &w.buckets[int(slot%int64(len(w.buckets)))]
	switch {
	case b.slot == slot:
	case b.slot < slot: // a newer slot reuses the bucket and its histogram
		lat := b.lat
		if lat != nil {
			lat.Reset()
		}
		*b = windowBucket{slot: slot, lat: lat}
	default: // older than the ring
		return nil
	}
	return b
}

// WindowStats are the results of a Window sent in a span (and the hits
// dropped that were due in it).
type WindowStats struct {
	Requests, Successes, Dropped uint64
	// Span is the length the stats cover, for throughput.
	Span time.Duration
	lat  *latency.Set // nil without successes
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
		if b.slot < lo || b.slot >= hi {
			continue
		}
		st.Requests += b.requests
		st.Successes += b.successes
		st.Dropped += b.dropped
		if b.successes > 0 {
			if st.lat == nil {
				st.lat = latency.New()
			}
			st.lat.AddPacked(b.lat)
		}
	}
	return st
}

// Merge adds o's results to s: the stats of two windows (two streams, two
// routes) over the same span; latencies merge exactly. Span stays s's.
func (s *WindowStats) Merge(o WindowStats) {
	s.Requests += o.Requests
	s.Successes += o.Successes
	s.Dropped += o.Dropped
	if o.lat != nil {
		if s.lat == nil {
			s.lat = latency.New()
		}
		s.lat.Merge(o.lat)
	}
}

// DroppedRatio is dropped / (requests + dropped): the share of the hits
// due that gameday could not send; NaN when nothing was due.
func (s WindowStats) DroppedRatio() float64 {
	if s.Requests+s.Dropped == 0 {
		return math.NaN()
	}
	return float64(s.Dropped) / float64(s.Requests+s.Dropped)
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
// the client SLIs judge it (exact or at most 1/1024 above, see
// latency.Set); false without successes.
func (s WindowStats) Latency(q float64) (time.Duration, bool) {
	if s.lat == nil || s.lat.Count() == 0 {
		return 0, false
	}
	return s.lat.Quantile(q), true
}

// ceilDiv is ⌈a/b⌉ for b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a > 0) {
		q++
	}
	return q
}
