package kube

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// ownerKind is what the fault knows of a kind of owner: how to watch the
// owners of a namespace, and when one is fully ready.
type ownerKind struct {
	informer func(client kubernetes.Interface, namespace string) cache.SharedIndexInformer
	// ready reports whether obj, an owner of this kind, is fully ready, and
	// its readiness in words ("3/3 ready, 3/3 updated, 3/3 available").
	ready func(obj any) (bool, string)
}

// ownerKinds are the owners whose readiness a fault watches, by Kind. A
// victim of another owner (a Job, a custom controller) recovers when its
// replacement is ready.
func ownerKinds() map[string]ownerKind {
	return map[string]ownerKind{
		"Deployment": {
			informer: func(c kubernetes.Interface, ns string) cache.SharedIndexInformer {
				return appsinformers.NewDeploymentInformer(c, ns, 0, cache.Indexers{})
			},
			ready: func(obj any) (bool, string) { return deploymentReady(obj.(*appsv1.Deployment)) },
		},
		"StatefulSet": {
			informer: func(c kubernetes.Interface, ns string) cache.SharedIndexInformer {
				return appsinformers.NewStatefulSetInformer(c, ns, 0, cache.Indexers{})
			},
			ready: func(obj any) (bool, string) { return statefulSetReady(obj.(*appsv1.StatefulSet)) },
		},
		"ReplicaSet": {
			informer: func(c kubernetes.Interface, ns string) cache.SharedIndexInformer {
				return appsinformers.NewReplicaSetInformer(c, ns, 0, cache.Indexers{})
			},
			ready: func(obj any) (bool, string) { return replicaSetReady(obj.(*appsv1.ReplicaSet)) },
		},
		"DaemonSet": {
			informer: func(c kubernetes.Interface, ns string) cache.SharedIndexInformer {
				return appsinformers.NewDaemonSetInformer(c, ns, 0, cache.Indexers{})
			},
			ready: func(obj any) (bool, string) { return daemonSetReady(obj.(*appsv1.DaemonSet)) },
		},
	}
}

// replicas is a spec's desired replicas (nil means 1, as the API defaults it).
func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// deploymentReady: the controller saw the latest spec, and every desired
// replica is updated, ready and available (what kubectl rollout status
// waits for, with ready too).
func deploymentReady(d *appsv1.Deployment) (bool, string) {
	want := replicas(d.Spec.Replicas)
	st := d.Status
	ok := st.ObservedGeneration >= d.Generation &&
		st.UpdatedReplicas == want && st.ReadyReplicas == want && st.AvailableReplicas == want
	return ok, fmt.Sprintf("%d/%d ready, %d/%d updated, %d/%d available, generation %d observed %d",
		st.ReadyReplicas, want, st.UpdatedReplicas, want, st.AvailableReplicas, want, d.Generation, st.ObservedGeneration)
}

// statefulSetReady: every desired replica ready, on the current revision
// (when the controller reports revisions).
func statefulSetReady(s *appsv1.StatefulSet) (bool, string) {
	want := replicas(s.Spec.Replicas)
	st := s.Status
	ok := st.ObservedGeneration >= s.Generation && st.ReadyReplicas == want &&
		(st.UpdateRevision == "" || st.CurrentRevision == st.UpdateRevision)
	msg := fmt.Sprintf("%d/%d ready, generation %d observed %d", st.ReadyReplicas, want, s.Generation, st.ObservedGeneration)
	if st.UpdateRevision != "" {
		msg += fmt.Sprintf(", revision %s (update %s)", st.CurrentRevision, st.UpdateRevision)
	}
	return ok, msg
}

// replicaSetReady: every desired replica ready.
func replicaSetReady(r *appsv1.ReplicaSet) (bool, string) {
	want := replicas(r.Spec.Replicas)
	st := r.Status
	ok := st.ObservedGeneration >= r.Generation && st.ReadyReplicas == want
	return ok, fmt.Sprintf("%d/%d ready, generation %d observed %d", st.ReadyReplicas, want, r.Generation, st.ObservedGeneration)
}

// daemonSetReady: a ready pod on every node that should run one.
func daemonSetReady(d *appsv1.DaemonSet) (bool, string) {
	st := d.Status
	ok := st.ObservedGeneration >= d.Generation && st.NumberReady == st.DesiredNumberScheduled
	return ok, fmt.Sprintf("%d/%d ready, generation %d observed %d", st.NumberReady, st.DesiredNumberScheduled, d.Generation, st.ObservedGeneration)
}
