package refapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gameday/gameday/reference-app/server"
	"github.com/gameday/gameday/reference-app/telemetry"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// config is the parsed command line: the flags every role shares, and the
// chosen role's setup.
type config struct {
	role       string
	listen     string
	instance   string
	drain      time.Duration
	drainDelay time.Duration
	logLevel   slog.Level

	setup setupFunc // the role's, with its own flags bound
}

// A role is one kind of process. flags registers the role's own flags on fs
// and returns the setup that reads them once parsed.
type role struct {
	summary string
	flags   func(fs *flag.FlagSet) setupFunc
}

// setupFunc builds a role in one process: it registers the role's routes on
// env.Mux and its metrics on env.Registry, and says how to run it.
type setupFunc func(ctx context.Context, env env) (parts, error)

// env is what every role gets from the process.
type env struct {
	Instance string
	Log      *slog.Logger
	Registry *prometheus.Registry
	Mux      *http.ServeMux
	// Stderr is the process's standard error, for the output of the
	// processes a role starts (the autoscaler's replicas).
	Stderr io.Writer
	// SelfArgs come first on the command line of a process a role starts
	// from this executable (see WithSelfArgs).
	SelfArgs []string
}

// Option configures Run.
type Option func(*options)

type options struct{ selfArgs []string }

// WithSelfArgs says that the running executable plays the reference
// backend only after args (gameday's hidden "refapp" command), so that a
// role starting processes of its own executable (the autoscaler's api
// replicas) puts them first.
func WithSelfArgs(args ...string) Option {
	return func(o *options) { o.selfArgs = args }
}

// parts is a set-up role.
type parts struct {
	// Ready backs /readyz; nil means ready once serving.
	Ready server.ReadyFunc
	// Background runs while the process serves; its context is cancelled
	// after the HTTP server has drained.
	Background []func(context.Context) error
	// Close releases what setup acquired, after Background has returned.
	Close func() error
	// Listeners are more listeners the process serves its handler on,
	// besides --listen (the gateway's HTTPS one), drained with it. Serve
	// closes them.
	Listeners []net.Listener
}

// roles are the roles a process can play, by --role value.
var roles = map[string]role{
	"api":        apiRole,
	"autoscaler": autoscalerRole,
	"cache":      cacheRole,
	"gateway":    gatewayRole,
	"global":     globalRole,
	"pushmock":   pushmockRole,
	"queue":      queueRole,
	"sentinel":   sentinelRole,
	"store":      storeRole,
	"worker":     workerRole,
}

// roleNames lists the roles for messages.
func roleNames() string { return strings.Join(slices.Sorted(maps.Keys(roles)), ", ") }

// commonFlags registers the flags every role takes.
func commonFlags(fs *flag.FlagSet, c *config) {
	fs.StringVar(&c.role, "role", "", "process role: "+roleNames()+" (required)")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8080", "address to serve HTTP on (port 0: any free port, logged)")
	fs.StringVar(&c.instance, "instance", "", "instance name, in logs and the X-Refapp-Instance header (default: the role)")
	fs.DurationVar(&c.drain, "drain-timeout", server.DefaultDrainTimeout, "on SIGTERM/SIGINT, how long in-flight requests may finish")
	fs.DurationVar(&c.drainDelay, "drain-delay", 0, "on SIGTERM/SIGINT, how long to keep serving with /readyz 503 before refusing connections")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log level: debug (one line per request), info, warn, error")
}

// roleOf finds the --role value in args without parsing the rest.
func roleOf(args []string) string {
	for i, a := range args {
		switch {
		case a == "--":
			return ""
		case strings.HasPrefix(a, "--role=") || strings.HasPrefix(a, "-role="):
			return a[strings.Index(a, "=")+1:]
		case (a == "--role" || a == "-role") && i+1 < len(args):
			return args[i+1]
		}
	}
	return ""
}

// newFlagSet returns the flags of role name: the common ones and the role's.
func newFlagSet(name string, c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("refapp", flag.ContinueOnError)
	commonFlags(fs, c)
	if r, ok := roles[name]; ok {
		c.setup = r.flags(fs)
	}
	return fs
}

// parse reads the command line; the error says what is wrong with it. A flag
// of another role is an unknown flag.
func parse(args []string) (config, error) {
	var c config
	name := roleOf(args)
	fs := newFlagSet(name, &c)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if _, known := roles[name]; !known && !errors.Is(err, flag.ErrHelp) {
			return c, fmt.Errorf("%w (flag --role %q: want one of %s)", err, name, roleNames())
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, ok := roles[c.role]; !ok {
		return c, fmt.Errorf("flag --role %q: want one of %s", c.role, roleNames())
	}
	if c.instance == "" {
		c.instance = c.role
	}
	if c.drain < 0 {
		return c, fmt.Errorf("flag --drain-timeout %v: want >= 0", c.drain)
	}
	if c.drainDelay < 0 {
		return c, fmt.Errorf("flag --drain-delay %v: want >= 0", c.drainDelay)
	}
	return c, nil
}

// usage writes the roles and the flags of role name (all common flags when
// no role is named).
func usage(w io.Writer, name string) {
	fmt.Fprintf(w, "usage: refapp --role=ROLE [flags]\n\nroles:\n")
	for _, n := range slices.Sorted(maps.Keys(roles)) {
		fmt.Fprintf(w, "  %-10s %s\n", n, roles[n].summary)
	}
	fmt.Fprintf(w, "\nflags (refapp --role=ROLE -h lists the role's own):\n")
	fs := newFlagSet(name, &config{})
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// Run is the whole program, its command-line arguments in args (without
// the program's name): it serves until ctx is done and returns the exit
// code (0 stopped by ctx, 1 failed, 2 bad flags). It writes only to
// stderr. Both the refapp executable and gameday (its hidden refapp
// command, so that gameday alone plays local game days) call it.
func Run(ctx context.Context, args []string, stderr io.Writer, opts ...Option) int {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if len(args) > 0 && args[0] == restoreCommand {
		return restore(ctx, args[1:], stderr)
	}
	c, err := parse(args)
	if errors.Is(err, flag.ErrHelp) {
		usage(stderr, roleOf(args))
		return exitOK
	}
	if err != nil {
		slog.New(slog.NewJSONHandler(stderr, nil)).Error("bad command line", "err", err)
		return exitUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.logLevel})).
		With("role", c.role, "instance", c.instance)
	if err := serve(ctx, c, log, stderr, o.selfArgs); err != nil {
		var fe flagError
		if errors.As(err, &fe) {
			log.Error("bad command line", "err", err)
			return exitUsage
		}
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

// serve sets up the role and serves it until ctx is done.
func serve(ctx context.Context, c config, log *slog.Logger, stderr io.Writer, selfArgs []string) (err error) {
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

	p, err := c.setup(ctx, env{Instance: c.instance, Log: log, Registry: reg, Mux: mux, Stderr: stderr, SelfArgs: selfArgs})
	if err != nil {
		return fmt.Errorf("set up role %s: %w", c.role, err)
	}
	if p.Close != nil {
		defer func() {
			if cerr := p.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close role %s: %w", c.role, cerr))
			}
		}()
	}
	drain := &server.Drain{}
	mux.Handle("GET /readyz", server.Readyz(drain.Ready(p.Ready)))

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		for _, l := range p.Listeners {
			_ = l.Close() // never served: its close error says nothing
		}
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String())

	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	for _, bg := range p.Background {
		wg.Go(func() {
			if err := bg(bgCtx); err != nil && bgCtx.Err() == nil {
				log.Error("background work stopped", "err", err)
			}
		})
	}
	handler := telemetry.WithInstance(c.instance, httpMetrics.Wrap(mux))
	serveOpts := []server.Option{server.WithDrainTimeout(c.drain), server.WithDrainDelay(c.drainDelay), server.WithDrain(drain),
		server.WithLogger(log)}
	errs := make([]error, len(p.Listeners))
	var servers sync.WaitGroup
	for i, l := range p.Listeners {
		servers.Go(func() { errs[i] = server.Serve(ctx, l, handler, serveOpts...) })
	}
	err = server.Serve(ctx, ln, handler, serveOpts...)
	servers.Wait()
	err = errors.Join(append([]error{err}, errs...)...)
	stopBackground()
	wg.Wait()
	return err
}

// flagError is a setup error caused by the command line: exit code 2.
type flagError struct{ error }

// badFlag returns a flagError about flag name.
func badFlag(name, format string, args ...any) error {
	return flagError{fmt.Errorf("flag --%s: %s", name, fmt.Sprintf(format, args...))}
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
