package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gameday/gameday/chaos"
)

// kill announces and deletes each victim of sel in turn, handing each to
// obs just before its delete call, and returns the records of the pods
// deleted.
func (f *Fault) kill(ctx context.Context, obs *observer, sel selection) ([]chaos.Record, error) {
	grace := int64(f.spec.GracePeriod / time.Second)
	pods := f.client.CoreV1().Pods(f.spec.Namespace)
	var recs []chaos.Record
	for i := range sel.victims {
		v := &sel.victims[i]
		if err := ctx.Err(); err != nil {
			return recs, err
		}
		if err := f.announce(ctx, v); err != nil {
			return recs, err
		}
		rec := chaos.Record{
			Fault:  f.name,
			Kind:   chaos.KindPod,
			Target: v.Namespace + "/" + v.Pod,
			Action: fmt.Sprintf("delete (grace %s, owner %s, seed %d, %d of %d matching)",
				f.spec.GracePeriod, v.owner(), f.spec.Seed, len(sel.victims), sel.matching),
		}
		uid := v.uid
		rec.InjectedAt = time.Now()
		obs.deleting(*v, rec)
		err := pods.Delete(ctx, v.Pod, metav1.DeleteOptions{
			GracePeriodSeconds: &grace,
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		switch {
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			// Gone, or replaced by a pod of the same name: nothing to kill.
			obs.forget(uid)
			continue
		case err != nil:
			obs.forget(uid)
			return recs, fmt.Errorf("delete pod %s: %w", rec.Target, err)
		}
		obs.deleted(uid, time.Now())
		recs = append(recs, rec)
	}
	return recs, nil
}

// announce records the Event saying that v is about to be deleted, on its
// owner, or on the pod itself when it is bare.
func (f *Fault) announce(ctx context.Context, v *victim) error {
	pod := corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: v.Namespace, Name: v.Pod, UID: v.uid}
	regarding := pod
	var related *corev1.ObjectReference
	if v.OwnerKind != "" {
		regarding = corev1.ObjectReference{APIVersion: v.ownerAPIVersion, Kind: v.OwnerKind, Namespace: v.Namespace, Name: v.Owner, UID: v.ownerUID}
		related = &pod
	}
	run := f.spec.RunID
	if run == "" {
		run = "(no id)"
	}
	now := time.Now()
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", truncate(v.Pod, 200), now.UnixNano()),
			Namespace: v.Namespace,
		},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: ReportingController,
		ReportingInstance:   truncate(ReportingController+"-"+f.spec.RunID, 128),
		Action:              "Delete",
		Reason:              EventReason,
		Regarding:           regarding,
		Related:             related,
		Note: truncate(fmt.Sprintf("gameday run %s, fault %q: deleting pod %s (owner %s, grace %s, seed %d)",
			run, f.name, v.Pod, v.owner(), f.spec.GracePeriod, f.spec.Seed), 1024),
		Type: corev1.EventTypeWarning,
	}
	if _, err := f.client.EventsV1().Events(v.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("record Event %s on %s/%s before deleting pod %s: %w", EventReason, regarding.Kind, regarding.Name, v.Pod, err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
