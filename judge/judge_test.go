package judge

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
)

// A stored run whose requests all fail for exactly the first 5 s of each
// fault: each RTO is 5 s to the resolution, the time to detect is at most
// one resolution step, and judging the directory twice gives the same
// report, byte for byte.
func TestJudgeKnownRecovery(t *testing.T) {
	dir := t.TempDir()
	benchRun(t, dir, 60_000) // one request every 10 ms
	rep, err := Judge(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.RTO) != 3 {
		t.Fatalf("%d RTO checks; want 3", len(rep.RTO))
	}
	for _, c := range rep.RTO {
		r := c.Recovery
		if r == nil || !r.Recovered || !c.Passed {
			t.Fatalf("%s: %+v; want recovered and passed", c.Name, c)
		}
		if d := r.RTO - 5*time.Second; d < 0 || d > 100*time.Millisecond {
			t.Errorf("%s: RTO %s; want 5s to within 100ms", c.Name, r.RTO)
		}
		if r.TimeToDetect > 100*time.Millisecond {
			t.Errorf("%s: time to detect %s; want at most 100ms", c.Name, r.TimeToDetect)
		}
		if r.Reverted.Sub(r.Injected) != 20*time.Second {
			t.Errorf("%s: reverted %s after the injection; want 20s", c.Name, r.Reverted.Sub(r.Injected))
		}
	}
	if rep.Status != reports.StatusFailed {
		t.Errorf("status %s; want failed (availability is below 0.9 in the outages)", rep.Status)
	}
	var a, b bytes.Buffer
	if err := reports.WriteJSON(&a, rep); err != nil {
		t.Fatal(err)
	}
	again, err := Judge(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteJSON(&b, again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("judging the same directory twice gave two reports:\n%s\n---\n%s", a.String(), b.String())
	}
}

// Requests gameday itself cut are not the target's failures: a run whose
// only failures are canceled requests meets a success ratio of 1 and
// recovers at once, and the summary counts them apart.
func TestJudgeCountsCanceledApart(t *testing.T) {
	dir := t.TempDir()
	benchRunWith(t, dir, 60_000, func(i int, r *vegeta.Result) {
		r.Code, r.Error = 200, ""
		if i%10 == 0 {
			r.Code, r.Error = 0, load.ErrCanceled.Error()+`: Get "http://127.0.0.1:1/v1/feed": context canceled`
		}
	})
	rep, err := Judge(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		if !c.Passed || c.Canceled == 0 {
			t.Errorf("%s: passed %v, canceled %d, %s; want passed with the canceled counted apart", c.Name, c.Passed, c.Canceled, c.Detail)
		}
	}
	for _, c := range rep.RTO {
		if c.Recovery == nil || c.Recovery.RTO != 0 || c.Recovery.Impacted || c.Recovery.Canceled == 0 {
			t.Errorf("%s: %+v; want no impact and the canceled counted apart", c.Name, c.Recovery)
		}
	}
	if s := rep.Load[0]; s.Canceled != 6000 || s.SuccessRatio != 1 || s.Codes["0"] != 0 {
		t.Errorf("summary: %d canceled, success ratio %v, codes %v; want 6000, 1 and no code 0", s.Canceled, s.SuccessRatio, s.Codes)
	}
	if rep.Status != reports.StatusPassed {
		t.Errorf("status %s; want passed", rep.Status)
	}
}

// Hits gameday dropped (due while every worker was busy) are not requests:
// the results file holds their records, the summary counts them apart, and
// no SLI of requests sees them.
func TestJudgeCountsDroppedApart(t *testing.T) {
	dir := t.TempDir()
	benchRunWith(t, dir, 60_000, func(i int, r *vegeta.Result) {
		r.Code, r.Error = 200, ""
		if i%10 == 0 { // the record load.ResultsFile.Drop writes
			*r = vegeta.Result{Attack: r.Attack, Timestamp: r.Timestamp, Error: load.ErrDropped.Error() + ": every worker busy"}
		}
	})
	// dropped_ratio reads them: 6000 of 60000 hits due, 10 %; per step too.
	withDropped := strings.Replace(benchScenario, "  rto:\n", `    - {name: dropped-10, client: {sli: dropped_ratio}, objective: "<= 10%"}
    - {name: dropped-5, client: {sli: dropped_ratio}, objective: "<= 5%", mode: always, step: 10s}
  rto:
`, 1)
	if err := os.WriteFile(filepath.Join(dir, rundir.FileScenario), []byte(withDropped), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Judge(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Checks {
		switch {
		case c.Name == "dropped-5":
			if c.Passed || math.Abs(c.Measured-0.1) > 1e-9 {
				t.Errorf("%s: passed %v, measured %v; want failed at 0.1", c.Name, c.Passed, c.Measured)
			}
		case c.Name == "dropped-10":
			if !c.Passed || math.Abs(c.Measured-0.1) > 1e-9 {
				t.Errorf("%s: passed %v, measured %v; want passed at 0.1", c.Name, c.Passed, c.Measured)
			}
		case !c.Passed:
			t.Errorf("%s: passed %v, %s; want passed: a dropped hit is no failed request", c.Name, c.Passed, c.Detail)
		}
	}
	if len(rep.Checks) != 4 {
		t.Errorf("%d checks; want 4", len(rep.Checks))
	}
	if s := rep.Load[0]; s.Dropped != 6000 || s.Requests != 54000 || s.SuccessRatio != 1 || s.Codes["0"] != 0 {
		t.Errorf("summary: %d dropped, %d requests, success ratio %v, codes %v; want 6000, 54000, 1 and no code 0", s.Dropped, s.Requests, s.SuccessRatio, s.Codes)
	}
}
