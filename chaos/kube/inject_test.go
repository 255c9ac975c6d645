package kube

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/chaostest"
)

// deletes records the pod deletions a client is asked for.
type deletes struct {
	mu   sync.Mutex // guards opts
	opts map[string]metav1.DeleteOptions
}

func recordDeletes(client interface {
	PrependReactor(verb, resource string, reaction k8stesting.ReactionFunc)
}) *deletes {
	d := &deletes{opts: map[string]metav1.DeleteOptions{}}
	client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteActionImpl)
		d.mu.Lock()
		d.opts[da.Name] = da.DeleteOptions
		d.mu.Unlock()
		return false, nil, nil
	})
	return d
}

// Inject deletes exactly the victims, with the grace period and a UID
// precondition, each announced by an Event on its owner, or on itself when
// bare.
func TestInjectDeletesAndAnnounces(t *testing.T) {
	for _, grace := range []time.Duration{0, 30 * time.Second} {
		t.Run(grace.String(), func(t *testing.T) {
			client := newClient()
			dels := recordDeletes(client)
			spec := Spec{Namespace: ns, LabelSelector: "app in (api, debug)", Mode: ModeFixed, Count: 3, Seed: 5,
				GracePeriod: grace, ReadyTimeout: 100 * time.Millisecond, RunID: "run-1"}
			f := New("kill-api", client, spec)
			t.Cleanup(func() { _, _ = f.Recover(context.Background()) })
			victims, err := f.Victims(testCtx(t))
			if err != nil {
				t.Fatalf("Victims() = _, %v", err)
			}
			before := time.Now()
			recs, err := f.Inject(testCtx(t))
			if err != nil || len(recs) != len(victims) {
				t.Fatalf("Inject() = %+v, %v; want %d records", recs, err, len(victims))
			}
			for i, v := range victims {
				r := recs[i]
				want := "delete (grace " + grace.String() + ", owner " + v.owner() + ", seed 5, 3 of 4 matching)"
				if r.Fault != "kill-api" || r.Kind != chaos.KindPod || r.Target != ns+"/"+v.Pod || r.Action != want ||
					r.InjectedAt.Before(before) || r.Recovered() {
					t.Errorf("Inject() record %d = %+v; want Target %s/%s, Action %q, open", i, r, ns, v.Pod, want)
				}
				if _, err := client.CoreV1().Pods(ns).Get(testCtx(t), v.Pod, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("Get(%s) after Inject = _, %v; want not found", v.Pod, err)
				}
			}
			left, err := client.CoreV1().Pods(ns).List(testCtx(t), metav1.ListOptions{})
			if err != nil || len(left.Items) != 7-len(victims) {
				t.Errorf("pods left = %d, %v; want %d: only the victims deleted", len(left.Items), err, 7-len(victims))
			}
			dels.mu.Lock()
			if len(dels.opts) != len(victims) {
				t.Errorf("deletions = %v; want one per victim %v", dels.opts, names(victims))
			}
			for _, v := range victims {
				o := dels.opts[v.Pod]
				if o.GracePeriodSeconds == nil || *o.GracePeriodSeconds != int64(grace/time.Second) ||
					o.Preconditions == nil || o.Preconditions.UID == nil || *o.Preconditions.UID != podUID(v.Pod) {
					t.Errorf("Delete(%s) options = %+v; want grace %d s, precondition UID pod-%s", v.Pod, o, grace/time.Second, v.Pod)
				}
			}
			dels.mu.Unlock()

			evs, err := client.EventsV1().Events(ns).List(testCtx(t), metav1.ListOptions{})
			if err != nil || len(evs.Items) != len(victims) {
				t.Fatalf("Events = %d, %v; want one per victim", len(evs.Items), err)
			}
			for _, v := range victims {
				i := slices.IndexFunc(evs.Items, func(e eventsItem) bool {
					return strings.Contains(e.Note, "deleting pod "+v.Pod+" ")
				})
				if i < 0 {
					t.Errorf("no Event for %s among %+v", v, evs.Items)
					continue
				}
				e := evs.Items[i]
				kind := v.OwnerKind
				if kind == "" {
					kind = "Pod"
				}
				name := cmp.Or(v.Owner, v.Pod)
				if e.Regarding.Kind != kind || e.Regarding.Name != name || e.Reason != EventReason || e.Type != corev1.EventTypeWarning ||
					e.ReportingController != ReportingController || e.ReportingInstance == "" || e.Action == "" || e.EventTime.IsZero() ||
					!strings.Contains(e.Note, "run-1") || !strings.Contains(e.Note, `"kill-api"`) || !strings.Contains(e.Note, v.Pod) {
					t.Errorf("Event for %s = %+v; want regarding %s/%s, reason %s, Warning, by %s, naming the run, the fault and the pod",
						v, e, kind, name, EventReason, ReportingController)
				}
				if v.OwnerKind != "" && (e.Related == nil || e.Related.Name != v.Pod) {
					t.Errorf("Event for %s related = %+v; want the pod", v, e.Related)
				}
			}
		})
	}
}

// A pod gone, or replaced under its name, before its deletion is skipped;
// all of them gone is an error.
func TestInjectSkipsVanished(t *testing.T) {
	vanish := func(client interface {
		PrependReactor(string, string, k8stesting.ReactionFunc)
	}, pods ...string) {
		client.PrependReactor("delete", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
			name := a.(k8stesting.DeleteActionImpl).Name
			switch {
			case name == "db-0" && slices.Contains(pods, name):
				return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, name, errors.New("precondition failed: UID"))
			case slices.Contains(pods, name):
				return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
			}
			return false, nil, nil
		})
	}
	client := newClient()
	vanish(client, "api-7d9-b", "db-0")
	f := New("kill", client, Spec{Namespace: ns, LabelSelector: "app in (api, db)", Mode: ModeAll, ReadyTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _, _ = f.Recover(context.Background()) })
	recs, err := f.Inject(testCtx(t))
	var got []string
	for _, r := range recs {
		got = append(got, r.Target)
	}
	if want := []string{"shop/api-7d9-a", "shop/api-7d9-c", "shop/db-1"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Inject() = %v, %v; want %v, no error", got, err, want)
	}

	client = newClient()
	vanish(client, "debug")
	f = New("kill", client, Spec{Namespace: ns, LabelSelector: "app=debug"})
	if recs, err := f.Inject(testCtx(t)); err == nil || len(recs) != 0 || !strings.Contains(err.Error(), "vanished") {
		t.Errorf("Inject() with every victim gone = %+v, %v; want an error", recs, err)
	}
	if recs, err := f.Recover(testCtx(t)); len(recs) != 0 || err != nil {
		t.Errorf("Recover() after it = %+v, %v; want nothing", recs, err)
	}
}

// A deletion that cannot be announced is not made.
func TestInjectEventRefused(t *testing.T) {
	client := newClient()
	dels := recordDeletes(client)
	client.PrependReactor("create", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "events.k8s.io", Resource: "events"}, "", errors.New("RBAC"))
	})
	f := New("kill", client, Spec{Namespace: ns, LabelSelector: "app=api"})
	recs, err := f.Inject(testCtx(t))
	if !apierrors.IsForbidden(err) || len(recs) != 0 {
		t.Errorf("Inject() with Events forbidden = %+v, %v; want no record, the Forbidden error", recs, err)
	}
	if len(dels.opts) != 0 {
		t.Errorf("deletions = %v; want none", dels.opts)
	}
	if recs, err := f.Recover(testCtx(t)); len(recs) != 0 || err != nil {
		t.Errorf("Recover() after it = %+v, %v; want nothing", recs, err)
	}
}

// A namespace the fault may list but not watch fails Inject before any
// deletion, naming the watch.
func TestInjectWatchRefused(t *testing.T) {
	client := newClient()
	dels := recordDeletes(client)
	client.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watchIface, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("RBAC"))
	})
	client.PrependReactor("list", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "", errors.New("RBAC"))
	})
	f := New("kill", client, Spec{Namespace: ns, LabelSelector: "app=api"})
	recs, err := f.Inject(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), `watch Deployments in namespace "shop"`) || len(recs) != 0 {
		t.Errorf("Inject() with Deployments unwatchable = %+v, %v; want an error naming the watch", recs, err)
	}
	if len(dels.opts) != 0 {
		t.Errorf("deletions = %v; want none", dels.opts)
	}
}

func TestConformance(t *testing.T) {
	var (
		client   *fakeClient
		openGate func()
	)
	chaostest.Run(t, chaostest.Harness{
		New: func(t *testing.T) chaos.Fault {
			client = newClient()
			gate := make(chan struct{})
			openGate = sync.OnceFunc(func() { close(gate) })
			startReplacer(t, client, gate, "")
			return New("kill-api", client, Spec{Namespace: ns, FieldSelector: "metadata.name=api-7d9-b"})
		},
		// Killed: api-7d9-b is gone and no replacement is Ready yet. Once
		// that is seen, the replacer may replace it.
		Observed: func(t *testing.T) bool {
			pods, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=api"})
			if err != nil {
				t.Fatalf("list pods: %v", err)
			}
			down := !slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool { return p.Name == "api-7d9-b" }) &&
				slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool { return p.Name != "api-7d9-b" }) &&
				!slices.ContainsFunc(pods.Items, func(p corev1.Pod) bool {
					c := condition(&p, corev1.PodReady)
					return strings.Contains(p.Name, "-r") && c != nil && c.Status == corev1.ConditionTrue
				})
			if down {
				openGate()
			}
			return down
		},
	})
}
