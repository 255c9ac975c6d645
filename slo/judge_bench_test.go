package slo

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gameday/gameday/scenarios"
)

// benchTimeline is a 10-minute load with 3 faults of 30s.
func benchTimeline() Timeline {
	return Timeline{Start: t0, End: at(600), Faults: []Span{
		{Fault: "kill", Start: at(120), End: at(150)},
		{Fault: "latency", Start: at(300), End: at(330)},
		{Fault: "partition", Start: at(450), End: at(480)},
	}}
}

// benchRequest returns the i-th of n synthetic requests spread over the 10
// minutes of benchTimeline, as a results file has them: roughly but not
// strictly in order (each is up to 50ms off its slot). During a fault one in
// five fails and successes take 300ms or more; otherwise 20ms or more (the
// last few are sent after the end of the load, as in a real run). One
// in a thousand was canceled. It is made on demand: nothing holds them all.
func benchRequest(i, n int) Request {
	h := uint64(i)*0x9E3779B97F4A7C15 + 1
	h ^= h >> 31
	start := t0.Add(time.Duration(i)*(600*time.Second)/time.Duration(n) + time.Duration(h%50)*time.Millisecond)
	sec := start.Sub(t0)
	inFault := (sec >= 120*time.Second && sec < 150*time.Second) || (sec >= 300*time.Second && sec < 330*time.Second) ||
		(sec >= 450*time.Second && sec < 480*time.Second)
	lat := 20*time.Millisecond + time.Duration(h%10_000)*time.Microsecond
	ok := true
	if inFault {
		lat += 280 * time.Millisecond
		ok = h%5 != 0
	}
	return Request{Stream: "mobile", Route: "feed", Start: start, Latency: lat, OK: ok, Canceled: h%1000 == 7}
}

// BenchmarkJudge streams n requests over a 10-minute run with 3 faults
// through what the judge of a run keeps: two client SLOs (success ratio
// always, 1s step; latency p99 overall) and the client RTO of the first
// fault. heap-B is the heap still in use after the last request, less that
// before the first: what the judgement holds. It is about the same for 10⁵
// and 10⁶ requests: it grows with the steps of the SLOs and the buckets of
// the RTO, not with the requests.
func BenchmarkJudge(b *testing.B) {
	tl := benchTimeline()
	ratio := scenarios.SLO{Name: "ratio", Client: &scenarios.ClientSLI{SLI: scenarios.SLISuccessRatio},
		Objective: objective(scenarios.OpGE, 0.99), Mode: scenarios.ModeAlways, During: []scenarios.Phase{scenarios.PhaseAll}, Step: time.Second}
	p99 := scenarios.SLO{Name: "p99", Client: &scenarios.ClientSLI{SLI: scenarios.SLILatency, Quantile: 0.99},
		Objective: objective(scenarios.OpLE, 0.5), Mode: scenarios.ModeOverall, During: []scenarios.Phase{scenarios.PhaseAll}, Step: time.Second}
	cond := RecoveryCondition{SuccessRatio: 0.99, MaxLatency: 300 * time.Millisecond, Quantile: 0.99, Window: time.Second, StableFor: 5 * time.Second}
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var heap uint64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				jr, jl := NewJudge(ratio, tl), NewJudge(p99, tl)
				rb, err := NewRecoveryBuckets(cond, tl.Faults[0], tl.End)
				if err != nil {
					b.Fatal(err)
				}
				for i := range n {
					r := benchRequest(i, n)
					jr.Add(r)
					jl.Add(r)
					rb.Add(r)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = max(heap, after.HeapInuse-min(after.HeapInuse, before.HeapInuse))
				vr, vl := jr.Verdict(context.Background(), nil), jl.Verdict(context.Background(), nil)
				rec := rb.Recovery()
				if vr.Passed || !vl.Passed || vr.Samples+vr.Canceled < n-n/1000 || rec.Samples == 0 || !rec.Recovered {
					b.Fatalf("n=%d: ratio passed %v samples %d canceled %d; p99 passed %v (%s); RTO samples %d recovered %v",
						n, vr.Passed, vr.Samples, vr.Canceled, vl.Passed, vl.MeasuredText, rec.Samples, rec.Recovered)
				}
			}
			b.ReportMetric(float64(heap), "heap-B")
		})
	}
}
