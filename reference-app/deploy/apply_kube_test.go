package deploy

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/restmapper"

	"github.com/gameday/gameday/reference-app/deploy/kubetest"
)

// TestKubeDeployApplies creates every object of k8s/ on a real control plane
// (make test-k8s) in a fresh namespace, so that API validation (strict
// field validation), defaulting and admission run (Pod Security "restricted"
// included: the Namespace document's labels are put on the test's
// namespace before anything else), and checks that every object is
// accepted without a warning, that every Deployment and StatefulSet becomes
// ready (kwok fakes the pods: images are never pulled, probes never run),
// and that ServiceAccount gameday may do what gameday needs there and
// nothing more.
func TestKubeDeployApplies(t *testing.T) {
	cfg := kubetest.Config(t)
	warnings := &warningRecorder{}
	cfg.WarningHandler = warnings
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := decodeDir(manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ns := kubetest.Namespace(t, client)

	// The manifests' namespace becomes the test's: its labels (the Pod
	// Security Standard) go on the test namespace, every object moves
	// there, and so do the ServiceAccount subjects of the bindings.
	var objects []doc
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *corev1.Namespace:
			labelNamespace(t, client, ns, o.Labels)
			continue
		case *rbacv1.RoleBinding:
			for i := range o.Subjects {
				if o.Subjects[i].Namespace == namespace {
					o.Subjects[i].Namespace = ns
				}
			}
		}
		objects = append(objects, d)
	}
	createVolumes(t, client, ns, docs)

	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	for _, d := range objects {
		where := fmt.Sprintf("%s %s (%s document %d)", d.kind, name(d.obj), d.file, d.index)
		gvk, err := kindOf(d.obj)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(d.obj)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		u := &unstructured.Unstructured{Object: content}
		u.SetGroupVersionKind(gvk)
		u.SetNamespace(ns)
		warnings.begin(where)
		_, err = dyn.Resource(mapping.Resource).Namespace(ns).Create(t.Context(), u,
			metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
		if err != nil {
			t.Errorf("create %s: %v", where, err)
		}
	}
	for _, w := range warnings.all() {
		t.Errorf("warning: %s", w)
	}
	if t.Failed() {
		t.FailNow()
	}
	created := time.Since(start)

	for _, d := range objects {
		switch o := d.obj.(type) {
		case *appsv1.Deployment:
			kubetest.WaitDeploymentReady(t, client, ns, o.Name)
		case *appsv1.StatefulSet:
			kubetest.WaitStatefulSetReady(t, client, ns, o.Name)
		}
	}
	t.Logf("%d objects created in %v; every Deployment and StatefulSet ready after %v",
		len(objects), created.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	checkGamedayAccess(t, client, ns)
}

// checkGamedayAccess asks the API server's authorizer what ServiceAccount
// gameday of ns may do.
func checkGamedayAccess(t *testing.T, client kubernetes.Interface, ns string) {
	t.Helper()
	tests := []struct {
		verb, group, resource, namespace string
		allowed                          bool
	}{
		// A pod fault: find the pods, kill them, watch them come back.
		{"list", "", "pods", ns, true},
		{"watch", "", "pods", ns, true},
		{"delete", "", "pods", ns, true},
		{"get", "", "pods/log", ns, true},
		// Owners, to know when they are whole again.
		{"get", "apps", "replicasets", ns, true},
		{"watch", "apps", "deployments", ns, true},
		{"list", "apps", "statefulsets", ns, true},
		{"get", "apps", "daemonsets", ns, true},
		// An Event per kill, with either API.
		{"create", "", "events", ns, true},
		{"create", "events.k8s.io", "events", ns, true},
		// Nothing that changes a workload, reads a secret or evicts.
		{"create", "", "pods", ns, false},
		{"patch", "apps", "deployments", ns, false},
		{"delete", "apps", "replicasets", ns, false},
		{"get", "", "secrets", ns, false},
		{"create", "", "pods/eviction", ns, false},
		{"create", "", "pods/exec", ns, false},
		// Nothing outside its namespace, nothing cluster-wide.
		{"delete", "", "pods", "default", false},
		{"list", "", "pods", "", false},
		{"list", "", "nodes", "", false},
		{"list", "", "namespaces", "", false},
	}
	user := "system:serviceaccount:" + ns + ":gameday"
	for _, tt := range tests {
		review, err := client.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   user,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Namespace: tt.namespace, Verb: tt.verb, Group: tt.group, Resource: tt.resource,
				},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SubjectAccessReview: %v", err)
		}
		if review.Status.Allowed != tt.allowed {
			t.Errorf("can %s %s %s in namespace %q = %v; want %v (%s)", user, tt.verb, groupResource{tt.group, tt.resource},
				tt.namespace, review.Status.Allowed, tt.allowed, review.Status.Reason)
		}
	}
}

// labelNamespace adds labels to namespace ns.
func labelNamespace(t *testing.T, client kubernetes.Interface, ns string, labels map[string]string) {
	t.Helper()
	n, err := client.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	maps.Copy(n.Labels, labels)
	if _, err := client.CoreV1().Namespaces().Update(t.Context(), n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("label namespace %s: %v", ns, err)
	}
}

// createVolumes creates a PersistentVolume for each claim the manifests
// make (PersistentVolumeClaims, and the volumeClaimTemplates of each
// StatefulSet replica), bound in advance to it by claimRef.
//
// The manifests ask for the cluster's default StorageClass, and this
// control plane has none and no provisioner (kwok fakes pods, not volumes):
// an unbound claim would keep its pods unschedulable (the scheduler's
// VolumeBinding plugin). A pre-bound PV of no class is what an
// administrator's static provisioning does; the PV controller binds it as
// on any cluster. Nothing mounts it: its hostPath is never used.
func createVolumes(t *testing.T, client kubernetes.Interface, ns string, docs []doc) {
	t.Helper()
	var claims []corev1.PersistentVolumeClaim
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *corev1.PersistentVolumeClaim:
			claims = append(claims, *o)
		case *appsv1.StatefulSet:
			for i := range replicas(o.Spec.Replicas) {
				for _, c := range o.Spec.VolumeClaimTemplates {
					c.Name = fmt.Sprintf("%s-%s-%d", c.Name, o.Name, i) // the StatefulSet controller's naming
					claims = append(claims, c)
				}
			}
		}
	}
	for _, c := range claims {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{
				Name:   ns + "-" + c.Name,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "gameday-kubetest"},
			},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: c.Spec.Resources.Requests[corev1.ResourceStorage]},
				AccessModes:                   c.Spec.AccessModes,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: "/nonexistent/gameday-kubetest/" + ns + "/" + c.Name},
				},
				ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: c.Name},
			},
		}
		if c.Spec.StorageClassName != nil {
			pv.Spec.StorageClassName = *c.Spec.StorageClassName
		}
		if _, err := client.CoreV1().PersistentVolumes().Create(t.Context(), pv, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create PersistentVolume for claim %s: %v", c.Name, err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil {
				t.Errorf("delete PersistentVolume %s: %v", pv.Name, err)
			}
		})
	}
	if len(claims) == 0 {
		t.Fatal("the manifests claim no volume; the StatefulSets should")
	}
}

// kindOf returns the group, version and kind of a decoded object.
func kindOf(obj runtime.Object) (schema.GroupVersionKind, error) {
	if gvk := obj.GetObjectKind().GroupVersionKind(); !gvk.Empty() {
		return gvk, nil
	}
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return schema.GroupVersionKind{}, err
	}
	return gvks[0], nil
}

// name returns the object's name.
func name(obj runtime.Object) string {
	if o, ok := obj.(metav1.Object); ok {
		return o.GetName()
	}
	return "?"
}

// warningRecorder keeps the warnings the API server answers with (a Pod
// Security "warn" violation, a deprecated field...), each with the request
// that caused it.
type warningRecorder struct {
	mu       sync.Mutex // guards current and warnings
	current  string
	warnings []string
}

func (w *warningRecorder) begin(what string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.current = what
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *warningRecorder) HandleWarningHeader(code int, agent, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, fmt.Sprintf("%s: %s", w.current, text))
}

func (w *warningRecorder) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.warnings...)
}
