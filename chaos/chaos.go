// Package chaos defines the fault abstraction of gameday: a Fault is an
// Inject/Recover pair over per-target Records. Each kind of fault lives in a
// sub-package (chaos/network, chaos/process, chaos/action); chaos/chaostest
// holds the conformance suite every kind runs.
//
// A fault's life, as the orchestrator drives it:
//
//	Inject ──▶ [records open: InjectedAt set] ──▶ Recover ──▶ [records closed: RecoveredAt set]
//	                  │                              ▲
//	                  └── ctx ends, error ───────────┘ (Recover again resumes; it is idempotent)
//
// Records carry their own timestamps, so recovery time objectives are
// computed from what the faults report, not from the timeline's plan.
package chaos

import (
	"context"
	"errors"
	"time"
)

// ErrNotRecovered is wrapped by the error of a Recover that gave up
// waiting for a fault that ends by itself (a pod's owner never ready again
// within the fault's own timeout): the records it returns with RecoveredAt
// zero are closed as not recovered. It is a finding of the game day (the
// target did not recover: its RTO is unbounded), not a failure of gameday
// or of its environment.
var ErrNotRecovered = errors.New("the target did not recover")

// Kinds of fault, as they appear in Record.Kind.
const (
	KindNetwork = "network" // a Toxiproxy toxic or a disabled link
	KindProcess = "process" // a signal sent to a process
	KindAction  = "action"  // an HTTP request sent or a command run (chaos/action)
	KindPod     = "pod"     // a Kubernetes pod deleted (chaos/kube)
)

// Record is what one fault did to one target.
type Record struct {
	Fault       string    `json:"fault"`  // the fault's name in the scenario
	Kind        string    `json:"kind"`   // "network", "process", "action"
	Target      string    `json:"target"` // link name, process instance, or an action's request or command
	Action      string    `json:"action"` // human text: "latency 200ms±20ms downstream", "SIGKILL pid 4242"
	InjectedAt  time.Time `json:"injectedAt"`
	RecoveredAt time.Time `json:"recoveredAt,omitzero"`
	// Output is what an action fault's action printed or answered (a
	// command's stdout and stderr, a response body), bounded by the fault
	// kind; empty for other kinds.
	Output string `json:"output,omitempty"`
	// Steps is the target's own recovery timeline, when the fault kind
	// watches it: for a pod, killed, replacement created, scheduled,
	// ready, owner fully ready. In time order.
	Steps []Step `json:"steps,omitempty"`
}

// Step is one instant of a target's recovery timeline.
type Step struct {
	Name   string    `json:"name"` // "killed", "replacement created", "scheduled", "ready", "owner ready"
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"` // the replacement pod's name, the owner's readiness
}

// Recovered reports whether the record is closed: the fault's effect on its
// target is over (RecoveredAt is set).
func (r Record) Recovered() bool { return !r.RecoveredAt.IsZero() }

// Fault is one injectable fault. Inject applies it and returns the records it
// created. Recover reverts whatever is still applied and returns the records
// it closed; it is idempotent (a second call, or a call after a failed or
// partial Inject, is harmless and returns no new records) and must be safe to
// call concurrently with nothing else of the same fault. Both honour ctx.
//
// Inject may return records together with an error when it applied the fault
// to some targets only; those records are open and Recover closes them.
// Inject on a fault whose records are still open is an error.
type Fault interface {
	Name() string
	Inject(ctx context.Context) ([]Record, error)
	Recover(ctx context.Context) ([]Record, error)
}
