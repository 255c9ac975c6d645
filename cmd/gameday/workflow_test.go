package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestGitHubActionsWorkflowSteps runs the run: steps of the GitHub Actions
// workflow in docs/ci/github-actions.yml locally, in order, from the
// module's root as a checkout would be, with RUNNER_TEMP and
// GITHUB_STEP_SUMMARY pointing at temporary files and a PATH that holds
// Go and the system's tools but no refapp: go build ./cmd/gameday alone
// must be enough. The uses: steps (checkout, setup-go, the publishers)
// are GitHub's; the test checks what they would publish: the step
// summary and the JUnit file.
func TestGitHubActionsWorkflowSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gameday and plays the quickstart")
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "ci", "github-actions.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string `yaml:"name"`
				Uses string `yaml:"uses"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &wf); err != nil {
		t.Fatalf("the workflow is not YAML: %v", err)
	}
	job, ok := wf.Jobs["gameday"]
	if !ok || len(job.Steps) == 0 {
		t.Fatalf("the workflow has no gameday job with steps")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	summary := filepath.Join(tmp, "step-summary.md")
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	goBin := filepath.Dir(goTool)
	env := append(os.Environ(),
		"RUNNER_TEMP="+tmp, "GITHUB_STEP_SUMMARY="+summary,
		"PATH="+goBin+":/usr/local/bin:/usr/bin:/bin", "GAMEDAY_REFAPP=")
	ran := 0
	for _, step := range job.Steps {
		if step.Run == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-eo", "pipefail", "-c", step.Run)
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("step %q: %v\n%s\n%s", step.Name, err, step.Run, out)
		}
		ran++
	}
	if ran < 2 {
		t.Fatalf("ran %d run: steps; want the build and the game day", ran)
	}
	md, err := os.ReadFile(summary)
	if err != nil || !strings.Contains(string(md), "PASSED") {
		t.Errorf("the step summary (%v) does not say the game day passed:\n%s", err, md)
	}
	junits, _ := filepath.Glob(filepath.Join(tmp, "runs", "*", "junit.xml"))
	if len(junits) != 1 {
		t.Errorf("junit files %v; want the run's one, for the JUnit publisher", junits)
	}
}
