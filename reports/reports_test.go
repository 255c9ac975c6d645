package reports

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gameday/gameday/slo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var start = time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)

func sample() *Report {
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	return &Report{
		Scenario:    "quickstart",
		Description: "Latency on one link, then a kill.",
		Dir:         "runs/20261123T070000Z-quickstart",
		Status:      StatusFailed,
		Start:       at(0),
		End:         at(40),
		Phases: []Phase{
			{Name: "warmup", Start: at(0), End: at(10)},
			{Name: "fault", Start: at(10), End: at(18)},
			{Name: "recovery", Start: at(26.2), End: at(40)},
		},
		Faults: []Fault{
			{Name: "slow-api-1", Kind: "network", Target: "gateway-api-1", Action: "latency 150ms±20ms downstream", InjectedAt: at(10.001), RecoveredAt: at(18.002)},
			{Name: "kill-api-2", Kind: "process", Target: "api-2", Action: "SIGKILL pid 4242", InjectedAt: at(24), RecoveredAt: at(26.2)},
			{Name: "kill-pod", Kind: "pod", Target: "shop/api-7d9f-abcde", Action: "delete pod (grace 0s), owner Deployment/api", InjectedAt: at(30), RecoveredAt: at(30.1),
				Steps: []Step{
					{Name: "killed", At: at(30)},
					{Name: "replacement created", At: at(30.03), Detail: "api-7d9f-x2k4q"},
					{Name: "scheduled", At: at(30.04)},
					{Name: "ready", At: at(30.09)},
					{Name: "owner ready", At: at(30.1), Detail: "3/3 ready"},
				}},
		},
		Processes: []Process{{Instance: "api-1", Starts: 1}, {Instance: "api-2", Starts: 2, Exits: 1}},
		Load: []StreamSummary{{
			Stream: "mobile", Route: "feed", Requests: 1400, Dropped: 12, Successes: 1398, SuccessRatio: 1398.0 / 1400, Throughput: 34.95,
			P50: 2100 * time.Microsecond, P90: 3 * time.Millisecond, P99: 160 * time.Millisecond, Max: 2 * time.Second,
			Codes:  map[string]int{"200": 1398, "0": 2},
			Errors: []ErrorCount{{Error: "Get \"http://127.0.0.1:1/v1/feed\": EOF", Count: 2}},
		}},
		Checks: []slo.Verdict{
			{Name: "availability", SLI: "success_ratio", Objective: ">= 0.99", During: []string{"all"}, Mode: "overall", Measured: 0.9986, MeasuredText: "0.9986", Samples: 1400, Passed: true},
			{Name: "p99|pipe", SLI: "latency p99", Objective: "<= 100ms", During: []string{"fault"}, Mode: "overall", Measured: 0.16, MeasuredText: "160ms", Samples: 300, Detail: "too slow"},
			{Name: "empty", SLI: "success_ratio", Objective: ">= 0.5", During: []string{"recovery"}, Mode: "overall", Measured: math.NaN(), MeasuredText: "no data", Detail: "no requests in the window"},
		},
		RTO: []RecoveryCheck{
			{
				Name: "api-recovers", Fault: "kill-api-2", Injection: 1, Condition: "success ratio >= 0.99 over 1s, stable for 3s",
				Objective: "<= 5s", Measured: "1.3s", Passed: true, Source: RecoveryFromResults,
				Recovery: &slo.Recovery{
					Fault: "kill-api-2", Injected: at(24), Reverted: at(26.2), End: at(40), Resolution: 100 * time.Millisecond, StableFor: 3 * time.Second,
					Impacted: true, Detected: at(24.2), TimeToDetect: 200 * time.Millisecond, Recovered: true, RecoveredAt: at(25.3),
					RTO: 1300 * time.Millisecond, Impact: 1100 * time.Millisecond, Samples: 560,
				},
				Prometheus: &slo.Recovery{Resolution: time.Second, Recovered: true, RTO: 2 * time.Second},
			},
			{
				Name: "slow-recovers", Fault: "slow-api-1", Injection: 1, Condition: "latency p99 <= 100ms over 1s, stable for 3s",
				Objective: "<= 10s", Measured: "unbounded",
				Recovery: &slo.Recovery{Fault: "slow-api-1", Injected: at(10.001), End: at(24), Resolution: 100 * time.Millisecond, StableFor: 3 * time.Second, Impacted: true, Detected: at(10.101), TimeToDetect: 100 * time.Millisecond, Impact: 13899 * time.Millisecond},
				Detail:   "not recovered: the condition still did not hold at the end of the range, 13.999s after the injection",
			},
		},
		RPO: []DataLossCheck{{
			Name: "no-loss", Fault: "kill-api-2", Injection: 1, Probe: "kv", Objective: "<= 0s", Measured: "150ms",
			Loss: &slo.DataLoss{Fault: "kill-api-2", Injected: at(24), Writes: 300, Acknowledged: 290, Found: 287, Lost: 3, LostIDs: []string{"p-1", "p-2", "p-3"},
				LostFrom: at(23.85), LostTo: at(23.95), RPO: 150 * time.Millisecond, WorstRPO: 150 * time.Millisecond, ReplicationLag: new(0.12)},
			Detail: "3 acknowledged writes lost, the oldest acknowledged 150ms before the injection",
		}},
		Timeline:     sampleTimeline(),
		ScenarioYAML: "apiVersion: gameday/v1\nname: quickstart\n",
		Files:        []string{"scenario.yaml", "events.jsonl", "results/mobile.gob", "report.json", "report.md", "junit.xml", "report.html"},
	}
}

// sampleTimeline is 40 s in 1 s buckets of one stream: 35 requests a
// second, latency 2 ms, a dip in success and a latency rise from 10 s to
// 18 s (the latency fault), 3 s without any answer from 24 s (the kill).
func sampleTimeline() *Timeline {
	tl := &Timeline{Bucket: time.Second, Streams: []StreamSeries{{Stream: "mobile"}}}
	for i := range 40 {
		p := Point{Requests: 35, Successes: 35, P50: 2 * time.Millisecond, P90: 3 * time.Millisecond, P99: 5 * time.Millisecond}
		switch {
		case i >= 10 && i < 18:
			p.Successes, p.P50, p.P90, p.P99 = 34, 152*time.Millisecond, 160*time.Millisecond, 171*time.Millisecond
		case i >= 24 && i < 27:
			p = Point{}
		}
		tl.Streams[0].Points = append(tl.Streams[0].Points, p)
	}
	return tl
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestMarkdownGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, sample()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", b.Bytes())
}

func TestTableGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sample()); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.txt", b.Bytes())
}

func TestJSONRoundTrip(t *testing.T) {
	var b bytes.Buffer
	in := sample()
	if err := WriteJSON(&b, in); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.json", b.Bytes())
	out, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != in.Status || len(out.Checks) != len(in.Checks) || out.Checks[1].Name != "p99|pipe" || out.Load[0].P99 != in.Load[0].P99 {
		t.Errorf("ReadJSON(WriteJSON(r)) = %+v; want the same report", out)
	}
	if got := out.Faults[2].Steps; len(got) != 5 || got[1] != in.Faults[2].Steps[1] {
		t.Errorf("ReadJSON(WriteJSON(r)).Faults[2].Steps = %+v; want %+v", got, in.Faults[2].Steps)
	}
	if got, want := out.Timeline, in.Timeline; !reflect.DeepEqual(got, want) {
		t.Errorf("ReadJSON(WriteJSON(r)).Timeline = %+v; want %+v", got, want)
	}
	if got, want := out.RTO[0].Recovery, in.RTO[0].Recovery; !reflect.DeepEqual(got, want) {
		t.Errorf("ReadJSON(WriteJSON(r)).RTO[0].Recovery = %+v; want %+v", got, want)
	}
	if got, want := out.RPO[0].Loss, in.RPO[0].Loss; !reflect.DeepEqual(got, want) {
		t.Errorf("ReadJSON(WriteJSON(r)).RPO[0].Loss = %+v; want %+v", got, want)
	}
	if got, want := out.Load, in.Load; !reflect.DeepEqual(got, want) {
		t.Errorf("ReadJSON(WriteJSON(r)).Load = %+v; want %+v", got, want)
	}
	if got := out.Failed(); len(got) != 2 {
		t.Errorf("Failed() = %d checks; want 2", len(got))
	}
}
