package kube

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gameday/gameday/reference-app/deploy/kubetest"
)

// On a real control plane (make test-k8s), the modes pick the right number
// of victims among the matching pods only, never outside the namespace
// (acceptance 2 of the Kubernetes issue): each mode is injected, its
// deletions checked against the pods before, and recovered.
func TestKubeVictimModes(t *testing.T) {
	client := kubetest.Client(t)
	ns := kubetest.Namespace(t, client)
	other := kubetest.Namespace(t, client)
	kubetest.Deployment(t, client, ns, "api", 5, map[string]string{"app": "api"})
	kubetest.Deployment(t, client, ns, "cache", 2, map[string]string{"app": "cache"})
	kubetest.Deployment(t, client, other, "api", 2, map[string]string{"app": "api"})

	for _, tt := range []struct {
		mode    Mode
		count   int
		percent float64
		want    int
	}{
		{ModeOne, 0, 0, 1},
		{ModeFixed, 2, 0, 2},
		{ModePercent, 0, 50, 3}, // 2.5 rounds up
		{ModeAll, 0, 0, 5},
	} {
		t.Run(string(tt.mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			before := podNames(t, client, ns, "")
			beforeOther := podNames(t, client, other, "")
			f := New("kill-"+string(tt.mode), client, Spec{
				Namespace: ns, LabelSelector: "app=api", Mode: tt.mode, Count: tt.count, Percent: tt.percent,
				MaxVictims: 10, Seed: 7, ReadyTimeout: 30 * time.Second, RunID: "test",
			})
			victims, err := f.Victims(ctx)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := f.Inject(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(victims) != tt.want || len(recs) != tt.want {
				t.Fatalf("%d victims, %d records; want %d", len(victims), len(recs), tt.want)
			}
			for i, r := range recs {
				name := strings.TrimPrefix(r.Target, ns+"/")
				if !strings.HasPrefix(r.Target, ns+"/") || !strings.HasPrefix(name, "api-") || !slices.Contains(before, name) {
					t.Errorf("deleted %s; want a pod of deployment api in %s", r.Target, ns)
				}
				if victims[i].Pod != name {
					t.Errorf("victim %d: Victims said %s, Inject deleted %s", i, victims[i].Pod, name)
				}
			}
			closed, err := f.Recover(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range closed {
				if r.RecoveredAt.IsZero() {
					t.Errorf("%s not recovered", r.Target)
				}
			}
			after := podNames(t, client, ns, "app=cache")
			if len(after) != 2 {
				t.Errorf("cache pods after %s: %v; want the 2 untouched", tt.mode, after)
			}
			if got := podNames(t, client, other, ""); !slices.Equal(got, beforeOther) {
				t.Errorf("pods of namespace %s changed: %v → %v", other, beforeOther, got)
			}
		})
	}
}

// podNames lists the names of the pods of ns matching selector, sorted,
// leaving out pods being deleted.
func podNames(t *testing.T, client kubernetes.Interface, ns, selector string) []string {
	t.Helper()
	pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}
