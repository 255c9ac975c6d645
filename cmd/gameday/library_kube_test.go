package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gameday/gameday/reference-app/deploy/kubetest"
	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
)

// kubePodLossLabels are the pod labels the bundled kube-pod-loss selects
// by default: those of reference-app/deploy/k8s's api Deployment.
var kubePodLossLabels = map[string]string{"app.kubernetes.io/name": "refapp", "app.kubernetes.io/component": "api"}

// On a real control plane (make test-k8s): the bundled kube-pod-loss, at
// libraryScale, against a 3-replica Deployment labelled as the reference
// backend's api. The test adapts the scenario as its runbook tells a user
// to (the namespace, the base URL, the kubeconfig; the selector is kept)
// and wants it green: exactly one pod deleted and replaced, the pod-level
// timeline in the report up to the owner ready again, and the report
// saying what the game day proves. The pods run no process (kwok): the
// load goes to a loopback server standing for the service, so the
// clients' SLOs and RTO hold whatever the pods do; what the cluster did
// is checked on the API server.
func TestKubeBundledPodLoss(t *testing.T) {
	const name = "kube-pod-loss"
	client := kubetest.Client(t)
	ns := kubetest.Namespace(t, client)
	kubetest.Deployment(t, client, ns, "api", 3, kubePodLossLabels)
	raw, err := fs.ReadFile(scenarios.Bundled, name+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, r := range [][2]string{
		{"baseURL: http://127.0.0.1:8080", "baseURL: " + okServer(t)},
		{"namespaces: [refapp]", "namespaces: [" + ns + "]\n    kubeconfig: " + os.Getenv(kubetest.EnvKubeconfig)},
		{"namespace: refapp", "namespace: " + ns},
	} {
		if n := strings.Count(text, r[0]); n != 1 {
			t.Fatalf("the bundled %s holds %q %d times; want once (the test adapts it there)", name, r[0], n)
		}
		text = strings.Replace(text, r[0], r[1], 1)
	}
	before := podUIDs(t, client, ns)

	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", "-q", writeFile(t, name+".yaml", text), "--time-scale", libraryScale, "--out", out)
	if code != exitOK {
		t.Fatalf("%s at time scale %s: exit %d; want %d\n%s\n%s", name, libraryScale, code, exitOK, stdout, stderr)
	}
	dir := runDir(t, out)
	rep := provingReport(t, name, dir)
	passed, total := rep.Counts()
	if passed != total || len(rep.RTO) != 1 {
		t.Fatalf("%d of %d checks passed, %d RTO checks; want all, and one RTO", passed, total, len(rep.RTO))
	}

	i := slices.IndexFunc(rep.Faults, func(f reports.Fault) bool { return f.Name == "kill-api-pod" })
	if i < 0 || rep.Faults[i].RecoveredAt.IsZero() {
		t.Fatalf("faults: %+v; want kill-api-pod recovered", rep.Faults)
	}
	f := rep.Faults[i]
	var steps []string
	for _, s := range f.Steps {
		steps = append(steps, s.Name)
	}
	for _, want := range []string{"killed", "replacement created", "scheduled", "ready", "owner ready"} {
		if !slices.Contains(steps, want) {
			t.Errorf("kill-api-pod's timeline %v lacks %q", steps, want)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, rundir.FileMarkdown))
	if err != nil || !strings.Contains(string(md), "owner ready") {
		t.Errorf("report.md lacks the pod's timeline (%v)", err)
	}

	// One pod of the three was deleted and replaced, as the API server says.
	after := podUIDs(t, client, ns)
	gone := 0
	for _, p := range before {
		if !slices.Contains(after, p) {
			gone++
		}
	}
	if gone != 1 || len(after) != len(before) {
		t.Errorf("pods before %v, after %v; want one of %d replaced", before, after, len(before))
	}
	t.Logf("%s at time scale %s: %d of %d checks passed; RTO %s; killed → owner ready in %s",
		name, libraryScale, passed, total, rep.RTO[0].Measured, f.RecoveredAt.Sub(f.InjectedAt))
}
