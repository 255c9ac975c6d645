package kube

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
)

// The cluster of the tests, in namespace "shop":
//
//	Deployment api (3 replicas) ─▶ ReplicaSet api-7d9 ─▶ pods api-7d9-a, -b, -c   (app=api)
//	StatefulSet db (2 replicas) ─▶ pods db-0, db-1                                (app=db)
//	Job report                  ─▶ pod report-x                                    (app=report)
//	bare pod debug                                                                 (app=debug)
//
// and in namespace "other", a pod api-7d9-z labelled app=api too.
const ns = "shop"

func ptr[T any](v T) *T { return &v }

func controllerRef(apiVersion, kind, name string) *metav1.OwnerReference {
	return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: k8stypes.UID(kind + "-" + name), Controller: ptr(true)}
}

// pod is a Running, scheduled and Ready pod.
func pod(namespace, name string, labels map[string]string, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: k8stypes.UID("pod-" + name), Labels: labels,
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))},
		Spec: corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

func apiLabels() map[string]string {
	return map[string]string{"app": "api", "pod-template-hash": "7d9"}
}

func deployment(ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api", UID: "Deployment-api", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: ptr(int32(3)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: ready, AvailableReplicas: ready},
	}
}

func statefulSet(ready int32) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db", UID: "StatefulSet-db", Generation: 1},
		Spec:       appsv1.StatefulSetSpec{Replicas: ptr(int32(2))},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 1, Replicas: 2, ReadyReplicas: ready,
			CurrentRevision: "db-1", UpdateRevision: "db-1"},
	}
}

func objects() []runtime.Object {
	rsRef := controllerRef("apps/v1", "ReplicaSet", "api-7d9")
	stsRef := controllerRef("apps/v1", "StatefulSet", "db")
	return []runtime.Object{
		deployment(3),
		&appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-7d9", UID: rsRef.UID,
				OwnerReferences: []metav1.OwnerReference{*controllerRef("apps/v1", "Deployment", "api")}},
			Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(int32(3))},
			Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 3},
		},
		pod(ns, "api-7d9-a", apiLabels(), rsRef),
		pod(ns, "api-7d9-b", apiLabels(), rsRef),
		pod(ns, "api-7d9-c", apiLabels(), rsRef),
		statefulSet(2),
		pod(ns, "db-0", map[string]string{"app": "db"}, stsRef),
		pod(ns, "db-1", map[string]string{"app": "db"}, stsRef),
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "report", UID: "Job-report"}},
		pod(ns, "report-x", map[string]string{"app": "report"}, controllerRef("batch/v1", "Job", "report")),
		pod(ns, "debug", map[string]string{"app": "debug"}, nil),
		pod("other", "api-7d9-z", apiLabels(), rsRef),
	}
}

func newClient(extra ...runtime.Object) *fake.Clientset {
	return fake.NewClientset(append(objects(), extra...)...)
}

// testCtx is a context for one call of the fault, ended with the test.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// names are the pods of vs, in order.
func names(vs []Victim) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Pod)
	}
	return out
}

type (
	fakeClient = fake.Clientset
	eventsItem = eventsv1.Event
	watchIface = watch.Interface
)

// podUID is the UID of the fixture pod name.
func podUID(name string) k8stypes.UID { return k8stypes.UID("pod-" + name) }
