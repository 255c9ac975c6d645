package kubetest

import (
	"maps"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// FakeImage is the image of Deployment's pods. Nothing pulls it: kwok
// fakes the containers.
const FakeImage = "registry.invalid/gameday/fake:never-pulled"

// Deployment creates Deployment ns/name of replicas pods labelled labels
// (also its selector), placed on the fake node, and waits (watching, at
// most ReadyTimeout) until readyReplicas == replicas. It returns the
// Deployment as it was then and fails the test on any error.
func Deployment(t testing.TB, client kubernetes.Interface, ns, name string, replicas int32, labels map[string]string) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: maps.Clone(labels)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: maps.Clone(labels)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels)},
				Spec:       FakePodSpec(name),
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create %s: %v", objectName("Deployment", ns, name), err)
	}
	return WaitDeploymentReady(t, client, ns, name)
}

// FakePodSpec is a pod spec of one container named container that kwok
// makes Ready on the fake node: it selects FakeNodeLabel and tolerates
// kwok's usual taint.
func FakePodSpec(container string) corev1.PodSpec {
	zero := int64(0)
	return corev1.PodSpec{
		NodeSelector: map[string]string{FakeNodeLabel: FakeNodeLabelValue},
		Tolerations: []corev1.Toleration{{
			Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule,
		}},
		TerminationGracePeriodSeconds: &zero,
		Containers:                    []corev1.Container{{Name: container, Image: FakeImage}},
	}
}
