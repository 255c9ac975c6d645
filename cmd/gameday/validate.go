package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gameday/gameday/scenarios"
)

func newValidateCmd(st *state) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files without running them",
		Long:  "Validate decodes and checks every scenario given and reports every problem of each, as file:line:col: field: message.",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("expected at least one scenario file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			stopAtOnce(cmd.Context()) // nothing to revert
			var errs []error
			for _, arg := range args {
				path, raw, err := readScenario(arg)
				if err == nil {
					_, err = scenarios.LoadBytes(path, raw)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", path)
			}
			if len(errs) > 0 {
				return usageError{errors.Join(errs...)}
			}
			return nil
		},
	}
}
