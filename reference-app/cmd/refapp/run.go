package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gameday/gameday/reference-app/api"
	"github.com/gameday/gameday/reference-app/gateway"
	"github.com/gameday/gameday/reference-app/server"
	"github.com/gameday/gameday/reference-app/store"
	"github.com/gameday/gameday/reference-app/telemetry"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Roles a process can play.
const (
	roleAPI     = "api"
	roleGateway = "gateway"
)

// config is the parsed command line.
type config struct {
	role     string
	listen   string
	instance string
	drain    time.Duration
	logLevel slog.Level

	// gateway only
	upstreams          string
	upstreamNames      string
	healthInterval     time.Duration
	healthTimeout      time.Duration
	unhealthyThreshold int
	healthyThreshold   int
	upstreamTimeout    time.Duration
}

// gatewayFlags are the flags only the gateway role accepts.
var gatewayFlags = []string{
	"upstreams", "upstream-names", "health-interval", "health-timeout",
	"unhealthy-threshold", "healthy-threshold", "upstream-timeout",
}

func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("refapp", flag.ContinueOnError)
	fs.StringVar(&c.role, "role", "", "process role: api or gateway (required)")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address to serve HTTP on (port 0: any free port, logged)")
	fs.StringVar(&c.instance, "instance", "", "instance name, in logs and the X-Refapp-Instance header (default: the role)")
	fs.DurationVar(&c.drain, "drain-timeout", server.DefaultDrainTimeout, "on SIGTERM/SIGINT, how long in-flight requests may finish")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log level: debug (one line per request), info, warn, error")

	fs.StringVar(&c.upstreams, "upstreams", "", "gateway: comma-separated api base URLs (required)")
	fs.StringVar(&c.upstreamNames, "upstream-names", "", "gateway: comma-separated upstream names for metrics and logs (default: index 0, 1, ...)")
	fs.DurationVar(&c.healthInterval, "health-interval", gateway.DefaultHealthInterval, "gateway: time between health checks of an upstream")
	fs.DurationVar(&c.healthTimeout, "health-timeout", gateway.DefaultHealthTimeout, "gateway: timeout of one health check")
	fs.IntVar(&c.unhealthyThreshold, "unhealthy-threshold", gateway.DefaultUnhealthyThreshold, "gateway: failed checks in a row that mark an upstream down")
	fs.IntVar(&c.healthyThreshold, "healthy-threshold", gateway.DefaultHealthyThreshold, "gateway: successful checks in a row that mark an upstream up")
	fs.DurationVar(&c.upstreamTimeout, "upstream-timeout", gateway.DefaultUpstreamTimeout, "gateway: deadline of a proxied request, retry included (504 after)")
	return fs
}

// parse reads the command line; the error says what is wrong with it.
func parse(args []string) (config, error) {
	var c config
	fs := newFlagSet(&c)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch c.role {
	case roleAPI:
		for _, name := range gatewayFlags {
			if set[name] {
				return c, fmt.Errorf("flag --%s: only for --role=gateway", name)
			}
		}
	case roleGateway:
		if c.upstreams == "" {
			return c, errors.New("flag --upstreams: required for --role=gateway")
		}
	default:
		return c, fmt.Errorf("flag --role %q: want api or gateway", c.role)
	}
	if c.instance == "" {
		c.instance = c.role
	}
	if c.drain < 0 {
		return c, fmt.Errorf("flag --drain-timeout %v: want >= 0", c.drain)
	}
	return c, nil
}

// run is the whole program: it serves until ctx is done and returns the
// exit code. It writes only to stderr.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	c, err := parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs := newFlagSet(&config{})
		fs.SetOutput(stderr)
		fs.Usage()
		return exitOK
	}
	if err != nil {
		slog.New(slog.NewJSONHandler(stderr, nil)).Error("bad command line", "err", err)
		return exitUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.logLevel})).
		With("role", c.role, "instance", c.instance)
	if err := serve(ctx, c, log); err != nil {
		if errors.Is(err, server.ErrDrainTimeout) {
			log.Warn("stopped; in-flight requests were cut", "err", err)
			return exitOK
		}
		log.Error("failed", "err", err)
		return exitError
	}
	log.Info("stopped")
	return exitOK
}

// serve builds the role's handler and serves it until ctx is done.
func serve(ctx context.Context, c config, log *slog.Logger) error {
	reg := telemetry.NewRegistry()
	httpMetrics, err := telemetry.NewHTTPMetrics(reg, c.role, log)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", server.Healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry: reg,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}))

	var (
		ready      server.ReadyFunc
		background func(context.Context) error // runs while serving
	)
	switch c.role {
	case roleAPI:
		api.New(store.NewMemory(), c.instance, api.WithLogger(log)).Register(mux)
		ready = func(context.Context) error { return nil }
	case roleGateway:
		ups, err := gateway.ParseUpstreams(splitList(c.upstreams), splitList(c.upstreamNames))
		if err != nil {
			return err
		}
		g, err := gateway.New(ups,
			gateway.WithHealthInterval(c.healthInterval),
			gateway.WithHealthTimeout(c.healthTimeout),
			gateway.WithUnhealthyThreshold(c.unhealthyThreshold),
			gateway.WithHealthyThreshold(c.healthyThreshold),
			gateway.WithUpstreamTimeout(c.upstreamTimeout),
			gateway.WithRegisterer(reg),
			gateway.WithLogger(log),
		)
		if err != nil {
			return err
		}
		defer g.Close()
		g.Register(mux)
		ready, background = g.Ready, g.Run
	}
	mux.Handle("GET /readyz", server.Readyz(ready))

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String())

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	if background != nil {
		wg.Go(func() { _ = background(bgCtx) }) // returns bgCtx's error once stopped
	}
	err = server.Serve(ctx, ln, telemetry.WithInstance(c.instance, httpMetrics.Wrap(mux)),
		server.WithDrainTimeout(c.drain), server.WithLogger(log))
	stopBackground()
	wg.Wait()
	return err
}

// splitList splits a comma-separated flag value; empty gives nil.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
