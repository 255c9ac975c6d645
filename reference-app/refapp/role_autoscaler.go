package refapp

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gameday/gameday/reference-app/autoscaler"
	"github.com/gameday/gameday/reference-app/gateway"
)

// autoscalerRole adds and removes api replicas from the gateway's load.
var autoscalerRole = role{
	summary: "horizontal autoscaler: runs extra api replicas from the gateway's requests in flight, listed in the gateway's upstreams file",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			gw            = fs.String("gateway", "", "the gateway's base URL, for its /metrics (required)")
			file          = fs.String("upstreams-file", "", "the gateway's --upstreams-file, which the autoscaler owns (required)")
			static        = fs.String("static-upstreams", "", "comma-separated name=URL of the api replicas it does not own: always listed, never stopped")
			minReplicas   = fs.Int("min-replicas", 1, "fewest replicas, static ones included (at least their number)")
			maxReplicas   = fs.Int("max-replicas", 4, "most replicas, static ones included")
			target        = fs.Float64("target-in-flight", 2, "mean requests in flight per replica to aim at")
			tolerance     = fs.Float64("tolerance", autoscaler.DefaultTolerance, "no change while the load per replica is within this fraction of the target")
			interval      = fs.Duration("interval", autoscaler.DefaultInterval, "time between two decisions")
			upWindow      = fs.Duration("scale-up-window", 0, "stabilisation window of a scale-up: rise only to the lowest recommendation within it")
			downWindow    = fs.Duration("scale-down-window", autoscaler.DefaultDownWindow, "stabilisation window of a scale-down: fall only to the highest recommendation within it")
			prefix        = fs.String("name-prefix", autoscaler.DefaultNamePrefix, "start of the names of the replicas it starts (then 1, 2, ...)")
			readyTimeout  = fs.Duration("ready-timeout", autoscaler.DefaultReadyTimeout, "how long a new replica may take to be ready")
			replicaDrain  = fs.Duration("replica-drain-timeout", autoscaler.DefaultDrainTimeout, "how long the gateway may take to drain a removed replica, and the replica to exit after SIGTERM")
			replicaArgs   []string
			executable, _ = os.Executable()
		)
		fs.Func("replica-arg", "a flag of the api replicas it starts, repeated (--role=api, --listen and --instance are added)", func(s string) error {
			replicaArgs = append(replicaArgs, s)
			return nil
		})
		return func(_ context.Context, e env) (parts, error) {
			switch {
			case *gw == "":
				return parts{}, badFlag("gateway", "required for --role=autoscaler")
			case *file == "":
				return parts{}, badFlag("upstreams-file", "required for --role=autoscaler")
			case executable == "":
				return parts{}, fmt.Errorf("autoscaler: cannot find its own executable to start replicas")
			}
			var entries []gateway.UpstreamEntry
			for _, kv := range splitList(*static) {
				name, url, ok := strings.Cut(kv, "=")
				if !ok || name == "" || url == "" {
					return parts{}, badFlag("static-upstreams", "%q: want name=URL", kv)
				}
				entries = append(entries, gateway.UpstreamEntry{Name: name, URL: url})
			}
			a, err := autoscaler.New(autoscaler.Config{
				Policy: autoscaler.Policy{
					Min: *minReplicas, Max: *maxReplicas, Target: *target, Tolerance: *tolerance,
					UpWindow: *upWindow, DownWindow: *downWindow,
				},
				Interval:      *interval,
				Gateway:       strings.TrimSuffix(*gw, "/"),
				UpstreamsFile: *file,
				Static:        entries,
				Command:       executable,
				Args:          append(append(slices.Clone(e.SelfArgs), "--role=api"), replicaArgs...),
				NamePrefix:    *prefix,
				ReadyTimeout:  *readyTimeout,
				DrainTimeout:  *replicaDrain,
				Output:        e.Stderr,
				Log:           e.Log,
				Registerer:    e.Registry,
			})
			if err != nil {
				return parts{}, flagError{err}
			}
			return parts{Background: []func(context.Context) error{a.Run}}, nil
		}
	},
}
