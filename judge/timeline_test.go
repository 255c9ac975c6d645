package judge

import (
	"math"
	"testing"
	"time"

	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/slo"
)

func TestBucketWidth(t *testing.T) {
	for _, tc := range []struct {
		run  time.Duration
		want time.Duration
	}{
		{8 * time.Second, 100 * time.Millisecond},
		{time.Minute, 100 * time.Millisecond},
		{61 * time.Second, 200 * time.Millisecond},
		{90 * time.Second, 200 * time.Millisecond},
		{10 * time.Minute, time.Second},
		{24 * time.Hour, 5 * time.Minute},
	} {
		if got := bucketWidth(tc.run); got != tc.want {
			t.Errorf("bucketWidth(%v) = %v; want %v", tc.run, got, tc.want)
		}
	}
}

// TestLatencyHistogramQuantiles: within 3.2 % of the exact nearest-rank
// quantile, over latencies from 1 µs to 10 s.
func TestLatencyHistogramQuantiles(t *testing.T) {
	var h latencyHistogram
	var all []time.Duration
	for i := range 10000 {
		d := time.Duration(math.Pow(10, 3+7*float64(i)/9999)) // 1 µs .. 10 s, log-spread
		h.add(d)
		all = append(all, d)
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 1} {
		exact := slo.Quantile(append([]time.Duration(nil), all...), q)
		got := h.quantile(q)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.032 {
			t.Errorf("quantile(%v) = %v; exact %v (%.1f %% off, want at most 3.2 %%)", q, got, exact, 100*rel)
		}
	}
	var empty latencyHistogram
	if got := empty.quantile(0.99); got != 0 {
		t.Errorf("empty.quantile(0.99) = %v; want 0", got)
	}
}

// TestTimelineBuckets: requests count in the bucket of their start;
// canceled ones and those outside the load do not count.
func TestTimelineBuckets(t *testing.T) {
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tl := newTimeline(start, start.Add(time.Second)) // 10 buckets of 100 ms
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	for _, r := range []slo.Request{
		{Stream: "a", Start: at(0), Latency: 10 * time.Millisecond, OK: true},
		{Stream: "a", Start: at(99), Latency: 20 * time.Millisecond, OK: true},
		{Stream: "a", Start: at(150), Latency: time.Second},                    // a failure
		{Stream: "a", Start: at(150), Canceled: true},                          // gameday's own
		{Stream: "a", Start: at(-1), OK: true},                                 // before the load
		{Stream: "a", Start: at(1000), OK: true},                               // after it
		{Stream: "b", Start: at(950), Latency: 5 * time.Millisecond, OK: true}, // another stream
	} {
		tl.add(r)
	}
	got := tl.report()
	if got.Bucket != 100*time.Millisecond || len(got.Streams) != 2 || len(got.Streams[0].Points) != 10 {
		t.Fatalf("report() = %+v; want 2 streams of 10 buckets of 100ms", got)
	}
	a := got.Streams[0].Points
	if a[0].Requests != 2 || a[0].Successes != 2 || a[1].Requests != 1 || a[1].Successes != 0 || a[1].P99 != 0 {
		t.Errorf("stream a buckets 0, 1 = %+v, %+v; want 2 of 2 ok, then 1 failure without latency", a[0], a[1])
	}
	if p := a[0].P99; p < 19*time.Millisecond || p > 21*time.Millisecond {
		t.Errorf("stream a bucket 0 p99 = %v; want about 20ms", p)
	}
	if b := got.Streams[1]; b.Stream != "b" || b.Points[9].Successes != 1 {
		t.Errorf("stream b = %+v; want one success in the last bucket", b)
	}
}

// TestReportFileNames: the run directory's names for report.json and
// report.md are the report formats' files.
func TestReportFileNames(t *testing.T) {
	if rundir.FileReport != reports.FileJSON || rundir.FileMarkdown != reports.FileMarkdown {
		t.Errorf("rundir names %s and %s; reports writes %s and %s", rundir.FileReport, rundir.FileMarkdown, reports.FileJSON, reports.FileMarkdown)
	}
}
