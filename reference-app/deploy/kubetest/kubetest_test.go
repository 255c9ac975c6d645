package kubetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// TestKubeControlPlane proves the environment: a Deployment of 3 becomes
// ready on the fake node; a deleted pod is replaced by the ReplicaSet
// controller, scheduled, and made Ready by kwok; the Deployment is whole
// again. It logs how long the replacement took (a benchmark figure, not an
// assertion).
func TestKubeControlPlane(t *testing.T) {
	client := Client(t)
	ns := Namespace(t, client)
	labels := map[string]string{"app": "web"}
	Deployment(t, client, ns, "web", 3, labels)

	pods, err := client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3 {
		t.Fatalf("%d pods of app=web; want 3", len(pods.Items))
	}
	var before []string
	for i := range pods.Items {
		p := &pods.Items[i]
		if !PodReady(p) || p.Spec.NodeName != FakeNode {
			t.Errorf("pod %s: ready %v on node %q; want ready on %s", p.Name, PodReady(p), p.Spec.NodeName, FakeNode)
		}
		before = append(before, p.Name)
	}

	// Watch from the list's version so that no event after it is missed.
	w, err := client.CoreV1().Pods(ns).Watch(t.Context(), metav1.ListOptions{
		LabelSelector: "app=web", ResourceVersion: pods.ResourceVersion,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	victim := before[0]
	zero := int64(0)
	killed := time.Now()
	if err := client.CoreV1().Pods(ns).Delete(t.Context(), victim, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatalf("delete pod %s: %v", victim, err)
	}

	var created, scheduled, ready time.Duration
	replacement := ""
	timeout := time.After(ReadyTimeout)
	for ready == 0 {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("pod watch closed before a replacement was ready")
			}
			if ev.Type == watch.Error {
				t.Fatalf("pod watch: %v", ev.Object)
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || slices.Contains(before, p.Name) || ev.Type == watch.Deleted {
				continue
			}
			if replacement == "" {
				replacement, created = p.Name, time.Since(killed)
			}
			if p.Name != replacement {
				t.Fatalf("a second new pod %s besides %s", p.Name, replacement)
			}
			if scheduled == 0 && p.Spec.NodeName != "" {
				scheduled = time.Since(killed)
			}
			if PodReady(p) {
				ready = time.Since(killed)
			}
		case <-timeout:
			t.Fatalf("no replacement of pod %s ready within %v (replacement %q)", victim, ReadyTimeout, replacement)
		}
	}
	d := WaitDeploymentReady(t, client, ns, "web")
	whole := time.Since(killed)
	t.Logf("pod %s deleted; replacement %s created after %v, scheduled after %v, Ready after %v; Deployment readyReplicas %d/3 after %v",
		victim, replacement, created.Round(time.Millisecond), scheduled.Round(time.Millisecond),
		ready.Round(time.Millisecond), d.Status.ReadyReplicas, whole.Round(time.Millisecond))

	if _, err := client.CoreV1().Pods(ns).Get(t.Context(), victim, metav1.GetOptions{}); err == nil {
		// kwok removes deleted pods; with a grace period of 0 the API
		// server does at once. Either way it must be gone by now.
		t.Errorf("pod %s still exists after its replacement is ready", victim)
	}
}

// TestConfigSkipsWithoutControlPlane: without GAMEDAY_KUBECONFIG, Config
// skips (and says which make target provides one).
func TestConfigSkipsWithoutControlPlane(t *testing.T) {
	t.Setenv(EnvKubeconfig, "")
	t.Setenv(EnvRequireKube, "")
	ft := &fakeTB{TB: t}
	ft.run(func() { Config(ft) })
	if !ft.skipped || ft.msg != "no Kubernetes control plane: run make test-k8s" {
		t.Errorf("Config without %s: skipped %v, %q; want skipped, \"no Kubernetes control plane: run make test-k8s\"", EnvKubeconfig, ft.skipped, ft.msg)
	}
	t.Setenv(EnvRequireKube, "1")
	ft = &fakeTB{TB: t}
	ft.run(func() { Config(ft) })
	if !ft.failed || ft.skipped {
		t.Errorf("Config without %s under %s=1: failed %v, skipped %v; want failed", EnvKubeconfig, EnvRequireKube, ft.failed, ft.skipped)
	}
}

// fakeTB records Skip and Fatal instead of ending the test; both panic to
// stop the caller as runtime.Goexit would.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

type stopped struct{}

// run calls f, absorbing the stop of Skip and Fatalf only.
func (f *fakeTB) run(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(stopped); !ok {
				panic(r)
			}
		}
	}()
	fn()
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped, f.msg = true, fmt.Sprint(args...)
	panic(stopped{})
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	panic(stopped{})
}
