package judge

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/rundir"
)

// benchScenario is a 10-minute run with three faults, judged by two client
// SLOs (one per step), an RTO per fault and a PromQL-free target.
const benchScenario = `apiVersion: gameday/v1
kind: Scenario
name: bench
target:
  external:
    baseURL: http://127.0.0.1:1
load:
  - name: mobile
    duration: 10m
    profile: {constant: {rate: 2000/s}}
    requests: [{name: feed, url: "{{.Base}}/v1/feed"}]
faults:
  - {name: f1, at: 2m, for: 20s, http: {url: "{{.Base}}/f"}}
  - {name: f2, at: 5m, for: 20s, http: {url: "{{.Base}}/f"}}
  - {name: f3, at: 8m, for: 20s, http: {url: "{{.Base}}/f"}}
checks:
  slos:
    - {name: availability, client: {sli: success_ratio}, objective: ">= 0.9", mode: always, step: 1s}
    - {name: p99, client: {sli: latency, quantile: 0.99}, objective: "<= 300ms"}
  rto:
    - {name: r1, fault: f1, recovery: {successRatio: ">= 0.99"}, objective: "<= 30s"}
    - {name: r2, fault: f2, recovery: {successRatio: ">= 0.99", latency: "<= 100ms"}, objective: "<= 30s"}
    - {name: r3, fault: f3, recovery: {successRatio: ">= 0.99"}, objective: "<= 30s"}
`

// benchRun writes a run directory of n results spread over the scenario's
// 10 minutes: during each fault's first 5 s every request fails.
func benchRun(tb testing.TB, dir string, n int) { benchRunWith(tb, dir, n, nil) }

// benchRunWith is benchRun with mutate applied to each result before it is
// written.
func benchRunWith(tb testing.TB, dir string, n int, mutate func(i int, r *vegeta.Result)) {
	tb.Helper()
	start := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	if err := os.WriteFile(filepath.Join(dir, rundir.FileScenario), []byte(benchScenario), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, rundir.DirResults), 0o755); err != nil {
		tb.Fatal(err)
	}
	events := []rundir.Event{{Time: start.Add(-time.Second), Type: rundir.EventRunStarted}, {Time: start, Type: rundir.EventLoadStarted}}
	for i, at := range []time.Duration{2 * time.Minute, 5 * time.Minute, 8 * time.Minute} {
		name := fmt.Sprintf("f%d", i+1)
		rec := chaos.Record{Fault: name, Kind: "http", Target: "t", InjectedAt: start.Add(at)}
		events = append(events, rundir.Event{Time: rec.InjectedAt, Type: rundir.EventFaultInjected, Fault: name, Records: []chaos.Record{rec}})
		rec.RecoveredAt = start.Add(at + 20*time.Second)
		events = append(events, rundir.Event{Time: rec.RecoveredAt, Type: rundir.EventFaultRecover, Fault: name, Records: []chaos.Record{rec}})
	}
	end := start.Add(10 * time.Minute)
	events = append(events, rundir.Event{Time: end, Type: rundir.EventLoadFinished}, rundir.Event{Time: end, Type: rundir.EventRunFinished})
	f, err := os.Create(filepath.Join(dir, rundir.FileEvents))
	if err != nil {
		tb.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}

	rf, err := load.CreateResultsFile(filepath.Join(dir, rundir.DirResults, "mobile.gob"))
	if err != nil {
		tb.Fatal(err)
	}
	every := 10 * time.Minute / time.Duration(n)
	for i := range n {
		t := start.Add(time.Duration(i) * every)
		off := t.Sub(start)
		r := vegeta.Result{Attack: "mobile", Seq: uint64(i), Timestamp: t, Code: 200, Latency: time.Duration(1+i%97) * time.Millisecond, Method: "GET", URL: "http://127.0.0.1:1/v1/feed"}
		for _, at := range []time.Duration{2 * time.Minute, 5 * time.Minute, 8 * time.Minute} {
			if off >= at && off < at+5*time.Second {
				r.Code, r.Error = 503, ""
			}
		}
		if mutate != nil {
			mutate(i, &r)
		}
		rf.Record("mobile", "feed", &r)
	}
	if err := rf.Close(); err != nil {
		tb.Fatal(err)
	}
}

// peakHeap samples the heap in use every millisecond until stop is closed
// and returns the highest figure.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

var benchDirs sync.Map // n → run directory, built once per process

// BenchmarkJudge judges a stored run of n results, side by side with only
// decoding its results file (the floor any judge pays), and reports the
// peak heap in use during the judgement beside the heap before it.
func BenchmarkJudge(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		v, _ := benchDirs.LoadOrStore(n, b.TempDir())
		dir := v.(string)
		if _, err := os.Stat(filepath.Join(dir, rundir.FileEvents)); err != nil {
			benchRun(b, dir, n)
		}
		b.Run(fmt.Sprintf("decode-only/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				count := 0
				err := load.ReadResults(filepath.Join(dir, rundir.DirResults, "mobile.gob"), func(_, _ string, _ *vegeta.Result) error {
					count++
					return nil
				})
				if err != nil || count != n {
					b.Fatalf("decoded %d results (%v); want %d", count, err, n)
				}
			}
		})
		b.Run(fmt.Sprintf("judge/n=%d", n), func(b *testing.B) {
			var peak, before uint64
			for b.Loop() {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				before = ms.HeapInuse
				stop := make(chan struct{})
				sampled := peakHeap(stop)
				rep, err := Judge(context.Background(), dir)
				close(stop)
				peak = max(peak, <-sampled)
				if err != nil {
					b.Fatal(err)
				}
				if len(rep.Checks) != 2 || len(rep.RTO) != 3 || rep.Load[0].Requests != n {
					b.Fatalf("judged %d SLOs, %d RTOs, %d requests; want 2, 3, %d", len(rep.Checks), len(rep.RTO), rep.Load[0].Requests, n)
				}
			}
			b.ReportMetric(float64(before)/(1<<20), "heap-before-MiB")
			b.ReportMetric(float64(peak)/(1<<20), "heap-peak-MiB")
		})
	}
}
