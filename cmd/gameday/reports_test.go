package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/gameday/gameday/reports"
)

// withFault is minimal with a latency fault in the middle of its load.
var withFault = strings.Replace(minimal, "duration: 5s", "duration: 6s", 1) +
	"faults:\n  - {name: slow, at: 3s, for: 2500ms, network: {link: gateway-api-1, toxic: latency, latency: 50ms}}\n"

// statusLine matches a line of the live status.
var statusLine = regexp.MustCompile(`\d+(\.\d+)?s/6s  \d+\.\d/s  ok (\d+\.\d\d%|—)  p99 \S+  sent \d+  dropped \d+  faults: `)

// TestReportsRegeneratedAfterTheRun runs a game day as a process of its
// own; once it is gone, gameday report rebuilds every report of the run
// byte for byte, gameday compare finds the run equal to itself, and the
// run's output, not a terminal, held plain status lines and no control
// character.
func TestReportsRegeneratedAfterTheRun(t *testing.T) {
	out := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "run", writeFile(t, "fault.yaml", withFault), "--out", out)
	cmd.Env = append(os.Environ(), mainEnv+"=1", "GAMEDAY_REFAPP="+refappBin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("gameday run fault.yaml: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	dir := runDir(t, out)

	if bad := regexp.MustCompile(`[\x00-\x09\x0b-\x1f\x7f]`).FindString(stdout.String()); bad != "" {
		t.Errorf("the run's output (not a terminal) holds the control character %q:\n%q", bad, stdout.String())
	}
	if !statusLine.MatchString(stdout.String()) || !strings.Contains(stdout.String(), "faults: slow") {
		t.Errorf("the run's output lacks a plain status line with the active fault:\n%s", stdout.String())
	}

	before := map[string][]byte{}
	for _, f := range reports.Formats() {
		b, err := os.ReadFile(filepath.Join(dir, f.File))
		if err != nil {
			t.Fatalf("the run wrote no %s: %v", f.File, err)
		}
		before[f.File] = b
	}
	for _, want := range []string{`data-fault="slow"`, `data-chart="latency"`, `href="results/mobile.gob"`} {
		if !bytes.Contains(before[reports.FileHTML], []byte(want)) {
			t.Errorf("report.html lacks %s", want)
		}
	}
	summary := filepath.Join(t.TempDir(), "summary.md")
	if code, _, stderr := cli(t, context.Background(), "report", dir, "--summary-to", summary); code != 0 {
		t.Fatalf("gameday report = exit %d: %s", code, stderr)
	}
	for name, b := range before {
		after, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(after, b) {
			t.Errorf("gameday report rebuilt %s differently (%v)", name, err)
		}
	}
	if got, _ := os.ReadFile(summary); !bytes.Equal(got, before[reports.FileMarkdown]) {
		t.Errorf("--summary-to wrote:\n%s\nwant report.md", got)
	}

	// --format writes only what it names.
	if err := os.Remove(filepath.Join(dir, reports.FileHTML)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, reports.FileJUnit)); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := cli(t, context.Background(), "report", dir, "--format", "html"); code != 0 {
		t.Fatalf("gameday report --format html = exit %d: %s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, reports.FileHTML)); err != nil || !bytes.Equal(b, before[reports.FileHTML]) {
		t.Errorf("gameday report --format html rebuilt report.html differently (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, reports.FileJUnit)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("gameday report --format html wrote junit.xml too (%v)", err)
	}
	if code, _, stderr := cli(t, context.Background(), "report", dir, "--format", "pdf"); code != exitUsage || !strings.Contains(stderr, `"pdf"`) {
		t.Errorf("gameday report --format pdf = exit %d, %s; want 2 naming pdf", code, stderr)
	}

	if code, stdout, stderr := cli(t, context.Background(), "compare", dir, dir); code != 0 || !strings.Contains(stdout, "NO REGRESSION") {
		t.Errorf("gameday compare RUN RUN = exit %d\n%s%s; want 0, no regression", code, stdout, stderr)
	}
}

// TestCompareExitCodes: 0 for an equal run, 1 for a regressed one, 2 for a
// bad tolerance or a file that is not a report.
func TestCompareExitCodes(t *testing.T) {
	write := func(name string, r *reports.Report) string {
		var b bytes.Buffer
		if err := reports.WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		return writeFile(t, name, b.String())
	}
	report := func(p99 time.Duration, passed bool) *reports.Report {
		start := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
		return &reports.Report{
			Scenario: "x", Dir: "runs/x", Status: reports.StatusPassed, Start: start, End: start.Add(10 * time.Second),
			Load: []reports.StreamSummary{{Stream: "mobile", Route: "feed", Requests: 100, Successes: 100, SuccessRatio: 1, Throughput: 10,
				P50: 2 * time.Millisecond, P90: 3 * time.Millisecond, P99: p99, Max: 2 * p99}},
		}
	}
	base := write("base.json", report(10*time.Millisecond, true))
	same := write("same.json", report(10*time.Millisecond, true))
	slower := write("slower.json", report(13*time.Millisecond, true))
	garbage := writeFile(t, "garbage.json", "not json")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"equal", []string{base, same}, exitOK, "NO REGRESSION"},
		{"p99 30% worse", []string{base, slower}, exitFailed, "REGRESSED"},
		{"p99 30% worse, 50% allowed", []string{base, slower, "--tolerance", "p99=50%"}, exitOK, "NO REGRESSION"},
		{"p99 3ms worse, 5ms allowed", []string{base, slower, "--tolerance", "p99=5ms,p90=1ms"}, exitOK, "NO REGRESSION"},
		{"a bad tolerance", []string{base, same, "--tolerance", "p99=soon"}, exitUsage, `"soon"`},
		{"not a report", []string{base, garbage}, exitUsage, "garbage.json"},
		{"missing", []string{base, filepath.Join(t.TempDir(), "none")}, exitUsage, "does not exist"},
	} {
		code, stdout, stderr := cli(t, context.Background(), append([]string{"compare"}, tc.args...)...)
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("%s: gameday compare = exit %d\n%s%s\nwant exit %d and %q", tc.name, code, stdout, stderr, tc.code, tc.want)
		}
	}
}

// TestLiveViewPTY runs a game day with its output on a pseudo-terminal:
// the status line is redrawn in place (carriage return, erase line) while
// the load plays, and the run ends with the verdict table, the status
// line erased before it.
func TestLiveViewPTY(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 100, Rows: 40}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return // EIO once the terminal side is closed
			}
		}
	}()
	code := execute(&state{
		ctx: context.Background(), stdout: tty, stderr: tty,
		args: []string{"run", writeFile(t, "fault.yaml", withFault), "--out", t.TempDir()},
		getenv: func(k string) string {
			switch k {
			case "GAMEDAY_REFAPP":
				return refappBin
			case "TERM":
				return "xterm"
			}
			return ""
		},
	})
	_ = tty.Close()
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("the pseudo-terminal was not drained")
	}
	mu.Lock()
	out := screen.String()
	mu.Unlock()
	if code != 0 {
		t.Fatalf("gameday run on a terminal = exit %d:\n%q", code, out)
	}
	redraws := strings.Count(out, clearLine)
	statuses := len(statusLine.FindAllString(out, -1))
	if redraws < 5 || statuses < 5 || !strings.Contains(out, "faults: slow") {
		t.Errorf("%d redraws, %d status lines, fault shown %v; want the status redrawn in place at least 5 times over 6s, with the active fault:\n%q",
			redraws, statuses, strings.Contains(out, "faults: slow"), out)
	}
	// Redrawn in place: no status line ends with a newline of its own.
	if m := regexp.MustCompile(`faults: [^\r\n\x1b]*\r?\n`).FindString(out); m != "" {
		t.Errorf("a status line was ended by a newline, not redrawn in place: %q", m)
	}
	tail := out[strings.LastIndex(out, clearLine)+len(clearLine):]
	if statusLine.MatchString(tail) {
		t.Errorf("the status line is still on screen after the run:\n%q", tail)
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(tail, "\r\n", "\n"), "\n"), "\n")
	if n := len(lines); n < 3 || !strings.HasPrefix(lines[n-1], "report: ") || !strings.HasPrefix(lines[n-2], "PASSED: ") || !strings.Contains(tail, "CHECK") {
		t.Errorf("the run did not end with the verdict table:\n%s", tail)
	}
}
