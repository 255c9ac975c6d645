package main

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
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Exit codes.
const (
	exitOK    = 0 // stopped by a signal
	exitError = 1 // failed: cannot listen, cannot read --data, ...
	exitUsage = 2 // bad command line
)

// Defaults of the flags.
const (
	defaultListen          = "127.0.0.1:8080"
	defaultDrainTimeout    = 10 * time.Second
	defaultUpstreamTimeout = 2 * time.Second
	defaultEjectFor        = 2 * time.Second
)

// config is the parsed command line.
type config struct {
	mode         string
	listen       string
	drainTimeout time.Duration
	logLevel     slog.Level

	// backend
	data string // the journal file; "" keeps notes in memory only

	// front
	backends        backendList
	upstreamTimeout time.Duration
	ejectFor        time.Duration
}

// A mode is one kind of process.
type mode struct {
	summary string
	flags   []string // the flags only this mode takes
	// setup builds the mode's HTTP handler. It registers the mode's
	// metrics on env.registry; close, when not nil, releases what setup
	// acquired once the server has stopped.
	setup func(c config, env env) (h http.Handler, close func() error, err error)
}

// env is what every mode gets from the process.
type env struct {
	log      *slog.Logger
	registry prometheus.Registerer
	metrics  http.Handler // serves the registry in the Prometheus text format
}

// modes returns the modes a process can play, by --mode value.
func modes() map[string]mode {
	return map[string]mode{
		"backend": {
			summary: "the notes JSON API, in memory or journaled to --data",
			flags:   []string{"data"},
			setup:   setupBackend,
		},
		"front": {
			summary: "round-robin reverse proxy over --backends: one retry, passive ejection",
			flags:   []string{"backends", "upstream-timeout", "eject-for"},
			setup:   setupFront,
		},
	}
}

// modeNames lists the modes for messages.
func modeNames() string { return strings.Join(slices.Sorted(maps.Keys(modes())), ", ") }

// newFlagSet returns the flags of every mode, bound to c.
func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("notes", flag.ContinueOnError)
	fs.StringVar(&c.mode, "mode", "", "what this process is: "+modeNames()+" (required)")
	fs.StringVar(&c.listen, "listen", defaultListen, "address to serve HTTP on (port 0: any free port, logged)")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", defaultDrainTimeout, "on SIGTERM/SIGINT, how long in-flight requests may finish")
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log level: debug (one line per request), info, warn, error")
	fs.StringVar(&c.data, "data", "", "backend: append-only JSON-lines file that makes notes durable (default: memory only)")
	fs.Var(&c.backends, "backends", "front: comma-separated backend base URLs, e.g. http://127.0.0.1:8081,http://127.0.0.1:8082 (required)")
	fs.DurationVar(&c.upstreamTimeout, "upstream-timeout", defaultUpstreamTimeout, "front: time limit of one attempt on one backend, response body included")
	fs.DurationVar(&c.ejectFor, "eject-for", defaultEjectFor, "front: how long to skip a backend after it failed (0: never skip)")
	return fs
}

// parse reads the command line. The error names every problem with it.
func parse(args []string) (config, error) {
	var c config
	fs := newFlagSet(&c)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	m, ok := modes()[c.mode]
	if !ok {
		return c, fmt.Errorf("flag --mode %q: want one of %s", c.mode, modeNames())
	}

	var errs []error
	fs.Visit(func(f *flag.Flag) {
		for name, other := range modes() {
			if name != c.mode && slices.Contains(other.flags, f.Name) && !slices.Contains(m.flags, f.Name) {
				errs = append(errs, fmt.Errorf("flag --%s applies to --mode %s only", f.Name, name))
			}
		}
	})
	if c.drainTimeout < 0 {
		errs = append(errs, fmt.Errorf("flag --drain-timeout %v: want >= 0", c.drainTimeout))
	}
	if c.mode == "front" {
		if len(c.backends) == 0 {
			errs = append(errs, errors.New("flag --backends is required with --mode front"))
		}
		if c.upstreamTimeout <= 0 {
			errs = append(errs, fmt.Errorf("flag --upstream-timeout %v: want > 0", c.upstreamTimeout))
		}
		if c.ejectFor < 0 {
			errs = append(errs, fmt.Errorf("flag --eject-for %v: want >= 0", c.ejectFor))
		}
	}
	return c, errors.Join(errs...)
}

// usage writes the modes and every flag.
func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: notes --mode=MODE [flags]\n\nmodes:\n")
	for _, name := range slices.Sorted(maps.Keys(modes())) {
		fmt.Fprintf(w, "  %-8s %s\n", name, modes()[name].summary)
	}
	fmt.Fprintf(w, "\nflags:\n")
	fs := newFlagSet(&config{})
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// run is the whole program: it serves until ctx is done and returns the exit
// code. It writes only to stderr.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	c, err := parse(args)
	if errors.Is(err, flag.ErrHelp) {
		usage(stderr)
		return exitOK
	}
	if err != nil {
		slog.New(slog.NewJSONHandler(stderr, nil)).Error("bad command line; notes -h lists the flags", "err", err)
		return exitUsage
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: c.logLevel})).With("mode", c.mode)
	if err := serve(ctx, c, log); err != nil {
		if errors.Is(err, errDrainTimeout) {
			log.Warn("stopped; in-flight requests were cut", "err", err)
			return exitOK
		}
		log.Error("failed", "err", err)
		return exitError
	}
	log.Info("stopped")
	return exitOK
}

// serve sets up the mode and serves it until ctx is done.
func serve(ctx context.Context, c config, log *slog.Logger) (err error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return fmt.Errorf("register go metrics: %w", err)
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return fmt.Errorf("register process metrics: %w", err)
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)})

	h, closeMode, err := modes()[c.mode].setup(c, env{log: log, registry: reg, metrics: metrics})
	if err != nil {
		return fmt.Errorf("set up %s: %w", c.mode, err)
	}
	if closeMode != nil {
		defer func() {
			if cerr := closeMode(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("close %s: %w", c.mode, cerr))
			}
		}()
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String())
	return serveHTTP(ctx, ln, h, c.drainTimeout, log)
}

// errDrainTimeout says in-flight requests were still running at the end of
// the drain and were cut.
var errDrainTimeout = errors.New("drain timeout")

// serveHTTP serves h on ln until ctx is done, then stops accepting
// connections and waits up to drain for in-flight requests to finish. It
// returns nil after a complete drain, an error wrapping errDrainTimeout when
// requests had to be cut, and any other error if serving failed.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, drain time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	var serveErr error // written before served is closed
	served := make(chan struct{})
	go func() { serveErr = srv.Serve(ln); close(served) }()
	select {
	case <-served:
		return fmt.Errorf("serve: %w", serveErr)
	case <-ctx.Done():
	}
	log.Info("draining", "drain_timeout", drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(dctx); err != nil {
		cerr := srv.Close()
		<-served // Shutdown's error is the one to report
		return errors.Join(fmt.Errorf("%w after %v: %w", errDrainTimeout, drain, err), cerr)
	}
	<-served // Serve returned http.ErrServerClosed
	return nil
}

// backendList is the value of --backends: base URLs of backends, in order.
type backendList []*url.URL

// String returns the flag's value as written.
func (l *backendList) String() string {
	s := make([]string, len(*l))
	for i, u := range *l {
		s[i] = u.String()
	}
	return strings.Join(s, ",")
}

// Set parses a comma-separated list of http(s)://host:port base URLs with no
// path, query or user, and no repeats.
func (l *backendList) Set(v string) error {
	var list backendList
	for s := range strings.SplitSeq(v, ",") {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		switch {
		case err != nil:
			return fmt.Errorf("backend %q: want an http:// or https:// URL: %w", s, err)
		case u.Scheme != "http" && u.Scheme != "https":
			return fmt.Errorf("backend %q: want an http:// or https:// URL", s)
		case u.Host == "" || u.Port() == "" && strings.HasSuffix(u.Host, ":"):
			return fmt.Errorf("backend %q: want a host, e.g. http://127.0.0.1:8081", s)
		case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			return fmt.Errorf("backend %q: want a base URL, scheme://host:port only", s)
		case slices.ContainsFunc(list, func(o *url.URL) bool { return o.Host == u.Host && o.Scheme == u.Scheme }):
			return fmt.Errorf("backend %q: listed twice", s)
		}
		list = append(list, &url.URL{Scheme: u.Scheme, Host: u.Host})
	}
	*l = list
	return nil
}
