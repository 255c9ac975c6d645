package kube

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
)

// replacer plays the controllers, the scheduler and the kubelet of the fake
// cluster: for each pod of namespace shop that is deleted and has a
// controller, it
//
//	lowers the owner's ready count (Deployment api, StatefulSet db)
//	waits for gate
//	creates a replacement (Pending; a StatefulSet's under the same name)
//	marks it scheduled, then Ready and Running
//	raises the owner's ready count back
//
// each as a separate API write, so that a watch sees each. stopAt, if set,
// is the first of "create", "ready", "owner" it does not do.
type replacer struct {
	t      *testing.T
	client *fake.Clientset
	gate   <-chan struct{}
	stopAt string

	mu sync.Mutex // guards fullAt and n
	// fullAt is when it last began to raise an owner's ready count back.
	fullAt time.Time
	n      int // replacements created
}

// startReplacer starts r watching, until the test ends.
func startReplacer(t *testing.T, client *fake.Clientset, gate <-chan struct{}, stopAt string) *replacer {
	t.Helper()
	r := &replacer{t: t, client: client, gate: gate, stopAt: stopAt}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("replacer: watch pods: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		w.Stop()
		<-done
	})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if ev.Type != watch.Deleted || !ok || metav1.GetControllerOf(p) == nil {
				continue
			}
			if err := r.replace(ctx, p); err != nil && ctx.Err() == nil {
				t.Errorf("replacer: replace %s: %v", p.Name, err)
			}
		}
	}()
	return r
}

func (r *replacer) replace(ctx context.Context, gone *corev1.Pod) error {
	kind := metav1.GetControllerOf(gone).Kind
	if err := r.ownerReady(ctx, kind, -1); err != nil {
		return err
	}
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return nil
		}
	}
	if r.stopAt == "create" {
		return nil
	}
	pods := r.client.CoreV1().Pods(ns)
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()
	p := gone.DeepCopy()
	p.ResourceVersion = ""
	p.UID = types.UID(string(gone.UID) + "-" + string(rune('a'+n)))
	if kind == "ReplicaSet" {
		p.Name = gone.Name[:len(gone.Name)-1] + "r" + string(rune('0'+n))
	}
	p.CreationTimestamp = metav1.Now()
	p.Spec.NodeName = ""
	p.Status = corev1.PodStatus{Phase: corev1.PodPending}
	p, err := pods.Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	p.Spec.NodeName = "node-2"
	if p, err = pods.Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		return err
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if p, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if r.stopAt == "ready" {
		return nil
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
	if _, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if r.stopAt == "owner" {
		return nil
	}
	r.mu.Lock()
	r.fullAt = time.Now()
	r.mu.Unlock()
	return r.ownerReady(ctx, kind, +1)
}

// ownerReady changes the ready count of the owner of a pod whose
// controller is of kind by delta.
func (r *replacer) ownerReady(ctx context.Context, kind string, delta int32) error {
	switch kind {
	case "ReplicaSet":
		ds := r.client.AppsV1().Deployments(ns)
		d, err := ds.Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			return err
		}
		d.Status.ReadyReplicas += delta
		d.Status.AvailableReplicas += delta
		_, err = ds.UpdateStatus(ctx, d, metav1.UpdateOptions{})
		return err
	case "StatefulSet":
		ss := r.client.AppsV1().StatefulSets(ns)
		s, err := ss.Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return err
		}
		s.Status.ReadyReplicas += delta
		_, err = ss.UpdateStatus(ctx, s, metav1.UpdateOptions{})
		return err
	}
	return nil
}

// lastFull is when the replacer last began to raise an owner's ready count.
func (r *replacer) lastFull() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fullAt
}
