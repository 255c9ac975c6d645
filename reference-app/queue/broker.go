// Package queue is refapp's message broker: an embedded NATS server with
// JetStream file storage that holds the NOTIFICATIONS stream, and the
// client side every other role uses to reach it (Connect, Publisher).
//
//	api ──Publisher.Publish (Nats-Msg-Id = eventId)──▶ NATS listener ──▶ stream NOTIFICATIONS
//	                                                   (--nats-listen)     notifications.>, file storage,
//	                                                                       duplicate window 10m
//	worker ◀──durable pull consumer push-worker (explicit acks)───────────────┘
//
// gameday puts a TCP proxy in front of the listener, so the broker runs
// alone (no cluster) and advertises no other address, and Connect's
// clients ignore any address a server would advertise: a client that dialled
// the proxy only ever reconnects to the proxy.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Start's options.
const (
	// DefaultListen is the NATS protocol listener's address.
	DefaultListen = "127.0.0.1:4222"
	// DefaultStartTimeout bounds how long Start waits for the server to
	// listen and for the stream to exist.
	DefaultStartTimeout = 10 * time.Second
	// DefaultScrapeTimeout bounds the JetStream queries behind one scrape
	// of the broker's metrics.
	DefaultScrapeTimeout = 2 * time.Second
)

type options struct {
	startTimeout  time.Duration
	scrapeTimeout time.Duration
	reg           prometheus.Registerer
	log           *slog.Logger
}

// Option configures Start.
type Option func(*options)

// WithStartTimeout bounds how long Start waits for the server and the
// stream (default DefaultStartTimeout).
func WithStartTimeout(d time.Duration) Option { return func(o *options) { o.startTimeout = d } }

// WithScrapeTimeout bounds the queries behind one scrape of the metrics
// (default DefaultScrapeTimeout).
func WithScrapeTimeout(d time.Duration) Option { return func(o *options) { o.scrapeTimeout = d } }

// WithRegisterer sets where the broker registers its metrics (default: a
// private registry nobody scrapes).
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithLogger sets the logger of the broker and of the NATS server inside
// it (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// Broker is a running NATS server with JetStream and the NOTIFICATIONS
// stream. Close stops it.
type Broker struct {
	srv  *server.Server
	nc   *nats.Conn // in-process connection of the broker itself
	js   jetstream.JetStream
	opts options
}

// Start starts a NATS server listening on listen ("host:port"; port 0
// picks a free port, see Addr) with JetStream storing its files under
// dataDir, and creates the stream NOTIFICATIONS, or keeps the one already
// in dataDir (its configuration is brought back to the one above). It
// returns once clients can connect and the stream exists, or fails after
// the start timeout or when ctx is done; on failure nothing is left
// running.
func Start(ctx context.Context, listen, dataDir string, opts ...Option) (_ *Broker, err error) {
	o := options{startTimeout: DefaultStartTimeout, scrapeTimeout: DefaultScrapeTimeout, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	host, port, err := splitListen(listen)
	if err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	if dataDir == "" {
		return nil, errors.New("start broker: no data dir")
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.startTimeout)
	defer cancel()

	sopts := &server.Options{
		ServerName: "refapp-queue",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dataDir,
		NoSigs:     true, // the process's signals belong to refapp
		// Alone, the server has no cluster URLs to advertise; say so anyway,
		// so that clients behind a proxy never learn another address.
		Cluster: server.ClusterOpts{NoAdvertise: true},
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	sl := newServerLog(o.log)
	srv.SetLoggerV2(sl, false, false, false)
	srv.Start()
	b := &Broker{srv: srv, opts: o}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	if err := waitReady(ctx, srv, sl); err != nil {
		return nil, fmt.Errorf("start broker on %s: %w", listen, err)
	}
	b.nc, err = nats.Connect("", nats.InProcessServer(srv), nats.Name("refapp-queue"))
	if err != nil {
		return nil, fmt.Errorf("start broker: connect in process: %w", err)
	}
	b.js, err = jetstream.New(b.nc)
	if err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	if err := b.createStream(ctx); err != nil {
		return nil, fmt.Errorf("start broker: %w", err)
	}
	if err := o.reg.Register(&collector{b: b}); err != nil {
		return nil, fmt.Errorf("start broker: register metrics: %w", err)
	}
	o.log.Info("nats listening", "addr", b.Addr().String(), "url", b.ClientURL(), "data_dir", dataDir)
	return b, nil
}

// splitListen parses "host:port" into nats-server's terms: port 0 becomes
// server.RANDOM_PORT (nats-server reads 0 as its default port, 4222).
func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("listen address %q: bad port", listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// waitReady waits until srv accepts clients, it reports a fatal error, or
// ctx is done.
func waitReady(ctx context.Context, srv *server.Server, l *serverLog) error {
	for !srv.ReadyForConnections(20 * time.Millisecond) {
		select {
		case <-l.failed():
			return errors.New(l.fatalMsg())
		case <-ctx.Done():
			return fmt.Errorf("not ready for connections: %w", ctx.Err())
		default:
		}
	}
	if !srv.JetStreamEnabled() {
		if msg := l.fatalMsg(); msg != "" {
			return errors.New(msg)
		}
		return errors.New("JetStream is not enabled")
	}
	return nil
}

// StreamConfig is the configuration of the NOTIFICATIONS stream.
func StreamConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       StreamName,
		Subjects:   []string{StreamSubjects},
		Storage:    jetstream.FileStorage,
		Duplicates: DuplicateWindow,
	}
}

// createStream creates the stream or updates the one recovered from disk,
// retrying until ctx is done while JetStream is still recovering.
func (b *Broker) createStream(ctx context.Context) error {
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		_, err := b.js.CreateOrUpdateStream(attempt, StreamConfig())
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create stream %s: %w", StreamName, err)
		case <-time.After(50 * time.Millisecond): // retry pace
		}
	}
}

// Addr is the address the NATS listener is bound to.
func (b *Broker) Addr() net.Addr { return b.srv.Addr() }

// ClientURL is the nats:// URL of the listener.
func (b *Broker) ClientURL() string { return b.srv.ClientURL() }

// Ready returns nil when JetStream answers for the stream.
func (b *Broker) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := b.js.Stream(ctx, StreamName); err != nil {
		return fmt.Errorf("stream %s: %w", StreamName, err)
	}
	return nil
}

// Close disconnects every client and shuts the server down, waiting until
// it has; JetStream's files stay in the data dir for the next Start.
func (b *Broker) Close() {
	if b.nc != nil {
		b.nc.Close()
	}
	b.srv.Shutdown()
	b.srv.WaitForShutdown()
}
