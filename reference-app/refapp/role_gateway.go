package refapp

import (
	"context"
	"flag"
	"net"

	"github.com/gameday/gameday/reference-app/gateway"
)

// gatewayRole is the load balancer in front of the api replicas.
var gatewayRole = role{
	summary: "load balancer with health checks, outlier ejection, retries and rate limiting in front of the api replicas",
	flags: func(fs *flag.FlagSet) setupFunc {
		var (
			upstreams          = fs.String("upstreams", "", "comma-separated api base URLs (required)")
			upstreamNames      = fs.String("upstream-names", "", "comma-separated upstream names for metrics and logs (default: index 0, 1, ...)")
			healthInterval     = fs.Duration("health-interval", gateway.DefaultHealthInterval, "time between health checks of an upstream")
			healthTimeout      = fs.Duration("health-timeout", gateway.DefaultHealthTimeout, "timeout of one health check")
			unhealthyThreshold = fs.Int("unhealthy-threshold", gateway.DefaultUnhealthyThreshold, "failed checks in a row that mark an upstream down")
			healthyThreshold   = fs.Int("healthy-threshold", gateway.DefaultHealthyThreshold, "successful checks in a row that mark an upstream up")
			upstreamTimeout    = fs.Duration("upstream-timeout", gateway.DefaultUpstreamTimeout, "deadline of a proxied request, retry included (504 after)")
			balance            = gateway.DefaultBalance
			ejectAfter         = fs.Int("eject-consecutive-failures", gateway.DefaultEjectConsecutiveFailures, "502/503/504 answers in a row that eject an upstream (one connection error is enough)")
			ejectBase          = fs.Duration("eject-base", gateway.DefaultEjectBase, "length of a first ejection; doubled for each repeat while on probation")
			ejectMax           = fs.Duration("eject-max", gateway.DefaultEjectMax, "longest ejection")
			retryBudget        = fs.Float64("retry-budget", gateway.DefaultRetryBudget, "fraction of the requests of the last 10s that may be retried (0 to 1)")
			retryMin           = fs.Int("retry-min-per-second", gateway.DefaultRetryMinPerSecond, "retries allowed in every second on top of --retry-budget")
			rateLimit          = fs.Float64("rate-limit", gateway.DefaultRateLimit, "requests per second per client (X-Client-Id, else the JWT sub, else the remote IP); 0 disables")
			rateBurst          = fs.Int("rate-burst", gateway.DefaultRateBurst, "requests a client may send at once")
			upstreamsFile      = fs.String("upstreams-file", "", "JSON file listing the upstreams ({\"upstreams\":[{\"name\",\"url\"}]}); once it exists, its list replaces --upstreams and every change is applied (removed upstreams drain)")
			upstreamsEvery     = fs.Duration("upstreams-file-interval", gateway.DefaultUpstreamsFileInterval, "how often --upstreams-file is read")
			tls                = addTLSFlags(fs)
		)
		fs.TextVar(&balance, "balance", gateway.DefaultBalance, "how an upstream is chosen: least-outstanding or round-robin")
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
				gateway.WithBalance(balance),
				gateway.WithEjection(*ejectAfter, *ejectBase, *ejectMax),
				gateway.WithRetryBudget(*retryBudget, *retryMin),
				gateway.WithRateLimit(*rateLimit, *rateBurst),
				gateway.WithRegisterer(e.Registry),
				gateway.WithLogger(e.Log),
			)
			if err != nil {
				return parts{}, err
			}
			listeners, err := tls.listeners(e)
			if err != nil {
				return parts{}, err
			}
			background := []func(context.Context) error{g.Run}
			if *upstreamsFile != "" {
				if *upstreamsEvery <= 0 {
					return parts{}, badFlag("upstreams-file-interval", "%v: want > 0", *upstreamsEvery)
				}
				background = append(background, g.WatchUpstreamsFile(*upstreamsFile, *upstreamsEvery))
			}
			g.Register(e.Mux)
			return parts{
				Ready:      g.Ready,
				Background: background,
				Close:      func() error { g.Close(); return nil },
				Listeners:  listeners,
			}, nil
		}
	},
}

// tlsFlags are the flags of an HTTPS listener for clients, beside
// --listen (the gateway's and the global entry point's).
type tlsFlags struct{ listen, cert, key *string }

func addTLSFlags(fs *flag.FlagSet) tlsFlags {
	return tlsFlags{
		listen: fs.String("tls-listen", "", "address to serve HTTPS on as well, for clients (needs --tls-cert and --tls-key; port 0: any free port, logged)"),
		cert:   fs.String("tls-cert", "", "PEM certificate chain of the HTTPS listener"),
		key:    fs.String("tls-key", "", "PEM private key of --tls-cert"),
	}
}

// listeners returns the HTTPS listener the flags ask for, if any.
func (t tlsFlags) listeners(e env) ([]net.Listener, error) {
	switch {
	case *t.listen != "":
		if *t.cert == "" || *t.key == "" {
			return nil, badFlag("tls-listen", "needs --tls-cert and --tls-key")
		}
		ln, err := gateway.ListenTLS(*t.listen, *t.cert, *t.key)
		if err != nil {
			return nil, err
		}
		e.Log.Info("listening tls", "addr", ln.Addr().String())
		return []net.Listener{ln}, nil
	case *t.cert != "" || *t.key != "":
		return nil, badFlag("tls-cert", "--tls-cert and --tls-key need --tls-listen")
	}
	return nil, nil
}
