package scenarios

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// KubeSystem is the namespace of the cluster's own components: never a
// target, whatever a scenario says.
const KubeSystem = "kube-system"

// kubernetes checks a KubernetesTarget: the part reached at URLs as an
// external target, then how the cluster is reached and the namespaces pod
// faults may touch. It returns the declaration of the URL part.
func (v *validator) kubernetes(t *KubernetesTarget) Declaration {
	const p = "target.kubernetes"
	decl := v.external(p, &t.ExternalTarget)
	if t.InCluster {
		if t.Kubeconfig != "" {
			v.add(p+".kubeconfig", "kubeconfig and inCluster are exclusive: inCluster uses the service account of the pod gameday runs in")
		}
		if t.Context != "" {
			v.add(p+".context", "context applies only to a kubeconfig, not inCluster")
		}
	}
	if t.Kubeconfig != "" {
		v.expand(p+".kubeconfig", t.Kubeconfig)
	}
	if len(t.Namespaces) == 0 {
		v.add(p+".namespaces", "at least one namespace is required: the only namespaces pod faults may touch")
	}
	seen := map[string]int{}
	for i, ns := range t.Namespaces {
		np := fmt.Sprintf("%s.namespaces[%d]", p, i)
		switch {
		case ns == "":
			v.add(np, "namespace is empty")
		case ns == KubeSystem:
			v.add(np, "kube-system is never a target")
		case len(validation.IsDNS1123Label(ns)) > 0:
			v.add(np, "invalid namespace %q (want a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, at most %d characters)", ns, validation.DNS1123LabelMaxLength)
		}
		if first, dup := seen[ns]; dup && ns != "" {
			v.add(np, "duplicate namespace %q (also namespaces[%d])", ns, first)
			continue
		}
		seen[ns] = i
	}
	return decl
}

// pod checks a pod fault at p: its namespace against the target's, its
// selectors in Kubernetes' syntax, and how many pods it may delete.
func (v *validator) pod(p string, f Fault) {
	pf := f.Pod
	k := v.s.Target.Kubernetes
	if !v.noTarget && k == nil {
		v.add(p, "a pod fault needs a kubernetes target (this target is %s)", v.s.Target.Kind())
	}
	var allowed []string // the target's valid namespaces
	if k != nil {
		for _, ns := range k.Namespaces {
			if ns != KubeSystem && len(validation.IsDNS1123Label(ns)) == 0 && !slices.Contains(allowed, ns) {
				allowed = append(allowed, ns)
			}
		}
	}
	switch {
	case pf.Namespace == "" && len(allowed) == 0:
		v.add(p+".namespace", "required")
	case pf.Namespace == "":
		v.add(p+".namespace", "required (one of the target's namespaces: %s)", capped(allowed))
	case pf.Namespace == KubeSystem:
		v.add(p+".namespace", "kube-system is never a target")
	case k != nil && !slices.Contains(allowed, pf.Namespace):
		v.add(p+".namespace", "namespace %q is not one of the target's namespaces (want one of %s)", pf.Namespace, capped(allowed))
	}
	if pf.LabelSelector == "" && pf.FieldSelector == "" {
		v.add(p, "at least one of labelSelector, fieldSelector is required (such as labelSelector: app=api)")
	}
	if pf.LabelSelector != "" {
		if sel, err := labels.Parse(pf.LabelSelector); err != nil {
			v.add(p+".labelSelector", "invalid label selector %q: %v", pf.LabelSelector, err)
		} else if sel.Empty() {
			v.add(p+".labelSelector", "label selector %q selects every pod (want at least one requirement, such as app=api)", pf.LabelSelector)
		}
	}
	if pf.FieldSelector != "" {
		if sel, err := fields.ParseSelector(pf.FieldSelector); err != nil {
			v.add(p+".fieldSelector", "invalid field selector %q: %v", pf.FieldSelector, err)
		} else if sel.Empty() {
			v.add(p+".fieldSelector", "field selector %q selects every pod (want at least one requirement, such as status.phase=Running)", pf.FieldSelector)
		}
	}
	v.victims(p, "pods", pf.Mode, pf.Count, pf.Percent)
	switch {
	case pf.MaxVictims < 1 || pf.MaxVictims > MaxPodVictims:
		v.add(p+".maxVictims", "maxVictims %d is out of range (want 1 to %d)", pf.MaxVictims, MaxPodVictims)
	case pf.Mode == ModeFixed && pf.Count > pf.MaxVictims:
		v.add(p+".count", "count %d is more than maxVictims %d (raise maxVictims to delete that many pods)", pf.Count, pf.MaxVictims)
	}
	switch {
	case pf.GracePeriod < 0:
		v.add(p+".gracePeriod", "gracePeriod %s is negative (want 0 or more)", formatDuration(pf.GracePeriod))
	case v.tooLong(p+".gracePeriod", "gracePeriod", pf.GracePeriod):
	case pf.GracePeriod%time.Second != 0:
		v.add(p+".gracePeriod", "gracePeriod %s is not a whole number of seconds (Kubernetes counts whole seconds)", formatDuration(pf.GracePeriod))
	}
	if pf.ReadyTimeout <= 0 {
		v.add(p+".readyTimeout", "readyTimeout %s is not positive (want more than 0s)", formatDuration(pf.ReadyTimeout))
	}
	v.tooLong(p+".readyTimeout", "readyTimeout", pf.ReadyTimeout)
}
