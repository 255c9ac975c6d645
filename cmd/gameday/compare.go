package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gameday/gameday/reports"
)

// regressionError is a comparison that found regressions: exit code 1.
type regressionError struct{ n int }

func (e regressionError) Error() string {
	return fmt.Sprintf("%d figure(s) regressed against the baseline", e.n)
}
func (e regressionError) ExitCode() int { return exitFailed }

// compareOptions are the options of `gameday compare`.
type compareOptions struct {
	tolerances []string
	tol        reports.Tolerances
}

func newCompareCmd(st *state) *cobra.Command {
	o := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare BASELINE RUN",
		Short: "Compare a run with a baseline run and fail on a regression",
		Long: `Compare reads the report.json of two runs (each a run directory or a report.json) and shows,
per route, the latency quantiles, success ratio, throughput and dropped hits, and per check
its measured value, in the baseline and in the run, with the change.

A figure regresses when it got worse by more than its tolerance allows; a check that passed
in the baseline and fails in the run, and a check or route of the baseline missing from
the run, regress too. The exit code is 1 when something regressed, 0 otherwise, 2 on a
usage error or a file that is not a report.json.

Tolerances, --tolerance FIGURE=VALUE (repeatable, or comma-separated), VALUE a percentage
of the baseline or an absolute amount in the figure's unit (a duration for latencies, RTO
and RPO): p50, p90, p99, throughput, slo, rto and rpo default to 10%, success to 0.001
(0.1 percentage point); max and dropped are shown, never judged, unless given one.`,
		Args: exactArgs(2, "a baseline run and a run"),
		RunE: func(cmd *cobra.Command, args []string) error {
			stopAtOnce(cmd.Context()) // nothing to revert
			if err := o.complete(); err != nil {
				return err
			}
			base, err := readReportFile(args[0])
			if err != nil {
				return err
			}
			run, err := readReportFile(args[1])
			if err != nil {
				return err
			}
			c := reports.Compare(base, run, o.tol)
			if err := reports.WriteComparison(cmd.OutOrStdout(), c); err != nil {
				return err
			}
			if n := c.Regressions(); n > 0 {
				return regressionError{n}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&o.tolerances, "tolerance", nil, "FIGURE=VALUE, e.g. p99=10% or rto=500ms (figures: "+strings.Join(reports.Figures(), ", ")+")")
	return cmd
}

func (o *compareOptions) complete() error {
	o.tol = reports.DefaultTolerances()
	for _, spec := range o.tolerances {
		figure, t, err := reports.ParseTolerance(spec)
		if err != nil {
			return usagef("--tolerance: %w", err)
		}
		o.tol[figure] = t
	}
	return nil
}

// readReportFile reads the report.json of a run directory, or the file given.
func readReportFile(path string) (*reports.Report, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, reports.FileJSON)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usagef("compare: %s does not exist (want a run directory or its report.json)", path)
	}
	if err != nil {
		return nil, usagef("compare: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only: Close cannot lose data
	r, err := reports.ReadJSON(f)
	if err != nil {
		return nil, usagef("compare: %s: %w", path, err)
	}
	return r, nil
}
