package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gameday/gameday/target/local/localtest"
)

// mainEnv makes the test binary act as the gameday command itself, so that
// tests can run it as a real process and signal it.
const mainEnv = "GAMEDAY_TEST_MAIN"

// refappBin is the reference backend built once for this test binary, and
// notes the example service of examples/notes.
var refappBin, notes string

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) != "" {
		main()
		return
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gameday-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if refappBin, err = localtest.BuildRefapp(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	notes = filepath.Join(dir, "notes")
	if out, err := exec.Command("go", "build", "-o", notes, "github.com/gameday/gameday/examples/notes/cmd/notes").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build notes: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// cli runs the CLI in-process with args and returns its exit code and output.
func cli(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := execute(&state{
		ctx:    ctx,
		stdout: &stdout,
		stderr: &stderr,
		args:   args,
		getenv: func(k string) string {
			if k == "GAMEDAY_REFAPP" {
				return refappBin
			}
			return ""
		},
	})
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsageErrorsExit2(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "expected one scenario file"},
		{[]string{"run", "a.yaml", "b.yaml"}, "expected one scenario file"},
		{[]string{"run", "--no-such-flag", "x"}, "unknown flag"},
		{[]string{"run", "/no/such/file.yaml"}, "no such file"},
		{[]string{"validate"}, "at least one scenario"},
		{[]string{"report"}, "one run directory"},
	}
	for _, tt := range tests {
		code, _, stderr := cli(t, context.Background(), tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("gameday %v = exit %d, stderr %q; want exit 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := cli(t, context.Background(), "version")
	if code != 0 || !strings.HasPrefix(stdout, "gameday ") {
		t.Errorf("gameday version = exit %d, %q; want exit 0 and a version line", code, stdout)
	}
}

func TestValidateBundled(t *testing.T) {
	code, stdout, stderr := cli(t, context.Background(), "validate", "quickstart", "../../scenarios/quickstart.yaml")
	if code != 0 || strings.Count(stdout, ": ok") != 2 {
		t.Errorf("gameday validate quickstart = exit %d, %q %q; want exit 0 and two ok lines", code, stdout, stderr)
	}
}

func TestValidateMisspeltKey(t *testing.T) {
	p := writeFile(t, "typo.yaml", strings.Replace(minimal, "duration: 5s", "duraton: 5s", 1))
	code, _, stderr := cli(t, context.Background(), "validate", p)
	want := p + `:9:5: load[0].duraton: unknown field "duraton"`
	if code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("gameday validate typo.yaml = exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr, want)
	}
}

func TestValidateReportsEveryMistake(t *testing.T) {
	bad := strings.NewReplacer(
		"duration: 5s", "duration: 5 seconds", // a malformed duration
		"rate: 20/s", "rate: fast", // a malformed rate
		`objective: ">= 0.9"`, `objective: "about 0.9"`, // a malformed objective
	).Replace(minimal)
	p := writeFile(t, "three.yaml", bad)
	code, _, stderr := cli(t, context.Background(), "validate", p)
	for _, want := range []string{
		p + ":9:15: load[0].duration:",
		p + ":10:32: load[0].profile.constant.rate:",
		p + ":16:69: checks.slos[0].objective:",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("gameday validate three.yaml: stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code != exitUsage {
		t.Errorf("gameday validate three.yaml = exit %d; want 2", code)
	}
}

// minimal is a valid scenario; tests edit it.
const minimal = `apiVersion: gameday/v1
kind: Scenario
name: minimal
target:
  local: {apiReplicas: 2, restartDelay: 300ms}
metrics: {scrapeInterval: 250ms}
load:
  - name: mobile
    duration: 5s
    profile: {constant: {rate: 20/s}}
    timeout: 2s
    requests:
      - {name: feed, method: GET, url: "{{.Base}}/v1/feed"}
checks:
  slos:
    - {name: availability, client: {sli: success_ratio}, objective: ">= 0.9"}
`
