// Package chaostest is the conformance suite every kind of chaos.Fault runs:
// inject → observed → recover → gone → recover again is harmless, and
// recover before inject is harmless.
//
// A fault package's test builds a Harness over real components (a real
// Toxiproxy, real child processes) and calls Run.
package chaostest

import (
	"context"
	"testing"
	"time"

	"github.com/gameday/gameday/chaos"
)

// DefaultWait bounds how long Run polls for an effect to appear or vanish,
// and each Inject and Recover call.
const DefaultWait = 10 * time.Second

// pollEvery is how often Run observes while it waits.
const pollEvery = 10 * time.Millisecond

// Harness gives the suite a fresh fault and a way to observe whether its
// effect is present.
type Harness struct {
	// New returns a fault that is not injected, on a target in its normal
	// state. Each call may set up a fresh target; Observed then watches the
	// target of the latest fault.
	New func(t *testing.T) chaos.Fault
	// Observed reports whether the fault's effect is visible to a client
	// right now: true while it is. Run polls it until it gives the answer
	// wanted, so each call should answer within a second or two.
	Observed func(t *testing.T) bool
}

// Run runs the conformance suite against h, as subtests of t. It proves:
//   - the effect is not observed before Inject;
//   - Inject returns records named after the fault, with a target and
//     InjectedAt set and RecoveredAt zero, and the effect becomes observed;
//   - Recover closes exactly those records (RecoveredAt ≥ InjectedAt) and the
//     effect goes away;
//   - a second Recover returns no error and no records;
//   - Recover before Inject returns no error and no records, and changes
//     nothing.
//
// Every fault it injects is recovered when the subtest ends, even when the
// subtest fails.
func Run(t *testing.T, h Harness) {
	t.Helper()
	t.Run("InjectObserveRecover", func(t *testing.T) { testInjectObserveRecover(t, h) })
	t.Run("RecoverBeforeInject", func(t *testing.T) { testRecoverBeforeInject(t, h) })
}

func testInjectObserveRecover(t *testing.T, h Harness) {
	f := newFault(t, h)
	eventually(t, h, false, "before Inject")

	injected, err := call(f.Inject)
	if err != nil {
		t.Fatalf("Inject() = _, %v; want no error", err)
	}
	if len(injected) == 0 {
		t.Fatalf("Inject() = no records; want at least one")
	}
	for i, r := range injected {
		switch {
		case r.Fault != f.Name():
			t.Errorf("Inject() record %d Fault = %q; want %q", i, r.Fault, f.Name())
		case r.Kind == "", r.Target == "", r.Action == "":
			t.Errorf("Inject() record %d = %+v; want Kind, Target and Action set", i, r)
		case r.InjectedAt.IsZero():
			t.Errorf("Inject() record %d InjectedAt is zero; want set", i)
		case r.Recovered():
			t.Errorf("Inject() record %d RecoveredAt = %v; want zero", i, r.RecoveredAt)
		}
	}
	eventually(t, h, true, "after Inject")

	recovered, err := call(f.Recover)
	if err != nil {
		t.Fatalf("Recover() = _, %v; want no error", err)
	}
	if len(recovered) != len(injected) {
		t.Fatalf("Recover() = %d records; want the %d Inject opened:\ninjected %+v\nrecovered %+v",
			len(recovered), len(injected), injected, recovered)
	}
	for i, r := range recovered {
		want := injected[i]
		switch {
		case r.Fault != want.Fault || r.Kind != want.Kind || r.Target != want.Target ||
			r.Action != want.Action || !r.InjectedAt.Equal(want.InjectedAt):
			t.Errorf("Recover() record %d = %+v; want Inject's record %+v closed", i, r, want)
		case !r.Recovered():
			t.Errorf("Recover() record %d RecoveredAt is zero; want set", i)
		case r.RecoveredAt.Before(r.InjectedAt):
			t.Errorf("Recover() record %d RecoveredAt = %v; want ≥ InjectedAt %v", i, r.RecoveredAt, r.InjectedAt)
		}
	}
	eventually(t, h, false, "after Recover")

	again, err := call(f.Recover)
	if err != nil || len(again) != 0 {
		t.Errorf("second Recover() = %+v, %v; want no records, no error", again, err)
	}
	eventually(t, h, false, "after the second Recover")
}

func testRecoverBeforeInject(t *testing.T, h Harness) {
	f := newFault(t, h)
	eventually(t, h, false, "before anything")
	recs, err := call(f.Recover)
	if err != nil || len(recs) != 0 {
		t.Errorf("Recover() before Inject = %+v, %v; want no records, no error", recs, err)
	}
	eventually(t, h, false, "after Recover before Inject")
}

// newFault returns a fresh fault from h that is recovered when t ends.
func newFault(t *testing.T, h Harness) chaos.Fault {
	t.Helper()
	f := h.New(t)
	t.Cleanup(func() {
		if _, err := call(f.Recover); err != nil {
			t.Errorf("cleanup: Recover() = _, %v; want no error", err)
		}
	})
	return f
}

// call runs op with a context bounded by DefaultWait.
func call(op func(context.Context) ([]chaos.Record, error)) ([]chaos.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultWait)
	defer cancel()
	return op(ctx)
}

// eventually polls h.Observed until it returns want, and fails t if that does
// not happen within DefaultWait.
func eventually(t *testing.T, h Harness, want bool, when string) {
	t.Helper()
	deadline := time.Now().Add(DefaultWait)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if h.Observed(t) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: Observed() = %v for %v; want %v", when, !want, DefaultWait, want)
		}
		<-tick.C
	}
}
