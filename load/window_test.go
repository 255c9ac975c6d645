package load

import (
	"math"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	w := NewWindow(time.Second, "mobile", "")
	rec := func(stream string, start time.Time, code uint16, errText string, lat time.Duration) {
		w.Record(stream, "feed", &vegeta.Result{Timestamp: start, Code: code, Error: errText, Latency: lat})
	}
	// 100 ms to 1 s: 9 successes of 10..90 ms, one 503, one canceled, one of another stream.
	for i := 1; i <= 9; i++ {
		rec("mobile", ms(100*i), 200, "", time.Duration(10*i)*time.Millisecond)
	}
	rec("mobile", ms(950), 503, "503 Service Unavailable", time.Millisecond)
	rec("mobile", ms(960), 0, "canceled by gameday: EOF", time.Millisecond)
	rec("other", ms(970), 500, "500 Internal Server Error", time.Millisecond)

	tests := []struct {
		from, to      time.Time
		reqs, success uint64
	}{
		{ms(0), ms(1000), 10, 9},  // all but the canceled and the other stream's
		{ms(500), ms(1000), 6, 5}, // buckets 500..900
		{ms(450), ms(1000), 6, 5}, // a bucket counts when its slot starts in the span
		{ms(1000), ms(2000), 0, 0},
	}
	for _, tt := range tests {
		st := w.Stats(tt.from, tt.to)
		if st.Requests != tt.reqs || st.Successes != tt.success {
			t.Errorf("Stats(%s, %s) = %d requests, %d successes; want %d, %d",
				tt.from.Sub(t0), tt.to.Sub(t0), st.Requests, st.Successes, tt.reqs, tt.success)
		}
	}
	st := w.Stats(ms(0), ms(1000))
	if got, want := st.SuccessRatio(), 0.9; math.Abs(got-want) > 1e-9 {
		t.Errorf("SuccessRatio() = %g; want %g", got, want)
	}
	if got, want := st.Throughput(), 9.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("Throughput() = %g; want %g over %s", got, want, st.Span)
	}
	// p50 of 10..90 ms is 50 ms, exact or at most 1/1024 above.
	if got, ok := st.Latency(0.5); !ok || got < 50*time.Millisecond || got > 50*time.Millisecond+50*time.Millisecond/1024 {
		t.Errorf("Latency(0.5) = %s, %t; want 50ms to 50.05ms", got, ok)
	}
	if got, ok := st.Latency(1); !ok || got < 90*time.Millisecond || got > 90*time.Millisecond+90*time.Millisecond/1024 {
		t.Errorf("Latency(1) = %s, %t; want 90ms to 90.09ms", got, ok)
	}
	empty := w.Stats(ms(5000), ms(6000))
	if _, ok := empty.Latency(0.99); ok || !math.IsNaN(empty.SuccessRatio()) {
		t.Errorf("an empty span: Latency ok %t, SuccessRatio %g; want no data", ok, empty.SuccessRatio())
	}

	// Time goes on: a result 2 s later reuses its bucket; one older than
	// the ring is dropped.
	rec("mobile", ms(2100), 200, "", time.Millisecond)
	rec("mobile", ms(-5000), 200, "", time.Millisecond)
	if st := w.Stats(ms(-10000), ms(3000)); st.Requests > 11 {
		t.Errorf("Stats(everything) = %d requests; want at most the ring's 11 buckets' worth", st.Requests)
	}
	if st := w.Stats(ms(2000), ms(3000)); st.Requests != 1 {
		t.Errorf("Stats(2s, 3s) = %d requests; want 1", st.Requests)
	}
}

func BenchmarkWindowRecord(b *testing.B) {
	w := NewWindow(5*time.Second, "", "")
	r := &vegeta.Result{Code: 200, Latency: 3 * time.Millisecond, Timestamp: time.Now()}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Record("mobile", "feed", r)
		}
	})
}

// TestWindowDropsAndExactMerge: dropped hits count by their due time; the
// stats of two windows merged equal those of one window fed both, latency
// quantiles included (HDR histograms merge exactly); a reused bucket
// forgets its latencies.
func TestWindowDropsAndExactMerge(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 9, 15, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	a, b, both := NewWindow(time.Second, "a", ""), NewWindow(time.Second, "b", ""), NewWindow(time.Second, "", "")
	for i := range 900 {
		stream := "a"
		if i%3 == 0 {
			stream = "b"
		}
		r := &vegeta.Result{Timestamp: ms(i), Code: 200, Latency: time.Duration(1+i*i%7919) * 37 * time.Microsecond}
		for _, w := range []*Window{a, b, both} {
			w.Record(stream, "r", r)
		}
	}
	for _, w := range []*Window{a, both} {
		w.Drop("a", "r", ms(950))
		w.Drop("a", "r", ms(1050)) // after the span asked below, within the ring
	}
	st := a.Stats(ms(0), ms(1000))
	st.Merge(b.Stats(ms(0), ms(1000)))
	want := both.Stats(ms(0), ms(1000))
	if st.Requests != 900 || st.Requests != want.Requests || st.Successes != want.Successes || st.Dropped != 1 || want.Dropped != 1 {
		t.Fatalf("merged %d requests, %d successes, %d dropped; one window %d, %d, %d; want 900, 900, 1",
			st.Requests, st.Successes, st.Dropped, want.Requests, want.Successes, want.Dropped)
	}
	if got, w := st.DroppedRatio(), 1.0/901; math.Abs(got-w) > 1e-12 {
		t.Errorf("DroppedRatio() = %g; want %g", got, w)
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		got, _ := st.Latency(q)
		w, _ := want.Latency(q)
		if got != w {
			t.Errorf("Latency(%g): merged %s, one window %s; want equal", q, got, w)
		}
	}
	// A result at 1.1 s reuses the bucket of [0, 100ms): its 100 results
	// and their latencies are gone.
	both.Record("a", "r", &vegeta.Result{Timestamp: ms(1100), Code: 200, Latency: time.Second})
	if st := both.Stats(ms(0), ms(100)); st.Requests != 0 {
		t.Errorf("after reuse: %d requests in [0, 100ms); want 0", st.Requests)
	}
	if st := both.Stats(ms(1100), ms(1200)); st.Successes != 1 {
		t.Errorf("after reuse: %d successes in [1.1s, 1.2s); want 1", st.Successes)
	} else if p, _ := st.Latency(0.01); p < time.Second {
		t.Errorf("after reuse: min latency %s in the reused bucket; want the new result's 1s", p)
	}
}
