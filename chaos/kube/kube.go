// Package kube is the pod fault of gameday: it deletes pods of a Kubernetes
// cluster chosen by selectors in one namespace, announces each deletion
// with an Event on the victim's owner, and watches the owner until it is
// fully ready again, recording the pod-level recovery timeline (killed,
// replacement created, scheduled, ready, owner ready) in the fault's
// records.
package kube

import (
	"context"
	"errors"
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
	// GracePeriod of the deletion; 0 deletes at once.
	GracePeriod time.Duration
	// ReadyTimeout bounds the wait, in Recover, for every victim's owner
	// to be fully ready again.
	ReadyTimeout time.Duration
	// RunID names the run in the Events recorded on the owners.
	RunID string
}

// Victim is a pod a fault would delete, with its owner.
type Victim struct {
	Namespace, Pod string
	// OwnerKind and Owner name the workload that replaces the pod
	// (Deployment, StatefulSet, ReplicaSet, DaemonSet...); empty for a bare
	// pod, which nothing replaces.
	OwnerKind, Owner string
}

// Fault is a pod fault: a chaos.Fault whose effect ends by itself once
// every victim's owner is fully ready again.
type Fault struct {
	name   string
	client kubernetes.Interface
	spec   Spec
}

// New returns the pod fault name deleting pods through client.
func New(name string, client kubernetes.Interface, spec Spec) *Fault {
	return &Fault{name: name, client: client, spec: spec}
}

var _ chaos.Fault = (*Fault)(nil)

// Name is the fault's name.
func (f *Fault) Name() string { return f.name }

// EndsByItself: a deleted pod is replaced by its owner; Recover waits for it.
func (f *Fault) EndsByItself() bool { return true }

// Victims lists the pods an injection would delete now, deleting nothing:
// what --dry-run prints.
func (f *Fault) Victims(ctx context.Context) ([]Victim, error) {
	return nil, errors.New("kube: not built yet")
}

// Inject deletes the victims and returns one open record per pod.
func (f *Fault) Inject(ctx context.Context) ([]chaos.Record, error) {
	return nil, errors.New("kube: not built yet")
}

// Recover waits until every victim's owner is fully ready again (or
// ReadyTimeout passed, or ctx ended) and returns the records closed, each
// with its pod-level Steps.
func (f *Fault) Recover(ctx context.Context) ([]chaos.Record, error) {
	return nil, nil
}
