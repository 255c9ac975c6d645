package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gameday/gameday/scenarios"
	"github.com/gameday/gameday/target"
	"github.com/gameday/gameday/target/local"
)

// upOptions are the options of `gameday up`.
type upOptions struct {
	apiReplicas   int
	storeReplicas int
	replication   string
	restartDelay  time.Duration
	refapp        string
	dataDir       string
	logs          bool
}

func newUpCmd(st *state) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local reference backend alone, print its URLs, and keep it up until Ctrl-C",
		Long: `Up starts the reference backend as a game day's local target does — every role on loopback
behind an embedded Toxiproxy, supervised — and prints where everything is: the base URL for
clients, each process's own URL, the Toxiproxy API and every link, and a bearer token of the
load user. It runs until interrupted, then stops every process. For exploration: add toxics with
the Toxiproxy API or kill a process by its PID and watch the system heal.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.refapp == "" {
				o.refapp = st.getenv("GAMEDAY_REFAPP")
			}
			return o.run(cmd.Context(), st)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.apiReplicas, "api-replicas", 3, "api processes")
	f.IntVar(&o.storeReplicas, "store-replicas", scenarios.DefaultStoreReplicas, "store replicas besides the primary")
	f.StringVar(&o.replication, "replication", string(scenarios.DefaultReplication), "store replication: async or sync")
	f.DurationVar(&o.restartDelay, "restart-delay", scenarios.DefaultRestartDelay, "how long the supervisor waits before restarting a process that died")
	f.StringVar(&o.refapp, "refapp", "", "reference backend executable (default: $GAMEDAY_REFAPP, beside gameday, or on PATH)")
	f.StringVar(&o.dataDir, "data", "", "folder for the stores', queue's and worker's data (default: a temporary folder, removed on exit)")
	f.BoolVar(&o.logs, "logs", false, "copy every process's log lines to stderr")
	return cmd
}

func (o *upOptions) run(ctx context.Context, st *state) error {
	if o.apiReplicas < 1 || o.apiReplicas > scenarios.MaxAPIReplicas {
		return usagef("--api-replicas %d: want 1 to %d", o.apiReplicas, scenarios.MaxAPIReplicas)
	}
	if o.storeReplicas < 0 || o.storeReplicas > scenarios.MaxStoreReplicas {
		return usagef("--store-replicas %d: want 0 (a lone primary) to %d", o.storeReplicas, scenarios.MaxStoreReplicas)
	}
	if o.replication != string(scenarios.ReplicationAsync) && o.replication != string(scenarios.ReplicationSync) {
		return usagef("--replication %q: want async or sync", o.replication)
	}
	if o.storeReplicas == 0 && o.replication == string(scenarios.ReplicationSync) {
		return usagef("--replication sync needs --store-replicas 1 or more: no replica would acknowledge a write")
	}
	bin, binArgs := st.refappCommand(o.refapp)
	cfg := local.Refapp{
		Binary:        bin,
		BinaryArgs:    binArgs,
		APIReplicas:   o.apiReplicas,
		StoreReplicas: o.storeReplicas,
		Replication:   o.replication,
		RestartDelay:  o.restartDelay,
		DataDir:       o.dataDir,
		OnEvent: func(e target.Event) {
			fmt.Fprintf(st.stderr, "%s  %-8s %s (pid %d) %s\n", e.Time.Format("15:04:05.000"), e.Instance, e.Type, e.PID, e.Detail)
		},
	}
	if o.logs {
		cfg.Logs = func(string) io.Writer { return st.stderr }
	}
	t, err := local.StartRefapp(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start the reference backend: %w", err)
	}
	defer func() { _ = t.Stop(context.WithoutCancel(ctx)) }()

	w := tabwriter.NewWriter(st.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "clients\t%s\n", t.BaseURL)
	fmt.Fprintf(w, "toxiproxy\t%s\n", t.ToxiproxyURL)
	fmt.Fprintf(w, "token\t%s\n\n", t.Token)
	fmt.Fprintf(w, "PROCESS\tURL\tPID\n")
	pids := t.Supervisor.PIDs()
	for _, name := range slices.Sorted(maps.Keys(t.URLs)) {
		fmt.Fprintf(w, "%s\t%s\t%d\n", name, t.URLs[name], pids[name])
	}
	fmt.Fprintf(w, "\nLINK\tLISTEN\tUPSTREAM\n")
	for _, name := range slices.Sorted(maps.Keys(t.Links)) {
		l := t.Links[name]
		fmt.Fprintf(w, "%s\t%s\t%s\n", name, l.Listen, l.Upstream)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(st.stdout, "\nup; Ctrl-C stops everything\n")
	if f, ok := st.stdout.(*os.File); ok {
		_ = f.Sync()
	}
	<-ctx.Done()
	fmt.Fprintf(st.stderr, "gameday: stopping\n")
	return t.Stop(context.WithoutCancel(ctx))
}
