package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gameday/gameday/scenarios"
)

func newValidateCmd(st *state) *cobra.Command {
	return &cobra.Command{
		Use:               "validate FILE...",
		ValidArgsFunction: completeScenarios,
		Short:             "Check scenario files without running them",
		Long: `Validate decodes and checks every scenario given (a file, or a bundled scenario by name) and
reports every problem of each, one a line, as file:line:col: field: message. A file larger
than 256 KiB is refused unread.`,
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
				if cmd.Context().Err() != nil {
					return context.Cause(cmd.Context())
				}
				s, err := scenarios.Open(arg, scenarios.WithEnvironment(st.environment()))
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", s.File)
			}
			if len(errs) > 0 {
				return usageError{errors.Join(errs...)}
			}
			return nil
		},
	}
}
