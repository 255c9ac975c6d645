package refapp

import (
	"context"
	"flag"
	"strings"

	"github.com/gameday/gameday/reference-app/gateway"
	"github.com/gameday/gameday/reference-app/global"
)

// globalRole is the entry point in front of two regions, active-passive.
var globalRole = role{
	summary: "global entry point: routes to the primary region's gateway, fails over to the passive region (promoting its store) and fences the old one",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			regions         = fs.String("regions", "", "name=URL of the primary region's gateway, then of the passive one's (required)")
			passiveStore    = fs.String("passive-store", "", "admin base URL of the passive region's store, promoted on failover (required)")
			followURL       = fs.String("follow-url", "", "the passive store's URL as the old region's stores reach it, once it is the primary (required)")
			fence           = fs.String("fence", "", "comma-separated admin base URLs of the primary region's stores, told to follow the new primary when they answer again")
			sentinelURL     = fs.String("sentinel", "", "the primary region's sentinel: while that region is active, the passive store follows its current primary")
			replURLs        = fs.String("repl-urls", "", "comma-separated name=URL: for each store of the primary region, the URL the passive store pulls from it at (with --sentinel)")
			interval        = fs.Duration("check-interval", global.DefaultInterval, "time between two checks of the regions")
			checkTimeout    = fs.Duration("check-timeout", global.DefaultCheckTimeout, "timeout of one check")
			failures        = fs.Int("failures", global.DefaultFailures, "failed checks of the active region in a row before failing over")
			epochMargin     = fs.Uint64("epoch-margin", global.DefaultEpochMargin, "added to the passive store's epoch when promoting it, above any failover inside the cut-off region")
			upstreamTimeout = fs.Duration("upstream-timeout", gateway.DefaultUpstreamTimeout, "deadline of a proxied request, retry included (504 after)")
			tls             = addTLSFlags(fs)
		)
		return func(_ context.Context, e env) (parts, error) {
			list := splitList(*regions)
			if len(list) != 2 {
				return parts{}, badFlag("regions", "%q: want two name=URL, the primary region first", *regions)
			}
			var names, urls []string
			for _, kv := range list {
				name, url, ok := strings.Cut(kv, "=")
				if !ok {
					return parts{}, badFlag("regions", "%q: want name=URL", kv)
				}
				names, urls = append(names, name), append(urls, url)
			}
			repl := map[string]string{}
			for _, kv := range splitList(*replURLs) {
				name, url, ok := strings.Cut(kv, "=")
				if !ok || name == "" || url == "" {
					return parts{}, badFlag("repl-urls", "%q: want name=URL", kv)
				}
				repl[name] = strings.TrimSuffix(url, "/")
			}
			if (*sentinelURL == "") != (len(repl) == 0) {
				return parts{}, badFlag("sentinel", "give --sentinel and --repl-urls together")
			}
			ups, err := gateway.ParseUpstreams(urls, names)
			if err != nil {
				return parts{}, flagError{err}
			}
			g, err := global.New(global.Config{
				Primary:      global.Region{Name: ups[0].Name, Gateway: ups[0]},
				Passive:      global.Region{Name: ups[1].Name, Gateway: ups[1]},
				PassiveStore: strings.TrimSuffix(*passiveStore, "/"),
				FollowURL:    strings.TrimSuffix(*followURL, "/"),
				Fence:        splitList(*fence),
				Sentinel:     strings.TrimSuffix(*sentinelURL, "/"),
				ReplURLs:     repl,
				Interval:     *interval,
				CheckTimeout: *checkTimeout,
				Failures:     *failures,
				EpochMargin:  *epochMargin,
				Gateway: []gateway.Option{
					gateway.WithRateLimit(0, 0), gateway.WithUpstreamTimeout(*upstreamTimeout),
					gateway.WithHealthInterval(*interval), gateway.WithHealthTimeout(*checkTimeout),
				},
				Registerer: e.Registry,
				Log:        e.Log,
			})
			if err != nil {
				return parts{}, flagError{err}
			}
			listeners, err := tls.listeners(e)
			if err != nil {
				return parts{}, err
			}
			g.Register(e.Mux)
			return parts{
				Ready:      g.Ready,
				Background: []func(context.Context) error{g.Run},
				Close:      func() error { g.Close(); return nil },
				Listeners:  listeners,
			}, nil
		}
	},
}
