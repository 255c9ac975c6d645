package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target/processes"
)

// short is a short game day against the reference backend: latency on one
// gateway→api link, then a kill of one api process.
const short = `apiVersion: gameday/v1
kind: Scenario
name: short
target:
  local: {apiReplicas: 2, restartDelay: 300ms%s}
metrics: {scrapeInterval: 250ms}
load:
  - name: mobile
    duration: %s
    profile: {constant: {rate: 40/s}}
    timeout: 2s
    requests:
      - {name: feed, weight: 3, method: GET, url: "{{.Base}}/v1/feed"}
      - {name: post, weight: 1, method: POST, url: "{{.Base}}/v1/posts", header: {Content-Type: application/json, Authorization: "Bearer {{.Token}}", Idempotency-Key: "{{.ID}}"}, body: '{"text":"post {{.Seq}}"}'}
faults:
  - {name: slow, at: 1500ms, for: 2s, network: {link: gateway-api-1, toxic: latency, latency: 150ms}}
  - {name: kill, at: 4500ms, process: {selector: {instance: api-2}, signal: KILL}}
checks:
  slos:
    - {name: availability, client: {sli: success_ratio}, objective: ">= 0.97", during: all}
    - {name: p99-under-fault, client: {sli: latency, quantile: 0.99}, objective: "<= 1500ms", during: fault}
    - {name: p50-warmup, client: {sli: latency, quantile: 0.5}, objective: "<= 100ms", during: warmup}
    - {name: apis-up-in-warmup, promql: 'sum(up{role="api"})', objective: ">= 2", mode: always, during: warmup}
    - {name: requests-counted, promql: 'sum(gameday_requests_total)', objective: "> 0", during: recovery}
`

func shortScenario(t *testing.T, duration, extraTarget string) string {
	return writeFile(t, "short.yaml", fmt.Sprintf(short, extraTarget, duration))
}

func readReport(t *testing.T, dir string) *reports.Report {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, rundir.FileReport))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := reports.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// runDir returns the only run directory under out.
func runDir(t *testing.T, out string) string {
	t.Helper()
	entries, err := os.ReadDir(out)
	if err != nil || len(entries) != 1 {
		t.Fatalf("run directories in %s: %v (%v); want exactly one", out, entries, err)
	}
	return filepath.Join(out, entries[0].Name())
}

func TestRunShortScenarioEndToEnd(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", shortScenario(t, "8s", ""), "--out", out)
	if code != 0 {
		t.Fatalf("gameday run short.yaml = exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	dir := runDir(t, out)
	for _, name := range []string{rundir.FileScenario, rundir.FileEvents, rundir.FileReport, rundir.FileMarkdown, "results/mobile.gob", "tsdb", "logs/api-1.log"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("run directory lacks %s: %v", name, err)
		}
	}
	rep := readReport(t, dir)
	if rep.Status != reports.StatusPassed || len(rep.Checks) != 5 {
		t.Fatalf("report status %s with %d checks; want passed with 5:\n%s", rep.Status, len(rep.Checks), stdout)
	}
	byName := map[string]float64{}
	for _, c := range rep.Checks {
		byName[c.Name] = c.Measured
		if !c.Passed || c.Samples == 0 {
			t.Errorf("check %s: passed %v on %d samples (%s); want a pass on data", c.Name, c.Passed, c.Samples, c.Detail)
		}
	}
	// The latency toxic was felt: half the requests went through the slow link.
	if p99 := byName["p99-under-fault"]; p99 < 0.15 {
		t.Errorf("p99 under fault = %.3fs; want >= 0.150s (the toxic's latency)", p99)
	}
	if len(rep.Faults) != 2 {
		t.Fatalf("report faults = %+v; want slow and kill", rep.Faults)
	}
	for _, f := range rep.Faults {
		if f.InjectedAt.IsZero() || f.RecoveredAt.Before(f.InjectedAt) {
			t.Errorf("fault %s on %s: injected %v recovered %v; want both, in order", f.Name, f.Target, f.InjectedAt, f.RecoveredAt)
		}
	}
	for _, p := range rep.Processes {
		if p.Instance == "api-2" && (p.Starts != 2 || p.Exits < 1) {
			t.Errorf("api-2 started %d times, exited %d; want restarted once after the kill", p.Starts, p.Exits)
		}
	}
	// The terminal shows the verdict table.
	if !strings.Contains(stdout, "PASSED: 5 of 5 checks passed") {
		t.Errorf("stdout lacks the verdict line:\n%s", stdout)
	}
	// gameday report rebuilds the same verdicts from the directory alone.
	before, _ := os.ReadFile(filepath.Join(dir, rundir.FileReport))
	code, _, stderr = cli(t, context.Background(), "report", dir)
	after, _ := os.ReadFile(filepath.Join(dir, rundir.FileReport))
	if code != 0 || string(before) != string(after) {
		t.Errorf("gameday report = exit %d (%s); report.json changed: %v", code, stderr, string(before) != string(after))
	}
}

func TestRunFailingSLOExits1(t *testing.T) {
	out := t.TempDir()
	scenario := writeFile(t, "fail.yaml", strings.Replace(minimal, "duration: 5s", "duration: 2s", 1)+
		`    - {name: impossible-p50, client: {sli: latency, quantile: 0.5}, objective: "<= 1us"}`+"\n")
	code, stdout, stderr := cli(t, context.Background(), "run", scenario, "--out", out)
	if code != exitFailed {
		t.Fatalf("gameday run fail.yaml = exit %d; want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	rep := readReport(t, runDir(t, out))
	failed := rep.Failed()
	if rep.Status != reports.StatusFailed || len(failed) != 1 || failed[0].Name != "impossible-p50" {
		t.Fatalf("report: status %s, failed %+v; want impossible-p50 alone", rep.Status, failed)
	}
	if f := failed[0]; f.Objective != "<= 1us" || !(f.Measured > 1e-6) || f.MeasuredText == "" {
		t.Errorf("failed check says measured %v (%q) against %q; want the measured latency against <= 1us", f.Measured, f.MeasuredText, f.Objective)
	}
	if !strings.Contains(stderr, "impossible-p50") || !strings.Contains(stdout, "FAIL") {
		t.Errorf("the failure is not shown:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

// startGameday runs the gameday command as a real process and returns it
// with its stdout lines.
func startGameday(t *testing.T, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1", "GAMEDAY_REFAPP="+refappBin)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	return cmd, lines
}

// awaitLine reads lines until one contains want.
func awaitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("gameday ended before printing %q", want)
			}
			if strings.Contains(l, want) {
				return
			}
		case <-deadline:
			t.Fatalf("gameday did not print %q within 60s", want)
		}
	}
}

// pidsOf returns every process gameday started in the run in dir.
func pidsOf(t *testing.T, dir string) map[int]string {
	t.Helper()
	pids := map[int]string{}
	for _, e := range readEvents(t, dir) {
		if e.Type == processes.EventStarted {
			pids[e.PID] = e.Instance
		}
	}
	if len(pids) < 3 {
		t.Fatalf("events name %d started processes; want gateway and 2 api", len(pids))
	}
	return pids
}

// awaitGone waits until none of pids runs (zombies of a dead parent are
// reaped by init).
func awaitGone(t *testing.T, pids map[int]string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pid, name := range pids {
		for processAlive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("process %s (pid %d) outlived gameday", name, pid)
				break
			}
			time.Sleep(10 * time.Millisecond) // polling the kernel for a condition, bounded by the deadline
		}
	}
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

func TestInterruptRevertsFaultsAndStopsProcesses(t *testing.T) {
	tp, err := network.StartToxiproxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	out := t.TempDir()
	scenario := shortScenario(t, "30s", ", toxiproxy: "+tp.URL)
	cmd, lines := startGameday(t, "run", scenario, "--out", out)
	awaitLine(t, lines, "fault slow injected")

	client := toxiclient.NewClient(tp.URL)
	client.UserAgent = "gameday-test"
	proxies, err := client.Proxies()
	if err != nil {
		t.Fatal(err)
	}
	toxics := 0
	for _, p := range proxies {
		ts, _ := p.Toxics()
		toxics += len(ts)
	}
	// Every edge of the local target (2 api, 1 store replica), and the one toxic.
	wantProxies := len(scenarios.Target{Local: &scenarios.LocalTarget{APIReplicas: 2, StoreReplicas: 1}}.Declaration().Links)
	if len(proxies) != wantProxies || toxics != 1 {
		t.Fatalf("during the fault: %d proxies, %d toxics; want %d and 1", len(proxies), toxics, wantProxies)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitAborted {
		t.Fatalf("gameday after SIGINT: %v; want exit code 3", err)
	}
	proxies, err = client.Proxies()
	if err != nil {
		t.Fatal(err)
	}
	if len(proxies) != 0 {
		t.Errorf("after SIGINT, the Toxiproxy server still holds %d proxies: %v", len(proxies), proxies)
	}
	dir := runDir(t, out)
	awaitGone(t, pidsOf(t, dir))
	rep := readReport(t, dir)
	if rep.Status != reports.StatusInterrupted {
		t.Errorf("report status %s; want interrupted", rep.Status)
	}
	for _, f := range rep.Faults {
		if f.Name == "slow" && f.RecoveredAt.IsZero() {
			t.Errorf("fault slow was not recorded as reverted: %+v", f)
		}
	}
}

func TestKilledRunLeavesNoProcessAndIsJudged(t *testing.T) {
	out := t.TempDir()
	cmd, lines := startGameday(t, "run", shortScenario(t, "30s", ""), "--out", out)
	awaitLine(t, lines, "fault slow injected")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	dir := runDir(t, out)
	awaitGone(t, pidsOf(t, dir))

	// The directory of the dead run is judged up to its last event.
	code, stdout, stderr := cli(t, context.Background(), "report", dir)
	if code != exitAborted {
		t.Errorf("gameday report on a killed run = exit %d; want 3\n%s\n%s", code, stdout, stderr)
	}
	rep := readReport(t, dir)
	if rep.Status != reports.StatusAborted || len(rep.Checks) != 5 || rep.Load[0].Requests == 0 {
		t.Errorf("killed run judged as %s with %d checks and load %+v; want aborted, 5 checks on the requests sent", rep.Status, len(rep.Checks), rep.Load)
	}
}

// gameday up starts the whole reference backend, prints where it is, serves
// until SIGINT, then leaves no process behind and exits 0.
func TestUpServesUntilInterrupted(t *testing.T) {
	cmd, lines := startGameday(t, "up", "--api-replicas=1")
	var clients string
	pids := map[int]string{}
	deadline := time.After(60 * time.Second)
	for clients == "" || len(pids) == 0 || !strings.Contains(clients, "done") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("gameday up ended before saying it is up")
			}
			f := strings.Fields(l)
			switch {
			case len(f) == 2 && f[0] == "clients":
				clients = f[1]
			case len(f) == 3 && strings.HasPrefix(f[1], "http://127.0.0.1:"):
				if pid, err := strconv.Atoi(f[2]); err == nil {
					pids[pid] = f[0]
				}
			case strings.HasPrefix(l, "up;"):
				clients += " done"
			}
		case <-deadline:
			t.Fatal("gameday up did not come up within 60s")
		}
	}
	base := strings.Fields(clients)[0]
	resp, err := http.Get(base + "/v1/feed")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s/v1/feed = %d; want 200", base, resp.StatusCode)
	}
	if want := len(scenarios.Target{Local: &scenarios.LocalTarget{APIReplicas: 1, StoreReplicas: 1}}.Declaration().Instances); len(pids) != want {
		t.Errorf("gameday up listed %d processes; want %d", len(pids), want)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("gameday up after SIGINT: %v; want exit 0", err)
	}
	awaitGone(t, pids)
}
