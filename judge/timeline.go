package judge

import (
	"maps"
	"math"
	"math/bits"
	"slices"
	"time"

	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/slo"
)

// maxTimelineBuckets bounds the points of a stream's timeline: the bucket
// width grows with the run (see bucketWidth), so memory does not.
const maxTimelineBuckets = 600

// bucketWidths are the widths a timeline may use, the narrowest that keeps
// a run within maxTimelineBuckets.
var bucketWidths = []time.Duration{
	100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour,
}

// bucketWidth is the narrowest of bucketWidths that splits d into at most
// maxTimelineBuckets buckets.
func bucketWidth(d time.Duration) time.Duration {
	for _, w := range bucketWidths {
		if d <= w*maxTimelineBuckets {
			return w
		}
	}
	return bucketWidths[len(bucketWidths)-1]
}

// timeline sums up the requests of a run per stream and bucket, for the
// charts of the reports. It holds a count and a small histogram per
// bucket, never the requests.
type timeline struct {
	start   time.Time
	width   time.Duration
	n       int
	streams map[string][]bucket
}

type bucket struct {
	requests, successes int
	lat                 *latencyHistogram // of successes; nil until the first
}

func newTimeline(start, end time.Time) *timeline {
	d := end.Sub(start)
	w := bucketWidth(d)
	n := int((d + w - 1) / w)
	return &timeline{start: start, width: w, n: max(n, 1), streams: map[string][]bucket{}}
}

// add counts r in its stream's bucket; a request gameday canceled, or one
// outside the load's window, is not counted.
func (t *timeline) add(r slo.Request) {
	if r.Canceled {
		return
	}
	i := int(r.Start.Sub(t.start) / t.width)
	if r.Start.Before(t.start) || i >= t.n {
		return
	}
	bs, ok := t.streams[r.Stream]
	if !ok {
		bs = make([]bucket, t.n)
		t.streams[r.Stream] = bs
	}
	b := &bs[i]
	b.requests++
	if r.OK {
		b.successes++
		if b.lat == nil {
			b.lat = &latencyHistogram{}
		}
		b.lat.add(r.Latency)
	}
}

// report returns the timeline as the reports hold it, streams by name.
func (t *timeline) report() *reports.Timeline {
	out := &reports.Timeline{Bucket: t.width, Streams: []reports.StreamSeries{}}
	for _, name := range slices.Sorted(maps.Keys(t.streams)) {
		bs := t.streams[name]
		s := reports.StreamSeries{Stream: name, Points: make([]reports.Point, len(bs))}
		for i, b := range bs {
			p := reports.Point{Requests: b.requests, Successes: b.successes}
			if b.lat != nil {
				p.P50, p.P90, p.P99 = b.lat.quantile(0.50), b.lat.quantile(0.90), b.lat.quantile(0.99)
			}
			s.Points[i] = p
		}
		out.Streams = append(out.Streams, s)
	}
	return out
}

// latencyHistogram counts latencies in log-linear buckets of nanoseconds:
// 16 sub-buckets per power of two, so a quantile it returns (a bucket's
// middle) is within about 3 % of the true value. It is 44 powers of two
// wide (latencies above 4.8 hours count as that) and 2.8 KiB.
type latencyHistogram struct {
	counts [44 * histSub]uint32
	total  int
}

const (
	histSub     = 16 // sub-buckets per power of two
	histSubBits = 4  // log2(histSub)
)

func (h *latencyHistogram) add(d time.Duration) {
	ns := uint64(max(d, 1))
	e := bits.Len64(ns) - 1
	var m uint64
	if e >= histSubBits {
		m = (ns >> (e - histSubBits)) & (histSub - 1)
	} else {
		m = (ns << (histSubBits - e)) & (histSub - 1)
	}
	i := min(e*histSub+int(m), len(h.counts)-1)
	h.counts[i]++
	h.total++
}

// quantile is the q-quantile by the nearest-rank method, to the bucket's
// middle.
func (h *latencyHistogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := max(int(math.Ceil(q*float64(h.total))), 1)
	seen := 0
	for i, c := range h.counts {
		seen += int(c)
		if seen >= rank {
			e, m := i/histSub, i%histSub
			lower := math.Ldexp(float64(histSub+m)/histSub, e) // ns
			width := math.Ldexp(1.0/histSub, e)
			return time.Duration(lower + width/2)
		}
	}
	return 0
}
