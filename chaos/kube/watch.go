package kube

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/gameday/gameday/chaos"
)

// observer watches the pods of a namespace, and the owners of the victims,
// from before the first deletion until every victim recovered or the
// deadline passed, and writes each victim's Steps as the watch events
// arrive:
//
//	pods informer ──▶ killed (DELETE of the victim's UID)
//	              ──▶ replacement created (ADD of a pod of the same owner that was not there before)
//	              ──▶ scheduled, ready (the replacement's conditions turning True)
//	owner informer ─▶ owner ready (every victim of the owner gone and replaced by a Ready pod,
//	                              and the owner's status fully ready) = RecoveredAt
//
// Its informers run on a context of their own (Inject's may end as soon as
// Inject returns) that ends at the deadline, or as soon as every victim
// recovered, or on stop.
type observer struct {
	ns       string
	kinds    map[string]ownerKind
	deadline time.Time
	timeout  time.Duration
	ctx      context.Context // the informers'; ends at the deadline
	cancel   context.CancelFunc
	wg       sync.WaitGroup // the informers running
	done     chan struct{}  // closed once sealed and every victim recovered
	owners   map[string]cache.SharedIndexInformer

	mu sync.Mutex // guards everything below, and the tracked victims
	// known are pods that cannot be replacements: there before the
	// deletions, victims, or not taken by any victim when they appeared.
	known   map[types.UID]bool
	victims []*tracked             // handed over by deleting, in kill order
	byUID   map[types.UID]*tracked // the same, by the victim pod's UID
	repl    map[types.UID]*tracked // the same, by their replacement's UID
	sealed  bool                   // Inject handed over every victim it will
	closed  bool                   // done is closed
	// watchErr is the watch's latest error, if any.
	watchErr error
}

// tracked is a victim being watched, and its record.
type tracked struct {
	victim
	rec      chaos.Record
	returned bool // rec was returned by Recover, closed

	killed    bool
	deletedAt time.Time // when its delete call returned
	replUID   types.UID // its replacement, once seen
	replName  string
	scheduled bool
	ready     bool // the replacement is Ready now
	readyAt   time.Time
}

// startObserver starts watching the pods of ns and the owners of victims,
// and returns once the watch has listed them all, so that a deletion made
// after it returns is seen. ctx bounds that wait; the watch itself ends at
// deadline at the latest.
func startObserver(ctx context.Context, client kubernetes.Interface, ns string, victims []victim, deadline time.Time) (*observer, error) {
	o := &observer{
		ns:       ns,
		kinds:    ownerKinds(),
		deadline: deadline,
		timeout:  time.Until(deadline),
		done:     make(chan struct{}),
		owners:   map[string]cache.SharedIndexInformer{},
		known:    map[types.UID]bool{},
		byUID:    map[types.UID]*tracked{},
		repl:     map[types.UID]*tracked{},
	}
	o.ctx, o.cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
	type watched struct {
		what string
		inf  cache.SharedIndexInformer
		h    cache.ResourceEventHandler
	}
	ws := []watched{{"pods", coreinformers.NewPodInformer(client, ns, 0, cache.Indexers{}), cache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    o.podAdded,
		UpdateFunc: o.podUpdated,
		DeleteFunc: o.podDeleted,
	}}}
	ownerChanged := func(any) { o.update(func(now time.Time) {}) }
	for _, v := range victims {
		k, ok := o.kinds[v.OwnerKind]
		if !ok || o.owners[v.OwnerKind] != nil {
			continue
		}
		inf := k.informer(client, ns)
		o.owners[v.OwnerKind] = inf
		ws = append(ws, watched{v.OwnerKind + "s", inf, cache.ResourceEventHandlerFuncs{
			AddFunc:    ownerChanged,
			UpdateFunc: func(_, obj any) { ownerChanged(obj) },
			DeleteFunc: ownerChanged,
		}})
	}
	failed := make(chan error, 1)
	var synced []cache.DoneChecker
	for _, w := range ws {
		_ = w.inf.SetTransform(stripManagedFields)
		what := w.what
		_ = w.inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			err = fmt.Errorf("watch %s in namespace %q: %w", what, ns, err)
			o.mu.Lock()
			o.watchErr = err
			o.mu.Unlock()
			select {
			case failed <- err:
			default:
			}
		})
		reg, err := w.inf.AddEventHandler(w.h)
		if err != nil {
			o.stop()
			return nil, fmt.Errorf("watch %s in namespace %q: %w", what, ns, err)
		}
		synced = append(synced, reg.HasSyncedChecker())
	}
	for _, w := range ws {
		o.wg.Go(func() { w.inf.RunWithContext(o.ctx) })
	}
	for _, s := range synced {
		select {
		case <-s.Done():
		case err := <-failed:
			o.stop()
			return nil, err
		case <-ctx.Done():
			o.stop()
			return nil, fmt.Errorf("watch pods in namespace %q: %w", ns, ctx.Err())
		case <-o.ctx.Done():
			o.stop()
			return nil, fmt.Errorf("watch pods in namespace %q: not listed within readyTimeout %s", ns, o.timeout)
		}
	}
	return o, nil
}

// stop ends the watch and waits for its informers to return.
func (o *observer) stop() {
	o.cancel()
	o.wg.Wait()
}

// expired is closed at the deadline (or earlier, once the watch stopped).
func (o *observer) expired() <-chan struct{} { return o.ctx.Done() }

// open is how many records the observer holds that were not returned.
func (o *observer) open() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, t := range o.victims {
		if !t.returned {
			n++
		}
	}
	return n
}

// deleting hands v over just before its delete call, with its record.
func (o *observer) deleting(v victim, rec chaos.Record) {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := &tracked{victim: v, rec: rec}
	o.victims = append(o.victims, t)
	o.byUID[v.uid] = t
	o.known[v.uid] = true
}

// forget drops the victim of pod uid, whose deletion did not happen.
func (o *observer) forget(uid types.UID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.victims = slices.DeleteFunc(o.victims, func(t *tracked) bool { return t.uid == uid })
	delete(o.byUID, uid)
}

// deleted notes that the delete call of the pod uid returned at.
func (o *observer) deleted(uid types.UID, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if t := o.byUID[uid]; t != nil {
		t.deletedAt = at
	}
}

// confirmGone asks the API, once, about each victim the watch has not seen
// deleted: one already gone (or replaced under its name) was killed when
// its delete call returned. The watch can miss a deletion made between its
// list and its watch (a real API server replays it; the fake clientset
// does not).
func (o *observer) confirmGone(ctx context.Context, client kubernetes.Interface) {
	o.mu.Lock()
	var check []tracked
	for _, t := range o.victims {
		if !t.killed && !t.deletedAt.IsZero() {
			check = append(check, *t)
		}
	}
	o.mu.Unlock()
	for _, t := range check {
		p, err := client.CoreV1().Pods(o.ns).Get(ctx, t.Pod, metav1.GetOptions{})
		gone := apierrors.IsNotFound(err) || (err == nil && p.UID != t.uid)
		if !gone {
			continue
		}
		o.update(func(time.Time) {
			if v := o.byUID[t.uid]; v != nil && !v.killed {
				v.killed = true
				v.step(StepKilled, v.deletedAt, v.Pod+" gone before the watch saw it (time: the delete call's return)")
			}
		})
	}
}

// seal says every victim was handed over: done may close.
func (o *observer) seal() {
	o.update(func(time.Time) { o.sealed = true })
}

// update runs change with the lock held and the time of the event, then
// checks which victims recovered.
func (o *observer) update(change func(now time.Time)) {
	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	change(now)
	o.evaluate(now)
}

func (o *observer) podAdded(obj any, initial bool) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	o.update(func(now time.Time) {
		if initial {
			o.known[p.UID] = true
			return
		}
		o.podSeen(p, now)
	})
}

func (o *observer) podUpdated(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	p, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return
	}
	o.update(func(now time.Time) {
		if old.UID != p.UID {
			// A pod deleted and re-created under the same name between
			// two lists of the watch (a StatefulSet's).
			o.podGone(old, now, "deleted (seen on a relist of the watch)")
		}
		o.podSeen(p, now)
	})
}

func (o *observer) podDeleted(obj any) {
	how := "deleted (watch DELETE)"
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, how = tomb.Obj, "deleted (seen on a relist of the watch)"
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	o.update(func(now time.Time) { o.podGone(p, now, how) })
}

// podSeen takes p, added or changed, as a victim's replacement if it is a
// new pod of a victim's owner, and follows a replacement's conditions.
func (o *observer) podSeen(p *corev1.Pod, now time.Time) {
	if t := o.repl[p.UID]; t != nil {
		o.progress(t, p, now)
		return
	}
	if o.known[p.UID] || p.DeletionTimestamp != nil {
		return
	}
	o.known[p.UID] = true // taken now, or never
	for _, t := range o.victims {
		if t.replUID != "" || t.rec.Recovered() || !t.replacedBy(p) {
			continue
		}
		t.replUID, t.replName = p.UID, p.Name
		o.repl[p.UID] = t
		t.step(StepCreated, now, fmt.Sprintf("%s (creationTimestamp %s)", p.Name, stamp(p.CreationTimestamp.Time)))
		o.progress(t, p, now)
		return
	}
}

// progress notes the replacement p of t scheduled and ready.
func (o *observer) progress(t *tracked, p *corev1.Pod, now time.Time) {
	if c := condition(p, corev1.PodScheduled); !t.scheduled && c != nil && c.Status == corev1.ConditionTrue {
		t.scheduled = true
		t.step(StepScheduled, now, fmt.Sprintf("%s on node %s (PodScheduled since %s)", p.Name, p.Spec.NodeName, stamp(c.LastTransitionTime.Time)))
	}
	c := condition(p, corev1.PodReady)
	ready := c != nil && c.Status == corev1.ConditionTrue
	if ready && t.readyAt.IsZero() {
		t.readyAt = now
		t.step(StepReady, now, fmt.Sprintf("%s (Ready since %s)", p.Name, stamp(c.LastTransitionTime.Time)))
	}
	t.ready = ready
}

// podGone notes a victim killed, or a replacement lost before its victim
// recovered (another is then awaited).
func (o *observer) podGone(p *corev1.Pod, now time.Time, how string) {
	if t := o.byUID[p.UID]; t != nil && !t.killed {
		t.killed = true
		t.step(StepKilled, now, fmt.Sprintf("%s %s", p.Name, how))
	}
	if t := o.repl[p.UID]; t != nil {
		delete(o.repl, p.UID)
		if t.rec.Recovered() {
			return
		}
		t.step(StepReplacedGone, now, fmt.Sprintf("%s %s before %s recovered", p.Name, how, t.Pod))
		t.replUID, t.replName, t.scheduled, t.ready, t.readyAt = "", "", false, false, time.Time{}
	}
}

// evaluate closes the records of the victims that recovered, and done once
// all did.
func (o *observer) evaluate(now time.Time) {
	for _, t := range o.victims {
		if t.rec.Recovered() {
			continue
		}
		if _, watched := o.kinds[t.OwnerKind]; watched {
			continue // below, with the other victims of its owner
		}
		switch {
		case t.OwnerKind == "" && t.killed:
			t.rec.RecoveredAt = t.stepAt(StepKilled)
		case t.OwnerKind != "" && t.killed && t.ready:
			t.rec.RecoveredAt = t.readyAt
		}
	}
	for _, group := range o.ownerGroups() {
		t0 := group[0]
		if !o.replaced(group) {
			continue
		}
		ok, status := o.ownerReady(t0)
		if !ok {
			continue
		}
		for _, t := range group {
			t.step(StepOwnerReady, now, fmt.Sprintf("%s/%s: %s", t.OwnerKind, t.Owner, status))
			t.rec.RecoveredAt = now
		}
	}
	if o.sealed && !o.closed && !slices.ContainsFunc(o.victims, func(t *tracked) bool { return !t.rec.Recovered() }) {
		o.closed = true
		close(o.done)
		o.cancel() // nothing more to see; the informers wind down
	}
}

// ownerGroups are the victims not recovered whose owner's readiness is
// watched, grouped by owner, in kill order.
func (o *observer) ownerGroups() [][]*tracked {
	var groups [][]*tracked
	at := map[types.UID]int{}
	for _, t := range o.victims {
		if _, watched := o.kinds[t.OwnerKind]; !watched || t.rec.Recovered() {
			continue
		}
		i, ok := at[t.ownerUID]
		if !ok {
			i = len(groups)
			at[t.ownerUID] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], t)
	}
	return groups
}

// replaced reports whether every victim of group is gone and has a Ready
// replacement.
func (o *observer) replaced(group []*tracked) bool {
	for _, t := range group {
		if !t.killed || !t.ready {
			return false
		}
	}
	return true
}

// ownerReady reports whether t's owner, as the watch last saw it, is fully
// ready, and its readiness in words.
func (o *observer) ownerReady(t *tracked) (bool, string) {
	inf := o.owners[t.OwnerKind]
	if inf == nil {
		return false, "not watched"
	}
	obj, exists, err := inf.GetStore().GetByKey(o.ns + "/" + t.Owner)
	switch {
	case err != nil:
		return false, err.Error()
	case !exists:
		return false, "gone"
	}
	if m, ok := obj.(interface{ GetUID() types.UID }); ok && m.GetUID() != t.ownerUID {
		return false, "replaced by another of the same name"
	}
	return o.kinds[t.OwnerKind].ready(obj)
}

// collect returns the records to hand back now. When every victim
// recovered, it is all of them and finished. Past the deadline, it is all
// of them too (those not recovered with RecoveredAt zero), finished, with
// a *NotReadyError. Otherwise it is those that recovered, not finished.
func (o *observer) collect() (recs []chaos.Record, finished bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	all := !slices.ContainsFunc(o.victims, func(t *tracked) bool { return !t.rec.Recovered() })
	expired := !all && !time.Now().Before(o.deadline)
	var notReady []string
	for _, t := range o.victims {
		if ended := all || expired || t.rec.Recovered(); t.returned || !ended {
			continue
		}
		if !t.rec.Recovered() {
			notReady = append(notReady, fmt.Sprintf("%s/%s (%s): %s", t.Namespace, t.Pod, t.owner(), o.missing(t)))
		}
		t.returned = true
		rec := t.rec
		rec.Steps = slices.Clone(rec.Steps)
		slices.SortStableFunc(rec.Steps, func(a, b chaos.Step) int { return a.At.Compare(b.At) })
		recs = append(recs, rec)
	}
	if expired {
		return recs, true, &NotReadyError{Timeout: o.timeout, NotReady: notReady, WatchErr: o.watchErr}
	}
	return recs, all, nil
}

// missing says what t still waits for.
func (o *observer) missing(t *tracked) string {
	switch {
	case !t.killed:
		return "pod not gone yet"
	case t.replUID == "":
		return "no replacement created"
	case !t.ready:
		return fmt.Sprintf("replacement %s not ready", t.replName)
	}
	_, status := o.ownerReady(t)
	return "owner not ready: " + status
}

// replacedBy reports whether p, a pod that appeared after t's deletion
// began, is of t's owner.
func (t *tracked) replacedBy(p *corev1.Pod) bool {
	if t.ctrl == nil {
		return false // a bare pod: nothing replaces it
	}
	ctrl := metav1.GetControllerOfNoCopy(p)
	if ctrl == nil {
		return false
	}
	if t.selector != nil {
		// A Deployment's pods belong to its ReplicaSets, old or new.
		return ctrl.Kind == "ReplicaSet" && t.selector.Matches(labels.Set(p.Labels))
	}
	return ctrl.UID == t.ctrl.UID
}

// step appends a step to t's record.
func (t *tracked) step(name string, at time.Time, detail string) {
	t.rec.Steps = append(t.rec.Steps, chaos.Step{Name: name, At: at, Detail: detail})
}

// stepAt is the time of t's first step called name.
func (t *tracked) stepAt(name string) time.Time {
	for _, s := range t.rec.Steps {
		if s.Name == name {
			return s.At
		}
	}
	return time.Time{}
}

// condition is p's condition of type c, nil if it has none.
func condition(p *corev1.Pod, c corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == c {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// stripManagedFields drops what the watch never reads and costs the most
// memory in a cache of a namespace's pods.
func stripManagedFields(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// stamp formats an API timestamp (whole seconds, UTC), "unset" if zero.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "unset"
	}
	return t.UTC().Format(time.RFC3339)
}
