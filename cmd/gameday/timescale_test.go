package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gameday/gameday/reports"
)

// TestTimeScaleRunAndReportAgree plays a scenario at --time-scale 0.5: its
// 4 s load runs 2 s, its fault injected at 2 s comes at 1 s; gameday
// report judges the run directory again at the same scale (the scale is
// recorded there): the same phases, and the throughput of a stream that
// starts late is reckoned over its scaled span (1 s from +1 s), not the
// written one (from +2 s, after the load's end).
func TestTimeScaleRunAndReportAgree(t *testing.T) {
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer svc.Close()
	path := writeFile(t, "scaled.yaml", fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: scaled
target: {external: {baseURL: %q}}
load:
  - {name: l, duration: 4s, profile: {constant: {rate: 20/s}}, requests: [{url: "{{.Base}}/"}]}
  - {name: late, start: 2s, duration: 2s, profile: {constant: {rate: 20/s}}, requests: [{url: "{{.Base}}/"}]}
faults:
  - {name: nudge, at: 2s, for: 1s, http: {url: "{{.Base}}/nudge"}}
checks:
  slos: [{name: up, client: {sli: success_ratio}, objective: ">= 0.99", during: all}]
`, svc.URL))
	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", path, "--time-scale", "0.5", "--out", out)
	if code != exitOK {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	dir := runDir(t, out)
	rep := readReport(t, dir)
	if d := rep.End.Sub(rep.Start); d < 2*time.Second || d > 3*time.Second {
		t.Errorf("load ran %s at scale 0.5; want about 2s", d)
	}
	if len(rep.Faults) != 1 {
		t.Fatalf("faults = %+v; want one", rep.Faults)
	}
	if at := rep.Faults[0].InjectedAt.Sub(rep.Start); at < 900*time.Millisecond || at > 1500*time.Millisecond {
		t.Errorf("fault injected at +%s; want +1s (2s at scale 0.5)", at)
	}
	if code, stdout, stderr := cli(t, context.Background(), "report", dir); code != exitOK {
		t.Fatalf("report: exit %d\n%s\n%s", code, stdout, stderr)
	}
	again := readReport(t, dir)
	if fmt.Sprint(again.Phases) != fmt.Sprint(rep.Phases) {
		t.Errorf("phases judged again = %v; at the run %v", again.Phases, rep.Phases)
	}
	for _, r := range []struct {
		when string
		rep  []reports.StreamSummary
	}{{"at the run", rep.Load}, {"judged again", again.Load}} {
		for _, s := range r.rep {
			if s.Stream == "late" && (s.Throughput < 15 || s.Throughput > 25) {
				t.Errorf("%s: stream late's throughput %.1f/s; want about 20/s over its scaled second", r.when, s.Throughput)
			}
		}
	}
}
