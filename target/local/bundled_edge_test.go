package local_test

// The bundled game days of the edge patterns, whole, against the real
// reference backend (make test-edge: each takes its full duration).

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

// runBundled runs the bundled scenario name, its source changed by patch,
// and fails the test unless it passes; it logs every figure of the report.
func runBundled(t *testing.T, name string, patch func(t *testing.T, src string) string) *reports.Report {
	t.Helper()
	if os.Getenv(SlowPatternsEnv) == "" {
		t.Skipf("a whole game day (about a minute): set %s=1 or run make test-edge", SlowPatternsEnv)
	}
	raw, err := fs.ReadFile(scenarios.Bundled, name+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	if patch != nil {
		raw = []byte(patch(t, string(raw)))
	}
	s, err := scenarios.LoadBytes(name+".yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := localtest.BuildRefapp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := run.Run(ctx, s, raw, run.WithOutDir(t.TempDir()), run.WithRefappBinary(bin))
	if res == nil || res.Report == nil {
		t.Fatalf("run %s: %v (no report)", name, err)
	}
	for _, st := range res.Report.Load {
		t.Logf("%s: load %+v", name, st)
	}
	for _, c := range res.Report.Checks {
		t.Logf("%s: %s %s = %s (passed %v, %d samples)", name, c.Name, c.Objective, c.MeasuredText, c.Passed, c.Samples)
	}
	if err != nil || res.Report.Status != reports.StatusPassed {
		t.Fatalf("%s: status %s (%s), err %v; want passed", name, res.Report.Status, res.Report.Reason, err)
	}
	return res.Report
}

// 7. TLS at the edge, whole: the bundled quickstart game day, its target
// switched to TLS, runs green over HTTPS through the gateway: its load,
// signed in and trusting the run's CA, meets every SLO while an api link
// turns slow and an api process is killed.
func TestPatternQuickstartOverTLS(t *testing.T) {
	runBundled(t, "quickstart", func(t *testing.T, src string) string {
		const anchor = "  local:\n"
		if !strings.Contains(src, anchor) {
			t.Fatalf("quickstart.yaml has no %q to add tls under", anchor)
		}
		return strings.Replace(src, anchor, anchor+"    tls: true\n", 1)
	})
}

// 3. A second region, whole: the bundled region-failover game day cuts
// every link of region a for 20 s under traffic through the global entry
// point; it runs green (availability, region b serving, region a fenced).
func TestPatternRegionFailoverGameDay(t *testing.T) {
	runBundled(t, "region-failover", nil)
}
