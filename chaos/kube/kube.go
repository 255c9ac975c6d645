// Package kube is the pod fault of gameday: it deletes pods of a Kubernetes
// cluster chosen by selectors in one namespace, announces each deletion
// with an Event on the victim's owner, and watches the owner until it is
// fully ready again, recording the pod-level recovery timeline (killed,
// replacement created, scheduled, ready, owner ready) in the fault's
// records.
//
// A pod fault's life:
//
//	Inject: select ─▶ start watching the namespace ─▶ per victim: Event on the owner, delete (UID precondition)
//	                          │
//	                          ▼  (watch events, as they arrive)
//	        killed ─▶ replacement created ─▶ scheduled ─▶ ready ─▶ owner ready = RecoveredAt
//	                          │
//	Recover: waits for every victim to reach its end, or ReadyTimeout
//	         (counted from Inject) to pass, or its ctx to end.
//
// The watch starts before the first deletion, so every step's time is when
// gameday saw it happen, not when Recover was called.
package kube

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/gameday/gameday/chaos"
)

// Mode says how many selected pods a fault deletes.
type Mode string

// The victim modes, as for process faults.
const (
	ModeOne     Mode = "one"
	ModeAll     Mode = "all"
	ModeFixed   Mode = "fixed"
	ModePercent Mode = "percent"
)

// DefaultReadyTimeout is the ReadyTimeout of a Spec that leaves it 0.
const DefaultReadyTimeout = 5 * time.Minute

// Names written into the cluster and the records.
const (
	// EventReason is the reason of the Event announcing a deletion.
	EventReason = "GamedayPodKill"
	// ReportingController is the reporting controller of those Events.
	ReportingController = "gameday"
)

// Names of the Steps of a pod record, in the order they normally happen
// (with a grace period, the replacement may be created before the victim
// is gone: Steps are sorted by time).
const (
	StepKilled       = "killed"              // the watch saw the victim deleted
	StepCreated      = "replacement created" // the watch saw the replacement appear
	StepScheduled    = "scheduled"           // ... its PodScheduled condition True
	StepReady        = "ready"               // ... its Ready condition True
	StepOwnerReady   = "owner ready"         // ... the owner fully ready: RecoveredAt
	StepReplacedGone = "replacement deleted" // a replacement vanished before the victim recovered; another is awaited
)

// Spec is what a pod fault deletes and how.
type Spec struct {
	// Namespace, LabelSelector and FieldSelector select the pods (pods
	// being deleted already are never chosen).
	Namespace     string
	LabelSelector string
	FieldSelector string
	// Mode, Count and Percent say how many of them are victims (percent
	// rounds up); MaxVictims caps it (0: no cap).
	Mode       Mode
	Count      int
	Percent    float64
	MaxVictims int
	// Seed makes the choice reproducible: the same seed and the same pods
	// (by name) pick the same victims. Records say it.
	Seed int64
	// GracePeriod of the deletion, in whole seconds (Kubernetes counts
	// it so; anything else is refused); 0 deletes at once (force).
	GracePeriod time.Duration
	// ReadyTimeout bounds the wait, in Recover, for every victim's owner
	// to be fully ready again, counted from Inject; past it the fault
	// ends unrecovered (see Recover). 0 is DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// RunID names the run in the Events recorded on the owners.
	RunID string
}

// Validate returns every problem of s, joined, in field order; nil if s can
// be injected. Empty selectors select every pod of the namespace; an empty
// Mode is ModeOne; a zero ReadyTimeout is DefaultReadyTimeout.
func (s Spec) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Namespace == "" {
		add("namespace: required")
	}
	if _, err := parseLabels(s.LabelSelector); err != nil {
		add("labelSelector: %w", err)
	}
	if _, err := parseFields(s.FieldSelector); err != nil {
		add("fieldSelector: %w", err)
	}
	switch s.Mode {
	case "", ModeOne, ModeAll, ModeFixed, ModePercent:
	default:
		add("mode: %q is not one of one, all, fixed, percent", s.Mode)
	}
	switch {
	case s.Mode == ModeFixed && s.Count < 1:
		add("count: %d is less than 1 (mode fixed deletes count pods)", s.Count)
	case s.Mode != ModeFixed && s.Count != 0:
		add("count: applies only to mode fixed, not %q", s.Mode)
	}
	switch {
	case s.Mode == ModePercent && !(s.Percent > 0 && s.Percent <= 100):
		add("percent: %g is out of range (want more than 0, at most 100)", s.Percent)
	case s.Mode != ModePercent && s.Percent != 0:
		add("percent: applies only to mode percent, not %q", s.Mode)
	}
	if s.MaxVictims < 0 {
		add("maxVictims: %d is negative (want 0, no cap, or more)", s.MaxVictims)
	}
	if s.GracePeriod < 0 || s.GracePeriod%time.Second != 0 {
		add("gracePeriod: %s is not a whole number of seconds, 0 or more (Kubernetes counts it in seconds)", s.GracePeriod)
	}
	if s.ReadyTimeout < 0 {
		add("readyTimeout: %s is negative (want 0, the default %s, or more)", s.ReadyTimeout, DefaultReadyTimeout)
	}
	return errors.Join(errs...)
}

// victimCount is how many of n selected pods s deletes.
func (s Spec) victimCount(n int) int {
	var k int
	switch s.Mode {
	case ModeAll:
		k = n
	case ModeFixed:
		k = s.Count
	case ModePercent:
		k = ceilPercent(s.Percent, n)
	default:
		k = 1
	}
	if s.MaxVictims > 0 {
		k = min(k, s.MaxVictims)
	}
	return max(0, min(k, n))
}

func (s Spec) readyTimeout() time.Duration {
	if s.ReadyTimeout == 0 {
		return DefaultReadyTimeout
	}
	return s.ReadyTimeout
}

// Victim is a pod a fault would delete, with its owner.
type Victim struct {
	Namespace, Pod string
	// OwnerKind and Owner name the workload that replaces the pod
	// (Deployment, StatefulSet, ReplicaSet, DaemonSet...); empty for a bare
	// pod, which nothing replaces.
	OwnerKind, Owner string
}

// String is "ns/pod (Deployment/api)", or "ns/pod (bare)".
func (v Victim) String() string {
	return fmt.Sprintf("%s/%s (%s)", v.Namespace, v.Pod, v.owner())
}

// owner is "Deployment/api", or "none" for a bare pod.
func (v Victim) owner() string {
	if v.OwnerKind == "" {
		return "none"
	}
	return v.OwnerKind + "/" + v.Owner
}

// Fault is a pod fault: a chaos.Fault whose effect ends by itself once
// every victim's owner is fully ready again.
type Fault struct {
	name   string
	client kubernetes.Interface
	spec   Spec

	// rngMu guards pcg, the source of the victims' choice: seeded from
	// Spec.Seed in New, it advances with each Inject, so the n-th injection
	// of a fault picks the same victims from the same pods, run after run.
	rngMu sync.Mutex
	pcg   rand.PCG

	// sem is held by the running Inject or Recover; it guards obs.
	sem chan struct{}
	// obs watches the victims of the latest Inject whose records are not
	// all returned yet; nil when there are none.
	obs *observer
}

// New returns the pod fault name deleting pods through client. Nothing is
// checked or called until Victims or Inject.
func New(name string, client kubernetes.Interface, spec Spec) *Fault {
	seed := uint64(spec.Seed) //nolint:gosec // G115: the seed's bits, reinterpreted; not a quantity
	return &Fault{name: name, client: client, spec: spec, pcg: *rand.NewPCG(seed, seed), sem: make(chan struct{}, 1)}
}

var _ chaos.Fault = (*Fault)(nil)

// Name is the fault's name.
func (f *Fault) Name() string { return f.name }

// EndsByItself: a deleted pod is replaced by its owner; Recover waits for it.
func (f *Fault) EndsByItself() bool { return true }

// Victims lists the pods the next injection would delete now, deleting
// nothing and recording no Event: what --dry-run prints. It does not
// advance the choice: with the same pods, the next Inject picks these.
//
// Pods are selected in Spec.Namespace by both selectors; only pods in phase
// Running that are not being deleted are candidates (a Pending pod serves
// nothing yet, and is often the replacement of an earlier kill).
func (f *Fault) Victims(ctx context.Context) ([]Victim, error) {
	if err := f.spec.Validate(); err != nil {
		return nil, fmt.Errorf("victims of %q: %w", f.name, err)
	}
	f.rngMu.Lock()
	pcg := f.pcg // a copy: the preview leaves the fault's choice where it is
	f.rngMu.Unlock()
	sel, err := f.choose(ctx, rand.New(&pcg)) //nolint:gosec // G404: reproducible choice, nothing secret
	if err != nil {
		return nil, fmt.Errorf("victims of %q: %w", f.name, err)
	}
	vs := make([]Victim, len(sel.victims))
	for i, v := range sel.victims {
		vs[i] = v.Victim
	}
	return vs, nil
}

// Inject selects the victims as Victims does, starts watching the
// namespace, and then, for each victim in name order, records an Event
// (reason EventReason, type Warning) on its owner (on the pod itself when
// bare) and deletes it with the grace period and a UID precondition, so that
// a replacement of the same name is never deleted. It returns one open record
// per pod deleted, InjectedAt just before its delete call. A pod that
// vanished before its deletion is skipped; none deleted at all is an error,
// and so is no pod matching. It is an error while the records of an earlier
// Inject are open. An Event or a deletion that fails stops the injection:
// the records of the pods deleted before it are returned, open, with the
// error.
func (f *Fault) Inject(ctx context.Context) ([]chaos.Record, error) {
	if err := f.lock(ctx); err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	defer f.unlock()
	if f.obs != nil {
		return nil, fmt.Errorf("inject %q: already injected: %d pod record(s) still open", f.name, f.obs.open())
	}
	if err := f.spec.Validate(); err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	f.rngMu.Lock()
	sel, err := f.choose(ctx, rand.New(&f.pcg)) //nolint:gosec // G404: reproducible choice, nothing secret
	f.rngMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	obs, err := startObserver(ctx, f.client, f.spec.Namespace, sel.victims, time.Now().Add(f.spec.readyTimeout()))
	if err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	recs, err := f.kill(ctx, obs, sel)
	if len(recs) == 0 {
		obs.stop()
		if err == nil {
			err = fmt.Errorf("every one of the %d pod(s) selected vanished before its deletion", len(sel.victims))
		}
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	f.obs = obs
	obs.seal()
	if err != nil {
		return recs, fmt.Errorf("inject %q: %w", f.name, err)
	}
	return recs, nil
}

// Recover waits until every victim has recovered, and returns their records
// closed, each with its Steps in time order. A victim recovers when:
//   - its owner is a Deployment, StatefulSet, ReplicaSet or DaemonSet: the
//     pod is gone, a replacement is Ready and the owner is fully ready
//     (RecoveredAt: the owner ready step);
//   - another owner (a Job, a custom controller): the pod is gone and a pod
//     of the same controller created after it is Ready (RecoveredAt: the
//     ready step);
//   - a bare pod, which nothing replaces: the pod is gone (RecoveredAt: the
//     killed step).
//
// If ctx ends first, Recover returns the records that did close with ctx's
// error; a later Recover resumes (the watch goes on meanwhile).
//
// ReadyTimeout (counted from Inject) is the fault's own bound: past it, the
// fault ends unrecovered. Recover then stops watching and returns every
// record still held (those that recovered, closed; the others with
// RecoveredAt zero and the Steps seen so far) with a *NotReadyError, which
// wraps context.DeadlineExceeded and names each owner not ready and how far
// it got. No record stays open after that: a later Recover does nothing and
// Inject may run again.
//
// With no open records it does nothing.
func (f *Fault) Recover(ctx context.Context) ([]chaos.Record, error) {
	if err := f.lock(ctx); err != nil {
		return nil, fmt.Errorf("recover %q: %w", f.name, err)
	}
	defer f.unlock()
	if f.obs == nil {
		return nil, nil
	}
	o := f.obs
	o.confirmGone(ctx, f.client)
	select {
	case <-o.done:
	case <-o.expired():
	case <-ctx.Done():
	}
	recs, finished, err := o.collect()
	if finished {
		o.stop()
		f.obs = nil
	} else if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return recs, fmt.Errorf("recover %q: %w", f.name, err)
	}
	return recs, nil
}

// NotReadyError is Recover's error when ReadyTimeout passed before every
// victim recovered. It wraps context.DeadlineExceeded.
type NotReadyError struct {
	Timeout time.Duration
	// NotReady says, per victim not recovered, in victim order, what was
	// missing: "ns/api-1 (Deployment/api): owner not ready: 2/3 ready, ...".
	NotReady []string
	// WatchErr is the last error of the watch, if it failed meanwhile.
	WatchErr error
}

func (e *NotReadyError) Error() string {
	msg := fmt.Sprintf("not recovered within readyTimeout %s: %s", e.Timeout, strings.Join(e.NotReady, "; "))
	if e.WatchErr != nil {
		msg += fmt.Sprintf(" (last watch error: %v)", e.WatchErr)
	}
	return msg
}

// Unwrap returns context.DeadlineExceeded and the watch error, if any.
func (e *NotReadyError) Unwrap() []error {
	return slices.DeleteFunc([]error{chaos.ErrNotRecovered, context.DeadlineExceeded, e.WatchErr}, func(err error) bool { return err == nil })
}

func (f *Fault) lock(ctx context.Context) error {
	select {
	case f.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *Fault) unlock() { <-f.sem }
