package kube

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// victim is a pod chosen for deletion, with what the watch needs to follow
// its replacement.
type victim struct {
	Victim
	uid types.UID
	// ctrl is the pod's controller (its controller ownerReference), nil
	// for a bare pod; a replacement has the same one, or, for a
	// Deployment, any ReplicaSet whose pods the Deployment's selector
	// matches.
	ctrl *metav1.OwnerReference
	// ownerUID and ownerAPIVersion complete the owner named in Victim.
	ownerUID        types.UID
	ownerAPIVersion string
	// selector is a Deployment owner's pod selector; nil otherwise.
	selector labels.Selector
}

// selection is the outcome of a choice of victims.
type selection struct {
	victims  []victim // in name order
	matching int      // pods that were candidates
}

// choose lists the candidates and picks the victims with r: the candidates
// sorted by name are shuffled, the first victimCount kept, sorted by name
// again.
func (f *Fault) choose(ctx context.Context, r *rand.Rand) (selection, error) {
	pods, err := f.candidates(ctx)
	if err != nil {
		return selection{}, err
	}
	if len(pods) == 0 {
		return selection{}, fmt.Errorf("no running pod in namespace %q matches %s", f.spec.Namespace, f.describeSelectors())
	}
	sel := selection{matching: len(pods)}
	k := f.spec.victimCount(len(pods))
	r.Shuffle(len(pods), func(i, j int) { pods[i], pods[j] = pods[j], pods[i] })
	pods = pods[:k]
	slices.SortFunc(pods, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	res := newOwnerResolver(f)
	for _, p := range pods {
		v, err := res.victim(ctx, p)
		if err != nil {
			return selection{}, err
		}
		sel.victims = append(sel.victims, v)
	}
	return sel, nil
}

// candidates lists the pods of the namespace that both selectors match,
// that are Running and not being deleted, sorted by name. The selectors
// are passed to the API server and checked here again, so that a client
// that ignores them (the fake clientset ignores field selectors) selects
// the same pods.
func (f *Fault) candidates(ctx context.Context) ([]*corev1.Pod, error) {
	ls, err := parseLabels(f.spec.LabelSelector)
	if err != nil {
		return nil, fmt.Errorf("labelSelector: %w", err)
	}
	fs, err := parseFields(f.spec.FieldSelector)
	if err != nil {
		return nil, fmt.Errorf("fieldSelector: %w", err)
	}
	list, err := f.client.CoreV1().Pods(f.spec.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: ls.String(),
		FieldSelector: fs.String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list pods in namespace %q matching %s: %w", f.spec.Namespace, f.describeSelectors(), err)
	}
	var pods []*corev1.Pod
	for i := range list.Items {
		p := &list.Items[i]
		switch {
		case p.Namespace != "" && p.Namespace != f.spec.Namespace,
			!ls.Matches(labels.Set(p.Labels)),
			!fs.Matches(podFields(p)),
			p.DeletionTimestamp != nil,
			p.Status.Phase != corev1.PodRunning:
			continue
		}
		pods = append(pods, p)
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return pods, nil
}

func (f *Fault) describeSelectors() string {
	var parts []string
	if f.spec.LabelSelector != "" {
		parts = append(parts, fmt.Sprintf("labelSelector %q", f.spec.LabelSelector))
	}
	if f.spec.FieldSelector != "" {
		parts = append(parts, fmt.Sprintf("fieldSelector %q", f.spec.FieldSelector))
	}
	if len(parts) == 0 {
		return "no selector (every pod)"
	}
	return strings.Join(parts, " and ")
}

// ceilPercent is percent of n rounded up; the tiny slack keeps a product
// that floating point leaves just above a whole number (10% of 30) whole.
func ceilPercent(percent float64, n int) int {
	return int(math.Ceil(percent*float64(n)/100 - 1e-9))
}

// parseLabels parses a label selector; "" selects everything.
func parseLabels(s string) (labels.Selector, error) {
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	return sel, nil
}

// podFieldNames are the fields a Kubernetes API server lets a pod field
// selector name (the pod registry's selectable fields).
var podFieldNames = []string{
	"metadata.name", "metadata.namespace",
	"spec.hostNetwork", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
	"status.nominatedNodeName", "status.phase", "status.podIP",
}

// parseFields parses a pod field selector; "" selects everything. A field
// pods cannot be selected by is an error, as the API server would answer.
func parseFields(s string) (fields.Selector, error) {
	sel, err := fields.ParseSelector(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	for _, r := range sel.Requirements() {
		if !slices.Contains(podFieldNames, r.Field) {
			return nil, fmt.Errorf("%q: pods cannot be selected by field %q (fields: %s)", s, r.Field, strings.Join(podFieldNames, ", "))
		}
	}
	return sel, nil
}

// podFields are p's values of podFieldNames.
func podFields(p *corev1.Pod) fields.Set {
	podIP := ""
	if len(p.Status.PodIPs) > 0 {
		podIP = p.Status.PodIPs[0].IP
	} else {
		podIP = p.Status.PodIP
	}
	return fields.Set{
		"metadata.name":            p.Name,
		"metadata.namespace":       p.Namespace,
		"spec.hostNetwork":         fmt.Sprint(p.Spec.HostNetwork),
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             podIP,
	}
}

// ownerResolver finds the owners of pods, reading each ReplicaSet once.
type ownerResolver struct {
	f   *Fault
	rss map[string]*appsv1.ReplicaSet // by name; nil: gone
	ds  map[string]*appsv1.Deployment // by name; nil: gone
}

func newOwnerResolver(f *Fault) *ownerResolver {
	return &ownerResolver{f: f, rss: map[string]*appsv1.ReplicaSet{}, ds: map[string]*appsv1.Deployment{}}
}

// victim resolves p's owner: its controller, or for a ReplicaSet that a
// Deployment controls, the Deployment. A bare pod has none.
func (r *ownerResolver) victim(ctx context.Context, p *corev1.Pod) (victim, error) {
	v := victim{Victim: Victim{Namespace: r.f.spec.Namespace, Pod: p.Name}, uid: p.UID}
	ctrl := metav1.GetControllerOfNoCopy(p)
	if ctrl == nil {
		return v, nil
	}
	c := *ctrl
	v.ctrl = &c
	v.OwnerKind, v.Owner, v.ownerUID, v.ownerAPIVersion = ctrl.Kind, ctrl.Name, ctrl.UID, ctrl.APIVersion
	if ctrl.Kind != "ReplicaSet" || !isApps(ctrl.APIVersion) {
		return v, nil
	}
	rs, err := r.replicaSet(ctx, ctrl.Name)
	if err != nil {
		return victim{}, fmt.Errorf("owner of pod %s/%s: %w", v.Namespace, p.Name, err)
	}
	if rs == nil {
		return v, nil // gone meanwhile: the ReplicaSet is all we know
	}
	dref := metav1.GetControllerOfNoCopy(rs)
	if dref == nil || dref.Kind != "Deployment" || !isApps(dref.APIVersion) {
		return v, nil
	}
	d, err := r.deployment(ctx, dref.Name)
	if err != nil {
		return victim{}, fmt.Errorf("owner of pod %s/%s: %w", v.Namespace, p.Name, err)
	}
	if d == nil || d.UID != dref.UID {
		return v, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return victim{}, fmt.Errorf("owner of pod %s/%s: selector of Deployment %s: %w", v.Namespace, p.Name, d.Name, err)
	}
	v.OwnerKind, v.Owner, v.ownerUID, v.ownerAPIVersion, v.selector = "Deployment", d.Name, d.UID, dref.APIVersion, sel
	return v, nil
}

func (r *ownerResolver) replicaSet(ctx context.Context, name string) (*appsv1.ReplicaSet, error) {
	if rs, ok := r.rss[name]; ok {
		return rs, nil
	}
	rs, err := r.f.client.AppsV1().ReplicaSets(r.f.spec.Namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		rs = nil
	case err != nil:
		return nil, fmt.Errorf("get ReplicaSet %s: %w", name, err)
	}
	r.rss[name] = rs
	return rs, nil
}

func (r *ownerResolver) deployment(ctx context.Context, name string) (*appsv1.Deployment, error) {
	if d, ok := r.ds[name]; ok {
		return d, nil
	}
	d, err := r.f.client.AppsV1().Deployments(r.f.spec.Namespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		d = nil
	case err != nil:
		return nil, fmt.Errorf("get Deployment %s: %w", name, err)
	}
	r.ds[name] = d
	return d, nil
}

// isApps reports whether apiVersion is of the apps group.
func isApps(apiVersion string) bool {
	return strings.HasPrefix(apiVersion, "apps/")
}
