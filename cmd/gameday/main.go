// Command gameday runs declarative game-day scenarios: load, faults on a
// timeline, metrics, and SLO verdicts. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/gameday/gameday/reference-app/refapp"
	"github.com/gameday/gameday/target/local"
)

// RefappCommand is the hidden first argument that makes gameday the
// reference backend (package refapp) instead: the local target starts
// gameday itself so when no refapp executable is beside it or on PATH, and
// `go install .../cmd/gameday` alone plays local game days.
const RefappCommand = "refapp"

// refappCommand returns how to start the reference backend: the explicit
// executable when one is given; else nothing (the local target finds one
// beside gameday or on PATH); else, when there is none, gameday itself
// with its hidden refapp command, so that gameday alone is enough.
func (st *state) refappCommand(explicit string) (string, []string) {
	if explicit != "" {
		return explicit, nil
	}
	if _, err := local.FindBinary(""); err == nil || st.self == "" {
		return "", nil
	}
	return st.self, []string{RefappCommand}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == RefappCommand {
		// The reference backend's own signal handling: SIGTERM or SIGINT
		// drains and exits 0, as the refapp executable does.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		code := refapp.Run(ctx, os.Args[2:], os.Stderr, refapp.WithSelfArgs(RefappCommand))
		stop()
		os.Exit(code)
	}
	ctx, stop := interruptContext()
	defer stop()
	self, _ := os.Executable() // no guard when unknown
	os.Exit(execute(&state{
		self:      self,
		ctx:       ctx,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		args:      os.Args[1:],
		getenv:    os.Getenv,
		lookupEnv: os.LookupEnv,
		stdin:     os.Stdin,
	}))
}

// interruptKey keys the *atomic.Bool that stopAtOnce sets in the context
// interruptContext makes.
type interruptKey struct{}

// interruptContext returns a context cancelled by the first SIGINT or
// SIGTERM, so that a command with something to revert (faults, processes)
// unwinds through its cleanup, bounded by its teardown deadline. A second
// signal ends gameday at once with exit code 3: its children die with it
// (parent-death signal), and a run's guard undoes what the run applied to a
// Toxiproxy that outlives it. A command with nothing to revert says so with
// stopAtOnce: the first signal then ends gameday at once, with exit code 3.
func interruptContext() (context.Context, func()) {
	atOnce := new(atomic.Bool)
	ctx, cancel := context.WithCancelCause(context.WithValue(context.Background(), interruptKey{}, atOnce))
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			if atOnce.Load() {
				fmt.Fprintf(os.Stderr, "\ngameday: %s received: stopped\n", sig)
				os.Exit(exitAborted)
			}
			fmt.Fprintf(os.Stderr, "\ngameday: %s received: reverting faults and stopping (again to force)\n", sig)
			cancel(fmt.Errorf("received %s", sig))
		case <-ctx.Done():
			return
		}
		sig := <-ch
		fmt.Fprintf(os.Stderr, "\ngameday: %s received again: stopping now, without waiting for the teardown; "+
			"a run's guard undoes what it applied on an external Toxiproxy (else: gameday cleanup --toxiproxy URL)\n", sig)
		os.Exit(exitAborted)
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}

// stopAtOnce declares that the command running under ctx has nothing to
// revert: the first SIGINT or SIGTERM ends gameday at once with exit code 3
// (interrupted) instead of cancelling ctx. Under a context that
// interruptContext did not make (tests in-process) it does nothing.
func stopAtOnce(ctx context.Context) {
	if atOnce, ok := ctx.Value(interruptKey{}).(*atomic.Bool); ok {
		atOnce.Store(true)
	}
}
