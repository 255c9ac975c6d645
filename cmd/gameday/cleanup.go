package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gameday/gameday/chaos/network"
	"github.com/gameday/gameday/run"
	"github.com/gameday/gameday/rundir"
)

// guardCommand is the hidden command a run starts its guard with.
const guardCommand = "__guard"

// cleanupTimeout bounds a whole cleanup.
const cleanupTimeout = 2 * time.Minute

func newCleanupCmd(st *state) *cobra.Command {
	var toxiproxy string
	cmd := &cobra.Command{
		Use:   "cleanup [RUN_DIR...] [--toxiproxy URL]",
		Short: "Remove what gameday runs left on a Toxiproxy server",
		Long: `Cleanup removes what gameday runs left behind on a system when they could not revert it
themselves (gameday and its guard were both killed).

With --toxiproxy URL it removes from that server every toxic and every proxy gameday runs
created (their names start with "gameday-"), and enables again every proxy a down fault
left disabled; it leaves alone what belongs to a run still going on this machine.
With RUN_DIR it undoes what that run's journal (effects.jsonl) says is still applied.
It prints what it did, one line each.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if toxiproxy == "" && len(args) == 0 {
				return usagef("name a Toxiproxy (--toxiproxy URL) or run directories")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), cleanupTimeout)
			defer cancel()
			out := cmd.OutOrStdout()
			for _, dir := range args {
				if err := run.UndoPending(ctx, dir, out); err != nil {
					return fmt.Errorf("cleanup %s: %w", dir, err)
				}
			}
			if toxiproxy != "" {
				done, err := network.Cleanup(ctx, network.NewClient(toxiproxy), rundir.Live)
				for _, d := range done {
					fmt.Fprintln(out, d)
				}
				if err != nil {
					return err
				}
				if len(done) == 0 {
					fmt.Fprintf(out, "nothing of gameday's on %s\n", toxiproxy)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&toxiproxy, "toxiproxy", "", "base URL of the Toxiproxy API to clean, such as http://127.0.0.1:8474")
	return cmd
}

func newGuardCmd(st *state) *cobra.Command {
	return &cobra.Command{
		Use:    guardCommand + " RUN_DIR RUN_ID",
		Short:  "The guard of a run (started by gameday run; not for people)",
		Hidden: true,
		Args:   exactArgs(2, "a run directory and a run id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := st.stdin
			if in == nil {
				in = eofReader{}
			}
			// The guard must outlive the interrupt of the run it guards.
			return run.Guard(context.WithoutCancel(cmd.Context()), args[0], args[1], in, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
