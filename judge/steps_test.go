package judge

import (
	"testing"
	"time"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
)

// A pod fault's records carry its recovery steps: the report shows the
// recovered record's whole timeline, and the fault's span ends when the
// owner was ready again (the record's RecoveredAt), not when Recover was
// called or returned.
func TestTimelinePodSteps(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	injected := chaos.Record{Fault: "kill-api", Kind: chaos.KindPod, Target: "shop/api-1", Action: "delete pod", InjectedAt: at(10_000),
		Steps: []chaos.Step{{Name: "killed", At: at(10_000)}}}
	recovered := injected
	recovered.RecoveredAt = at(12_500)
	recovered.Steps = []chaos.Step{
		{Name: "killed", At: at(10_000)},
		{Name: "replacement created", At: at(10_030), Detail: "api-2"},
		{Name: "scheduled", At: at(10_040)},
		{Name: "ready", At: at(12_000)},
		{Name: "owner ready", At: at(12_500), Detail: "3/3"},
	}
	events := []rundir.Event{
		{Time: at(0), Type: rundir.EventLoadStarted},
		{Time: at(10_000), Type: rundir.EventFaultInjected, Fault: "kill-api", Records: []chaos.Record{injected}},
		// Recover returned well after the owner was ready.
		{Time: at(13_000), Type: rundir.EventFaultRecover, Fault: "kill-api", Records: []chaos.Record{recovered}},
		{Time: at(20_000), Type: rundir.EventLoadFinished},
		{Time: at(20_001), Type: rundir.EventRunFinished},
	}
	rep := &reports.Report{}
	tl, _, _ := timelineOf(events, rep)
	if len(rep.Faults) != 1 || len(rep.Faults[0].Steps) != 5 {
		t.Fatalf("timelineOf: faults %+v; want one fault with 5 steps", rep.Faults)
	}
	if got := rep.Faults[0].Steps[1]; got != (reports.Step{Name: "replacement created", At: at(10_030), Detail: "api-2"}) {
		t.Errorf("timelineOf: step 1 = %+v; want replacement created at +30ms, api-2", got)
	}
	if len(tl.Faults) != 1 || !tl.Faults[0].End.Equal(at(12_500)) {
		t.Errorf("timelineOf: fault spans %+v; want one ending at the owner ready, %s", tl.Faults, at(12_500))
	}
}
