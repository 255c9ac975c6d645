// Command gameday runs declarative game-day scenarios: load, faults on a
// timeline, metrics, and SLO verdicts. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
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

// interruptContext returns a context cancelled by the first SIGINT or
// SIGTERM. After that first signal the default handling is restored, so a
// second Ctrl-C ends gameday at once (its children die with it).
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			fmt.Fprintf(os.Stderr, "\ngameday: %s received: reverting faults and stopping (again to force)\n", sig)
			cancel(fmt.Errorf("received %s", sig))
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel(nil) }
}
