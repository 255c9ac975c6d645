package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gameday/gameday/reference-app/deploy/kubetest"
	"github.com/gameday/gameday/reports"
)

// kubeScenario is a game day against a Deployment of the test's control
// plane: load on a loopback service standing for the system's URL, and
// one pod of app=api killed at 1s.
func kubeScenario(t *testing.T, kubeconfig, ns, base string) string {
	return writeFile(t, "kube.yaml", fmt.Sprintf(`apiVersion: gameday/v1
kind: Scenario
name: kube-pod-kill
target:
  kubernetes:
    baseURL: %s
    kubeconfig: %s
    namespaces: [%s]
metrics: {scrapeInterval: 500ms}
load:
  - name: l
    duration: 6s
    profile: {constant: {rate: 20/s}}
    requests: [{url: "{{.Base}}/"}]
faults:
  - {name: kill-api, at: 1s, pod: {namespace: %s, labelSelector: app=api, mode: one, seed: 3, readyTimeout: 30s}}
checks:
  slos: [{name: served, client: {sli: success_ratio}, objective: ">= 0.99"}]
`, base, kubeconfig, ns, ns))
}

func okServer(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// On a real control plane (make test-k8s): a scenario kills one pod of a
// 3-replica Deployment; the report shows the pod-level recovery timeline,
// and the times gameday observed agree with the API server's own
// timestamps of the replacement (creation, PodScheduled and Ready
// conditions) — which have a resolution of one second: an observed time
// must lie in [API time, API time + 1s), give or take 100 ms (acceptance
// 1 of the Kubernetes issue). The test prints the differences.
func TestKubePodKillTimeline(t *testing.T) {
	client := kubetest.Client(t)
	ns := kubetest.Namespace(t, client)
	kubetest.Deployment(t, client, ns, "api", 3, map[string]string{"app": "api"})
	out := t.TempDir()
	code, stdout, stderr := cli(t, context.Background(), "run", kubeScenario(t, os.Getenv(kubetest.EnvKubeconfig), ns, okServer(t)), "--out", out)
	if code != exitOK {
		t.Fatalf("run = exit %d\n%s\n%s", code, stdout, stderr)
	}
	rep := readReport(t, runDir(t, out))
	var f *reports.Fault
	for i := range rep.Faults {
		if rep.Faults[i].Name == "kill-api" {
			f = &rep.Faults[i]
		}
	}
	if f == nil || f.RecoveredAt.IsZero() {
		t.Fatalf("faults: %+v; want kill-api recovered", rep.Faults)
	}
	steps := map[string]reports.Step{}
	var names []string
	for _, s := range f.Steps {
		steps[s.Name] = s
		names = append(names, s.Name)
	}
	want := []string{"killed", "replacement created", "scheduled", "ready", "owner ready"}
	for _, n := range want {
		if _, ok := steps[n]; !ok {
			t.Fatalf("steps %v; want %v", names, want)
		}
	}
	if !steps["owner ready"].At.Equal(f.RecoveredAt) {
		t.Errorf("the fault recovered at %s, the owner was ready at %s; want the same", f.RecoveredAt, steps["owner ready"].At)
	}
	md, err := os.ReadFile(runDir(t, out) + "/report.md")
	if err != nil || !strings.Contains(string(md), "owner ready") {
		t.Errorf("report.md lacks the pod's timeline (%v)", err)
	}

	// The replacement, as the API server saw it.
	replacement := strings.Fields(steps["replacement created"].Detail)[0]
	pod, err := client.CoreV1().Pods(ns).Get(context.Background(), replacement, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the replacement %q: %v", replacement, err)
	}
	api := map[string]time.Time{"replacement created": pod.CreationTimestamp.Time}
	for _, c := range pod.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled:
			api["scheduled"] = c.LastTransitionTime.Time
		case corev1.PodReady:
			api["ready"] = c.LastTransitionTime.Time
			api["owner ready"] = c.LastTransitionTime.Time // the last replica Ready makes the owner ready
		}
	}
	const slack = 100 * time.Millisecond
	for _, n := range []string{"replacement created", "scheduled", "ready", "owner ready"} {
		at, ok := api[n]
		if !ok {
			t.Errorf("the API has no time for %q", n)
			continue
		}
		d := steps[n].At.Sub(at)
		t.Logf("%-20s observed %s, API %s (1s resolution): observed − API = %s", n, steps[n].At.Format("15:04:05.000"), at.Format("15:04:05"), d)
		if d < -slack || d >= time.Second+slack {
			t.Errorf("%s: observed %s after the API's time; want within [−100ms, 1.1s)", n, d)
		}
	}
	t.Logf("killed → owner ready: %s", steps["owner ready"].At.Sub(steps["killed"].At))

	// The scheduler's own Event on the replacement carries a time to the
	// microsecond: there the agreement is checked to 100 ms both ways.
	evs, err := client.EventsV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs.Items {
		if e.Regarding.Name != replacement || e.Reason != "Scheduled" || e.EventTime.IsZero() {
			continue
		}
		found = true
		d := steps["scheduled"].At.Sub(e.EventTime.Time)
		t.Logf("scheduled: observed %s, the scheduler's Event %s: observed − API = %s", steps["scheduled"].At.Format("15:04:05.000000"), e.EventTime.Format("15:04:05.000000"), d)
		if d.Abs() > slack {
			t.Errorf("scheduled: observed %s from the scheduler's Event time; want within 100ms", d)
		}
	}
	if !found {
		t.Errorf("no Scheduled Event with an event time for %s", replacement)
	}
	// The deletion was announced on the victim's owner.
	announced := false
	for _, e := range evs.Items {
		if e.Reason == "GamedayPodKill" && e.Regarding.Kind == "Deployment" && e.Regarding.Name == "api" && strings.Contains(e.Note, "kill-api") {
			announced = true
			t.Logf("event on Deployment/api: %s %s: %s", e.Type, e.Reason, e.Note)
		}
	}
	if !announced {
		t.Error("no GamedayPodKill Event on Deployment/api naming the fault")
	}
}

// --dry-run kills nothing on the control plane: the pods are the same, by
// name and UID, before and after; it names the victim it would pick
// (acceptance 4 of the Kubernetes issue).
func TestKubeDryRunKillsNothing(t *testing.T) {
	client := kubetest.Client(t)
	ns := kubetest.Namespace(t, client)
	kubetest.Deployment(t, client, ns, "api", 3, map[string]string{"app": "api"})
	before := podUIDs(t, client, ns)
	code, stdout, stderr := cli(t, context.Background(), "run", "--dry-run", kubeScenario(t, os.Getenv(kubetest.EnvKubeconfig), ns, okServer(t)))
	if code != exitOK {
		t.Fatalf("run --dry-run = exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, ns+"/api-") {
		t.Errorf("the plan names no victim in %s:\n%s", ns, stdout)
	}
	if after := podUIDs(t, client, ns); !slices.Equal(before, after) {
		t.Errorf("pods before %v, after %v; want the same", before, after)
	}
	t.Logf("the plan:\n%s", stdout)
}

func podUIDs(t *testing.T, client kubernetes.Interface, ns string) []string {
	t.Helper()
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		out = append(out, p.Name+"/"+string(p.UID))
	}
	slices.Sort(out)
	return out
}
