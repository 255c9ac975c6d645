package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gameday/gameday/reports"
)

// notesScenario copies examples/notes/notes.yaml into a temporary folder,
// pointed at the notes binary this test binary built, and returns its path.
func notesScenario(t *testing.T, replace ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "notes", "notes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(raw), "../../bin/notes", notes)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(text, replace[i]) {
			t.Fatalf("notes.yaml has no %q", replace[i])
		}
		text = strings.ReplaceAll(text, replace[i], replace[i+1])
	}
	return writeFile(t, "notes.yaml", text)
}

// The example service of a user's own, two backends behind a front, each
// edge through Toxiproxy: a latency fault on one backend's link and a kill of
// the other keep every SLO (acceptance 3 of the targets issue).
func TestExampleNotesProcessesTargetIsGreen(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", notesScenario(t), "--out", out)
	if code != exitOK {
		t.Fatalf("gameday run examples/notes/notes.yaml = exit %d; want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	dir := runDir(t, out)
	rep := readReport(t, dir)
	if rep.Status != reports.StatusPassed || len(rep.Checks) != 5 {
		t.Fatalf("report: %s with %d checks; want passed, 5", rep.Status, len(rep.Checks))
	}
	faults := map[string]bool{}
	for _, f := range rep.Faults {
		faults[f.Name+" on "+f.Target] = true
	}
	for _, want := range []string{"slow-backend-1 on front-backend-1", "kill-backend-2 on backend-2"} {
		if !faults[want] {
			t.Errorf("report faults %v; want %s", faults, want)
		}
	}
	for _, log := range []string{"backend-1.log", "backend-2.log", "front.log"} {
		if _, err := os.Stat(filepath.Join(dir, "logs", log)); err != nil {
			t.Errorf("run directory lacks logs/%s: %v", log, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "backend-1", "notes.jsonl")); err != nil {
		t.Errorf("backend-1's --data={{.DataDir}}/notes.jsonl is not in the run directory: %v", err)
	}
}

// SIGINT in the middle of a run against the user's own processes reverts
// the fault and leaves no process behind.
func TestProcessesInterruptLeavesNoProcess(t *testing.T) {
	out := t.TempDir()
	cmd, lines := startGameday(t, "run", notesScenario(t, "duration: 12s", "duration: 60s"), "--out", out)
	awaitLine(t, lines, "fault slow-backend-1 injected")
	dir := runDir(t, out)
	pids := pidsOf(t, dir)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitAborted {
		t.Errorf("gameday after SIGINT: exit %d (%v); want 3", code, err)
	}
	awaitGone(t, pids)
	rep := readReport(t, dir)
	if rep.Status != reports.StatusInterrupted {
		t.Errorf("report status %s; want interrupted", rep.Status)
	}
	for _, f := range rep.Faults {
		if f.RecoveredAt.IsZero() {
			t.Errorf("fault %s on %s has no recovery after SIGINT", f.Name, f.Target)
		}
	}
}
