package local_test

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/run"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target/local/localtest"
)

// SlowPatternsEnv names the variable that runs the slow edge game days
// (make test-edge): a whole bundled scenario takes its full duration.
const SlowPatternsEnv = "GAMEDAY_SLOW_PATTERNS"

// 7. TLS at the edge, whole: the bundled quickstart game day, its target
// switched to TLS, runs green over HTTPS through the gateway: its load,
// signed in and trusting the run's CA, meets every SLO while an api link
// turns slow and an api process is killed.
func TestPatternQuickstartOverTLS(t *testing.T) {
	if os.Getenv(SlowPatternsEnv) == "" {
		t.Skipf("a whole game day (about 50 s): set %s=1 or run make test-edge", SlowPatternsEnv)
	}
	raw, err := fs.ReadFile(scenarios.Bundled, "quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "  local:\n"
	if !strings.Contains(string(raw), anchor) {
		t.Fatalf("quickstart.yaml has no %q to add tls under", anchor)
	}
	raw = []byte(strings.Replace(string(raw), anchor, anchor+"    tls: true\n", 1))
	s, err := scenarios.LoadBytes("quickstart-tls.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Target.Local.TLS {
		t.Fatal("the scenario's target.local.tls did not decode as true")
	}
	bin, err := localtest.BuildRefapp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := run.Run(ctx, s, raw, run.WithOutDir(t.TempDir()), run.WithRefappBinary(bin))
	if res == nil || res.Report == nil {
		t.Fatalf("run quickstart over TLS: %v (no report)", err)
	}
	for _, st := range res.Report.Load {
		t.Logf("quickstart over TLS: load %+v", st)
	}
	for _, c := range res.Report.Checks {
		t.Logf("quickstart over TLS: %s %s = %s (passed %v, %d samples)", c.Name, c.Objective, c.MeasuredText, c.Passed, c.Samples)
	}
	if err != nil || res.Report.Status != reports.StatusPassed {
		t.Fatalf("quickstart over TLS: status %s (%s), err %v; want passed", res.Report.Status, res.Report.Reason, err)
	}
	if base := res.Report.Load; len(base) == 0 {
		t.Fatal("the report holds no load stream")
	}
}
