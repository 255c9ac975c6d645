package reports

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
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
		},
		Processes: []Process{{Instance: "api-1", Starts: 1}, {Instance: "api-2", Starts: 2, Exits: 1}},
		Load: []StreamSummary{{
			Stream: "mobile", Route: "feed", Requests: 1400, Successes: 1398, SuccessRatio: 1398.0 / 1400, Throughput: 34.95,
			P50: 2100 * time.Microsecond, P90: 3 * time.Millisecond, P99: 160 * time.Millisecond, Max: 2 * time.Second,
			Codes:  map[string]int{"200": 1398, "0": 2},
			Errors: []ErrorCount{{Error: "Get \"http://127.0.0.1:1/v1/feed\": EOF", Count: 2}},
		}},
		Checks: []slo.Verdict{
			{Name: "availability", SLI: "success_ratio", Objective: ">= 0.99", During: []string{"all"}, Mode: "overall", Measured: 0.9986, MeasuredText: "0.9986", Samples: 1400, Passed: true},
			{Name: "p99|pipe", SLI: "latency p99", Objective: "<= 100ms", During: []string{"fault"}, Mode: "overall", Measured: 0.16, MeasuredText: "160ms", Samples: 300, Detail: "too slow"},
			{Name: "empty", SLI: "success_ratio", Objective: ">= 0.5", During: []string{"recovery"}, Mode: "overall", Measured: math.NaN(), MeasuredText: "no data", Detail: "no requests in the window"},
		},
	}
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
	if got := out.Failed(); len(got) != 2 {
		t.Errorf("Failed() = %d checks; want 2", len(got))
	}
}
