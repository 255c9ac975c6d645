package run

import (
	"fmt"
	"strings"
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
