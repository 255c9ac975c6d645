package main

import (
	"github.com/spf13/cobra"

	"github.com/gameday/gameday/reports"
	"github.com/gameday/gameday/run"
)

func newReportCmd(st *state) *cobra.Command {
	return &cobra.Command{
		Use:   "report RUN_DIR",
		Short: "Judge a run directory again and rewrite its reports",
		Long: `Report rebuilds every verdict and report of a run from its run directory alone: the scenario
as run, events.jsonl, the load results and the stored TSDB. It works on a run that was killed,
judging it up to the moment it died. The exit code is that of the run: 0 passed, 1 failed, 3 aborted.`,
		Args: exactArgs(1, "one run directory"),
		RunE: func(cmd *cobra.Command, args []string) error {
			stopAtOnce(cmd.Context()) // nothing to revert
			rep, err := run.JudgeAndWrite(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := reports.WriteTable(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			switch rep.Status {
			case reports.StatusPassed:
				return nil
			case reports.StatusFailed:
				var names []string
				for _, f := range rep.Failed() {
					names = append(names, f.Name)
				}
				return &run.ChecksFailedError{Failed: names}
			}
			return &run.AbortedError{Reason: string(rep.Status) + ": " + rep.Reason}
		},
	}
}
