package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
)

// failingExample is the game day that fails on purpose, outside the
// bundled library (which must pass as a whole), and failingScale the time
// scale this test plays it at: its 60 s timeline in 24 s, long enough for
// the 8 s restart and 5 s of stable recovery after it.
const (
	failingExample = "../../examples/failing/single-api-replica.yaml"
	failingScale   = "0.4"
)

// TestFailingExampleFails plays the failing example against the reference
// backend and wants it to fail as docs/facilitator-guide.md shows: exit 1,
// the steady state and the latency objective met, availability and the
// RTO missed, and the reports naming each missed objective with the value
// measured beside it. The guide's excerpt of report.md must have the
// failed rows this run's report.md has.
func TestFailingExampleFails(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a game day against the reference backend")
	}
	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", "-q", failingExample, "--time-scale", failingScale, "--out", out)
	if code != exitFailed {
		t.Fatalf("the failing example at time scale %s: exit %d; want %d\n%s\n%s", failingScale, code, exitFailed, stdout, stderr)
	}
	if !strings.Contains(stderr, "2 check(s) failed: availability, clients-whole") {
		t.Errorf("stderr does not name the failed checks:\n%s", stderr)
	}
	dir := runDir(t, out)
	rep := provingReport(t, "single-api-replica", dir)
	if rep.Status != reports.StatusFailed {
		t.Errorf("status %s; want %s", rep.Status, reports.StatusFailed)
	}

	// The SLOs: the steady state and the latency held; availability did not.
	slos := map[string]bool{"availability": false, "p99-under-fault": true, "steady": true}
	for _, v := range rep.Checks {
		want, ok := slos[v.Name]
		if !ok {
			t.Errorf("unexpected check %s", v.Name)
			continue
		}
		delete(slos, v.Name)
		if v.Passed != want {
			t.Errorf("%s: passed %v (measured %s, objective %s); want %v", v.Name, v.Passed, v.MeasuredText, v.Objective, want)
		}
		if v.Name == "availability" && !(v.Measured < 0.99) {
			t.Errorf("availability measured %s; want below its objective %s", v.MeasuredText, v.Objective)
		}
	}
	if len(slos) > 0 {
		t.Errorf("checks missing from the report: %v", slos)
	}

	// The RTO: measured, and longer than its objective.
	if len(rep.RTO) != 1 {
		t.Fatalf("%d RTO checks; want 1", len(rep.RTO))
	}
	rto := rep.RTO[0]
	measured, err := time.ParseDuration(rto.Measured)
	if rto.Passed || err != nil || measured <= 5*time.Second || rto.Objective != "<= 5s" {
		t.Errorf("RTO %s: passed %v, measured %q (%v), objective %q; want failed, measured above 5s", rto.Name, rto.Passed, rto.Measured, err, rto.Objective)
	}

	// The Markdown summary names each failed objective, the value measured
	// and the objective, and says why the RTO failed.
	md, err := os.ReadFile(filepath.Join(dir, rundir.FileMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	var availability string
	for _, v := range rep.Checks {
		if v.Name == "availability" {
			availability = v.MeasuredText
		}
	}
	guide, err := os.ReadFile(filepath.Join("..", "..", "docs", "facilitator-guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"### gameday `single-api-replica`: FAILED, 2 of 4 checks passed",
		"| availability | SLO | FAIL | " + availability + " | >= 99% | all |",
		"| clients-whole | RTO | FAIL | " + rto.Measured + " | <= 5s | fault kill-api |",
		"- `clients-whole`: recovered " + rto.Measured + " after the injection; the objective is <= 5s",
	} {
		if !strings.Contains(string(md), line+"\n") {
			t.Errorf("report.md lacks the line %q:\n%s", line, md)
		}
	}
	for _, fragment := range []string{
		"### gameday `single-api-replica`: FAILED, 2 of 4 checks passed",
		"| availability | SLO | FAIL | ",
		"| clients-whole | RTO | FAIL | ",
		"- `clients-whole`: recovered ",
	} {
		if !strings.Contains(string(guide), fragment) {
			t.Errorf("docs/facilitator-guide.md's excerpt of the failed report lacks %q: update it from this run's report.md:\n%s", fragment, md)
		}
	}
	t.Logf("the failing example at time scale %s: availability %s, RTO %s", failingScale, availability, rto.Measured)
}
