package run

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gameday/gameday/chaos"
)

// Exit codes of a run, as the CLI reports them.
const (
	ExitChecksFailed = 1
	ExitAborted      = 3
)

// ChecksFailedError is a run that reached its verdict and a check failed.
type ChecksFailedError struct {
	// Failed names the checks that failed.
	Failed []string
}

func (e *ChecksFailedError) Error() string {
	return fmt.Sprintf("%d check(s) failed: %s", len(e.Failed), strings.Join(e.Failed, ", "))
}

// ExitCode is 1.
func (e *ChecksFailedError) ExitCode() int { return ExitChecksFailed }

// AbortedError is a run that did not reach a verdict: it was interrupted,
// or it or its environment failed. Every fault was reverted.
type AbortedError struct {
	// Reason says why, for people.
	Reason string
	Err    error
}

func (e *AbortedError) Error() string {
	if e.Err == nil {
		return "run aborted: " + e.Reason
	}
	return fmt.Sprintf("run aborted: %s: %v", e.Reason, e.Err)
}

func (e *AbortedError) Unwrap() error { return e.Err }

// ExitCode is 3.
func (e *AbortedError) ExitCode() int { return ExitAborted }

// NotRevertedError names the effects on an external system that the run
// could not undo, with the command that removes them.
type NotRevertedError struct {
	Effects []chaos.Effect
}

func (e *NotRevertedError) Error() string {
	var b strings.Builder
	b.WriteString("could not undo, on the target's Toxiproxy:")
	servers := map[string]bool{}
	for _, ef := range e.Effects {
		switch ef.Kind {
		case chaos.EffectToxic:
			fmt.Fprintf(&b, "\n  toxic %s on proxy %s", ef.Toxic, ef.Proxy)
		case chaos.EffectProxy:
			fmt.Fprintf(&b, "\n  proxy %s", ef.Proxy)
		case chaos.EffectDisabled:
			fmt.Fprintf(&b, "\n  proxy %s left disabled", ef.Proxy)
		}
		servers[ef.Server] = true
	}
	b.WriteString("\nremove them with:")
	for _, s := range slices.Sorted(maps.Keys(servers)) {
		fmt.Fprintf(&b, "\n  gameday cleanup --toxiproxy %s", s)
	}
	return b.String()
}

// ExitCode is 3.
func (e *NotRevertedError) ExitCode() int { return ExitAborted }
