// Package latency keeps request latencies for quantiles the way gameday's
// client SLIs judge them, in memory that does not grow with their number:
// HDR histograms (github.com/HdrHistogram/hdrhistogram-go) of nanoseconds
// at Digits significant digits, so a quantile is the exact nearest-rank
// value or up to 1/1024 above it. The judge (package slo) and the live
// windows of the load (package load) share it, so a quantile read live and
// one judged after the run agree; it imports nothing else of gameday, so
// the load engine stays light.
package latency

import (
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Digits is the precision of latency quantiles, in significant decimal
// digits: 3 keeps every latency within 1/1024 of its true value (a
// histogram of about 270 KiB up to MaxTracked).
const Digits = 3

// MaxTracked is the longest latency told apart: longer ones count as
// MaxTracked (and shorter than zero as zero).
const MaxTracked = time.Hour

// Value is d in the histograms' unit, nanoseconds, in their range.
func Value(d time.Duration) int64 { return int64(max(0, min(d, MaxTracked))) }

// NewHistogram returns an empty dense histogram of latencies.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(MaxTracked), Digits)
}

// NewPacked returns an empty sparse histogram of latencies: it grows with
// the distinct latencies recorded, at most one entry per 1/1024 of a
// doubling, and merges exactly into a dense one (Set.AddPacked).
func NewPacked() *hdrhistogram.PackedHistogram {
	return hdrhistogram.NewPacked(1, int64(MaxTracked), Digits)
}

// Histogram is what a quantile needs of an HDR histogram, dense or sparse.
type Histogram interface {
	TotalCount() int64
	ValueAtPercentile(percentile float64) int64
}

var (
	_ Histogram = (*hdrhistogram.Histogram)(nil)
	_ Histogram = (*hdrhistogram.PackedHistogram)(nil)
)

// Quantile returns the q-quantile of h by the nearest-rank method (the
// smallest value such that at least q of the values are at or below it),
// to the precision of h; h must not be empty.
func Quantile(h Histogram, q float64) time.Duration {
	n := h.TotalCount()
	rank := max(1, min(int64(math.Ceil(q*float64(n))), n))
	// ValueAtPercentile takes the value of rank ⌊p·n + 0.5⌋: p = rank/n
	// lands on rank exactly, whatever the rounding of p.
	return time.Duration(h.ValueAtPercentile(100 * float64(rank) / float64(n)))
}

// Set collects latencies for quantiles in a dense histogram. The zero value
// is not usable: use New.
type Set struct {
	h *hdrhistogram.Histogram
}

// New returns an empty Set.
func New() *Set { return &Set{h: NewHistogram()} }

// Add records d; latencies over MaxTracked count as it.
func (l *Set) Add(d time.Duration) { _ = l.h.RecordValue(Value(d)) } // in range: cannot fail

// AddPacked adds the latencies of p, made by NewPacked: exactly, bucket to
// bucket.
func (l *Set) AddPacked(p *hdrhistogram.PackedHistogram) { p.MergeInto(l.h) }

// Merge adds o's latencies to l, exactly.
func (l *Set) Merge(o *Set) { l.h.Merge(o.h) }

// Count is how many latencies were added.
func (l *Set) Count() int64 { return l.h.TotalCount() }

// Quantile returns the q-quantile by the nearest-rank method, to the
// histogram's precision; 0 when empty.
func (l *Set) Quantile(q float64) time.Duration {
	if l.h.TotalCount() == 0 {
		return 0
	}
	return Quantile(l.h, q)
}
