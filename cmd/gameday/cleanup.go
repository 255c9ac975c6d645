package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
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
	var all bool
	cmd := &cobra.Command{
		Use:   "cleanup [RUN_DIR...] [--toxiproxy URL [--all]]",
		Short: "Remove what gameday runs left on a Toxiproxy server",
		Long: `Cleanup removes what gameday runs left behind on a system when they could not revert it
themselves (gameday and its guard were both killed).

With RUN_DIR it undoes what that run's journal (effects.jsonl) says is still applied, then
removes whatever else on those servers carries the run's id.
With --toxiproxy URL it removes from that server the toxics and proxies of the runs that died
on this machine, and enables again every proxy their down faults left disabled. Resources are
recognised by their names, "gameday-<run id>-..."; the server's other proxies and toxics are
never touched. A run this machine has no record of may be going on elsewhere: --all removes its
resources too (never those of a run going on here).
It prints what it did, one line each.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if toxiproxy == "" && len(args) == 0 {
				return usagef("name a Toxiproxy (--toxiproxy URL) or run directories")
			}
			if all && toxiproxy == "" {
				return usagef("--all applies to --toxiproxy")
			}
			if toxiproxy != "" {
				if u, err := url.Parse(toxiproxy); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return usagef("--toxiproxy %q: want the base URL of a Toxiproxy API, such as http://127.0.0.1:8474", toxiproxy)
				}
			}
			var ids []string
			for _, dir := range args {
				if _, err := os.Stat(filepath.Join(dir, rundir.FileEvents)); err != nil {
					return usagef("%s is not a run directory: %v", dir, err)
				}
				id := run.RunID(dir)
				if id != "" && rundir.Live(id) {
					return usagef("the run in %s (%s) is still going: it reverts what it applied itself", dir, id)
				}
				ids = append(ids, id)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), cleanupTimeout)
			defer cancel()
			out := cmd.OutOrStdout()
			for i, dir := range args {
				if err := run.UndoPending(ctx, dir, ids[i], out); err != nil {
					return fmt.Errorf("cleanup %s: %w", dir, err)
				}
				rundir.Forget(ids[i])
			}
			if toxiproxy == "" {
				return nil
			}
			include := rundir.Dead
			if all {
				include = func(id string) bool { return !rundir.Live(id) }
			}
			c := network.NewClient(toxiproxy)
			done, err := network.Cleanup(ctx, c, include)
			for _, d := range done {
				fmt.Fprintln(out, d)
			}
			if err != nil {
				return err
			}
			if len(done) == 0 {
				fmt.Fprintf(out, "nothing of a dead gameday run on %s\n", toxiproxy)
			}
			if !all {
				if others, err := network.Leftovers(ctx, c, func(id string) bool { return !rundir.Live(id) }); err == nil && len(others) > 0 {
					fmt.Fprintf(out, "left alone, of runs this machine has no record of (they may be going on elsewhere; --all removes them):\n")
					for _, l := range others {
						fmt.Fprintf(out, "  %s\n", l)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&toxiproxy, "toxiproxy", "", "base URL of the Toxiproxy API to clean, such as http://127.0.0.1:8474")
	cmd.Flags().BoolVar(&all, "all", false, "with --toxiproxy, also remove what runs this machine has no record of left")
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
