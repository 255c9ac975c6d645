package run

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target/local/localtest"
	"github.com/gameday/gameday/target/processes"
)

var refapp string

// childEnv makes the test binary a child process of a test's processes
// target: an HTTP server on the address in the variable, until killed.
const childEnv = "GAMEDAY_RUN_TEST_CHILD"

func TestMain(m *testing.M) {
	if addr := os.Getenv(childEnv); addr != "" {
		fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("ok"))
		})))
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "gameday-run-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	refapp, err = localtest.BuildRefapp(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const scenario = `apiVersion: gameday/v1
kind: Scenario
name: panics
target:
  local: {apiReplicas: 2, restartDelay: 200ms, toxiproxy: %s}
metrics: {scrapeInterval: 250ms}
load:
  - name: mobile
    duration: 20s
    profile: {constant: {rate: 20/s}}
    requests:
      - {name: feed, url: "{{.Base}}/v1/feed"}
faults:
  - {name: slow, at: 500ms, network: {link: gateway-api-1, toxic: latency, latency: 50ms}}
  - {name: pause, at: 500ms, for: 30s, process: {selector: {instance: api-2}, signal: STOP}}
  - {name: kill, at: 1s, process: {selector: {instance: api-1}, signal: KILL}}
checks:
  slos:
    - {name: availability, client: {sli: success_ratio}, objective: ">= 0.5"}
`

// TestPanicRevertsEverything panics in the middle of the run — in a fault's
// goroutine, then on the orchestrator's own — and proves that every fault
// was reverted and every process stopped.
func TestPanicRevertsEverything(t *testing.T) {
	// fault.injected: on a fault's goroutine; load.started: on the
	// orchestrator's; process.exited: on the supervisor's (api-2 paused and
	// then stopped at teardown... and the kill of the scenario below).
	for _, at := range []string{rundir.EventFaultInjected, rundir.EventLoadStarted, processes.EventExited} {
		t.Run(at, func(t *testing.T) {
			tp, err := network.StartToxiproxy()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tp.Close() })
			raw := []byte(fmt.Sprintf(scenario, tp.URL))
			s, err := scenarios.LoadBytes("panics.yaml", raw)
			if err != nil {
				t.Fatal(err)
			}
			var pids []int
			var injected int
			progress := func(e rundir.Event) {
				if e.Type == processes.EventStarted {
					pids = append(pids, e.PID)
				}
				if e.Type == rundir.EventFaultInjected {
					injected++
				}
				// Panic in a fault goroutine once both faults are in, or on the orchestrator goroutine when the load starts.
				if (at == rundir.EventFaultInjected && injected == 2 && e.Type == at) || (at != rundir.EventFaultInjected && e.Type == at) {
					panic("boom at " + at)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := Run(ctx, s, raw, WithOutDir(t.TempDir()), WithRefappBinary(refapp), WithProgress(progress))
			var aborted *AbortedError
			if !errors.As(err, &aborted) || !strings.Contains(err.Error(), "boom") {
				t.Fatalf("Run with a panic = %v; want an AbortedError naming the panic", err)
			}
			if res == nil || res.Report == nil || res.Report.Status != reports.StatusAborted {
				t.Fatalf("Run with a panic: result %+v; want an aborted report", res)
			}
			client := toxiclient.NewClient(tp.URL)
			client.UserAgent = "gameday-test"
			proxies, err := client.Proxies()
			if err != nil {
				t.Fatal(err)
			}
			if len(proxies) != 0 {
				t.Errorf("after the panic the Toxiproxy server holds %d proxies; want none", len(proxies))
			}
			if len(pids) < 3 {
				t.Fatalf("saw %d started processes; want 3", len(pids))
			}
			for _, pid := range pids {
				if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
					t.Errorf("process %d still exists after Run returned: %s", pid, b)
				}
			}
			if at == rundir.EventFaultInjected {
				for _, f := range res.Report.Faults {
					if f.RecoveredAt.IsZero() {
						t.Errorf("fault %s on %s not recorded as reverted", f.Name, f.Target)
					}
				}
			}
		})
	}
}
