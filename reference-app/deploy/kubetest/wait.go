package kubetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// ReadyTimeout bounds every wait of this package. On the test environment a
// Deployment of a few replicas is ready well within a second; the bound is
// for a loaded machine.
const ReadyTimeout = 60 * time.Second

func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// waitFor watches the one object name of lw (a list/watch of its
// namespace and kind) until cond holds for it, at most ReadyTimeout, and
// returns it. It lists first, so a condition that holds already returns at
// once, and it survives watch restarts.
func waitFor[T runtime.Object](ctx context.Context, lw *cache.ListWatch, obj T, cond func(T) bool) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, ReadyTimeout)
	defer cancel()
	var zero T
	ev, err := watchtools.UntilWithSync(ctx, lw, obj, nil, func(e watch.Event) (bool, error) {
		o, ok := e.Object.(T)
		if !ok || e.Type == watch.Deleted {
			return false, nil
		}
		return cond(o), nil
	})
	if err != nil {
		return zero, err
	}
	return ev.Object.(T), nil
}

func oneObject(name string) func(*metav1.ListOptions) {
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	return func(o *metav1.ListOptions) { o.FieldSelector = sel }
}

// DeploymentReady reports whether the controller has seen d's current spec
// and every replica is ready.
func DeploymentReady(d *appsv1.Deployment) bool {
	want := replicasOf(d.Spec.Replicas)
	return d.Status.ObservedGeneration >= d.Generation &&
		d.Status.ReadyReplicas == want && d.Status.UpdatedReplicas == want && d.Status.Replicas == want
}

// StatefulSetReady reports whether the controller has seen s's current spec
// and every replica is ready.
func StatefulSetReady(s *appsv1.StatefulSet) bool {
	want := replicasOf(s.Spec.Replicas)
	return s.Status.ObservedGeneration >= s.Generation &&
		s.Status.ReadyReplicas == want && s.Status.Replicas == want
}

// PodReady reports whether p's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// WaitDeploymentReady waits (watching, at most ReadyTimeout) until
// Deployment ns/name is ready as DeploymentReady says, and returns it; it
// fails the test otherwise.
func WaitDeploymentReady(t testing.TB, client kubernetes.Interface, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := waitDeploymentReady(t.Context(), client, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func waitDeploymentReady(ctx context.Context, client kubernetes.Interface, ns, name string) (*appsv1.Deployment, error) {
	api := client.AppsV1().Deployments(ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			oneObject(name)(&o)
			return api.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			oneObject(name)(&o)
			return api.Watch(ctx, o)
		},
	}
	d, err := waitFor(ctx, lw, &appsv1.Deployment{}, DeploymentReady)
	if err != nil {
		return nil, fmt.Errorf("wait for %s ready: %w%s", objectName("Deployment", ns, name), err, lastDeploymentStatus(client, ns, name))
	}
	return d, nil
}

// WaitStatefulSetReady waits (watching, at most ReadyTimeout) until
// StatefulSet ns/name is ready as StatefulSetReady says, and returns it; it
// fails the test otherwise.
func WaitStatefulSetReady(t testing.TB, client kubernetes.Interface, ns, name string) *appsv1.StatefulSet {
	t.Helper()
	api := client.AppsV1().StatefulSets(ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			oneObject(name)(&o)
			return api.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			oneObject(name)(&o)
			return api.Watch(ctx, o)
		},
	}
	s, err := waitFor(t.Context(), lw, &appsv1.StatefulSet{}, StatefulSetReady)
	if err != nil {
		t.Fatalf("wait for %s ready: %v", objectName("StatefulSet", ns, name), err)
	}
	return s
}

// lastDeploymentStatus describes the Deployment's status for a failure
// message.
func lastDeploymentStatus(client kubernetes.Interface, ns, name string) string {
	ctx, cancel := cleanupContext()
	defer cancel()
	d, err := client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return fmt.Sprintf(" (status: replicas %d, updated %d, ready %d, observed generation %d of %d)",
		d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, d.Status.ObservedGeneration, d.Generation)
}
