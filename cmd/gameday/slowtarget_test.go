package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/rundir"
)

// TestSlowTargetDropsAreCountedAndFailTheRun plays an open-model stream of
// 100/s for 3 s with at most 2 workers against a service behind a
// Toxiproxy link that a latency toxic slows to 200 ms from 1 s on: 2
// workers then carry 10 requests a second of the 100 due. The service
// never sees more than 2 requests at once; every hit due was either sent
// or dropped (300 in all); the report counts the dropped ones, and a
// dropped_ratio SLO fails the run (exit 1) while a success_ratio SLO
// passes: the target answered everything it was sent.
func TestSlowTargetDropsAreCountedAndFailTheRun(t *testing.T) {
	tp, err := network.StartToxiproxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	var inFlight, peak atomic.Int64
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		fmt.Fprintln(w, "ok")
	}))
	t.Cleanup(svc.Close)
	listen := freeAddr(t)
	path := writeFile(t, "slow.yaml", fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: slow-target
target:
  external:
    baseURL: "http://%[1]s"
    toxiproxy:
      url: %[2]s
      links: [{name: edge, listen: "%[1]s", upstream: "%[3]s"}]
load:
  - name: l
    duration: 3s
    profile: {constant: {rate: 100/s}}
    maxWorkers: 2
    timeout: 2s
    requests: [{url: "{{.Base}}/"}]
faults:
  - {name: slow, at: 1s, network: {link: edge, toxic: latency, latency: 200ms}}
checks:
  slos:
    - {name: answered, client: {sli: success_ratio}, objective: ">= 0.99"}
    - {name: delivered, client: {sli: dropped_ratio}, objective: "<= 1%%"}
`, listen, tp.URL, svc.Listener.Addr()))
	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", path, "--out", out)
	if code != exitFailed {
		t.Fatalf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("the service saw %d requests at once; want at most the 2 workers", p)
	}
	dir := runDir(t, out)
	rep := readReport(t, dir)
	if len(rep.Load) != 1 {
		t.Fatalf("report load = %+v; want one stream", rep.Load)
	}
	s := rep.Load[0]
	t.Logf("%d requests sent, %d dropped, at most %d at once at the service", s.Requests, s.Dropped, peak.Load())
	if s.Dropped < 100 || s.Requests+s.Dropped != 300 {
		t.Errorf("report: %d requests, %d dropped; want at least 100 dropped and 300 due in all", s.Requests, s.Dropped)
	}
	for _, c := range rep.Checks {
		want := c.Name == "answered"
		if c.Passed != want {
			t.Errorf("check %s: passed %v (measured %s); want %v", c.Name, c.Passed, c.MeasuredText, want)
		}
		if c.Name == "delivered" && c.Measured != float64(s.Dropped)/300 {
			t.Errorf("dropped_ratio measured %v; want %d/300", c.Measured, s.Dropped)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, rundir.FileMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("(%d more due, dropped: every worker busy)", s.Dropped); !strings.Contains(string(md), want) {
		t.Errorf("report.md does not say %q:\n%s", want, md)
	}
}
