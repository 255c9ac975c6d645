package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/run"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target/processes"
)

// Environment of TestInterruptTrials.
const (
	trialsEnv = "GAMEDAY_INTERRUPT_TRIALS" // the number of trials; unset: skipped
	seedEnv   = "GAMEDAY_INTERRUPT_SEED"   // replays the choices of an earlier run
)

// trialFaults are four faults of three kinds, all applied from 1s to 3s of a
// 6s load (the last 3s leave a busy machine some margin): a latency toxic on
// the client's link, the link to backend-2 cut, backend-1 paused, backend-2
// killed (back after its restart delay).
const trialFaults = `faults:
  - {name: slow-front, at: 1s, for: 2s, network: {link: client-front, toxic: latency, latency: 50ms}}
  - {name: cut-backend-2, at: 1s, for: 2s, network: {link: front-backend-2, toxic: down}}
  - {name: freeze-backend-1, at: 1s, for: 2s, process: {selector: {instance: backend-1}, signal: STOP}}
  - {name: kill-backend-2, at: 1s, process: {selector: {service: backend, instance: backend-2}, signal: KILL}}
`

// interruptWindow is how long after the first injection a signal may come:
// while the faults are applied.
const interruptWindow = 2 * time.Second

// maxAttempts bounds the attempts of a signal trial whose signal came after
// the load had finished (see signalTrial).
const maxAttempts = 3

// trialScenario is the notes example with the trial's faults and load, its
// links on the Toxiproxy at toxiproxyURL.
func trialScenario(t *testing.T, toxiproxyURL string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "notes", "notes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(raw), "\nfaults:\n")
	j := strings.Index(string(raw), "\nchecks:\n")
	if i < 0 || j < i {
		t.Fatal("notes.yaml has no faults section before its checks")
	}
	oldFaults := string(raw[i+1 : j])
	return notesScenario(t,
		oldFaults, trialFaults,
		"duration: 12s", "duration: 6s",
		"    edges:\n", "    toxiproxy: "+toxiproxyURL+"\n    edges:\n",
	)
}

// The ways a trial ends a run.
const (
	endSIGINT  = "SIGINT"
	endSIGTERM = "SIGTERM"
	endPanic   = "panic"
)

// trialOutcome is what one trial left behind.
type trialOutcome struct {
	toxics, proxies int      // on the test's Toxiproxy
	processes       int      // of the run, still alive
	unreverted      int      // fault records of the report without a recovery
	applied         []string // the faults applied when the run was ended
}

// add counts what o left in what t left.
func (t *trialOutcome) add(o trialOutcome) {
	t.toxics += o.toxics
	t.proxies += o.proxies
	t.processes += o.processes
	t.unreverted += o.unreverted
}

// TestInterruptTrials (acceptance 3 of the faults issue) plays many short
// runs of the notes example, each ended by SIGINT, SIGTERM or a panic at a
// random moment while faults of every kind are applied; after each, the
// test's Toxiproxy holds no toxic and no gameday proxy, no process of the run
// is left, and the report closes every fault record. It prints a line per
// trial, the tally, and its seed:
//
//	make test-interrupts              # 50 trials
//	make test-interrupts TRIALS=200
//	GAMEDAY_INTERRUPT_SEED=N make test-interrupts   # the same choices again
func TestInterruptTrials(t *testing.T) {
	v := os.Getenv(trialsEnv)
	if v == "" {
		t.Skipf("set %s to a number of trials (make test-interrupts)", trialsEnv)
	}
	trials, err := strconv.Atoi(v)
	if err != nil || trials < 1 {
		t.Fatalf("%s=%q; want a positive number of trials", trialsEnv, v)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(seedEnv); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", seedEnv, s, err)
		}
	}
	t.Logf("%d trials, seed %d (%s=%d replays the choices)", trials, seed, seedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed))

	tp, err := network.StartToxiproxy()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	client := network.NewClient(tp.URL)
	scenario := trialScenario(t, tp.URL)

	start := time.Now()
	kinds := map[string]int{}
	applied := map[int]int{} // trials by the number of faults applied when the run was ended
	var left trialOutcome
	failed, void := 0, 0
	for i := 1; i <= trials; i++ {
		kind := []string{endSIGINT, endSIGTERM, endPanic}[rng.IntN(3)]
		delay := time.Duration(rng.Int64N(int64(interruptWindow)))
		panicAt := 1 + rng.IntN(panicPoints)
		var out trialOutcome
		ran := false // not when -run leaves the trial out
		ok := t.Run(fmt.Sprintf("%02d-%s", i, kind), func(t *testing.T) {
			ran = true
			began := time.Now()
			var dir, how string
			var at time.Time // when the run was ended
			switch kind {
			case endSIGINT, endSIGTERM:
				sig := map[string]syscall.Signal{endSIGINT: syscall.SIGINT, endSIGTERM: syscall.SIGTERM}[kind]
				for attempt := 1; ; attempt++ {
					var late bool
					dir, at, late = signalTrial(t, scenario, sig, delay)
					if !late {
						break
					}
					// What a void attempt left counts all the same.
					out.add(inspect(t, client, dir, at))
					void++
					t.Logf("attempt %d void: %s came after the load had finished (a busy machine); again", attempt, kind)
					if attempt == maxAttempts {
						t.Fatalf("%d signals in a row came after the load had finished: the machine is too busy for the trial's timing", attempt)
					}
				}
				how = fmt.Sprintf("%v after the first injection", delay.Round(time.Millisecond))
			case endPanic:
				dir, how, at = panicTrial(t, scenario, panicAt)
			}
			last := inspect(t, client, dir, at)
			out.add(last)
			out.applied = last.applied
			t.Logf("%s %s, %d faults applied then %v: over in %v; left %d toxics, %d gameday proxies, %d processes, %d faults not reverted",
				kind, how, len(out.applied), out.applied, time.Since(began).Round(10*time.Millisecond), out.toxics, out.proxies, out.processes, out.unreverted)
		})
		if !ran {
			continue
		}
		kinds[kind]++
		applied[len(out.applied)]++
		left.add(out)
		if !ok {
			failed++
		}
		if out.toxics+out.proxies > 0 {
			// Later trials would refuse a server with leftovers.
			if _, err := network.Cleanup(context.Background(), client, nil); err != nil {
				t.Fatalf("clean the test's Toxiproxy after trial %d: %v", i, err)
			}
		}
	}
	var byApplied []string
	for _, n := range slices.Backward(slices.Sorted(maps.Keys(applied))) {
		byApplied = append(byApplied, fmt.Sprintf("%d faults applied in %d trials", n, applied[n]))
	}
	t.Logf("when the run was ended: %s", strings.Join(byApplied, ", "))
	if void > 0 {
		t.Logf("%d void attempts (the signal came after the load had finished) were played again", void)
	}
	t.Logf("%d trials: %d SIGINT, %d SIGTERM, %d panic; %d toxics, %d gameday proxies and %d processes left, %d faults not reverted; %d trials failed; %v in all",
		kinds[endSIGINT]+kinds[endSIGTERM]+kinds[endPanic], kinds[endSIGINT], kinds[endSIGTERM], kinds[endPanic], left.toxics, left.proxies, left.processes, left.unreverted, failed, time.Since(start).Round(time.Second))
}

// signalTrial runs gameday on scenario as a real process, sends it sig delay
// after it printed its first injection, and checks that it exits with 3. It
// returns the run directory and when the signal was sent; late when that was
// after the load had finished (a machine so busy that the test saw the line
// late): the run may have ended by itself, and nothing is checked.
func signalTrial(t *testing.T, scenario string, sig syscall.Signal, delay time.Duration) (dir string, sent time.Time, late bool) {
	t.Helper()
	out := t.TempDir()
	cmd, lines, stderr := startGamedayQuiet(t, "run", scenario, "--out", out)
	// Bounded: the start, the teardown deadline and some.
	timer := time.AfterFunc(time.Minute+run.DefaultTeardownTimeout, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var stdout strings.Builder
	for l := range lines {
		stdout.WriteString(l + "\n")
		if strings.Contains(l, " injected: ") {
			break
		}
	}
	time.Sleep(delay) // the random moment of the interrupt
	sent = time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Errorf("send %v to gameday: %v", sig, err)
	}
	for l := range lines {
		stdout.WriteString(l + "\n")
	}
	err := cmd.Wait()
	if !strings.Contains(stdout.String(), " injected: ") {
		t.Fatalf("gameday ended before injecting a fault: exit %d (%v)\nstdout:\n%s\nstderr:\n%s", cmd.ProcessState.ExitCode(), err, &stdout, stderr)
	}
	dir = runDir(t, out)
	for _, e := range readEvents(t, dir) {
		if e.Type == rundir.EventLoadFinished && !sent.Before(e.Time) {
			return dir, sent, true
		}
	}
	if code := cmd.ProcessState.ExitCode(); code != exitAborted {
		t.Errorf("gameday after %v: exit %d (%v); want 3\nstdout:\n%s\nstderr:\n%s", sig, code, err, &stdout, stderr)
	}
	if rep := readReport(t, dir); rep.Status != reports.StatusInterrupted {
		t.Errorf("report status after %v: %s; want interrupted", sig, rep.Status)
	}
	return dir, sent, false
}

// readEvents returns the events of the run in dir.
func readEvents(t *testing.T, dir string) []rundir.Event {
	t.Helper()
	events, err := rundir.ReadEventsOf(dir)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// panicPoints is the number of events of a trial's run on which a panic of
// the progress function is recovered by the run (see panicsContained): from
// the first injection, 4 injections, 4 recoveries, the stream's end and the
// load's end.
const panicPoints = 10

// panicsContained reports whether Run recovers a panic of its progress
// function on e, and e comes after the faults start: e is emitted on the
// orchestrator's goroutine or on the goroutine of a fault's schedule or of a
// load stream (the supervisor's and the teardown's events are not).
func panicsContained(e rundir.Event) bool {
	switch e.Type {
	case rundir.EventFaultInjected, rundir.EventStreamEnded, rundir.EventLoadFinished:
		return true
	case rundir.EventFaultRecover:
		return e.Message == "" // not "reverted at teardown"
	}
	return false
}

// panicTrial runs scenario in-process with a progress function that panics
// on the at-th event, counted from the first injection, that Run recovers
// from (panicsContained), and checks that Run reports the panic with exit
// code 3. It returns the run directory, which event panicked and when.
func panicTrial(t *testing.T, scenario string, at int) (string, string, time.Time) {
	t.Helper()
	raw, err := os.ReadFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	s, err := scenarios.LoadBytes(scenario, raw)
	if err != nil {
		t.Fatal(err)
	}
	var (
		seen     int // contained events since the first injection
		injected bool
		t0       time.Time // the first injection
		where    string
		when     time.Time
	)
	progress := func(e rundir.Event) {
		if e.Type == rundir.EventFaultInjected {
			injected = true
			if t0.IsZero() {
				t0 = e.Time
			}
		}
		if !injected || !panicsContained(e) {
			return
		}
		if seen++; seen == at {
			when = e.Time
			where = fmt.Sprintf("on %s (event %d of %d, %v after the first injection)", strings.TrimSpace(e.Type+" "+e.Fault+e.Stream), at, panicPoints, e.Time.Sub(t0).Round(time.Millisecond))
			panic("boom: trial panic " + where)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := run.Run(ctx, s, raw, run.WithOutDir(t.TempDir()), run.WithProgress(progress))
	if where == "" {
		t.Fatalf("the run saw %d contained events after the first injection; want at least %d (the panic never fired): %v", seen, at, err)
	}
	var aborted *run.AbortedError
	if !errors.As(err, &aborted) || !strings.Contains(err.Error(), "boom") || exitCode(err) != exitAborted {
		t.Errorf("Run with a panic %s = %v (exit %d); want an aborted run naming the panic, exit 3", where, err, exitCode(err))
	}
	if res == nil || res.Report == nil {
		t.Fatalf("Run with a panic %s: result %+v; want a run directory and a report", where, res)
	}
	if res.Report.Status != reports.StatusAborted {
		t.Errorf("report status after a panic %s: %s; want aborted", where, res.Report.Status)
	}
	return res.Dir, where, when
}

// inspect counts what the run in dir left: toxics on any proxy and gameday
// proxies on the test's Toxiproxy, and processes of the run (every
// incarnation the supervisor started, and the guard) still alive after a
// deadline; a zombie counts as gone; and fault records (a fault on a target)
// of the report that were never closed (the proxies gameday deleted took their toxics with them:
// the records tell whether each fault was reverted). It names the faults the
// run's records say were applied at end, when it was ended.
func inspect(t *testing.T, client *toxiclient.Client, dir string, end time.Time) trialOutcome {
	t.Helper()
	var out trialOutcome
	proxies, err := client.Proxies()
	if err != nil {
		t.Fatalf("list the test's proxies: %v", err)
	}
	for name, p := range proxies {
		if strings.HasPrefix(name, network.ToxicPrefix) {
			out.proxies++
			t.Errorf("proxy %s is left on the test's Toxiproxy", name)
		}
		for _, tx := range p.ActiveToxics {
			out.toxics++
			t.Errorf("toxic %s (%s) is left on proxy %s", tx.Name, tx.Type, name)
		}
	}

	for _, f := range readReport(t, dir).Faults {
		switch {
		case f.Target == "":
			// A row of a fault.error event: no record of its own. A fault
			// whose injection the end of the run cancelled has one.
			t.Logf("fault %s: %s", f.Name, f.Error)
		case f.RecoveredAt.IsZero():
			out.unreverted++
			t.Errorf("fault %s on %s (%s) has no recovery in the report", f.Name, f.Target, f.Action)
		}
	}

	events := readEvents(t, dir)
	out.applied = appliedAt(events, end)
	pids := map[int]string{}
	for _, e := range events {
		switch e.Type {
		case processes.EventStarted:
			pids[e.PID] = e.Instance
		case rundir.EventGuardStarted:
			pids[e.PID] = "guard"
		}
	}
	if len(pids) < 3 {
		t.Errorf("events name %d started processes; want front and 2 backends at least", len(pids))
	}
	deadline := time.Now().Add(10 * time.Second)
	for pid, name := range pids {
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // polling the kernel for a condition, bounded by the deadline
		}
		if processAlive(pid) {
			out.processes++
			t.Errorf("process %s (pid %d) is alive 10s after the run ended", name, pid)
		}
	}
	return out
}

// appliedAt names the faults whose records, in events, were open at t:
// injected before it and not recovered by then.
func appliedAt(events []rundir.Event, t time.Time) []string {
	open := map[string]bool{} // by fault
	for _, e := range events {
		for _, r := range e.Records {
			switch e.Type {
			case rundir.EventFaultInjected:
				if r.InjectedAt.Before(t) && (r.RecoveredAt.IsZero() || r.RecoveredAt.After(t)) {
					open[r.Fault] = true
				}
			case rundir.EventFaultRecover:
				if !r.RecoveredAt.After(t) {
					delete(open, r.Fault)
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(open))
}

// startGamedayQuiet is startGameday with gameday's stderr kept, for the
// failure message, instead of printed.
func startGamedayQuiet(t *testing.T, args ...string) (*exec.Cmd, <-chan string, *strings.Builder) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1", "GAMEDAY_REFAPP="+refappBin)
	var stderr strings.Builder // written by cmd's copier until Wait returns
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	return cmd, lines, &stderr
}
