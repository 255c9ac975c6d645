package refapp

import (
	"context"
	"flag"
	"fmt"

	"github.com/gameday/gameday/reference-app/sentinel"
)

// sentinelRole watches the store nodes and fails over.
var sentinelRole = role{
	summary: "checks the store nodes, promotes a replica when the primary fails, names the primary",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			stores       = fs.String("stores", "", "comma-separated name=URL of every store node: status and admin URL (required)")
			clientURLs   = fs.String("client-urls", "", "comma-separated name=URL: where the api reaches each node (default: its --stores URL)")
			replURLs     = fs.String("repl-urls", "", "comma-separated name=URL: where replicas pull each node's log (default: its --stores URL)")
			interval     = fs.Duration("check-interval", sentinel.DefaultCheckInterval, "time between two rounds of status checks")
			failures     = fs.Int("failures", sentinel.DefaultFailures, "failed checks of the primary in a row before failover")
			checkTimeout = fs.Duration("check-timeout", sentinel.DefaultCheckTimeout, "timeout of one status check")
		)
		return func(_ context.Context, e env) (parts, error) {
			if *stores == "" {
				return parts{}, badFlag("stores", "required for --role=sentinel")
			}
			ss, err := sentinel.ParseStores(*stores, *clientURLs, *replURLs)
			if err != nil {
				return parts{}, flagError{fmt.Errorf("flag --%w", err)}
			}
			s, err := sentinel.New(ss,
				sentinel.WithCheckInterval(*interval),
				sentinel.WithFailures(*failures),
				sentinel.WithCheckTimeout(*checkTimeout),
				sentinel.WithRegisterer(e.Registry),
				sentinel.WithLogger(e.Log),
			)
			if err != nil {
				return parts{}, err
			}
			s.Register(e.Mux)
			return parts{
				Ready:      s.Ready,
				Background: []func(context.Context) error{s.Run},
			}, nil
		}
	},
}
