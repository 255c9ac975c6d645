package slo

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// BenchmarkClientRTO judges one fault on 1,000,000 requests: 2000 a second
// for 500s, failing for 30s after the fault at 100s. Memory is the counting
// buckets of the range (5000 steps of 100ms), whatever the number of
// requests.
func BenchmarkClientRTO(b *testing.B) {
	const n = 1_000_000
	every := 500 * time.Microsecond
	fault := Span{Fault: "kill", Start: rtoT0.Add(100 * time.Second), End: rtoT0.Add(130 * time.Second)}
	reqs := make([]Request, n)
	for i := range reqs {
		done := rtoT0.Add(time.Duration(i) * every)
		ok := done.Before(fault.Start) || !done.Before(fault.End)
		reqs[i] = Request{Stream: "mobile", Route: "feed", Start: done.Add(-20 * time.Millisecond), Latency: 20 * time.Millisecond, OK: ok}
	}
	end := rtoT0.Add(n * every)
	c := RecoveryCondition{SuccessRatio: 0.99, MaxLatency: 300 * time.Millisecond, Quantile: 0.99, Window: time.Second, StableFor: 5 * time.Second}
	b.ReportAllocs()
	var r Recovery
	for b.Loop() {
		var err error
		r, err = ClientRTO(reqs, fault, end, c)
		if err != nil {
			b.Fatal(err)
		}
	}
	if !r.Recovered || r.RTO != 30*time.Second || r.Samples != 801_799 {
		b.Fatalf("ClientRTO = recovered %v RTO %s samples %d; want recovered in 30s on 801799 requests (400.9s of 2000/s, less the one at its start)", r.Recovered, r.RTO, r.Samples)
	}
}

// TestResultsAreFiniteJSON: no result holds a NaN or an infinity, so every
// one encodes, even from a NaN series or a NaN lag.
func TestResultsAreFiniteJSON(t *testing.T) {
	nan := math.NaN()
	rec, err := SeriesRTO(ratioSeries(-5, 5, func(int) float64 { return nan }), Span{Fault: "kill", Start: ms(0)}, ms(10000),
		SeriesCondition{Objective: ratio99Objective(), Step: time.Second, StableFor: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	loss := ProbeRPO(nil, Span{Fault: "kill", Start: ms(0)}, &nan)
	for _, v := range []any{rec, loss} {
		out, err := json.Marshal(v)
		if err != nil || strings.Contains(string(out), "NaN") {
			t.Errorf("json.Marshal(%T) = %s, %v; want finite JSON", v, out, err)
		}
	}
}
