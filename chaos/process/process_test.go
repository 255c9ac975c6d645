package process

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gameday/gameday/chaos"
	"github.com/gameday/gameday/chaos/chaostest"
)

// fleet is the target of the tests: two API instances and a store.
func fleet() []map[string]string {
	return []map[string]string{
		{"instance": "api-1", "role": "api"},
		{"instance": "api-2", "role": "api"},
		{"instance": "store-1", "role": "store"},
	}
}

func TestConformance(t *testing.T) {
	tests := []struct {
		signal syscall.Signal
		// stops: the effect is the victim stopped (state T), not gone.
		stops bool
	}{
		{syscall.SIGKILL, false},
		{syscall.SIGTERM, false},
		{syscall.SIGINT, false},
		{syscall.SIGSTOP, true},
	}
	for _, tt := range tests {
		t.Run(signalName(tt.signal), func(t *testing.T) {
			var (
				sup      *testSupervisor
				orig     int // the victim's PID before Inject
				openGate func()
			)
			chaostest.Run(t, chaostest.Harness{
				New: func(t *testing.T) chaos.Fault {
					gate := make(chan struct{})
					openGate = sync.OnceFunc(func() { close(gate) })
					sup = newTestSupervisor(t, gate, fleet()...)
					orig = sup.pid("api-1")
					return New("hit-api", sup, Spec{Selector: map[string]string{"instance": "api-1"}, Signal: tt.signal})
				},
				Observed: func(t *testing.T) bool {
					if tt.stops {
						return procState(t, orig) == 'T'
					}
					// Killed: the original PID is gone and no replacement
					// runs yet. Once that is seen, the supervisor may restart it.
					down := procState(t, orig) == 0 && sup.pid("api-1") == 0
					if down {
						openGate()
					}
					return down
				},
			})
		})
	}
}

// Victims are chosen at random among the matching processes, the same for
// the same seed; the others are untouched.
func TestInjectPicksVictimsFromTheSeed(t *testing.T) {
	gate := make(chan struct{})
	close(gate)
	sup := newTestSupervisor(t, gate, fleet()...)
	two := func(int) int { return 2 }
	stop := func(seed int64) []string {
		t.Helper()
		f := New("stop-two", sup, Spec{Signal: syscall.SIGSTOP, Victims: two, Seed: seed})
		recs, err := f.Inject(t.Context())
		if err != nil || len(recs) != 2 {
			t.Fatalf("Inject() = %+v, %v; want 2 records", recs, err)
		}
		var targets []string
		for _, r := range recs {
			targets = append(targets, r.Target)
			if !strings.Contains(r.Action, fmt.Sprintf("seed %d", seed)) {
				t.Errorf("record action %q does not name the seed %d", r.Action, seed)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for _, name := range []string{"api-1", "api-2", "store-1"} {
			victim := slices.Contains(targets, name)
			for victim && procState(t, sup.pid(name)) != 'T' && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // the kernel delivers SIGSTOP asynchronously
			}
			if stopped := procState(t, sup.pid(name)) == 'T'; stopped != victim {
				t.Errorf("%s stopped = %t; want %t (victims %v)", name, stopped, victim, targets)
			}
		}
		if closed, err := f.Recover(t.Context()); err != nil || len(closed) != 2 {
			t.Fatalf("Recover() = %+v, %v; want 2 closed records", closed, err)
		}
		return targets
	}
	first := stop(7)
	if again := stop(7); !slices.Equal(first, again) {
		t.Errorf("seed 7 chose %v, then %v; want the same victims", first, again)
	}
	differs := false
	for seed := int64(1); seed <= 20 && !differs; seed++ {
		differs = !slices.Equal(stop(seed), first)
	}
	if !differs {
		t.Errorf("20 seeds all chose %v; want the choice to depend on the seed", first)
	}
}

func TestInjectFails(t *testing.T) {
	gate := make(chan struct{})
	sup := newTestSupervisor(t, gate, fleet()...)
	tests := []struct {
		name string
		spec Spec
		want string // in the error
	}{
		// No process matches: the error names the selector.
		{"no match", Spec{Selector: map[string]string{"role": "cache", "zone": "b"}, Signal: syscall.SIGKILL},
			"no running process matches selector {role=cache,zone=b}"},
		// A signal a process fault does not send.
		{"bad signal", Spec{Signal: syscall.SIGHUP}, "is not one of SIGKILL, SIGTERM, SIGINT, SIGSTOP"},
		// No signal at all.
		{"no signal", Spec{}, "signal 0 is not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New("broken", sup, tt.spec)
			recs, err := f.Inject(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) || len(recs) != 0 {
				t.Fatalf("Inject() = %+v, %v; want no records and an error containing %q", recs, err, tt.want)
			}
			if recs, err := f.Recover(t.Context()); err != nil || len(recs) != 0 {
				t.Errorf("Recover() after failed Inject = %+v, %v; want nothing, no error", recs, err)
			}
		})
	}
	for _, instance := range []string{"api-1", "api-2", "store-1"} {
		if pid := sup.pid(instance); pid == 0 || procState(t, pid) == 0 {
			t.Errorf("%s after failed Injects: not running; want untouched", instance)
		}
	}
}

func TestRecoverResumesAfterContextEnds(t *testing.T) {
	gate := make(chan struct{})
	sup := newTestSupervisor(t, gate, fleet()...)
	f := New("kill-store", sup, Spec{Selector: map[string]string{"role": "store"}, Signal: syscall.SIGKILL})
	injected, err := f.Inject(t.Context())
	if err != nil || len(injected) != 1 {
		t.Fatalf("Inject() = %+v, %v; want one record", injected, err)
	}
	if f2, err := f.Inject(t.Context()); err == nil {
		t.Errorf("second Inject() = %+v, nil; want an error while records are open", f2)
	}

	// The supervisor holds the restart: Recover ends with its context and
	// leaves the record open.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	recs, err := f.Recover(ctx)
	if !errors.Is(err, context.Canceled) || len(recs) != 0 {
		t.Fatalf("Recover(canceled) = %+v, %v; want no records and context.Canceled", recs, err)
	}

	close(gate)
	recs, err = f.Recover(t.Context())
	if err != nil || len(recs) != 1 || recs[0].Target != "store-1" || recs[0].RecoveredAt.Before(recs[0].InjectedAt) {
		t.Fatalf("Recover() after the restart = %+v, %v; want store-1's record closed", recs, err)
	}
	if recs, err := f.Recover(t.Context()); err != nil || len(recs) != 0 {
		t.Errorf("third Recover() = %+v, %v; want nothing, no error", recs, err)
	}
}

func TestParseSignal(t *testing.T) {
	tests := []struct {
		name string
		want syscall.Signal // 0: an error
	}{
		{"KILL", syscall.SIGKILL},
		{"TERM", syscall.SIGTERM},
		{"INT", syscall.SIGINT},
		{"STOP", syscall.SIGSTOP},
		{"sigkill", syscall.SIGKILL}, // any case, with the prefix
		{"SIGSTOP", syscall.SIGSTOP},
		{"HUP", 0}, // not a fault's signal
		{"CONT", 0},
		{"", 0},
		{"9", 0}, // numbers are not names
	}
	for _, tt := range tests {
		got, err := ParseSignal(tt.name)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}
