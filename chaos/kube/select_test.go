package kube

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

func TestVictimsCount(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want int
	}{
		{"one by default", Spec{}, 1},
		{"one", Spec{Mode: ModeOne}, 1},
		{"all", Spec{Mode: ModeAll}, 3},
		{"fixed", Spec{Mode: ModeFixed, Count: 2}, 2},
		{"fixed capped at the pods there are", Spec{Mode: ModeFixed, Count: 5}, 3},
		{"percent rounds up: 34% of 3 is 1.02", Spec{Mode: ModePercent, Percent: 34}, 2},
		{"percent 33⅓ of 3 is one, not two", Spec{Mode: ModePercent, Percent: 100.0 / 3}, 1},
		{"percent 100", Spec{Mode: ModePercent, Percent: 100}, 3},
		{"maxVictims caps all", Spec{Mode: ModeAll, MaxVictims: 2}, 2},
		{"maxVictims above the count does nothing", Spec{Mode: ModeFixed, Count: 2, MaxVictims: 5}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Namespace, tt.spec.LabelSelector = ns, "app=api"
			vs, err := New("kill", newClient(), tt.spec).Victims(testCtx(t))
			if err != nil || len(vs) != tt.want {
				t.Fatalf("Victims() = %v, %v; want %d victims", vs, err, tt.want)
			}
			if !slices.IsSortedFunc(vs, func(a, b Victim) int { return strings.Compare(a.Pod, b.Pod) }) {
				t.Errorf("Victims() = %v; want sorted by pod name", names(vs))
			}
		})
	}
}

func TestCeilPercent(t *testing.T) {
	tests := []struct {
		percent float64
		n, want int
	}{
		{10, 30, 3}, // 10% of 30 is 3 exactly, not 4
		{10, 31, 4},
		{1, 1, 1},
		{50, 3, 2},
		{100, 7, 7},
		{0.1, 1000, 1},
	}
	for _, tt := range tests {
		if got := ceilPercent(tt.percent, tt.n); got != tt.want {
			t.Errorf("ceilPercent(%g, %d) = %d; want %d", tt.percent, tt.n, got, tt.want)
		}
	}
}

// manyPods is a client with 20 bare Running pods app=web, web-00 to web-19.
func manyPods() *fake.Clientset {
	var objs []runtime.Object
	for i := range 20 {
		objs = append(objs, pod(ns, fmt.Sprintf("web-%02d", i), map[string]string{"app": "web"}, nil))
	}
	return fake.NewClientset(objs...)
}

// The same seed over the same pods picks the same victims; other seeds
// pick others; Victims does not advance the choice, Inject does.
func TestVictimsSeed(t *testing.T) {
	spec := func(seed int64) Spec {
		return Spec{Namespace: ns, LabelSelector: "app=web", Mode: ModeFixed, Count: 3, Seed: seed}
	}
	pick := func(seed int64) []string {
		vs, err := New("kill", manyPods(), spec(seed)).Victims(testCtx(t))
		if err != nil {
			t.Fatalf("Victims() seed %d = _, %v", seed, err)
		}
		return names(vs)
	}
	if a, b := pick(42), pick(42); !slices.Equal(a, b) {
		t.Errorf("Victims() seed 42 = %v then %v; want the same", a, b)
	}
	seen := map[string]bool{}
	for seed := range int64(10) {
		seen[strings.Join(pick(seed), ",")] = true
	}
	if len(seen) < 5 {
		t.Errorf("Victims() over seeds 0-9 picked %d different sets: %v; want the seed to matter", len(seen), seen)
	}

	// Victims previews the next Inject; the one after that differs but is
	// the same for the same seed.
	injected := func() [][]string {
		f := New("kill", manyPods(), spec(7))
		preview, err := f.Victims(testCtx(t))
		if err != nil {
			t.Fatalf("Victims() = _, %v", err)
		}
		var got [][]string
		for range 2 {
			recs, err := f.Inject(testCtx(t))
			if err != nil {
				t.Fatalf("Inject() = _, %v", err)
			}
			var pods []string
			for _, r := range recs {
				pods = append(pods, strings.TrimPrefix(r.Target, ns+"/"))
			}
			got = append(got, pods)
			if _, err := f.Recover(testCtx(t)); err != nil {
				t.Fatalf("Recover() = _, %v", err)
			}
		}
		if !slices.Equal(names(preview), got[0]) {
			t.Errorf("Victims() = %v, then Inject() deleted %v; want the same", preview, got[0])
		}
		return got
	}
	first, second := injected(), injected()
	if !slices.EqualFunc(first, second, slices.Equal) {
		t.Errorf("two faults of seed 7 deleted %v and %v; want the same", first, second)
	}
}

func TestVictimsSelection(t *testing.T) {
	terminating := pod(ns, "api-7d9-d", apiLabels(), controllerRef("apps/v1", "ReplicaSet", "api-7d9"))
	terminating.DeletionTimestamp = ptr(metav1.Now())
	terminating.Finalizers = []string{"example.com/hold"}
	pending := pod(ns, "api-7d9-e", apiLabels(), controllerRef("apps/v1", "ReplicaSet", "api-7d9"))
	pending.Status.Phase = corev1.PodPending
	succeeded := pod(ns, "api-7d9-f", apiLabels(), controllerRef("apps/v1", "ReplicaSet", "api-7d9"))
	succeeded.Status.Phase = corev1.PodSucceeded
	client := newClient(terminating, pending, succeeded)

	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		// Not api-7d9-z of namespace other, nor the terminating, pending
		// and succeeded pods.
		{"labels, in the namespace, running", Spec{LabelSelector: "app=api"}, []string{"api-7d9-a", "api-7d9-b", "api-7d9-c"}},
		{"set-based labels", Spec{LabelSelector: "app in (db, debug)"}, []string{"db-0", "db-1", "debug"}},
		{"label not", Spec{LabelSelector: "app!=api,app!=db"}, []string{"debug", "report-x"}},
		{"fields (which the fake ignores: checked here again)", Spec{FieldSelector: "metadata.name=db-1"}, []string{"db-1"}},
		{"labels and fields", Spec{LabelSelector: "app=api", FieldSelector: "metadata.name!=api-7d9-b"}, []string{"api-7d9-a", "api-7d9-c"}},
		{"no selector: every running pod of the namespace", Spec{}, []string{"api-7d9-a", "api-7d9-b", "api-7d9-c", "db-0", "db-1", "debug", "report-x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Namespace, tt.spec.Mode = ns, ModeAll
			vs, err := New("kill", client, tt.spec).Victims(testCtx(t))
			if err != nil || !slices.Equal(names(vs), tt.want) {
				t.Errorf("Victims() = %v, %v; want %v", names(vs), err, tt.want)
			}
		})
	}
}

func TestVictimsOwners(t *testing.T) {
	orphanRS := pod(ns, "solo-1", map[string]string{"app": "solo"}, controllerRef("apps/v1", "ReplicaSet", "solo"))
	vs, err := New("kill", newClient(orphanRS), Spec{Namespace: ns, Mode: ModeAll}).Victims(testCtx(t))
	if err != nil {
		t.Fatalf("Victims() = _, %v", err)
	}
	want := []Victim{
		{ns, "api-7d9-a", "Deployment", "api"}, // through its ReplicaSet
		{ns, "api-7d9-b", "Deployment", "api"},
		{ns, "api-7d9-c", "Deployment", "api"},
		{ns, "db-0", "StatefulSet", "db"},
		{ns, "db-1", "StatefulSet", "db"},
		{ns, "debug", "", ""}, // bare
		{ns, "report-x", "Job", "report"},
		{ns, "solo-1", "ReplicaSet", "solo"}, // its ReplicaSet is gone: that is all there is to say
	}
	if !slices.Equal(vs, want) {
		t.Errorf("Victims() =\n%v\nwant\n%v", vs, want)
	}
}

func TestVictimsErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []string // in the error, in this order
	}{
		{"bad label selector", Spec{Namespace: ns, LabelSelector: "app in (api"}, []string{`labelSelector: "app in (api"`}},
		{"bad field selector", Spec{Namespace: ns, FieldSelector: "status.phase"}, []string{`fieldSelector: "status.phase"`}},
		{"field pods cannot be selected by", Spec{Namespace: ns, FieldSelector: "spec.priority=1"},
			[]string{`pods cannot be selected by field "spec.priority"`}},
		{"every problem, in field order", Spec{LabelSelector: "=", Mode: "some", Count: 2, Percent: 5, MaxVictims: -1, GracePeriod: 1500e6, ReadyTimeout: -1},
			[]string{"namespace: required", "labelSelector:", `mode: "some" is not one of`, "count: applies only to mode fixed", "percent: applies only to mode percent",
				"maxVictims: -1 is negative", "gracePeriod: 1.5s is not a whole number of seconds", "readyTimeout: -1ns is negative"}},
		{"fixed without count", Spec{Namespace: ns, Mode: ModeFixed}, []string{"count: 0 is less than 1"}},
		{"percent out of range", Spec{Namespace: ns, Mode: ModePercent, Percent: 101}, []string{"percent: 101 is out of range"}},
		{"no pod matches", Spec{Namespace: ns, LabelSelector: "app=nothing"}, []string{`no running pod in namespace "shop" matches labelSelector "app=nothing"`}},
		{"empty namespace", Spec{Namespace: "empty"}, []string{`no running pod in namespace "empty" matches no selector (every pod)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := New("kill", newClient(), tt.spec).Victims(testCtx(t))
			if err == nil {
				t.Fatalf("Victims() = %v, nil; want an error with %q", vs, tt.want)
			}
			msg, at := err.Error(), 0
			for _, w := range tt.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Fatalf("Victims() error =\n%v\nwant, in order, %q (missing %q)", msg, tt.want, w)
				}
				at += i + len(w)
			}
		})
	}
}
