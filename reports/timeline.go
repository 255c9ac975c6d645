package reports

import "time"

// Timeline is the client-side results of a run over time, per stream, in
// buckets of one width from the start of the load: what the charts of the
// HTML report draw. A request counts in the bucket its start falls in.
type Timeline struct {
	// Bucket is the width of every bucket.
	Bucket  time.Duration  `json:"bucket"`
	Streams []StreamSeries `json:"streams"`
}

// StreamSeries is one stream's buckets, in time order, without gaps: the
// i-th point starts at Start + i×Bucket.
type StreamSeries struct {
	Stream string  `json:"stream"`
	Points []Point `json:"points"`
}

// Point is one bucket of a stream.
type Point struct {
	// Requests counts the requests that started in the bucket and were
	// answered or failed by the target (gameday's own cancellations are
	// not in it); Successes those that succeeded.
	Requests  int `json:"requests"`
	Successes int `json:"successes"`
	// P50, P90 and P99 are latency quantiles of the successes, to the
	// timeline's histogram precision (about 2 %); 0 without successes.
	P50 time.Duration `json:"p50"`
	P90 time.Duration `json:"p90"`
	P99 time.Duration `json:"p99"`
}

// SuccessRatio is Successes / Requests, and false when there were no
// requests.
func (p Point) SuccessRatio() (float64, bool) {
	if p.Requests == 0 {
		return 0, false
	}
	return float64(p.Successes) / float64(p.Requests), true
}

// Throughput is the successes per second of a bucket of width w.
func (p Point) Throughput(w time.Duration) float64 {
	if w <= 0 {
		return 0
	}
	return float64(p.Successes) / w.Seconds()
}
