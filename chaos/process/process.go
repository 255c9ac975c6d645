// Package process injects process faults: signals sent to the running
// processes of a target that a Supervisor selects by label. A terminating
// signal (KILL, TERM, INT) is recovered when the supervisor has replaced the
// process; STOP is recovered by sending CONT.
package process

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gameday/gameday/chaos"
)

// Proc is one running process of the target.
type Proc struct {
	PID    int
	Labels map[string]string // include "instance" and "role"
}

// Supervisor is what a process fault needs of the processes it hits.
type Supervisor interface {
	// Select returns the running processes whose labels include every selector pair, ordered by instance.
	Select(selector map[string]string) []Proc
	// AwaitRestart blocks until the process named instance runs again with a PID other than pid and is
	// healthy, and returns when that was; it returns ctx.Err() if ctx ends first.
	AwaitRestart(ctx context.Context, instance string, pid int) (time.Time, error)
}

// Spec says which processes a fault hits and with what.
type Spec struct {
	// Selector selects processes by label; every pair must match. Empty
	// selects every process.
	Selector map[string]string
	// Signal is SIGKILL, SIGTERM, SIGINT or SIGSTOP (see ParseSignal).
	Signal syscall.Signal
	// Victims says how many of n matching processes are hit (it is capped
	// at n); nil: one.
	Victims func(n int) int
	// Seed seeds the random choice of victims among the matching
	// processes: the same seed, processes and Victims pick the same
	// victims, injection after injection.
	Seed int64
}

// Validate returns every problem of s, joined; nil if s can be injected.
func (s Spec) Validate() error {
	if !terminates(s.Signal) && s.Signal != syscall.SIGSTOP {
		return fmt.Errorf("signal: %s is not one of SIGKILL, SIGTERM, SIGINT, SIGSTOP", signalName(s.Signal))
	}
	return nil
}

// Fault is a process fault: Inject sends the signal to up to Count selected
// processes, one record each; Recover waits for the supervisor to replace
// every killed process, or sends SIGCONT to every stopped one.
type Fault struct {
	name string
	sup  Supervisor
	spec Spec

	// sem is held by the running Inject or Recover; it guards victims.
	sem chan struct{}
	// victims are the processes of the latest Inject whose records are open.
	victims []victim
	// rng chooses victims; seeded from Spec.Seed.
	rng *rand.Rand
}

// victim is one process a fault signalled, and its open record.
type victim struct {
	pid      int
	instance string
	rec      chaos.Record
}

var _ chaos.Fault = (*Fault)(nil)

// New returns the process fault named name that applies spec to processes of
// sup. Nothing is checked or signalled until Inject.
func New(name string, sup Supervisor, spec Spec) *Fault {
	seed := uint64(spec.Seed)                                                                                            //nolint:gosec // G115: the seed's bits, reinterpreted; not a quantity
	return &Fault{name: name, sup: sup, spec: spec, sem: make(chan struct{}, 1), rng: rand.New(rand.NewPCG(seed, seed))} //nolint:gosec // G404: victims are chosen reproducibly from a seed; nothing secret
}

// EndsByItself reports whether the fault's effect ends by itself: a
// terminated process is replaced by its supervisor (Recover waits for
// that); a stopped one stays stopped until Recover.
func (f *Fault) EndsByItself() bool { return terminates(f.spec.Signal) }

// Name returns the fault's name in the scenario.
func (f *Fault) Name() string { return f.name }

// Inject selects the processes, caps them at Count and sends the signal to
// each, returning one record per process signalled; InjectedAt is the moment
// the signal was sent. No match is an error naming the selector. A process
// that cannot be signalled (it exited meanwhile) is an error, returned with
// the records of the processes that were; those stay open for Recover. It is
// an error while records of an earlier Inject are open.
func (f *Fault) Inject(ctx context.Context) ([]chaos.Record, error) {
	if err := f.lock(ctx); err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	defer f.unlock()
	if len(f.victims) > 0 {
		return nil, fmt.Errorf("inject %q: already injected on %d process(es)", f.name, len(f.victims))
	}
	if err := f.spec.Validate(); err != nil {
		return nil, fmt.Errorf("inject %q: %w", f.name, err)
	}
	procs := f.sup.Select(f.spec.Selector)
	if len(procs) == 0 {
		return nil, fmt.Errorf("inject %q: no running process matches selector %s", f.name, formatSelector(f.spec.Selector))
	}
	k := 1
	if f.spec.Victims != nil {
		k = min(max(f.spec.Victims(len(procs)), 0), len(procs))
	}
	matching := len(procs)
	f.rng.Shuffle(len(procs), func(i, j int) { procs[i], procs[j] = procs[j], procs[i] })
	procs = procs[:k]
	slices.SortFunc(procs, func(a, b Proc) int { return strings.Compare(a.Labels["instance"], b.Labels["instance"]) })

	var recs []chaos.Record
	var errs []error
	sig := signalName(f.spec.Signal)
	for _, p := range procs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		instance := p.Labels["instance"]
		at := time.Now()
		if err := syscall.Kill(p.PID, f.spec.Signal); err != nil {
			errs = append(errs, fmt.Errorf("send %s to %s pid %d: %w", sig, instance, p.PID, err))
			continue
		}
		target := instance
		if target == "" {
			target = "pid " + strconv.Itoa(p.PID)
		}
		v := victim{pid: p.PID, instance: instance, rec: chaos.Record{
			Fault:      f.name,
			Kind:       chaos.KindProcess,
			Target:     target,
			Action:     fmt.Sprintf("%s pid %d (%d of %d matching, seed %d)", sig, p.PID, k, matching, f.spec.Seed),
			InjectedAt: at,
		}}
		f.victims = append(f.victims, v)
		recs = append(recs, v.rec)
	}
	if err := errors.Join(errs...); err != nil {
		return recs, fmt.Errorf("inject %q: %w", f.name, err)
	}
	return recs, nil
}

// Recover closes the records Inject opened and returns them. After a
// terminating signal it waits for the supervisor to replace each process and
// sets RecoveredAt to when the replacement was healthy; if ctx ends first, it
// returns the records that did close with ctx's error, and a later Recover
// resumes with the rest. After SIGSTOP it sends SIGCONT to each process
// (RecoveredAt is then); a process that is gone counts as resumed. With no
// open records it does nothing.
func (f *Fault) Recover(ctx context.Context) ([]chaos.Record, error) {
	if err := f.lock(ctx); err != nil {
		return nil, fmt.Errorf("recover %q: %w", f.name, err)
	}
	defer f.unlock()
	if len(f.victims) == 0 {
		return nil, nil
	}
	var err error
	if terminates(f.spec.Signal) {
		err = f.awaitRestarts(ctx)
	} else {
		err = f.resume(ctx)
	}
	var closed []chaos.Record
	open := f.victims[:0]
	for _, v := range f.victims {
		if v.rec.Recovered() {
			closed = append(closed, v.rec)
		} else {
			open = append(open, v)
		}
	}
	f.victims = open
	if err != nil {
		return closed, fmt.Errorf("recover %q: %w", f.name, err)
	}
	return closed, nil
}

// awaitRestarts waits for every victim's replacement at once, and sets the
// RecoveredAt of those replaced.
func (f *Fault) awaitRestarts(ctx context.Context) error {
	errs := make([]error, len(f.victims))
	var wg sync.WaitGroup
	for i := range f.victims {
		v := &f.victims[i]
		if v.instance == "" {
			errs[i] = fmt.Errorf("await restart of pid %d: it has no instance label", v.pid)
			continue
		}
		wg.Go(func() {
			at, err := f.sup.AwaitRestart(ctx, v.instance, v.pid)
			if err != nil {
				errs[i] = fmt.Errorf("await restart of %s (pid %d): %w", v.instance, v.pid, err)
				return
			}
			v.rec.RecoveredAt = at
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// resume sends SIGCONT to every stopped victim and sets its RecoveredAt.
func (f *Fault) resume(ctx context.Context) error {
	for i := range f.victims {
		v := &f.victims[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := syscall.Kill(v.pid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("send SIGCONT to %s pid %d: %w", v.rec.Target, v.pid, err)
		}
		v.rec.RecoveredAt = time.Now()
	}
	return nil
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

// formatSelector renders a selector as sorted "k=v" pairs: "{role=store,state=primary}".
func formatSelector(sel map[string]string) string {
	pairs := make([]string, 0, len(sel))
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		pairs = append(pairs, k+"="+sel[k])
	}
	return "{" + strings.Join(pairs, ",") + "}"
}
