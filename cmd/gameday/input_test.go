package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gameday/gameday/rundir"
)

// TestScenarioProblemsStartTheLine: every problem line of an invalid
// scenario starts with file:line:col, the first one too, so that a problem
// matcher "^file:line:col:" finds them all.
func TestScenarioProblemsStartTheLine(t *testing.T) {
	bad := strings.NewReplacer("duration: 5s", "duration: 5", "rate: 20/s", "rate: fast").Replace(minimal)
	p := writeFile(t, "two.yaml", bad)
	code, _, stderr := cli(t, context.Background(), "validate", p, "/no/such.yaml")
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	starts := []string{p + ":9:15: load[0].duration: ", p + ":10:32: load[0].profile.constant.rate: ", "/no/such.yaml: no such file"}
	if code != exitUsage || len(lines) != len(starts) {
		t.Fatalf("gameday validate = exit %d, stderr:\n%s\nwant exit 2 and %d lines", code, stderr, len(starts))
	}
	for i, start := range starts {
		if !strings.HasPrefix(lines[i], start) {
			t.Errorf("stderr line %d = %q; want it to start with %q", i+1, lines[i], start)
		}
	}
}

// TestValidateSizeCap: an endless input is refused after the cap, unread.
func TestValidateSizeCap(t *testing.T) {
	code, _, stderr := cli(t, context.Background(), "validate", "/dev/zero")
	want := "/dev/zero: the scenario is larger than 256 KiB (262144 bytes), the most gameday reads: stopped at byte offset 262144\n"
	if code != exitUsage || stderr != want {
		t.Errorf("gameday validate /dev/zero = exit %d, %q; want exit 2 and %q", code, stderr, want)
	}
}

// event is one line of events.jsonl.
func event(typ string) string {
	return fmt.Sprintf(`{"time":"2026-01-02T03:04:05Z","type":%q}`, typ)
}

// makeRunDir makes a run directory holding files (name to content).
func makeRunDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestReportInvalidInput: what is not a run directory is invalid input
// (exit 2), with what is wrong; a run directory of a run that died early is
// judged (exit 3, aborted).
func TestReportInvalidInput(t *testing.T) {
	file := writeFile(t, "file.yaml", minimal)
	empty := t.TempDir()
	noEvents := makeRunDir(t, map[string]string{rundir.FileScenario: minimal})
	garbage := makeRunDir(t, map[string]string{rundir.FileScenario: minimal, rundir.FileEvents: "garbage\n"})
	notEvent := makeRunDir(t, map[string]string{rundir.FileScenario: minimal, rundir.FileEvents: event(rundir.EventRunStarted) + "\n[1, 2]\n"})
	noType := makeRunDir(t, map[string]string{rundir.FileScenario: minimal, rundir.FileEvents: `{"time":"2026-01-02T03:04:05Z"}` + "\n"})
	tornGarbage := makeRunDir(t, map[string]string{rundir.FileScenario: minimal, rundir.FileEvents: event(rundir.EventRunStarted) + "\nxyz"})
	badScenario := makeRunDir(t, map[string]string{rundir.FileScenario: "name: [\n", rundir.FileEvents: ""})
	bigEvents := makeRunDir(t, map[string]string{rundir.FileScenario: minimal, rundir.FileEvents: ""})
	if err := os.Truncate(filepath.Join(bigEvents, rundir.FileEvents), maxEventsFile+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	bigResults := makeRunDir(t, map[string]string{rundir.FileScenario: minimal, rundir.FileEvents: event(rundir.EventRunStarted) + "\n"})
	results := filepath.Join(bigResults, rundir.DirResults, "mobile.gob")
	if err := os.MkdirAll(filepath.Dir(results), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(results, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(results, maxResultsFile+1); err != nil { // sparse
		t.Fatal(err)
	}
	died := makeRunDir(t, map[string]string{rundir.FileScenario: minimal, rundir.FileEvents: event(rundir.EventRunStarted) + "\n{\"ti"})

	tests := []struct {
		name string
		dir  string
		code int
		want string
	}{
		{"missing", filepath.Join(empty, "none"), exitUsage, "gameday: report: " + filepath.Join(empty, "none") + " does not exist"},
		{"a file", file, exitUsage, "gameday: report: " + file + " is a file, not a run directory"},
		{"empty", empty, exitUsage, "gameday: report: " + empty + " is not a run directory: it has no scenario.yaml"},
		{"no events", noEvents, exitUsage, "gameday: report: " + noEvents + " is not a run directory: it has no events.jsonl"},
		{"garbage events", garbage, exitUsage, "gameday: report: " + garbage + "/events.jsonl:1: not an event: invalid character 'g'"},
		{"a line that is no object", notEvent, exitUsage, "gameday: report: " + notEvent + "/events.jsonl:2: not an event: json: cannot unmarshal array"},
		{"an object that is no event", noType, exitUsage, "gameday: report: " + noType + "/events.jsonl:1: not an event: it has no type or no time"},
		{"a torn last line that is no object", tornGarbage, exitUsage, "gameday: report: " + tornGarbage + "/events.jsonl:2: not an event"},
		{"an invalid scenario", badScenario, exitUsage, filepath.Join(badScenario, rundir.FileScenario) + ":2:1: invalid YAML"},
		{"events above the cap", bigEvents, exitUsage, "events.jsonl is larger than 64 MiB"},
		{"results above the cap", bigResults, exitUsage, "mobile.gob is larger than 1024 MiB"},
		{"a run that died at once is judged", died, exitAborted, "ABORTED"},
	}
	for _, tt := range tests {
		code, stdout, stderr := cli(t, context.Background(), "report", tt.dir)
		if code != tt.code || !strings.Contains(stdout+stderr, tt.want) {
			t.Errorf("%s: gameday report = exit %d, stdout %q, stderr %q; want exit %d and %q", tt.name, code, stdout, stderr, tt.code, tt.want)
		}
	}
}
