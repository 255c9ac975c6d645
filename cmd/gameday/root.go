package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gameday/gameday/scenarios"
)

// state is everything of the process the CLI touches: tests run the whole
// CLI against an in-memory state.
type state struct {
	// ctx is cancelled when the user interrupts gameday.
	ctx            context.Context
	stdout, stderr io.Writer
	args           []string
	getenv         func(string) string
	// lookupEnv reads the environment for {{env}} values; nil: getenv,
	// where an empty value counts as unset.
	lookupEnv func(string) (string, bool)
	// stdin is the process's standard input (the guard reads it).
	stdin io.Reader
	// self is gameday's own executable, which a run starts again as its
	// guard; empty: runs have no guard.
	self string
}

// environment is where scenarios' {{env}} and {{file}} values come from.
func (st *state) environment() scenarios.Environment {
	lookup := st.lookupEnv
	if lookup == nil {
		lookup = func(k string) (string, bool) {
			v := st.getenv(k)
			return v, v != ""
		}
	}
	return scenarios.Environment{LookupEnv: lookup, ReadFile: scenarios.OSEnvironment().ReadFile}
}

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitAborted = 3
)

// exitCoder is an error that says which exit code it means.
type exitCoder interface{ ExitCode() int }

// usageError is a mistake in how gameday was called: exit code 2.
type usageError struct{ err error }

func (e usageError) Error() string         { return e.err.Error() }
func (e usageError) Unwrap() error         { return e.err }
func (e usageError) ExitCode() int         { return exitUsage }
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// exitCode maps an error to the process exit code: the code it carries,
// else 3 (the environment failed).
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ec exitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return exitAborted
}

// execute runs the CLI and returns the exit code. Errors are printed here,
// in one place.
func execute(st *state) int {
	root := newRoot(st)
	root.SetArgs(st.args)
	err := root.ExecuteContext(st.ctx)
	if err != nil {
		fmt.Fprintln(st.stderr, errorText(err))
	}
	return exitCode(err)
}

func newRoot(st *state) *cobra.Command {
	root := &cobra.Command{
		Use:   "gameday",
		Short: "Run game-day scenarios: load, faults on a timeline, and SLO, RTO and RPO verdicts",
		Long: `gameday runs a declarative YAML scenario against a system: it drives HTTP load, injects
faults on a timeline (network toxics, process kills), collects Prometheus metrics, and judges
SLOs. Every fault is reverted on every exit path.

Exit codes: 0 every check passed, 1 a check failed, 2 invalid input or usage,
3 aborted (interrupted, or the environment failed).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(st.stdout)
	root.SetErr(st.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCmd(st), newValidateCmd(st), newReportCmd(st), newCompareCmd(st), newUpCmd(st), newCleanupCmd(st), newGuardCmd(st), newVersionCmd(st),
		newListCmd(st), newSchemaCmd(st), newInitCmd(st))
	return root
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}
