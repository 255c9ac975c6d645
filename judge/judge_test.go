package judge

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gameday/gameday/reports"
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
