package deploy

import (
	"slices"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
)

// checkHPAs: the api, and only it, scales horizontally: a
// HorizontalPodAutoscaler on the Deployment, from its replicas (the floor
// its PodDisruptionBudget counts on) to more, on the CPU its container
// requests, with a scale-down stabilisation window and a bounded pace, as
// the local target's autoscaler does.
func checkHPAs(m *manifests, p *problems) {
	var api *autoscalingv2.HorizontalPodAutoscaler
	for _, h := range m.hpas {
		ref := h.Spec.ScaleTargetRef
		w := m.workload(ref.Kind, ref.Name)
		switch {
		case ref.APIVersion != "apps/v1" || w == nil:
			p.add("HorizontalPodAutoscaler %s: scaleTargetRef %s %s %s is not a workload of the manifests", h.Name, ref.APIVersion, ref.Kind, ref.Name)
			continue
		case w.String() != "Deployment api":
			p.add("HorizontalPodAutoscaler %s: scales %s; want only the stateless Deployment api", h.Name, w)
			continue
		case api != nil:
			p.add("HorizontalPodAutoscaler %s: Deployment api has two autoscalers", h.Name)
			continue
		}
		api = h
		minReplicas := int32(1)
		if h.Spec.MinReplicas != nil {
			minReplicas = *h.Spec.MinReplicas
		}
		if minReplicas < w.replicas {
			p.add("HorizontalPodAutoscaler %s: minReplicas %d below %s replicas %d: it would scale under the floor the PodDisruptionBudget counts on", h.Name, minReplicas, w, w.replicas)
		}
		if h.Spec.MaxReplicas <= minReplicas {
			p.add("HorizontalPodAutoscaler %s: maxReplicas %d <= minReplicas %d: nothing to scale", h.Name, h.Spec.MaxReplicas, minReplicas)
		}
		checkHPAMetrics(h, w, p)
		b := h.Spec.Behavior
		if b == nil || b.ScaleDown == nil || b.ScaleDown.StabilizationWindowSeconds == nil || *b.ScaleDown.StabilizationWindowSeconds < 60 {
			p.add("HorizontalPodAutoscaler %s: want a scale-down stabilizationWindowSeconds of at least 60", h.Name)
		} else if len(b.ScaleDown.Policies) == 0 {
			p.add("HorizontalPodAutoscaler %s: want scale-down policies that bound its pace", h.Name)
		}
	}
	if api == nil {
		p.add("no HorizontalPodAutoscaler scales Deployment api")
	}
}

// checkHPAMetrics: the HPA has metrics, and a CPU utilisation target on a
// container that requests CPU (without a request, utilisation is
// undefined and the HPA does nothing).
func checkHPAMetrics(h *autoscalingv2.HorizontalPodAutoscaler, w *workload, p *problems) {
	if len(h.Spec.Metrics) == 0 {
		p.add("HorizontalPodAutoscaler %s: no metrics", h.Name)
		return
	}
	for i, mt := range h.Spec.Metrics {
		if mt.Type != autoscalingv2.ResourceMetricSourceType || mt.Resource == nil || mt.Resource.Name != corev1.ResourceCPU {
			continue
		}
		t := mt.Resource.Target
		if t.Type != autoscalingv2.UtilizationMetricType || t.AverageUtilization == nil || *t.AverageUtilization <= 0 || *t.AverageUtilization > 100 {
			p.add("HorizontalPodAutoscaler %s: metric %d: want a CPU averageUtilization from 1 to 100", h.Name, i)
		}
		if slices.ContainsFunc(w.template.Spec.Containers, func(c corev1.Container) bool {
			_, ok := c.Resources.Requests[corev1.ResourceCPU]
			return !ok
		}) {
			p.add("HorizontalPodAutoscaler %s: %s has a container without a CPU request: its utilisation is undefined", h.Name, w)
		}
	}
}
