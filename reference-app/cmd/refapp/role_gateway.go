package main

import (
	"context"
	"flag"

	"github.com/gameday/gameday/reference-app/gateway"
)

// gatewayRole is the load balancer in front of the api replicas.
var gatewayRole = role{
	summary: "load balancer with health checks and retries in front of the api replicas",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			upstreams          = fs.String("upstreams", "", "comma-separated api base URLs (required)")
			upstreamNames      = fs.String("upstream-names", "", "comma-separated upstream names for metrics and logs (default: index 0, 1, ...)")
			healthInterval     = fs.Duration("health-interval", gateway.DefaultHealthInterval, "time between health checks of an upstream")
			healthTimeout      = fs.Duration("health-timeout", gateway.DefaultHealthTimeout, "timeout of one health check")
			unhealthyThreshold = fs.Int("unhealthy-threshold", gateway.DefaultUnhealthyThreshold, "failed checks in a row that mark an upstream down")
			healthyThreshold   = fs.Int("healthy-threshold", gateway.DefaultHealthyThreshold, "successful checks in a row that mark an upstream up")
			upstreamTimeout    = fs.Duration("upstream-timeout", gateway.DefaultUpstreamTimeout, "deadline of a proxied request, retry included (504 after)")
		)
		return func(_ context.Context, e env) (parts, error) {
			if *upstreams == "" {
				return parts{}, badFlag("upstreams", "required for --role=gateway")
			}
			ups, err := gateway.ParseUpstreams(splitList(*upstreams), splitList(*upstreamNames))
			if err != nil {
				return parts{}, err
			}
			g, err := gateway.New(ups,
				gateway.WithHealthInterval(*healthInterval),
				gateway.WithHealthTimeout(*healthTimeout),
				gateway.WithUnhealthyThreshold(*unhealthyThreshold),
				gateway.WithHealthyThreshold(*healthyThreshold),
				gateway.WithUpstreamTimeout(*upstreamTimeout),
				gateway.WithRegisterer(e.Registry),
				gateway.WithLogger(e.Log),
			)
			if err != nil {
				return parts{}, err
			}
			g.Register(e.Mux)
			return parts{
				Ready:      g.Ready,
				Background: []func(context.Context) error{g.Run},
				Close:      func() error { g.Close(); return nil },
			}, nil
		}
	},
}
