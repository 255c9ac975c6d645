package run

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/gameday/gameday/load"
	"github.com/gameday/gameday/rundir"
	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/slo"
)

// warmupRecorder is a load.Sink that keeps every request of the warmup as
// the client SLIs see it, for the steady-state check; it stops keeping
// once the check has taken them. The warmup is short (it ends at the first
// fault), so its requests fit in memory.
type warmupRecorder struct {
	mu   sync.Mutex // guards reqs and done
	reqs []slo.Request
	done bool
}

// Record keeps r unless gameday canceled it.
func (w *warmupRecorder) Record(stream, route string, r *vegeta.Result) {
	o := load.Outcome(r)
	if o == load.OutcomeCanceled {
		return
	}
	w.keep(slo.Request{Stream: stream, Route: route, Start: r.Timestamp, Latency: r.Latency, OK: o == load.OutcomeSuccess})
}

// Drop keeps a hit gameday dropped, for a dropped_ratio SLI.
func (w *warmupRecorder) Drop(stream, route string, due time.Time) {
	w.keep(slo.Request{Stream: stream, Route: route, Start: due, Dropped: true})
}

func (w *warmupRecorder) keep(req slo.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.reqs = append(w.reqs, req)
	}
}

// take returns the requests kept so far, sorted by start, and keeps no more.
func (w *warmupRecorder) take() []slo.Request {
	w.mu.Lock()
	reqs := w.reqs
	w.reqs, w.done = nil, true
	w.mu.Unlock()
	slices.SortFunc(reqs, func(a, b slo.Request) int { return a.Start.Compare(b.Start) })
	return reqs
}

// steadySLOs are the scenario's steady-state SLOs.
func (r *runner) steadySLOs() []scenarios.SLO {
	var out []scenarios.SLO
	for _, s := range r.s.Checks.SLOs {
		if s.SteadyState {
			out = append(out, s)
		}
	}
	return out
}

// firstFaultAt is the earliest offset at which a fault is injected.
func firstFaultAt(faults []scenarios.Fault) time.Duration {
	first := faults[0].At
	for _, f := range faults[1:] {
		first = min(first, f.At)
	}
	return first
}

// checkSteadyState judges the steady-state SLOs on the warmup so far,
// [t0, now): client SLIs on the requests warm kept, PromQL through the
// run's querier. It emits EventSteadyState and returns nil when every
// one holds, or an AbortedError naming each failing check, its measured
// value and its objective.
func (r *runner) checkSteadyState(ctx context.Context, t0, now time.Time, slos []scenarios.SLO, warm *warmupRecorder) error {
	in := slo.Input{Timeline: slo.Timeline{Start: t0, End: now}, Requests: warm.take()}
	if q := r.querier(); q != nil {
		in.Query = q.QueryRange
	}
	var passed, failed []string
	for _, spec := range slos {
		spec.During = []scenarios.Phase{scenarios.PhaseWarmup}
		v := slo.Evaluate(ctx, spec, in)
		line := fmt.Sprintf("%s: %s %s (objective %s)", v.Name, v.SLI, v.MeasuredText, v.Objective)
		if v.Detail != "" {
			line += ": " + v.Detail
		}
		if v.Passed {
			passed = append(passed, line)
		} else {
			failed = append(failed, line)
		}
	}
	window := fmt.Sprintf("the warmup's first %s", now.Sub(t0).Round(time.Millisecond))
	if len(failed) > 0 {
		msg := fmt.Sprintf("not in steady state on %s, no fault injected; failed: %s", window, strings.Join(failed, "; "))
		r.events.Emit(rundir.Event{Type: rundir.EventSteadyState, Message: msg, Attrs: map[string]string{"passed": "false"}})
		return &AbortedError{Reason: "not in steady state", Err: fmt.Errorf("%s", strings.Join(failed, "; "))}
	}
	r.events.Emit(rundir.Event{Type: rundir.EventSteadyState, Attrs: map[string]string{"passed": "true"},
		Message: fmt.Sprintf("in steady state on %s: %s", window, strings.Join(passed, "; "))})
	return nil
}
