package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gameday/gameday/chaos/kube"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
)

// Plan is what a run of a scenario would do, as DryRun found it: when each
// fault would be injected, what it would do, and, for a pod fault, the pods
// an injection would delete now.
type Plan struct {
	Scenario string
	// Target is the target's kind, and Attrs its facts once started (no
	// secrets).
	Target string
	Attrs  map[string]string
	// End is when the load would end, from its start.
	End    time.Duration
	Faults []PlannedFault
}

// PlannedFault is one fault of a Plan.
type PlannedFault struct {
	Name, Kind string
	// Windows are when the fault would be active, from the start of the
	// load: one per injection (see scenarios.Fault.Windows).
	Windows [][2]time.Duration
	// For is how long each injection lasts; 0: until it ends by itself
	// (EndsByItself: a kill, a pod deletion), else until the load ends.
	For          time.Duration
	EndsByItself bool
	// Does says what an injection does (scenarios.Fault.Describe).
	Does string
	// Victims are the pods an injection of a pod fault would delete now;
	// Listed is false for other kinds.
	Victims []kube.Victim
	Listed  bool
	// Error says why the victims could not be listed.
	Error string
}

// DryRun checks what a run of s would do without doing it: it starts the
// target as Run would (a local or processes target's programs are started;
// an external target's URLs, Toxiproxy and Prometheus are reached, and the
// proxies it declares created; a kubernetes target's API is reached and its
// namespaces checked), builds every fault, lists the pods each pod fault
// would delete now, and stops the target. It injects nothing, sends no
// load and writes no run directory: what the target needs on disk while it
// runs (its processes' data and logs, the journal of the proxies it
// creates) is kept in a temporary folder, removed before DryRun returns.
// The plan is returned whenever the target started; an error that a pod
// fault's victims could not be listed comes with it.
func DryRun(ctx context.Context, s *scenarios.Scenario, opts ...Option) (_ *Plan, err error) {
	o := options{progress: func(rundir.Event) {}, teardown: DefaultTeardownTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	o.guard = nil // nothing to guard: no fault is injected
	vals := s.Values()
	if vals == nil {
		if vals, err = scenarios.Resolve(s, o.env); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "gameday-dryrun-")
	if err != nil {
		return nil, &AbortedError{Reason: "create a temporary folder", Err: err}
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	redact := newRedactor(vals.Secrets())
	events, err := createEventLog(filepath.Join(dir, rundir.FileEvents), o.progress, redact)
	if err != nil {
		return nil, &AbortedError{Reason: "create event log", Err: err}
	}
	defer func() { err = errors.Join(err, events.Close()) }()
	r := &runner{s: s, dir: dir, runID: rundir.NewRunID(time.Now()), opts: o, events: events, vals: vals, redact: redact}
	defer func() {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.teardown)
		defer cancel()
		if terr := r.teardown(tctx); terr != nil {
			err = errors.Join(err, &AbortedError{Reason: "teardown", Err: terr})
		}
		err = redact.err(err)
	}()
	if err := r.startTarget(ctx); err != nil {
		return nil, &AbortedError{Reason: "start the target", Err: err}
	}
	faults, err := r.buildFaults()
	if err != nil {
		return nil, &AbortedError{Reason: "prepare faults", Err: err}
	}
	plan := &Plan{Scenario: s.Name, Target: s.Target.Kind(), Attrs: maps.Clone(r.running.Attrs), End: s.End()}
	var errs []error
	for i, f := range s.Faults {
		pf := PlannedFault{Name: f.Name, Kind: f.Kind(), Windows: f.Windows(plan.End), For: f.For, EndsByItself: f.EndsByItself(), Does: f.Describe()}
		if k, ok := faults[i].(*kube.Fault); ok {
			pf.Listed = true
			victims, err := k.Victims(ctx)
			if err != nil {
				pf.Error = redact.string(err.Error())
				errs = append(errs, fmt.Errorf("fault %q: list victims: %w", f.Name, err))
			}
			pf.Victims = victims
		}
		plan.Faults = append(plan.Faults, pf)
	}
	if err := errors.Join(errs...); err != nil {
		return plan, &AbortedError{Reason: "dry run", Err: err}
	}
	return plan, nil
}

// WritePlan writes a plan for a terminal: the target, then each fault with
// its times and what it would do, and the pods a pod fault would delete.
func WritePlan(w io.Writer, p *Plan) error {
	var b strings.Builder
	fmt.Fprintf(&b, "target %s started\n", p.Target)
	for _, k := range slices.Sorted(maps.Keys(p.Attrs)) {
		fmt.Fprintf(&b, "  %s: %s\n", k, p.Attrs[k])
	}
	fmt.Fprintf(&b, "load would run for %s\n", p.End)
	if len(p.Faults) == 0 {
		b.WriteString("no faults\n")
	}
	for _, f := range p.Faults {
		fmt.Fprintf(&b, "fault %s (%s) %s: would %s\n", f.Name, f.Kind, windowsText(f), f.Does)
		switch {
		case !f.Listed:
		case f.Error != "":
			fmt.Fprintf(&b, "  victims: could not list them: %s\n", f.Error)
		case len(f.Victims) == 0:
			b.WriteString("  victims now: none (no pod matches)\n")
		default:
			b.WriteString("  victims now:\n")
			for _, v := range f.Victims {
				owner := "no owner: nothing replaces it"
				if v.Owner != "" {
					owner = "owner " + v.OwnerKind + "/" + v.Owner
				}
				fmt.Fprintf(&b, "    %s/%s (%s)\n", v.Namespace, v.Pod, owner)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// windowsText renders when a fault would be active: "at +10s (ends by
// itself)", "at +20s for 10s", "at +40s, +45s for 2s", "at +5s until the
// load ends".
func windowsText(f PlannedFault) string {
	var starts []string
	for _, w := range f.Windows {
		starts = append(starts, "+"+w[0].String())
	}
	text := "at " + strings.Join(starts, ", ")
	switch {
	case f.For > 0:
		return text + " for " + f.For.String()
	case f.EndsByItself:
		return text + " (ends by itself)"
	}
	return text + " until the load ends"
}
