package run

import (
	"math"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// TestLiveTapStatus: the status counts the requests started in the last
// LiveSpan (ending liveLag ago), their success ratio and p99, every
// request sent and every hit dropped since the start.
func TestLiveTapStatus(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	now := t0.Add(3 * time.Second)
	tap := newLiveTap()
	ok := func(at time.Duration, lat time.Duration) *vegeta.Result {
		return &vegeta.Result{Timestamp: t0.Add(at), Latency: lat, Code: 200}
	}
	for _, r := range []*vegeta.Result{
		ok(500*time.Millisecond, time.Millisecond), // before the span: sent, not in the rate
		ok(2*time.Second, 10*time.Millisecond),
		ok(2200*time.Millisecond, 20*time.Millisecond),
		ok(2400*time.Millisecond, 30*time.Millisecond),
		{Timestamp: t0.Add(2500 * time.Millisecond), Latency: time.Millisecond, Code: 503}, // a failure
		ok(2900*time.Millisecond, time.Millisecond),                                        // within liveLag: not yet in the span
	} {
		tap.Record("mobile", "feed", r)
	}
	tap.Drop("mobile", "feed", t0.Add(2*time.Second))
	s := tap.status(t0, now, 10*time.Second)
	if s.Elapsed != 3*time.Second || s.Total != 10*time.Second || s.Requests != 6 || s.Dropped != 1 {
		t.Errorf("status = %+v; want 3s of 10s, 6 sent, 1 dropped", s)
	}
	if s.Rate != 4 || math.Abs(s.SuccessRatio-0.75) > 1e-9 {
		t.Errorf("status rate %v/s, success %v; want 4/s, 0.75 (the span [1.75s, 2.75s))", s.Rate, s.SuccessRatio)
	}
	if s.P99 < 30*time.Millisecond || s.P99 > 32*time.Millisecond {
		t.Errorf("status p99 = %v; want about 30ms", s.P99)
	}
	if empty := newLiveTap().status(t0, t0, time.Second); empty.Rate != 0 || !math.IsNaN(empty.SuccessRatio) || empty.P99 != 0 {
		t.Errorf("status of nothing = %+v; want no rate, NaN ratio, no p99", empty)
	}
}
