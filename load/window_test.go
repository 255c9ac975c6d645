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
	// p50 of 10..90 ms is 50 ms; read as its bin's upper bound, within 5%.
	if got, ok := st.Latency(0.5); !ok || got < 50*time.Millisecond || got > 52500*time.Microsecond {
		t.Errorf("Latency(0.5) = %s, %t; want 50ms to 52.5ms", got, ok)
	}
	if got, ok := st.Latency(1); !ok || got < 90*time.Millisecond || got > 94500*time.Microsecond {
		t.Errorf("Latency(1) = %s, %t; want 90ms to 94.5ms", got, ok)
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

func TestLatBin(t *testing.T) {
	for _, d := range []time.Duration{0, time.Microsecond, 999 * time.Microsecond, time.Millisecond, 300 * time.Millisecond, 10 * time.Second, time.Hour} {
		i := latBin(d)
		if d >= latMin && d < latUpper(latBins-2) && (d >= latUpper(i) || (i > 0 && d < latUpper(i-1))) {
			t.Errorf("latBin(%s) = %d: [%s, %s); want it to hold %s", d, i, latUpper(i-1), latUpper(i), d)
		}
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
