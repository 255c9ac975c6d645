package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/run"
	"github.com/gameday/gameday/scenarios"
)

// runOptions are the options of `gameday run`.
type runOptions struct {
	arg    string
	out    string
	refapp string
	quiet  bool
	dryRun bool
	// summaryTo is a file report.md is appended to; "" for none.
	summaryTo string

	teardown  time.Duration
	timeScale float64

	path string
	raw  []byte
	s    *scenarios.Scenario
}

func newRunCmd(st *state) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:               "run FILE|NAME",
		ValidArgsFunction: completeScenarios,
		Short:             "Run a scenario and judge it",
		Long: `Run plays a scenario file (or a bundled scenario by name, e.g. "quickstart") and judges it.
It writes a run directory under --out with the scenario as run, events.jsonl, the load
results, the embedded Prometheus TSDB and the reports, and prints a verdict table.

With --dry-run it validates the scenario, starts the target (connects to it: for a
kubernetes target, its API), prints the plan (each fault with its time and what it would
do; for a pod fault, the pods an injection would delete now), stops the target and exits
0. It injects nothing, sends no load and writes no run directory.`,
		Args: exactArgs(1, "one scenario file or bundled scenario name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(st, args); err != nil {
				return err
			}
			return o.run(cmd, st)
		},
	}
	cmd.Flags().StringVarP(&o.out, "out", "o", run.DefaultOutDir, "folder to create the run directory in")
	cmd.Flags().StringVar(&o.refapp, "refapp", "", "reference backend executable (default: $GAMEDAY_REFAPP, beside gameday, or on PATH)")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only the verdict table")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "start the target and print what each fault would do (the pods a pod fault would delete now); inject nothing, send no load, write no run directory")
	cmd.Flags().Float64Var(&o.timeScale, "time-scale", 1, "play the scenario's timeline this many times as long (0.25: four times faster; load rates, objectives and timeouts unchanged)")
	cmd.Flags().StringVar(&o.summaryTo, "summary-to", "", summaryToHelp)
	cmd.Flags().DurationVar(&o.teardown, "teardown-timeout", run.DefaultTeardownTimeout, "how long reverting faults and stopping the target may take, whatever ended the run")
	return cmd
}

func (o *runOptions) complete(st *state, args []string) error {
	o.arg = args[0]
	if o.refapp == "" {
		o.refapp = st.getenv("GAMEDAY_REFAPP")
	}
	var err error
	o.path, o.raw, err = readScenario(o.arg)
	if err != nil {
		return err
	}
	if err := scenarios.CheckTimeScale(o.timeScale); err != nil {
		return usagef("--time-scale: %w", err)
	}
	o.s, err = scenarios.LoadBytes(o.path, o.raw, scenarios.WithEnvironment(st.environment()), scenarios.WithTimeScale(o.timeScale))
	return err
}

// readScenario reads a scenario file, or a bundled scenario by name.
func readScenario(arg string) (string, []byte, error) {
	raw, err := scenarios.ReadFile(arg) // at most scenarios.MaxFileSize bytes
	if err == nil {
		return arg, raw, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, err // a *scenarios.Error: exit 2, naming the file
	}
	name := strings.TrimSuffix(arg, ".yaml") + ".yaml"
	if raw, berr := fs.ReadFile(scenarios.Bundled, name); berr == nil {
		return "bundled:" + name, raw, nil
	}
	return "", nil, usageError{fmt.Errorf("%s: no such file, nor a bundled scenario (bundled: %s): %w", arg, strings.Join(scenarios.BundledNames(), ", "), fs.ErrNotExist)}
}

func (o *runOptions) run(cmd *cobra.Command, st *state) error {
	out := cmd.OutOrStdout()
	if o.teardown <= 0 {
		return usagef("--teardown-timeout %s: want more than 0s", o.teardown)
	}
	if o.dryRun {
		fmt.Fprintf(out, "gameday: dry run of %s (%s): nothing is injected, no load is sent, no run directory is written\n", o.s.Name, o.path)
	} else {
		fmt.Fprintf(out, "gameday: running %s (%s)\n", o.s.Name, o.path)
	}
	bin, binArgs := st.refappCommand(o.refapp)
	opts := []run.Option{run.WithOutDir(o.out), run.WithRefappBinary(bin, binArgs...), run.WithEnvironment(st.environment()), run.WithTeardownTimeout(o.teardown), run.WithTimeScale(o.timeScale)}
	if o.dryRun {
		return o.dryRunPlan(cmd, opts)
	}
	if st.self != "" {
		opts = append(opts, run.WithGuard(st.self, guardCommand))
	}
	var view *liveView
	if !o.quiet {
		tty, width := isTerminal(out, st.getenv)
		view = newLiveView(out, tty, width)
		opts = append(opts, run.WithProgress(view.event), run.WithLiveStatus(view.every(), view.live))
	}
	res, err := run.Run(cmd.Context(), o.s, o.raw, opts...)
	if view != nil {
		view.done()
	}
	if res != nil && res.Report != nil {
		fmt.Fprintln(out)
		if werr := reports.WriteTable(out, res.Report); werr != nil {
			return errors.Join(err, werr)
		}
		if werr := appendSummary(o.summaryTo, res.Report); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}

// dryRunPlan starts the target, prints the plan and stops the target.
func (o *runOptions) dryRunPlan(cmd *cobra.Command, opts []run.Option) error {
	plan, err := run.DryRun(cmd.Context(), o.s, opts...)
	if plan != nil {
		if werr := run.WritePlan(cmd.OutOrStdout(), plan); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}
